package firewall

import (
	"testing"

	"mailwarden/firewall/internal/wire"
)

// TestWireConstants: package wire reports stages and protocols with the
// same strings this package documents.
func TestWireConstants(t *testing.T) {
	for _, c := range [][2]string{
		{OpDial, wire.OpDial}, {OpTLS, wire.OpTLS}, {OpResolve, wire.OpResolve},
		{OpNegotiate, wire.OpNegotiate}, {OpAuth, wire.OpAuth}, {OpConnect, wire.OpConnect},
		{ProtoSOCKS4, wire.ProtoSOCKS4}, {ProtoSOCKS4A, wire.ProtoSOCKS4A},
		{ProtoSOCKS5, wire.ProtoSOCKS5}, {ProtoHTTP, wire.ProtoHTTP},
	} {
		if c[0] != c[1] {
			t.Errorf("firewall %q != wire %q", c[0], c[1])
		}
	}
}
