package oauth

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestCacheRoundTripEncryptedAtRest(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens")
	key := []byte("a passphrase of any length")
	want := cachedToken{AccessToken: "access-SECRET-1", RefreshToken: "refresh-SECRET-2", Scope: "a b", Expiry: time.Unix(1700000000, 0).UTC()}
	if err := writeCache(path, key, &cacheFile{Tokens: map[string]cachedToken{"id": want}}); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"access-SECRET-1", "refresh-SECRET-2", "expiry"} {
		if bytes.Contains(raw, []byte(s)) {
			t.Errorf("the cache file holds %q in clear", s)
		}
	}
	if runtime.GOOS != "windows" {
		fi, _ := os.Stat(path)
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("mode %v, want 0600", fi.Mode().Perm())
		}
	}
	cf, err := readCache(path, key)
	if err != nil {
		t.Fatal(err)
	}
	if got := cf.Tokens["id"]; got != want {
		t.Errorf("read back %+v, want %+v", got, want)
	}
	// Two writes of the same content differ (fresh salt and nonce).
	if err := writeCache(path, key, cf); err != nil {
		t.Fatal(err)
	}
	raw2, _ := os.ReadFile(path)
	if bytes.Equal(raw, raw2) {
		t.Error("rewriting the same tokens produced the same bytes")
	}
	left, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".tokens.tmp-*"))
	if len(left) != 0 {
		t.Errorf("temporary files left behind: %v", left)
	}
}

func TestCacheMissingFileIsEmpty(t *testing.T) {
	cf, err := readCache(filepath.Join(t.TempDir(), "none"), []byte("k"))
	if err != nil || len(cf.Tokens) != 0 {
		t.Fatalf("got %v, %v; want an empty cache", cf, err)
	}
}

func TestCacheWrongKeyAndTampering(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "tokens")
	key := []byte("right key")
	if err := writeCache(path, key, &cacheFile{Tokens: map[string]cachedToken{"id": {AccessToken: "x"}}}); err != nil {
		t.Fatal(err)
	}
	good, _ := os.ReadFile(path)
	flip := func(i int) []byte {
		b := bytes.Clone(good)
		b[i] ^= 1
		return b
	}
	cases := []struct {
		name string
		data []byte
		key  []byte
	}{
		{"wrong key", good, []byte("wrong key")},
		{"flipped magic", flip(0), key},
		{"flipped salt", flip(len(cacheMagic)), key},
		{"flipped nonce", flip(len(cacheMagic) + cacheSaltLen), key},
		{"flipped ciphertext", flip(len(good) - 20), key},
		{"flipped tag", flip(len(good) - 1), key},
		{"truncated", good[:len(good)-1], key},
		{"header only", good[:len(cacheMagic)+3], key},
		{"empty", nil, key},
		{"plain JSON", []byte(`{"tokens":{}}`), key},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-"))
			if err := os.WriteFile(p, tc.data, 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := readCache(p, tc.key)
			var ce *CacheError
			if !errors.As(err, &ce) || !errors.Is(err, ErrCacheUnreadable) || ce.Path != p {
				t.Fatalf("got %v, want a *CacheError matching ErrCacheUnreadable", err)
			}
			if !strings.Contains(err.Error(), "log in again") {
				t.Errorf("the error gives no way out: %v", err)
			}
		})
	}
}

// TestCacheWriteTightensALooserFile: a cache file that exists with a
// looser mode (copied in by hand, restored from a backup) is 0600 after
// the next write, since the write replaces it.
func TestCacheWriteTightensALooserFile(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix permission bits on Windows")
	}
	path := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := writeCache(path, []byte("k"), &cacheFile{Tokens: map[string]cachedToken{}}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode after the write: %v, want 0600", fi.Mode().Perm())
	}
}
