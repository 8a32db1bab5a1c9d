package oauth

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkTokenFresh is the per-connection cost of a held, fresh token.
func BenchmarkTokenFresh(b *testing.B) {
	ts, err := NewTokenSource(&Config{Flow: ClientCredentials, ClientID: "c", ClientSecret: "s", TokenURL: "http://127.0.0.1:1/token"})
	if err != nil {
		b.Fatal(err)
	}
	ts.cur, ts.loaded = cachedToken{AccessToken: "tok", Expiry: time.Now().Add(time.Hour)}, true
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ts.Token(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCacheWriteRead is one atomic encrypted write and one read.
func BenchmarkCacheWriteRead(b *testing.B) {
	path := filepath.Join(b.TempDir(), "tokens")
	key := []byte("bench key")
	cf := &cacheFile{Tokens: map[string]cachedToken{"id": {AccessToken: string(make([]byte, 1500)), RefreshToken: "rt", Expiry: time.Now()}}}
	b.ReportAllocs()
	for b.Loop() {
		if err := writeCache(path, key, cf); err != nil {
			b.Fatal(err)
		}
		if _, err := readCache(path, key); err != nil {
			b.Fatal(err)
		}
	}
}
