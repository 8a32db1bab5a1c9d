package firewall_test

import (
	"fmt"

	"mailwarden/firewall"
)

func ExampleParseURL() {
	c, err := firewall.ParseURL("socks5h://alice:s3cret@proxy.example.com:1080")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(c.Type, c.Host, c.Port, c.User, c.Password)
	d, err := firewall.New(c, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(d.Proxy())
	// Output:
	// socks5 proxy.example.com 1080 alice [REDACTED]
	// socks5h://proxy.example.com:1080
}

// The fields of an administration screen: type, host, port (empty), user
// and password.
func ExampleNew() {
	typ, err := firewall.ParseType("Tunnel")
	if err != nil {
		fmt.Println(err)
		return
	}
	d, err := firewall.New(firewall.Config{Type: typ, Host: "proxy.corp.example", User: "svc-alerts", Password: "from-the-vault"}, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(d.Proxy())
	// Output:
	// http://proxy.corp.example:80
}

func ExampleFromEnvironment() {
	env := map[string]string{
		"https_proxy": "http://proxy.corp.example:3128",
		"no_proxy":    ".corp.example,10.0.0.0/8",
	}
	for _, relay := range []string{"smtp.office365.com:587", "mail.corp.example:25"} {
		c, reason, err := firewall.FromEnvironment(func(k string) string { return env[k] }, relay)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Printf("%s: %s\n  %s\n", relay, c, reason)
	}
	_, _, err := firewall.FromEnvironment(func(k string) string {
		return map[string]string{"ALL_PROXY": "sock5://proxy:1080"}[k]
	}, "smtp.example.com:25")
	fmt.Println(err)
	// Output:
	// smtp.office365.com:587: http://proxy.corp.example:3128
	//   https_proxy=http://proxy.corp.example:3128 (no_proxy did not match smtp.office365.com)
	// mail.corp.example:25: direct
	//   no_proxy=.corp.example,10.0.0.0/8 matched mail.corp.example: direct connection (https_proxy=http://proxy.corp.example:3128 ignored)
	// firewall: unknown proxy scheme "sock5" in proxy URL "sock5://proxy:1080" (set in ALL_PROXY)
}
