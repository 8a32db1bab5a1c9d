//go:build windows

package keyref

import (
	"bytes"
	"crypto/sha1"
	"crypto/x509"
	"errors"
	"strings"
	"time"
	"unsafe"

	"github.com/google/certtostore"
	"golang.org/x/sys/windows"
)

// openCertStore finds the certificate r names in the "My" store and
// opens its private key through CNG (CryptAcquireCertificatePrivateKey,
// silent: a key that needs a UI prompt is an error, not a dialog).
func openCertStore(ref string, r *CertStoreRef) (*Key, error) {
	flags := uint32(windows.CERT_SYSTEM_STORE_CURRENT_USER)
	if r.Location == LocalMachine {
		flags = windows.CERT_SYSTEM_STORE_LOCAL_MACHINE
	}
	name, _ := windows.UTF16PtrFromString("MY")
	store, err := windows.CertOpenStore(windows.CERT_STORE_PROV_SYSTEM, 0, 0,
		flags|windows.CERT_STORE_READONLY_FLAG|windows.CERT_STORE_OPEN_EXISTING_FLAG, uintptr(unsafe.Pointer(name)))
	if err != nil {
		return nil, newErr(ref, ErrNotFound, "cannot open the "+r.Location+`\My store`, err)
	}
	defer windows.CertCloseStore(store, 0)

	var best *windows.CertContext
	var bestCert *x509.Certificate
	now := time.Now()
	var prev *windows.CertContext
	for {
		ctx, err := windows.CertEnumCertificatesInStore(store, prev)
		if err != nil || ctx == nil {
			break
		}
		prev = ctx
		der := unsafe.Slice(ctx.EncodedCert, ctx.Length)
		c, perr := x509.ParseCertificate(bytes.Clone(der))
		if perr != nil || !matches(r, c) {
			continue
		}
		// Several matches by subject: the one valid now that lasts longest.
		if bestCert == nil || (validAt(c, now) && (!validAt(bestCert, now) || c.NotAfter.After(bestCert.NotAfter))) {
			if best != nil {
				windows.CertFreeCertificateContext(best)
			}
			best = windows.CertDuplicateCertificateContext(ctx)
			bestCert = c
		}
	}
	if best == nil {
		return nil, newErr(ref, ErrNotFound, "no certificate in "+r.Location+`\My matches: list them with certutil -user -store My (or certutil -store My)`, nil)
	}
	ws, err := certtostore.OpenWinCertStoreWithOptions(certtostore.WinCertStoreOptions{
		Provider: certtostore.ProviderMSSoftware, CurrentUser: r.Location == CurrentUser})
	if err != nil {
		return nil, newErr(ref, ErrNotFound, "cannot open the CNG key storage provider", err)
	}
	key, err := ws.CertKey(best)
	if err != nil || key == nil {
		if err == nil {
			err = errors.New("no private key")
		}
		return nil, newErr(ref, ErrNotFound, "the certificate has no usable CNG private key (imported without its key, or a legacy CSP key)", err)
	}
	return &Key{Signer: key, Cert: bestCert, Location: Location{Kind: "certstore", Store: r.Location + "/My", Subject: bestCert.Subject.String()}}, nil
}

func matches(r *CertStoreRef, c *x509.Certificate) bool {
	if r.Thumbprint != nil {
		sum := sha1.Sum(c.Raw)
		return bytes.Equal(sum[:], r.Thumbprint)
	}
	want := strings.ToLower(r.Subject)
	for _, e := range c.EmailAddresses {
		if strings.ToLower(e) == want {
			return true
		}
	}
	return strings.Contains(strings.ToLower(c.Subject.String()), want)
}

func validAt(c *x509.Certificate, t time.Time) bool {
	return !t.Before(c.NotBefore) && !t.After(c.NotAfter)
}
