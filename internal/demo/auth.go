package demo

import "mailwarden"

// demoAuth is the authentication the demo uses.
func demoAuth() mailwarden.Auth {
	return mailwarden.Auth{}
}
