//go:build !cgo

package keyref

import (
	"errors"
	"testing"
)

// A build without cgo has no PKCS#11 and says so.
func TestNoCgoSaysPKCS11IsNotInThisBuild(t *testing.T) {
	_, err := NewPool().Open("pkcs11:token=t;object=k", Options{Module: "/x.so", PIN: "1"})
	if !errors.Is(err, ErrNoPKCS11) {
		t.Fatalf("err = %v, want ErrNoPKCS11", err)
	}
	if err.Error() == "" || !errors.Is(err, ErrNoPKCS11) {
		t.Fatal(err)
	}
}
