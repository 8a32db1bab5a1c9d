package audit

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
)

// A Transcript is an io.WriteCloser for the transport's opt-in protocol
// transcript that redacts credentials before they reach the writer beneath
// it. The transport already leaves AUTH payloads out of its transcript; a
// Transcript is the second line of defence and does not rely on that.
//
// It works on whole lines (a partial line is held until its newline or
// Close). A line may carry a prefix such as "C: ", "> " or a timestamp and
// "C: " before the SMTP text; the prefix is kept. During an AUTH exchange
// every line is expected to have as many prefix words as the AUTH line, the
// last of which ("C:", ">") marks the client's lines. The rules:
//
//   - "AUTH <mechanism>" (any case): everything after the mechanism name,
//     the initial response, is replaced by Redacted.
//   - After an AUTH command and until the server's final reply (a code
//     other than 334), every client line is replaced by Redacted after its
//     prefix: these are the base64 SASL responses. A line that is neither
//     the client's nor a reply right after the prefix is redacted whole. Server 334 challenges are kept except for their
//     text, which can carry a token's error details or a challenge that
//     helps an offline attack (NTLM, CRAM-MD5), so it is redacted too.
//   - Any line with "Authorization:" (HTTP proxy CONNECT) keeps the header
//     name and loses the value; any line with a "password=", "passwd=",
//     "secret=" or "token=" parameter loses the value.
type Transcript struct {
	mu      sync.Mutex
	w       io.Writer
	closer  io.Closer
	partial []byte
	inAuth  bool
	words   int    // words before "AUTH" on the AUTH line
	mark    []byte // the last of them, the client's marker ("C:")
	err     error
}

// NewTranscript returns a Transcript writing redacted lines to w. Close does
// not close w.
func NewTranscript(w io.Writer) *Transcript { return &Transcript{w: w} }

// CreateTranscript creates (or truncates) the file at path with mode 0600
// and returns a Transcript writing to it; Close closes the file.
func CreateTranscript(path string) (*Transcript, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit: transcript: %w", err)
	}
	return &Transcript{w: f, closer: f}, nil
}

// Write redacts and writes every complete line in p. It returns len(p) when
// all of them were written.
func (t *Transcript) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.err != nil {
		return 0, t.err
	}
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			t.partial = append(t.partial, p...)
			if len(t.partial) > 64<<10 {
				// A runaway line: write what we have, redacted, so memory
				// stays bounded.
				if err := t.emit(t.partial); err != nil {
					return 0, err
				}
				t.partial = t.partial[:0]
			}
			break
		}
		line := p[:i+1]
		p = p[i+1:]
		if len(t.partial) > 0 {
			line = append(t.partial, line...)
			t.partial = t.partial[:0]
		}
		if err := t.emit(line); err != nil {
			return 0, err
		}
	}
	return n, nil
}

// Close writes a pending partial line (redacted) and closes the file made by
// CreateTranscript.
func (t *Transcript) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	var err error
	if len(t.partial) > 0 && t.err == nil {
		err = t.emit(t.partial)
		t.partial = nil
	}
	if t.closer != nil {
		if cerr := t.closer.Close(); err == nil {
			err = cerr
		}
		t.closer = nil
	}
	if t.err == nil {
		t.err = errors.New("audit: transcript closed")
	}
	return err
}

func (t *Transcript) emit(line []byte) error {
	out := t.redact(line)
	if _, err := t.w.Write(out); err != nil {
		t.err = fmt.Errorf("audit: transcript: %w", err)
		return t.err
	}
	return nil
}

