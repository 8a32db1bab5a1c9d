// Package scrub removes known secrets from text that came from a peer
// before it is stored, logged or printed. A server that reflects what it
// was sent ("535 bad password hunter2", the AUTH PLAIN blob in base64, a
// proxy that echoes its Proxy-Authorization header) must not put the
// secret in an error, a transcript or an audit trail.
//
// One Set holds every secret of a session (passwords, tokens, keys'
// passphrases); Scrub replaces each occurrence, in plain text
// (ASCII case-insensitively), and every run of base64 or hex whose decoding
// at any alignment contains a secret, with "[REDACTED]". It is a leaf:
// transport, firewall, oauth and graph import it, the root fills it.
package scrub

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"sync"
)

// Redacted replaces a secret.
const Redacted = "[REDACTED]"

// A Set is the secrets of a session. The zero Set and a nil *Set scrub
// nothing. A Set is safe for concurrent use.
type Set struct {
	mu      sync.RWMutex
	secrets []string
}

// New returns a Set holding the non-empty secrets.
func New(secrets ...string) *Set {
	s := &Set{}
	s.Add(secrets...)
	return s
}

// Add adds the non-empty secrets that s does not hold yet (a token source
// adds each new token as it is issued). Add on a nil *Set does nothing.
func (s *Set) Add(secrets ...string) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
next:
	for _, v := range secrets {
		if v == "" {
			continue
		}
		for _, have := range s.secrets {
			if have == v {
				continue next
			}
		}
		s.secrets = append(s.secrets, v)
	}
}

// GoString describes s without its secrets, so %#v and %v of a value
// holding a Set reveal nothing.
func (s *Set) GoString() string { return "scrub.Set{[REDACTED]}" }

// Format implements fmt.Formatter with GoString for every verb.
func (s *Set) Format(f fmt.State, _ rune) { io.WriteString(f, s.GoString()) }

// Scrub returns text with every secret of s, and every base64 or hex run
// that decodes to something containing one, replaced by Redacted.
func (s *Set) Scrub(text string) string {
	if s == nil || text == "" {
		return text
	}
	s.mu.RLock()
	secrets := s.secrets
	s.mu.RUnlock()
	if len(secrets) == 0 {
		return text
	}
	shortest := len(secrets[0])
	for _, v := range secrets {
		text = replaceFold(text, v)
		shortest = min(shortest, len(v))
	}
	// A run of n base64 characters decodes to at most 3n/4 bytes, one of
	// n hex digits to n/2: shorter runs cannot hold a secret.
	b64Run := (4*shortest + 2) / 3
	text = replaceRuns(text, isStdBase64, secrets, decodeBase64(base64.RawStdEncoding), b64Run)
	text = replaceRuns(text, isURLBase64, secrets, decodeBase64(base64.RawURLEncoding), b64Run)
	return replaceRuns(text, isHex, secrets, decodeHex, 2*shortest)
}

// replaceFold replaces secret in text, ASCII case-insensitively when both
// are ASCII, exactly otherwise.
func replaceFold(text, secret string) string {
	if !isASCII(text) || !isASCII(secret) {
		return strings.ReplaceAll(text, secret, Redacted)
	}
	lower, ls := strings.ToLower(text), strings.ToLower(secret)
	if !strings.Contains(lower, ls) {
		return text
	}
	var b strings.Builder
	for {
		i := strings.Index(lower, ls)
		if i < 0 {
			b.WriteString(text)
			return b.String()
		}
		b.WriteString(text[:i])
		b.WriteString(Redacted)
		text, lower = text[i+len(ls):], lower[i+len(ls):]
	}
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9'
}
func isStdBase64(c byte) bool { return isAlnum(c) || c == '+' || c == '/' }
func isURLBase64(c byte) bool { return isAlnum(c) || c == '-' || c == '_' }

func isHex(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

// minRun is the shortest run worth decoding: 4 base64 characters or 4 hex
// digits carry 2 to 3 bytes.
const minRun = 4

// replaceRuns replaces each maximal run of in() characters, at least
// shortestRun long, whose decoding contains a secret. Text is copied only
// when something is replaced.
func replaceRuns(text string, in func(byte) bool, secrets []string, decode func(string) [][]byte, shortestRun int) string {
	var b strings.Builder
	done := 0 // text[:done] is in b
	for i := 0; i < len(text); {
		if !in(text[i]) {
			i++
			continue
		}
		j := i
		for j < len(text) && in(text[j]) {
			j++
		}
		if run := text[i:j]; len(run) >= max(minRun, shortestRun) && holdsSecret(decode(run), secrets) {
			b.WriteString(text[done:i])
			b.WriteString(Redacted)
			done = j
		}
		i = j
	}
	if done == 0 {
		return text
	}
	b.WriteString(text[done:])
	return b.String()
}

func holdsSecret(views [][]byte, secrets []string) bool {
	for _, v := range views {
		for _, s := range secrets {
			if bytes.Contains(v, []byte(s)) {
				return true
			}
		}
	}
	return false
}

// decodeBase64 returns a decoder of a run at each of the four alignments,
// ignoring a trailing partial quantum ("=" padding ends a run).
func decodeBase64(enc *base64.Encoding) func(string) [][]byte {
	return func(run string) [][]byte {
		var out [][]byte
		for off := 0; off < 4 && off < len(run); off++ {
			r := run[off:]
			if len(r)%4 == 1 {
				r = r[:len(r)-1]
			}
			if d, err := enc.DecodeString(r); err == nil {
				out = append(out, d)
			}
		}
		return out
	}
}

// decodeHex decodes run at both alignments.
func decodeHex(run string) [][]byte {
	var out [][]byte
	for off := 0; off < 2 && off < len(run); off++ {
		r := run[off:]
		if d, err := hex.DecodeString(r[:len(r)/2*2]); err == nil {
			out = append(out, d)
		}
	}
	return out
}
