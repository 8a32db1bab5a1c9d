//go:build !windows

package keyref

import (
	"errors"
	"testing"
)

func TestCertStoreOutsideWindows(t *testing.T) {
	_, err := NewPool().Open("certstore:CurrentUser/My?subject=alerts@example.com", Options{})
	if !errors.Is(err, ErrNoCertStore) {
		t.Fatalf("err = %v, want ErrNoCertStore", err)
	}
}
