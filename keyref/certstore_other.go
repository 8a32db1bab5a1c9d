//go:build !windows

package keyref

func openCertStore(ref string, _ *CertStoreRef) (*Key, error) {
	return nil, newErr(ref, ErrNoCertStore, "on this system use a pkcs11: URI or a key file", nil)
}
