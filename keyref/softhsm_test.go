//go:build cgo

package keyref

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"mailwarden/internal/peers"
)

// token returns the SoftHSM token of the test environment: module, PIN
// and the references of its RSA and P-256 keys.
func token(t *testing.T) (module, pin, rsaRef, ecRef string) {
	t.Helper()
	v := peers.Need(t, "MW_PKCS11_MODULE", "MW_PKCS11_PIN_FILE", "MW_PKCS11_RSA", "MW_PKCS11_EC", "MW_SOFTHSM2_CONF")
	t.Setenv("SOFTHSM2_CONF", v[4])
	b, err := os.ReadFile(v[1])
	if err != nil {
		t.Fatal(err)
	}
	return v[0], strings.TrimSpace(string(b)), v[2], v[3]
}

func TestSoftHSMKeysSignAndDecrypt(t *testing.T) {
	module, pin, rsaRef, ecRef := token(t)
	p := NewPool()
	t.Cleanup(func() { p.Close() })

	rk, err := p.Open(rsaRef, Options{Module: module, PIN: pin})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := rk.Signer.Public().(*rsa.PublicKey); !ok {
		t.Fatalf("RSA key: public %T", rk.Signer.Public())
	}
	if rk.Cert == nil || !strings.Contains(rk.Cert.Subject.CommonName, "RSA") {
		t.Fatalf("RSA key: certificate from the token = %v", rk.Cert)
	}
	if rk.Location.Kind != "pkcs11" || rk.Location.Token != "mailwarden" || rk.Location.Object != "smime-rsa" {
		t.Fatalf("location %+v", rk.Location)
	}
	for _, pss := range []bool{false, true} {
		if err := TestSignature(rk.Signer, pss); err != nil {
			t.Fatalf("RSA pss=%v: %v", pss, err)
		}
	}
	// Decryption on the token: PKCS#1 v1.5 and OAEP key transport.
	secret := []byte("content-encryption key 32 bytes!")
	pub := rk.Signer.Public().(*rsa.PublicKey)
	//lint:ignore SA1019 S/MIME agents must read PKCS#1 v1.5 key transport (RFC 8551 2.3): the token must decrypt it.
	ct, _ := rsa.EncryptPKCS1v15(rand.Reader, pub, secret)
	dec, ok := rk.Signer.(crypto.Decrypter)
	if !ok {
		t.Fatal("token RSA key is not a crypto.Decrypter")
	}
	//lint:ignore SA1019 as above: the key transport S/MIME senders write by default.
	if pt, err := dec.Decrypt(rand.Reader, ct, &rsa.PKCS1v15DecryptOptions{}); err != nil || string(pt) != string(secret) {
		t.Fatalf("PKCS#1 v1.5 decrypt: %q, %v", pt, err)
	}
	// SoftHSM implements OAEP with SHA-1 only; other tokens take SHA-256 too.
	ct, _ = rsa.EncryptOAEP(sha1.New(), rand.Reader, pub, secret, nil)
	if pt, err := dec.Decrypt(rand.Reader, ct, &rsa.OAEPOptions{Hash: crypto.SHA1, MGFHash: crypto.SHA1}); err != nil || string(pt) != string(secret) {
		t.Fatalf("OAEP decrypt: %q, %v", pt, err)
	}

	ek, err := p.Open(ecRef, Options{Module: module, PIN: pin})
	if err != nil {
		t.Fatal(err)
	}
	if k, ok := ek.Signer.Public().(*ecdsa.PublicKey); !ok || k.Curve.Params().BitSize != 256 {
		t.Fatalf("EC key: public %T", ek.Signer.Public())
	}
	if ek.Cert == nil || !ek.Cert.PublicKey.(*ecdsa.PublicKey).Equal(ek.Signer.Public()) {
		t.Fatal("EC key: no matching certificate from the token")
	}
	if err := TestSignature(ek.Signer, false); err != nil {
		t.Fatal(err)
	}
	// The certificate alone, by a cert URI.
	c, loc, err := p.Certificate(ecRef+";type=cert", Options{Module: module, PIN: pin})
	if err != nil || !c.Equal(ek.Cert) || loc.Object != "smime-ec" {
		t.Fatalf("Certificate: %v %+v %v", c, loc, err)
	}
}

