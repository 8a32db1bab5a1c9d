package mailwarden

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"mailwarden/internal/testcert"
)

// TestEncryptToSelfNamesEveryReader: with encrypt_to_self the audit
// record's smime.recipients_sha256 listed only the other recipients; the
// trail must name every key that can read the message, the sender's too.
func TestEncryptToSelfNamesEveryReader(t *testing.T) {
	ca, err := testcert.NewCA("S/MIME CA")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		f := filepath.Join(dir, name)
		if err := os.WriteFile(f, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return f
	}
	signer, err := ca.Issue(testcert.Options{CommonName: "Alerts", Emails: []string{"alerts@example.com"}, Purpose: testcert.SMIME})
	if err != nil {
		t.Fatal(err)
	}
	rcpt, err := ca.Issue(testcert.Options{CommonName: "Ops", Emails: []string{"ops@example.com"}, Purpose: testcert.SMIME})
	if err != nil {
		t.Fatal(err)
	}
	p := Profile{SMIME: SMIMEConfig{SignCert: write("s.pem", signer.CertPEM), SignKey: write("s.key", signer.KeyPEM),
		EncryptCerts: []string{write("r.pem", rcpt.CertPEM)}, EncryptToSelf: true}}
	st, err := loadSMIME(context.Background(), p, os.Getenv, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range st.attrs {
		if a.Key == "recipients_sha256" {
			got, _ = a.Value.Any().([]string)
		}
	}
	want := map[string]bool{fingerprint(rcpt.Cert): true, fingerprint(signer.Cert): true}
	if len(got) != 2 || !want[got[0]] || !want[got[1]] || got[0] == got[1] {
		t.Errorf("recipients_sha256 = %v, want the recipient's and the sender's fingerprints", got)
	}
}
