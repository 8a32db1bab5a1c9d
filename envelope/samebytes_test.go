package envelope

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mailwarden/headers"
	"mailwarden/internal/msgenv"
)

// sameBytesCases are messages whose bytes were recorded from the builder
// before its header fields were appended to one buffer and canonical
// addresses kept their strings: the paths that changed (addresses already
// canonical and not, duplicate recipients in other case, custom fields
// kept and encoded, long values folded, text with leading dots) must give
// the very same bytes.
func sameBytesCases(t testing.TB) map[string]*Message {
	var text strings.Builder
	for i := range 30 {
		if i%7 == 0 {
			text.WriteString(".")
		}
		text.WriteString(strings.Repeat("abcdefghij", 7) + "\r\n")
	}
	return map[string]*Message{
		"send-like": {
			From:    headers.Address{Addr: "bench@example.org"},
			To:      []headers.Address{{Addr: "sink@example.net"}},
			Subject: "benchmark",
			Text:    text.String(),
			Header:  []headers.Field{{Name: "X-Bench", Value: "1"}},
			Clock:   clock, Rand: &seqRand{},
		},
		"mixed-addresses": {
			From:         headers.Address{Name: "Ops, Team", Addr: "ops@Example.ORG"},
			Sender:       headers.Address{Addr: "svc@xn--bcher-kva.example"},
			ReplyTo:      []headers.Address{{Addr: "a@example.org"}, {Addr: "b@EXAMPLE.org"}},
			To:           []headers.Address{{Addr: "x@example.net"}, {Name: "Jürgen", Addr: "jm@bücher.example"}, {Addr: "y@example.net"}},
			Cc:           []headers.Address{{Addr: "X@example.net"}, {Addr: "z@Example.net"}},
			Bcc:          []headers.Address{{Addr: "x@EXAMPLE.net"}, {Addr: "hidden@example.com"}},
			Subject:      "  " + strings.Repeat("word ", 40) + " ",
			Organization: "Example",
			MessageID:    "<fixed.id@example.org>",
			Text:         "one\ntwo\r\nthree\r",
			Header: []headers.Field{
				{Name: "X-Plain", Value: "kept"},
				{Name: "x-padded", Value: "  trimmed  "},
				{Name: "X-Umlaut", Value: "Grüße aus Zürich"},
				{Name: "X-Long", Value: strings.Repeat("long-value ", 30)},
			},
			Importance: headers.ImportanceHigh,
			Clock:      clock, Rand: &seqRand{},
		},
	}
}

// wantEnvelope is each case's reverse-path and recipients, as recorded.
var wantEnvelope = map[string]string{
	"send-like":       "bench@example.org sink@example.net",
	"mixed-addresses": "svc@xn--bcher-kva.example x@example.net jm@xn--bcher-kva.example y@example.net z@example.net hidden@example.com",
}

func TestSameBytes(t *testing.T) {
	for name, m := range sameBytesCases(t) {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			if _, err := m.WriteTo(&buf); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", "same-"+name+".eml")
			if *update {
				if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(buf.Bytes(), want) {
				t.Errorf("got\n%s\nwant\n%s", buf.Bytes(), want)
			}
			from, rcpts, _, err := m.Envelope()
			if err != nil {
				t.Fatal(err)
			}
			if got, want := from+" "+strings.Join(rcpts, " "), wantEnvelope[name]; got != want {
				t.Errorf("envelope %q, want %q", got, want)
			}
		})
	}
}

// envReceiver records the envelope WriteTo hands over, and whether any
// byte came before it.
type envReceiver struct {
	bytes.Buffer
	env      *msgenv.Envelope
	wroteEnv int // bytes written when the envelope came
}

func (r *envReceiver) SetEnvelope(e msgenv.Envelope) { r.env, r.wroteEnv = &e, r.Len() }

// TestWriteToHandsEnvelope checks that WriteTo gives a msgenv.Receiver the
// envelope Envelope returns, before writing anything, and none for an
// invalid message.
func TestWriteToHandsEnvelope(t *testing.T) {
	cases := sameBytesCases(t)
	cases["full"] = fullMessage(t)
	for name, m := range cases {
		var r envReceiver
		if _, err := m.WriteTo(&r); err != nil {
			t.Fatal(err)
		}
		from, rcpts, utf8, err := m.Envelope()
		if err != nil {
			t.Fatal(err)
		}
		if r.env == nil || r.wroteEnv != 0 || r.env.From != from || strings.Join(r.env.To, " ") != strings.Join(rcpts, " ") || r.env.SMTPUTF8 != utf8 {
			t.Errorf("%s: handed %+v after %d bytes; Envelope gives %s %q %v", name, r.env, r.wroteEnv, from, rcpts, utf8)
		}
	}
	var r envReceiver
	if _, err := (&Message{From: headers.Address{Addr: "a@example.org"}}).WriteTo(&r); err == nil || r.env != nil || r.Len() != 0 {
		t.Errorf("invalid message: err %v, envelope %+v, %d bytes", err, r.env, r.Len())
	}
}