// Concurrent sends share one login and the pooled sessions.
func TestSoftHSMConcurrentSigning(t *testing.T) {
	module, pin, rsaRef, ecRef := token(t)
	p := NewPool()
	t.Cleanup(func() { p.Close() })
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			ref := rsaRef
			if i%2 == 1 {
				ref = ecRef
			}
			k, err := p.Open(ref, Options{Module: module, PIN: pin})
			if err != nil {
				errs <- err
				return
			}
			for j := 0; j < 10; j++ {
				if err := TestSignature(k.Signer, false); err != nil {
					errs <- err
					return
				}
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := len(p.ctxs); n != 1 {
		t.Fatalf("%d token contexts for one token, want 1", n)
	}
}

// spy routes the module through OpenSC's pkcs11-spy and returns the spy
// module and a function counting the C_Login calls it logged.
func spy(t *testing.T, module string) (string, func() int) {
	t.Helper()
	so := peers.Get(t, "MW_PKCS11_SPY")
	log := filepath.Join(t.TempDir(), "spy.log")
	t.Setenv("PKCS11SPY", module)
	t.Setenv("PKCS11SPY_OUTPUT", log)
	return so, func() int {
		b, err := os.ReadFile(log)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasSuffix(strings.TrimSpace(l), "C_Login") {
				n++
			}
		}
		return n
	}
}

// TestWrongPINNotRetriedLocksNoCard: a PIN the token rejected is presented
// once; the next Open with the same PIN fails without another C_Login, so
// an outbox retry loop cannot run a card into its lockout.
func TestWrongPINNotRetriedLocksNoCard(t *testing.T) {
	module, pin, rsaRef, _ := token(t)
	so, logins := spy(t, module)
	p := NewPool()
	t.Cleanup(func() { p.Close() })
	for i := 0; i < 3; i++ {
		_, err := p.Open(rsaRef, Options{Module: so, PIN: "wrong-" + pin})
		if !errors.Is(err, ErrPIN) {
			t.Fatalf("attempt %d: err = %v, want ErrPIN", i, err)
		}
		var e *Error
		if !errors.As(err, &e) || e.Hint == "" {
			t.Fatalf("no hint: %v", err)
		}
		if strings.Contains(err.Error(), pin) {
			t.Fatalf("error contains the PIN: %v", err)
		}
	}
	if n := logins(); n != 1 {
		t.Fatalf("C_Login called %d times for three attempts with the same wrong PIN, want 1", n)
	}
	// The right PIN is then accepted (one more login), and a second key on
	// the same token needs no further login.
	if _, err := p.Open(rsaRef, Options{Module: so, PIN: pin}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Open(strings.Replace(rsaRef, "smime-rsa", "smime-ec", 1), Options{Module: so, PIN: pin}); err != nil {
		t.Fatal(err)
	}
	// Once logged in, another PIN for the same token is refused, not
	// silently accepted (the token would answer "already logged in").
	if _, err := p.Open(rsaRef, Options{Module: so, PIN: "other-" + pin}); !errors.Is(err, ErrPIN) {
		t.Fatalf("a different PIN on a logged-in token: err = %v, want ErrPIN", err)
	}
	if n := logins(); n != 2 {
		t.Fatalf("C_Login called %d times in all, want 2", n)
	}
}

func TestSoftHSMMissingThings(t *testing.T) {
	module, pin, rsaRef, _ := token(t)
	p := NewPool()
	t.Cleanup(func() { p.Close() })
	for _, tc := range []struct {
		name, ref string
		opt       Options
		want      error
	}{
		{"object", "pkcs11:token=mailwarden;object=no-such-key", Options{Module: module, PIN: pin}, ErrNotFound},
		{"token", "pkcs11:token=no-such-token;object=smime-rsa", Options{Module: module, PIN: pin}, ErrToken},
		{"module file", rsaRef, Options{Module: "/nonexistent/libpkcs11.so", PIN: pin}, ErrModule},
		{"module not a library", rsaRef, Options{Module: "/etc/hostname", PIN: pin}, ErrModule},
		{"no module", rsaRef, Options{PIN: pin}, ErrModule},
		{"no PIN", strings.Replace(rsaRef, "mailwarden", "mailwarden-x", 1), Options{Module: module}, ErrNoPIN},
	} {
		_, err := p.Open(tc.ref, tc.opt)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
			continue
		}
		var e *Error
		if !errors.As(err, &e) || e.Hint == "" {
			t.Errorf("%s: no hint in %v", tc.name, err)
		}
	}
	if _, _, err := p.Certificate("pkcs11:token=mailwarden;object=no-such-cert;type=cert", Options{Module: module, PIN: pin}); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing certificate: %v", err)
	}
}
