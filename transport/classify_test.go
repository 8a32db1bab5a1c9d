package transport_test

import (
	"testing"

	"mailwarden/transport"
)

// TestClassifyAuthenticationRequired: relays that want AUTH before MAIL say
// so in several ways; each is an authentication problem (exit code 4), not
// a rejection of the message.
func TestClassifyAuthenticationRequired(t *testing.T) {
	ec := func(a, b, c int) transport.EnhancedCode { return transport.EnhancedCode{a, b, c} }
	rows := []struct {
		err  *transport.Error
		want transport.Class
	}{
		{&transport.Error{Stage: transport.StageMail, Code: 530, Enhanced: ec(5, 7, 0), Message: "Authentication required"}, transport.ClassAuth},
		{&transport.Error{Stage: transport.StageMail, Code: 502, Enhanced: ec(5, 7, 0), Message: "Please authenticate first"}, transport.ClassAuth},
		{&transport.Error{Stage: transport.StageMail, Code: 550, Enhanced: ec(5, 7, 57), Message: "Client not authenticated to send mail"}, transport.ClassAuth},
		// 5.7.0 for another reason stays a rejection.
		{&transport.Error{Stage: transport.StageMail, Code: 550, Enhanced: ec(5, 7, 0), Message: "Sender address rejected by policy"}, transport.ClassRejected},
		{&transport.Error{Stage: transport.StageRcpt, Code: 550, Enhanced: ec(5, 7, 1), Message: "Relaying denied"}, transport.ClassRejected},
	}
	for _, r := range rows {
		if got := transport.Classify(r.err); got != r.want {
			t.Errorf("%d %s %q: class %v, want %v", r.err.Code, r.err.Enhanced, r.err.Message, got, r.want)
		}
	}
}
