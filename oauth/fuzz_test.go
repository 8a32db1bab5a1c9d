package oauth

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzCacheOpen: whatever the bytes, opening either fails with
// ErrCacheUnreadable or yields exactly what was sealed under the key (the
// only plaintext ever sealed here), so no mutation forges or alters
// content. It never panics. (Each fuzz worker seals afresh with its own
// salt, so the oracle compares plaintexts, not files.)
func FuzzCacheOpen(f *testing.F) {
	key := []byte("fuzz key")
	plain := []byte(`{"tokens":{"id":{"access_token":"a"}}}`)
	sealed, err := seal(key, plain)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(sealed)
	f.Add([]byte(cacheMagic))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := open(key, data)
		if err != nil {
			if !errors.Is(err, ErrCacheUnreadable) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if !bytes.Equal(got, plain) {
			t.Fatalf("forged or altered bytes were accepted: %q", got)
		}
	})
}
