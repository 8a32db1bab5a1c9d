//go:build windows

package keyref

import (
	"crypto"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"sync"
	"unsafe"

	"golang.org/x/sys/windows"
)

// capiKey signs with an RSA key held by a legacy CryptoAPI CSP (the
// certificate's CERT_KEY_PROV_INFO names a provider type other than 0):
// only the digest goes to the provider (CryptSetHashParam HP_HASHVAL,
// CryptSignHash). PKCS#1 v1.5 only: CryptoAPI has no RSASSA-PSS.
type capiKey struct {
	mu   sync.Mutex
	prov uintptr
	spec uint32
	pub  *rsa.PublicKey
}

var (
	advapi32                              = windows.NewLazySystemDLL("advapi32.dll")
	procCryptCreateHash                   = advapi32.NewProc("CryptCreateHash")
	procCryptSetHashParam                 = advapi32.NewProc("CryptSetHashParam")
	procCryptSignHashW                    = advapi32.NewProc("CryptSignHashW")
	procCryptDestroyHash                  = advapi32.NewProc("CryptDestroyHash")
	procCryptAcquireContextW              = advapi32.NewProc("CryptAcquireContextW")
	procCryptReleaseContext               = advapi32.NewProc("CryptReleaseContext")
	procCryptAcquireCertificatePrivateKey = windows.NewLazySystemDLL("crypt32.dll").NewProc("CryptAcquireCertificatePrivateKey")
)

// errPSSLegacy is RSASSA-PSS asked of a legacy CryptoAPI key.
var errPSSLegacy = errors.New("RSASSA-PSS is not available with a key in a legacy CryptoAPI provider (sign with PKCS#1 v1.5, or import the key into a CNG key storage provider)")

// openCAPIKey acquires the legacy CSP key of ctx (silent: no UI). A key
// of a PROV_RSA_FULL provider (which has no SHA-2) is opened through the
// "Microsoft Enhanced RSA and AES Cryptographic Provider" on the same key
// container, as CryptoAPI clients do for SHA-256 signatures.
func openCAPIKey(ctx *windows.CertContext, info keyProv, pub *rsa.PublicKey) (*capiKey, error) {
	spec := info.keySpec
	if spec != 1 && spec != 2 { // AT_KEYEXCHANGE, AT_SIGNATURE
		spec = 1 // PFXImportCertStore imports RSA keys as AT_KEYEXCHANGE
	}
	if info.provType == 1 && info.container != "" { // PROV_RSA_FULL
		c, _ := windows.UTF16PtrFromString(info.container)
		p, _ := windows.UTF16PtrFromString("Microsoft Enhanced RSA and AES Cryptographic Provider")
		flags := uint32(0x40) | info.flags&0x20 // CRYPT_SILENT | CRYPT_MACHINE_KEYSET
		var prov uintptr
		r, _, err := procCryptAcquireContextW.Call(uintptr(unsafe.Pointer(&prov)), uintptr(unsafe.Pointer(c)), uintptr(unsafe.Pointer(p)), 24 /* PROV_RSA_AES */, uintptr(flags))
		if r == 0 {
			return nil, fmt.Errorf("CryptAcquireContext (PROV_RSA_AES): %w", err)
		}
		k := &capiKey{prov: prov, spec: spec, pub: pub}
		// This context is ours (the certificate's cached one is not).
		runtime.SetFinalizer(k, func(k *capiKey) { procCryptReleaseContext.Call(k.prov, 0) })
		return k, nil
	}
	var prov uintptr
	var gotSpec uint32
	var mustFree int32
	const flags = 0x1 | 0x40 // CRYPT_ACQUIRE_CACHE_FLAG | CRYPT_ACQUIRE_SILENT_FLAG
	r, _, err := procCryptAcquireCertificatePrivateKey.Call(uintptr(unsafe.Pointer(ctx)), flags, 0,
		uintptr(unsafe.Pointer(&prov)), uintptr(unsafe.Pointer(&gotSpec)), uintptr(unsafe.Pointer(&mustFree)))
	if r == 0 {
		return nil, fmt.Errorf("CryptAcquireCertificatePrivateKey: %w", err)
	}
	if spec != 1 && spec != 2 { // AT_KEYEXCHANGE, AT_SIGNATURE
		spec = gotSpec
	}
	return &capiKey{prov: prov, spec: spec, pub: pub}, nil
}

func (k *capiKey) Public() crypto.PublicKey { return k.pub }

func (k *capiKey) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if _, ok := opts.(*rsa.PSSOptions); ok {
		return nil, errPSSLegacy
	}
	var alg uint32
	switch opts.HashFunc() {
	case crypto.SHA1:
		alg = 0x8004 // CALG_SHA1
	case crypto.SHA256:
		alg = 0x800c // CALG_SHA_256
	case crypto.SHA384:
		alg = 0x800d
	case crypto.SHA512:
		alg = 0x800e
	default:
		return nil, fmt.Errorf("hash %v is not supported with a legacy CryptoAPI key", opts.HashFunc())
	}
	if len(digest) != opts.HashFunc().Size() {
		return nil, errors.New("digest length does not match the hash")
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	var h uintptr
	if r, _, err := procCryptCreateHash.Call(k.prov, uintptr(alg), 0, 0, uintptr(unsafe.Pointer(&h))); r == 0 {
		return nil, fmt.Errorf("CryptCreateHash: %w", err)
	}
	defer procCryptDestroyHash.Call(h)
	if r, _, err := procCryptSetHashParam.Call(h, 2 /* HP_HASHVAL */, uintptr(unsafe.Pointer(&digest[0])), 0); r == 0 {
		return nil, fmt.Errorf("CryptSetHashParam: %w", err)
	}
	var n uint32
	if r, _, err := procCryptSignHashW.Call(h, uintptr(k.spec), 0, 0, 0, uintptr(unsafe.Pointer(&n))); r == 0 {
		return nil, fmt.Errorf("CryptSignHash: %w", err)
	}
	sig := make([]byte, n)
	if r, _, err := procCryptSignHashW.Call(h, uintptr(k.spec), 0, 0, uintptr(unsafe.Pointer(&sig[0])), uintptr(unsafe.Pointer(&n))); r == 0 {
		return nil, fmt.Errorf("CryptSignHash: %w", err)
	}
	sig = sig[:n]
	slices.Reverse(sig) // CryptoAPI returns the signature little-endian
	if err := rsa.VerifyPKCS1v15(k.pub, opts.HashFunc(), digest, sig); err != nil {
		return nil, fmt.Errorf("the legacy provider's signature does not verify: %w", err)
	}
	return sig, nil
}
