//go:build !cgo

package keyref

type tokenCtx struct{}

func (*tokenCtx) close() error { return nil }

func (p *Pool) openPKCS11(ref string, _ *PKCS11URI, _ Options, _ bool) (*Key, error) {
	return nil, newErr(ref, ErrNoPKCS11, "use a build made with CGO_ENABLED=1, or a key file", nil)
}
