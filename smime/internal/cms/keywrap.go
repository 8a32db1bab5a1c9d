package cms

import (
	"crypto/aes"
	"crypto/subtle"
	"encoding/asn1"
	"encoding/binary"
	"errors"
	"hash"
)

// Key agreement and key wrap identifiers (RFC 5753, RFC 3565, RFC 8418).
var (
	OIDKDFSHA1   = asn1.ObjectIdentifier{1, 3, 133, 16, 840, 63, 0, 2} // dhSinglePass-stdDH-sha1kdf-scheme
	OIDKDFSHA224 = asn1.ObjectIdentifier{1, 3, 132, 1, 11, 0}
	OIDKDFSHA256 = asn1.ObjectIdentifier{1, 3, 132, 1, 11, 1}
	OIDKDFSHA384 = asn1.ObjectIdentifier{1, 3, 132, 1, 11, 2}
	OIDKDFSHA512 = asn1.ObjectIdentifier{1, 3, 132, 1, 11, 3}

	OIDAES128Wrap = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 5}
	OIDAES192Wrap = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 25}
	OIDAES256Wrap = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 45}
)

var defaultIV = [8]byte{0xa6, 0xa6, 0xa6, 0xa6, 0xa6, 0xa6, 0xa6, 0xa6}

// ErrUnwrap reports a key that failed the RFC 3394 integrity check.
var ErrUnwrap = errors.New("cms: key unwrap integrity check failed")

// Wrap wraps key (a multiple of 8 bytes, at least 16) with kek per RFC 3394.
func Wrap(kek, key []byte) ([]byte, error) {
	if len(key)%8 != 0 || len(key) < 16 {
		return nil, errors.New("cms: key to wrap must be a multiple of 8 bytes, at least 16")
	}
	block, err := aes.NewCipher(kek)
	if err != nil {
		return nil, err
	}
	n := len(key) / 8
	out := make([]byte, 8+len(key))
	copy(out[8:], key)
	var a [8]byte = defaultIV
	var b [16]byte
	for j := 0; j < 6; j++ {
		for i := 1; i <= n; i++ {
			copy(b[:8], a[:])
			copy(b[8:], out[8*i:8*i+8])
			block.Encrypt(b[:], b[:])
			t := uint64(n*j + i)
			binary.BigEndian.PutUint64(a[:], binary.BigEndian.Uint64(b[:8])^t)
			copy(out[8*i:], b[8:])
		}
	}
	copy(out[:8], a[:])
	return out, nil
}

// Unwrap reverses Wrap and checks integrity, returning ErrUnwrap on failure.
func Unwrap(kek, wrapped []byte) ([]byte, error) {
	if len(wrapped)%8 != 0 || len(wrapped) < 24 {
		return nil, ErrUnwrap
	}
	block, err := aes.NewCipher(kek)
	if err != nil {
		return nil, err
	}
	n := len(wrapped)/8 - 1
	r := make([]byte, len(wrapped)-8)
	copy(r, wrapped[8:])
	var a [8]byte
	copy(a[:], wrapped[:8])
	var b [16]byte
	for j := 5; j >= 0; j-- {
		for i := n; i >= 1; i-- {
			t := uint64(n*j + i)
			binary.BigEndian.PutUint64(b[:8], binary.BigEndian.Uint64(a[:])^t)
			copy(b[8:], r[8*(i-1):8*i])
			block.Decrypt(b[:], b[:])
			copy(a[:], b[:8])
			copy(r[8*(i-1):], b[8:])
		}
	}
	if subtle.ConstantTimeCompare(a[:], defaultIV[:]) != 1 {
		return nil, ErrUnwrap
	}
	return r, nil
}

// X963KDF derives n bytes from the shared secret z and sharedInfo with the
// ANSI X9.63 KDF (SEC 1 section 3.6.1) over newHash.
func X963KDF(newHash func() hash.Hash, z, sharedInfo []byte, n int) []byte {
	var out []byte
	var ctr [4]byte
	for i := uint32(1); len(out) < n; i++ {
		h := newHash()
		h.Write(z)
		binary.BigEndian.PutUint32(ctr[:], i)
		h.Write(ctr[:])
		h.Write(sharedInfo)
		out = h.Sum(out)
	}
	return out[:n]
}
