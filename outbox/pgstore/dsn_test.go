package pgstore

import (
	"errors"
	"strings"
	"testing"
)

// TestParseConfigRequiresVerifiedTLSForRemoteHosts: loopback and Unix
// sockets are accepted in any sslmode; another host only with verify-full
// (or when unverified connections are allowed explicitly); errors never
// repeat the password.
func TestParseConfigRequiresVerifiedTLSForRemoteHosts(t *testing.T) {
	for _, c := range []struct {
		conn       string
		unverified bool
		ok         bool
	}{
		{"postgres://u:pw@127.0.0.1:5432/db?sslmode=disable", false, true},
		{"postgres://u@[::1]/db", false, true},
		{"postgres://u@localhost/db?sslmode=prefer", false, true},
		{"host=/var/run/postgresql dbname=db sslmode=disable", false, true},
		{"postgres://u@db.example.net/db?sslmode=verify-full", false, true},
		{"postgres://u@db.example.net/db", false, false},
		{"postgres://u@db.example.net/db?sslmode=require", false, false},
		{"postgres://u@db.example.net/db?sslmode=verify-ca", false, false},
		{"postgres://u@10.0.0.5/db?sslmode=disable", false, false},
		{"postgres://u@10.0.0.5/db?sslmode=disable", true, true},
		{"host=127.0.0.1,db.example.net sslmode=require", false, false},
	} {
		_, err := ParseConfig(c.conn, c.unverified)
		if c.ok && err != nil {
			t.Errorf("%s: %v", c.conn, err)
		}
		if !c.ok && !errors.Is(err, ErrInsecureDatabase) {
			t.Errorf("%s: err %v, want ErrInsecureDatabase", c.conn, err)
		}
	}
	_, err := ParseConfig("postgres://u:s3cr3t-pw@127.0.0.1:notaport/db", false)
	if err == nil || strings.Contains(err.Error(), "s3cr3t-pw") {
		t.Errorf("a malformed URL: %v", err)
	}
}
