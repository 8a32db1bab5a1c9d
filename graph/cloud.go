package graph

import (
	"fmt"
	"net"
	"net/url"
	"strings"
)

// A Cloud names a Microsoft Graph deployment (a national cloud). The zero
// value is CloudGlobal.
type Cloud string

// The Graph deployments, and their endpoints.
const (
	CloudGlobal   Cloud = "global"    // https://graph.microsoft.com
	CloudUSGov    Cloud = "usgov"     // https://graph.microsoft.us (GCC High, L4)
	CloudUSGovDoD Cloud = "usgov-dod" // https://dod-graph.microsoft.us (DoD, L5)
	CloudChina    Cloud = "china"     // https://microsoftgraph.chinacloudapi.cn (operated by 21Vianet)

	// DefaultEndpoint is the global service, used when Client.Endpoint is
	// empty.
	DefaultEndpoint = "https://graph.microsoft.com"
)

var cloudEndpoints = map[Cloud]string{
	CloudGlobal:   DefaultEndpoint,
	CloudUSGov:    "https://graph.microsoft.us",
	CloudUSGovDoD: "https://dod-graph.microsoft.us",
	CloudChina:    "https://microsoftgraph.chinacloudapi.cn",
}

// Endpoint returns the cloud's base URL, e.g. "https://graph.microsoft.us".
// The empty Cloud is CloudGlobal; names are matched without regard to case,
// and "gcchigh", "dod" and "21vianet" are accepted as aliases. An unknown
// name is an error.
func (c Cloud) Endpoint() (string, error) {
	name := Cloud(strings.ToLower(strings.TrimSpace(string(c))))
	switch name {
	case "", "public", "commercial":
		name = CloudGlobal
	case "gcchigh", "gcc-high", "usgovernment":
		name = CloudUSGov
	case "dod":
		name = CloudUSGovDoD
	case "21vianet", "chinacloud":
		name = CloudChina
	}
	if ep, ok := cloudEndpoints[name]; ok {
		return ep, nil
	}
	return "", fmt.Errorf("graph: unknown cloud %q (want global, usgov, usgov-dod or china)", string(c))
}

// TokenScope returns the OAuth 2.0 scope an app-only token for endpoint must
// be requested with: the endpoint's origin followed by "/.default".
func TokenScope(endpoint string) string {
	if endpoint == "" {
		endpoint = DefaultEndpoint
	}
	return strings.TrimRight(endpoint, "/") + "/.default"
}

// CheckEndpoint reports whether s is a base URL a Client accepts as its
// Endpoint: https (plain http only to a loopback address), a host, and no
// query, fragment or user info. Empty is DefaultEndpoint.
func CheckEndpoint(s string) error {
	_, err := parseEndpoint(s)
	return err
}

// parseEndpoint checks a base URL: https (http only for a loopback host, as
// tests use), a host, and no query, fragment or user info. The path, if
// any, is kept as a prefix and "/v1.0" is appended to it.
func parseEndpoint(s string) (*url.URL, error) {
	if s == "" {
		s = DefaultEndpoint
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("graph: endpoint: %w", err)
	}
	if u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return nil, fmt.Errorf("graph: endpoint %q: want a base URL such as %s", s, DefaultEndpoint)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !isLoopback(u.Hostname()) {
			return nil, fmt.Errorf("graph: endpoint %q: plain http is only allowed to a loopback address", s)
		}
	default:
		return nil, fmt.Errorf("graph: endpoint %q: scheme must be https", s)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u, nil
}

// isLoopback reports whether host is "localhost" or a literal loopback
// address (127.0.0.0/8, ::1). A name that merely starts with "127." is
// not: it may resolve anywhere.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
