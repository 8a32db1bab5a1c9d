package cms

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"errors"
)

// GCMEncrypter encrypts with AES-GCM (NIST SP 800-38D) as data flows, with
// a 12-byte nonce, no additional data and a 16-byte tag. The standard
// library's AEAD needs the whole plaintext at once; this type runs AES-CTR
// from the standard library for the keystream and computes GHASH chunk by
// chunk. Each chunk's GHASH comes from the standard library's (hardware
// accelerated) GCM used as a GHASH oracle over additional data only; chunk
// results are combined with the identity
//
//	GHASH(A || B) = GHASH(A)·H^blocks(B) + GHASH(B)
//
// so only a handful of field multiplications in Go are needed per chunk.
type GCMEncrypter struct {
	ctr    cipher.Stream
	oracle cipher.AEAD
	h      fieldElement
	w      fieldElement // running GHASH state multiplied by H
	ekj0   [16]byte     // E_K(J0) for the real nonce
	ekz    [16]byte     // E_K(J0) for the oracle's all-zero nonce
	n      uint64       // ciphertext bytes so far
	buf    []byte       // ciphertext not yet hashed
	chunk  int
	hpow   fieldElement // H^(chunk/16)
	closed bool
	tagBuf [16]byte
}

type fieldElement struct{ hi, lo uint64 }

func loadFE(b []byte) fieldElement {
	return fieldElement{binary.BigEndian.Uint64(b), binary.BigEndian.Uint64(b[8:])}
}

func (x fieldElement) bytes() [16]byte {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:], x.hi)
	binary.BigEndian.PutUint64(b[8:], x.lo)
	return b
}

func (x fieldElement) xor(y fieldElement) fieldElement {
	return fieldElement{x.hi ^ y.hi, x.lo ^ y.lo}
}

// mul multiplies in GF(2^128) with GCM's bit order (SP 800-38D, algorithm 1).
func mul(x, y fieldElement) fieldElement {
	var z fieldElement
	v := y
	for i := 0; i < 128; i++ {
		var bit uint64
		if i < 64 {
			bit = x.hi >> (63 - i) & 1
		} else {
			bit = x.lo >> (127 - i) & 1
		}
		if bit == 1 {
			z = z.xor(v)
		}
		lsb := v.lo & 1
		v.lo = v.lo>>1 | v.hi<<63
		v.hi >>= 1
		if lsb == 1 {
			v.hi ^= 0xe100000000000000
		}
	}
	return z
}

func pow(h fieldElement, n int) fieldElement {
	r := fieldElement{hi: 1 << 63} // the multiplicative identity in GCM bit order
	for n > 0 {
		if n&1 == 1 {
			r = mul(r, h)
		}
		h = mul(h, h)
		n >>= 1
	}
	return r
}

// gcmChunk is how much ciphertext is hashed per oracle call.
const gcmChunk = 16 << 10

// NewGCMEncrypter returns an encrypter for key (16, 24 or 32 bytes) and a
// 12-byte nonce.
func NewGCMEncrypter(key, nonce []byte) (*GCMEncrypter, error) {
	if len(nonce) != 12 {
		return nil, errors.New("cms: gcm nonce must be 12 bytes")
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	oracle, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	g := &GCMEncrypter{oracle: oracle, chunk: gcmChunk, buf: make([]byte, 0, gcmChunk)}
	var zero, hb [16]byte
	block.Encrypt(hb[:], zero[:])
	g.h = loadFE(hb[:])
	var j0 [16]byte
	copy(j0[:], nonce)
	j0[15] = 1
	block.Encrypt(g.ekj0[:], j0[:])
	var jz [16]byte
	jz[15] = 1
	block.Encrypt(g.ekz[:], jz[:])
	j0[15] = 2
	g.ctr = cipher.NewCTR(block, j0[:])
	g.hpow = pow(g.h, g.chunk/16)
	return g, nil
}

var zeroNonce [12]byte

func (g *GCMEncrypter) absorb(c []byte, hpow fieldElement) {
	tag := g.oracle.Seal(g.tagBuf[:0], zeroNonce[:], nil, c)
	z := loadFE(tag).xor(loadFE(g.ekz[:]))
	l := mul(fieldElement{hi: uint64(len(c)) * 8}, g.h)
	g.w = mul(g.w, hpow).xor(z.xor(l))
}

// Encrypt encrypts src into dst (which may alias src exactly) and returns
// dst[:len(src)]. Calls may have any length.
func (g *GCMEncrypter) Encrypt(dst, src []byte) []byte {
	if g.closed {
		panic("cms: Encrypt after Tag")
	}
	dst = dst[:len(src)]
	g.ctr.XORKeyStream(dst, src)
	g.n += uint64(len(src))
	c := dst
	for len(c) > 0 {
		k := copy(g.buf[len(g.buf):g.chunk], c)
		g.buf = g.buf[:len(g.buf)+k]
		c = c[k:]
		if len(g.buf) == g.chunk {
			g.absorb(g.buf, g.hpow)
			g.buf = g.buf[:0]
		}
	}
	return dst
}

// Tag finishes the encryption and returns the 16-byte authentication tag.
func (g *GCMEncrypter) Tag() []byte {
	if !g.closed {
		g.closed = true
		if len(g.buf) > 0 {
			g.absorb(g.buf, pow(g.h, (len(g.buf)+15)/16))
			g.buf = g.buf[:0]
		}
	}
	lenBlock := fieldElement{lo: g.n * 8}
	s := g.w.xor(mul(lenBlock, g.h)).xor(loadFE(g.ekj0[:]))
	t := s.bytes()
	return t[:]
}
