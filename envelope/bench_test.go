package envelope

import (
	"io"
	"mime"
	"testing"

	"mailwarden/headers"
)

// patternReader yields n bytes of a fixed pattern without holding them.
type patternReader struct{ n int64 }

func (r *patternReader) Read(b []byte) (int, error) {
	if r.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(b)) > r.n {
		b = b[:r.n]
	}
	for i := range b {
		b[i] = byte(i*7 + 3)
	}
	r.n -= int64(len(b))
	return len(b), nil
}

// BenchmarkWriteAttachment writes a message with one attachment of 10 MB
// and of 100 MB. B/op must stay the same for both: the attachment is
// streamed, never held.
func BenchmarkWriteAttachment(b *testing.B) {
	mime.TypeByExtension(".bin") // load the system MIME table once, outside the measurement
	for _, size := range []struct {
		name string
		n    int64
	}{{"10MB", 10 << 20}, {"100MB", 100 << 20}} {
		b.Run(size.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(size.n)
			for b.Loop() {
				m := &Message{
					From:        headers.Address{Name: "Alerts", Addr: "alerts@example.com"},
					To:          []headers.Address{{Addr: "ops@example.com"}},
					Subject:     "Nightly dump",
					Text:        "The dump is attached.",
					Attachments: []Attachment{{Filename: "dump.bin", Body: &patternReader{n: size.n}}},
				}
				if _, err := m.WriteTo(io.Discard); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