// redact applies the rules to one line (with its line ending, if any).
func (t *Transcript) redact(line []byte) []byte {
	body := bytes.TrimRight(line, "\r\n")
	eol := line[len(body):]
	out := func(keep []byte) []byte {
		b := make([]byte, 0, len(keep)+len(Redacted)+len(eol)+1)
		b = append(b, keep...)
		b = append(b, Redacted...)
		return append(b, eol...)
	}

	if i := indexFold(body, []byte("AUTH ")); i >= 0 && (i == 0 || !isWordByte(body[i-1])) {
		// "AUTH mech [initial-response]"
		rest := body[i+5:]
		j := 0
		for j < len(rest) && rest[j] == ' ' {
			j++
		}
		k := j
		for k < len(rest) && rest[k] != ' ' {
			k++
		}
		if k > j && !isReply(body, i) {
			t.inAuth = true
			f := bytes.Fields(body[:i])
			t.words, t.mark = len(f), nil
			if len(f) > 0 {
				t.mark = append(t.mark, f[len(f)-1]...)
			}
			if k < len(rest) {
				return out(body[:i+5+k+1])
			}
			return line
		}
	}
	if t.inAuth {
		// Skip the prefix: as many words as the AUTH line had before
		// "AUTH". The client's lines have its marker as the last of them.
		pos, last, ok := skipWords(body, t.words)
		if !ok {
			return out(nil) // not shaped like the exchange: redact it all
		}
		if t.words > 0 && bytes.Equal(last, t.mark) {
			return out(body[:pos])
		}
		code, ok := replyCodeAt(body[pos:])
		if !ok {
			// A client line of a transcript without prefixes, or a line
			// that is neither the client's nor a reply: redact it all.
			return out(nil)
		}
		if code != "334" {
			t.inAuth = false
			return line
		}
		// Keep "334 " and drop the challenge text.
		return out(body[:pos+4])
	}
	if i := indexFold(body, []byte("authorization:")); i >= 0 {
		return out(body[:i+len("authorization:")+1])
	}
	for _, k := range [][]byte{[]byte("password="), []byte("passwd="), []byte("secret="), []byte("token=")} {
		if i := indexFold(body, k); i >= 0 {
			return out(body[:i+len(k)])
		}
	}
	return line
}

// skipWords skips n space-separated words and the spaces after them. It
// returns the position after them, the last word skipped, and false when
// the line has fewer than n words followed by more text.
func skipWords(body []byte, n int) (int, []byte, bool) {
	pos := 0
	var last []byte
	for range n {
		for pos < len(body) && body[pos] == ' ' {
			pos++
		}
		start := pos
		for pos < len(body) && body[pos] != ' ' {
			pos++
		}
		if start == pos {
			return 0, nil, false
		}
		last = body[start:pos]
	}
	if n > 0 {
		if pos < len(body) && body[pos] == ' ' {
			pos++
		} else if pos < len(body) {
			return 0, nil, false
		}
	}
	return pos, last, true
}

// replyCodeAt reports whether b starts with an SMTP reply code: three
// digits, the first 2 to 5, followed by a space, '-' or the end.
func replyCodeAt(b []byte) (string, bool) {
	if len(b) < 3 || b[0] < '2' || b[0] > '5' || !isDigit(b[1]) || !isDigit(b[2]) {
		return "", false
	}
	if len(b) > 3 && b[3] != ' ' && b[3] != '-' {
		return "", false
	}
	return string(b[:3]), true
}

// isReply reports whether the "AUTH " at i is part of a server reply, such
// as "250-AUTH PLAIN LOGIN" in the EHLO response, rather than the client's
// command: a reply code stands right before it.
func isReply(body []byte, i int) bool {
	if i < 4 {
		return false
	}
	c := body[i-4 : i]
	return c[0] >= '2' && c[0] <= '5' && isDigit(c[1]) && isDigit(c[2]) && (c[3] == ' ' || c[3] == '-') &&
		(i == 4 || body[i-5] == ' ')
}

func isDigit(c byte) bool    { return '0' <= c && c <= '9' }
func isWordByte(c byte) bool { return c == '_' || isDigit(c) || 'a' <= c|0x20 && c|0x20 <= 'z' }

// indexFold is bytes.Index ignoring ASCII case.
func indexFold(s, sep []byte) int {
	n := len(sep)
	for i := 0; i+n <= len(s); i++ {
		if bytes.EqualFold(s[i:i+n], sep) {
			return i
		}
	}
	return -1
}
