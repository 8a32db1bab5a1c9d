package mailwarden_test

import (
	"context"
	"testing"

	"mailwarden"
)

// TestPlaintextByChoice: a profile sends without TLS by choice when every
// server's mode is none, from its tls setting or its address's own suffix;
// TLS auto (which may find no STARTTLS) is not a choice.
func TestPlaintextByChoice(t *testing.T) {
	for _, tc := range []struct {
		tls     string
		servers []string
		want    bool
	}{
		{"none", []string{"relay.example:25"}, true},
		{"", []string{"relay.example:465-nossl"}, true},
		{"auto", []string{"relay.example:465-nossl", "backup.example:25-nossl"}, true},
		{"auto", []string{"relay.example:25"}, false},
		{"", []string{"relay.example:587"}, false},
		{"", []string{"relay.example:465"}, false},
		{"none", []string{"relay.example:587-starttls"}, false},
		{"", []string{"relay.example:465-nossl", "backup.example:587"}, false},
	} {
		s, err := mailwarden.NewSender(context.Background(), mailwarden.Profile{Name: "p", TLS: tc.tls, Servers: tc.servers, From: "a@example.com"}, nil)
		if err != nil {
			t.Fatalf("tls %q, %v: %v", tc.tls, tc.servers, err)
		}
		if got := s.PlaintextByChoice(); got != tc.want {
			t.Errorf("tls %q, %v: PlaintextByChoice = %v, want %v", tc.tls, tc.servers, got, tc.want)
		}
		s.Close()
	}
}
