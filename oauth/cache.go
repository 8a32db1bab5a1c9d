package oauth

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"mailwarden/internal/robustio"
)

// The cache file is magic || salt || nonce || AES-256-GCM(JSON), with the
// magic as additional data. The key is HKDF-SHA-256(CacheKey, salt), so a
// fresh salt per write gives a fresh key and a random nonce never repeats
// under one key in practice.
const (
	cacheMagic   = "MWOAUTH1"
	cacheSaltLen = 16
	cacheInfo    = "mailwarden oauth token cache v1"
)

// ErrCacheUnreadable is matched by a *CacheError for a cache file that
// cannot be decrypted: a wrong key, or a file that was modified or
// truncated. AES-GCM cannot tell these apart.
var ErrCacheUnreadable = errors.New("oauth: token cache cannot be decrypted: wrong key, or the file was modified")

// A CacheError is a failure to read or write the token cache file.
type CacheError struct {
	Path string
	Err  error
}

func (e *CacheError) Error() string {
	msg := e.Err.Error()
	if errors.Is(e.Err, ErrCacheUnreadable) {
		return fmt.Sprintf("oauth: token cache %s cannot be decrypted: wrong key, or the file was modified (delete it and log in again)", e.Path)
	}
	return fmt.Sprintf("oauth: token cache %s: %s", e.Path, msg)
}

func (e *CacheError) Unwrap() error { return e.Err }

// cachedToken is one entry of the cache.
type cachedToken struct {
	AccessToken  string    `json:"access_token,omitempty"`
	TokenType    string    `json:"token_type,omitempty"`
	RefreshToken string    `json:"refresh_token,omitempty"`
	Expiry       time.Time `json:"expiry,omitzero"`
	Scope        string    `json:"scope,omitempty"`
	// Issued is when the token was received (by Config.Now); zero in
	// entries written before it was recorded.
	Issued time.Time `json:"issued,omitzero"`
}

// cacheFile is the decrypted content: entries keyed by cacheID, so that
// profiles may share one file.
type cacheFile struct {
	Tokens map[string]cachedToken `json:"tokens"`
}

func deriveKey(secret, salt []byte) ([]byte, error) {
	return hkdf.Key(sha256.New, secret, salt, cacheInfo, 32)
}

func seal(secret, plain []byte) ([]byte, error) {
	salt := make([]byte, cacheSaltLen)
	rand.Read(salt)
	key, err := deriveKey(secret, salt)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, gcm.NonceSize())
	rand.Read(nonce)
	out := append([]byte(cacheMagic), salt...)
	out = append(out, nonce...)
	return gcm.Seal(out, nonce, plain, []byte(cacheMagic)), nil
}

func open(secret, data []byte) ([]byte, error) {
	if len(data) < len(cacheMagic)+cacheSaltLen+12+16 || string(data[:len(cacheMagic)]) != cacheMagic {
		return nil, ErrCacheUnreadable
	}
	data = data[len(cacheMagic):]
	key, err := deriveKey(secret, data[:cacheSaltLen])
	if err != nil {
		return nil, err
	}
	data = data[cacheSaltLen:]
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	plain, err := gcm.Open(nil, data[:gcm.NonceSize()], data[gcm.NonceSize():], []byte(cacheMagic))
	if err != nil {
		return nil, ErrCacheUnreadable
	}
	return plain, nil
}

// readCache returns the cache's content; a missing file is an empty cache.
func readCache(path string, key []byte) (*cacheFile, error) {
	cf := &cacheFile{Tokens: map[string]cachedToken{}}
	data, err := robustio.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return cf, nil
	}
	if err != nil {
		return nil, &CacheError{Path: path, Err: err}
	}
	plain, err := open(key, data)
	if err != nil {
		return nil, &CacheError{Path: path, Err: err}
	}
	if err := json.Unmarshal(plain, cf); err != nil {
		return nil, &CacheError{Path: path, Err: fmt.Errorf("%w (%v)", ErrCacheUnreadable, err)}
	}
	if cf.Tokens == nil {
		cf.Tokens = map[string]cachedToken{}
	}
	return cf, nil
}

// writeCache replaces the file atomically: a temporary file in the same
// directory, written, synced and renamed over it, mode 0600 throughout.
func writeCache(path string, key []byte, cf *cacheFile) error {
	plain, err := json.Marshal(cf)
	if err != nil {
		return &CacheError{Path: path, Err: err}
	}
	data, err := seal(key, plain)
	if err != nil {
		return &CacheError{Path: path, Err: err}
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return &CacheError{Path: path, Err: err}
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return &CacheError{Path: path, Err: err}
	}
	tmp := f.Name()
	fail := func(err error) error {
		f.Close()
		os.Remove(tmp)
		return &CacheError{Path: path, Err: err}
	}
	if err := f.Chmod(0o600); err != nil {
		return fail(err)
	}
	if _, err := f.Write(data); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return &CacheError{Path: path, Err: err}
	}
	if err := robustio.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return &CacheError{Path: path, Err: err}
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync() // best effort: some systems cannot sync a directory
		d.Close()
	}
	return nil
}
