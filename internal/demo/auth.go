package demo

import "mailwarden"

// demoAuth is the authentication the demo uses: auto, which picks CRAM-MD5
// (stronger than PLAIN) from what the relay offers after STARTTLS.
func demoAuth() mailwarden.Auth {
	return mailwarden.Auth{Mechanism: "auto", Username: "demo", Password: "demo:password"}
}
