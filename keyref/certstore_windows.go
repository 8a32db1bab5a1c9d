//go:build windows

package keyref

import (
	"bytes"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"strconv"
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
	defer windows.CertFreeCertificateContext(best)
	found := "certificate " + bestCert.Subject.String() + " (thumbprint " + thumbprint(bestCert) + ") found in " + r.Location + `\My, but `
	kp, hasKey := keyProvInfo(best)
	provName, provType := kp.provName, kp.provType
	if !hasKey {
		return nil, newErr(ref, ErrNotFound, found+"it has no private key (imported without its key?)", nil)
	}
	if provType != 0 {
		// A legacy CryptoAPI provider: RSA keys sign through CryptSignHash.
		pub, ok := bestCert.PublicKey.(*rsa.PublicKey)
		if !ok {
			return nil, newErr(ref, ErrKeyProvider, found+"its key is in the legacy CryptoAPI provider "+strconv.Quote(provName)+
				" and is not RSA: import the PKCS#12 again into the Microsoft Software Key Storage Provider (certutil -user -csp \"Microsoft Software Key Storage Provider\" -importpfx FILE)", nil)
		}
		k, err := openCAPIKey(best, kp, pub)
		if err != nil {
			return nil, newErr(ref, ErrKeyProvider, found+"its key in the legacy CryptoAPI provider "+strconv.Quote(provName)+" cannot be opened", err)
		}
		return &Key{Signer: k, Cert: bestCert, Location: Location{Kind: "certstore", Store: r.Location + "/My", Subject: bestCert.Subject.String()}}, nil
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
		return nil, newErr(ref, ErrKeyProvider, found+"its CNG private key cannot be opened", err)
	}
	return &Key{Signer: key, Cert: bestCert, Location: Location{Kind: "certstore", Store: r.Location + "/My", Subject: bestCert.Subject.String()}}, nil
}

var procCertGetCertificateContextProperty = windows.NewLazySystemDLL("crypt32.dll").NewProc("CertGetCertificateContextProperty")

// cryptKeyProvInfo is CRYPT_KEY_PROV_INFO.
type cryptKeyProvInfo struct {
	ContainerName *uint16
	ProvName      *uint16
	ProvType      uint32
	Flags         uint32
	ProvParamLen  uint32
	ProvParam     uintptr
	KeySpec       uint32
}

const certKeyProvInfoPropID = 2 // CERT_KEY_PROV_INFO_PROP_ID

// keyProvInfo reads the certificate's CERT_KEY_PROV_INFO_PROP_ID: the
// provider holding its private key. provType is 0 for a CNG key storage
// provider and a PROV_* type for a legacy CryptoAPI CSP; hasKey is false
// when the certificate has no key linked to it.
type keyProv struct {
	container, provName      string
	provType, flags, keySpec uint32
}

func keyProvInfo(ctx *windows.CertContext) (kp keyProv, hasKey bool) {
	var n uint32
	r, _, _ := procCertGetCertificateContextProperty.Call(uintptr(unsafe.Pointer(ctx)), certKeyProvInfoPropID, 0, uintptr(unsafe.Pointer(&n)))
	if r == 0 || n < uint32(unsafe.Sizeof(cryptKeyProvInfo{})) {
		return kp, false
	}
	buf := make([]uint64, (n+7)/8) // 8-byte aligned
	r, _, _ = procCertGetCertificateContextProperty.Call(uintptr(unsafe.Pointer(ctx)), certKeyProvInfoPropID, uintptr(unsafe.Pointer(&buf[0])), uintptr(unsafe.Pointer(&n)))
	if r == 0 {
		return kp, false
	}
	info := (*cryptKeyProvInfo)(unsafe.Pointer(&buf[0]))
	if info.ProvName != nil {
		kp.provName = windows.UTF16PtrToString(info.ProvName)
	}
	if info.ContainerName != nil {
		kp.container = windows.UTF16PtrToString(info.ContainerName)
	}
	kp.provType, kp.flags, kp.keySpec = info.ProvType, info.Flags, info.KeySpec
	return kp, true
}

func thumbprint(c *x509.Certificate) string {
	sum := sha1.Sum(c.Raw)
	return hex.EncodeToString(sum[:])
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