// TestTextEncodingShortcut checks textEncoding against the full count on
// texts built from the pieces that matter: line breaks of every kind,
// white space before them, long lines, control and non-ASCII bytes.
func TestTextEncodingShortcut(t *testing.T) {
	pieces := []string{"a", "word ", "\r\n", "\n", "\r", " ", "\t", strings.Repeat("x", 70), "\x7f", "\x01", "é", "\x00", ".", "~", "\x1f", "\xff", "\x80", "abcdefgh"}
	r := rand.New(rand.NewPCG(5, 6))
	seven := 0
	var wireSeen [2]int // 7bit texts to convert [0], sent as they are [1]
	for range 100000 {
		var b strings.Builder
		for range r.IntN(10) {
			b.WriteString(pieces[r.IntN(len(pieces))])
		}
		s := b.String()
		got, wire := textEncoding(s)
		if want := countEncoding(s); got != want {
			t.Fatalf("textEncoding(%q) = %s, want %s", s, got, want)
		}
		// A 7bit text goes out unconverted exactly when crlf would leave
		// it as it is; any other never does.
		if got == enc7bit && wire != (crlf(s) == s) || got != enc7bit && wire {
			t.Fatalf("textEncoding(%q) = %s, as it is %v; crlf gives %q", s, got, wire, crlf(s))
		} else if got == enc7bit {
			wireSeen[b2i(wire)]++
		}
		if got == enc7bit {
			seven++
		}
	}
	if seven < 1000 || wireSeen[0] < 100 || wireSeen[1] < 100 {
		t.Errorf("only %d 7bit texts (%d to convert, %d as they are)", seven, wireSeen[0], wireSeen[1])
	}
	text := strings.Repeat(strings.Repeat("abcdefgh", 9)+"\tx\r\n", 30)
	enc, wire := textEncoding(text)
	if n := testing.AllocsPerRun(100, func() { textEncoding(text) }); n != 0 || enc != enc7bit || !wire {
		t.Errorf("textEncoding: %v allocations, %s, as it is %v", n, enc, wire)
	}
}

// TestDateAndMessageIDAsFormatField checks the shortcut header takes for
// Date and Message-ID against headers.FormatField, at the extremes: any
// date the time package formats, any Message-ID checkID accepts.
func TestDateAndMessageIDAsFormatField(t *testing.T) {
	dates := []time.Time{{}, fixedTime, time.Date(99999, 12, 31, 23, 59, 59, 0, time.FixedZone("", -12*3600)), time.Date(-300, 1, 1, 0, 0, 0, 0, time.UTC), time.Unix(1<<40, 0)}
	ids := []string{"", "a@b", strings.Repeat("x", 449) + "@" + strings.Repeat("y.", 225), "!#$%&'*+-/=?^_`{|}~@example.org"}
	for _, d := range dates {
		for _, id := range ids {
			if id != "" && checkID(id, true) != nil {
				t.Fatalf("%q: not a valid Message-ID", id)
			}
			p := &prepared{m: &Message{}, lists: addressLists{to: []headers.Address{{Addr: "a@example.org"}}}, from: headers.Address{Addr: "a@example.org"}}
			if err := p.header(d, "s", id, "", nil, nil); err != nil {
				t.Fatal(err)
			}
			head := string(*p.head)
			p.release()
			wantDate, err := headers.FormatField("Date", d.Format(time.RFC1123Z))
			if err != nil {
				t.Fatal(err)
			}
			wantID, err := headers.FormatField("Message-ID", "<"+id+">")
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(head, wantDate) || !strings.Contains(head, "\r\n"+wantID) {
				t.Errorf("%v, %q: header\n%s\nwant the fields\n%s%s", d, id, head, wantDate, wantID)
			}
		}
	}
}

// TestNewMessageIDFromTheBlock checks Message-IDs drawn from the block of
// crypto/rand bytes across several refills: each well formed and new.
func TestNewMessageIDFromTheBlock(t *testing.T) {
	seen := map[string]bool{}
	for range 3 * len(randomBlock.buf) / 16 {
		id, err := NewMessageID("example.org", nil)
		if err != nil {
			t.Fatal(err)
		}
		left, domain, _ := strings.Cut(id, "@")
		if len(left) != 26 || domain != "example.org" || checkID(id, true) != nil || seen[id] {
			t.Fatalf("%q: malformed or seen before", id)
		}
		seen[id] = true
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
