// Package interop holds interoperability tests of the oauth package against
// authorization servers written by others, run in-process on 127.0.0.1.
//
// It is a separate module so that the main module does not depend on those
// servers. The tests start github.com/zitadel/oidc/v3's OpenID Provider
// (pkg/op, with the in-memory storage and login pages of its example server)
// and run every grant the oauth package implements against it with the
// package's own client code, checking each access token against the
// provider's published keys (JWKS).
//
// Run them with:
//
//	cd interop && go vet ./... && go test -race ./...
package interop
