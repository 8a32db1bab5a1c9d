package transport_test

import (
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"mailwarden/internal/smtptest"
	"mailwarden/transport"
)

// failingReader yields part of a message, then fails, as a spool file on a
// dying disk or a stream from a crashed producer would.
type failingReader struct {
	r   io.Reader
	err error
}

func (f *failingReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		return n, f.err
	}
	return n, err
}

// TestFailingMessageReaderNeverDeliversATruncatedMessage: when the body
// cannot be read to its end, the transaction must be abandoned so that the
// server discards it, never ended with "." (or the last BDAT) as if complete.
func TestFailingMessageReaderNeverDeliversATruncatedMessage(t *testing.T) {
	broken := errors.New("disk went away")
	for _, chunking := range []bool{true, false} {
		s := smtptest.Start(t, smtptest.Options{NoChunking: !chunking})
		cfg := testConfig(t)
		c, err := transport.Dial(ctxT(t, 5*time.Second), serverAddr(t, s, transport.TLSNone), cfg)
		if err != nil {
			t.Fatal(err)
		}
		body := &failingReader{r: strings.NewReader("Subject: half\r\n\r\n" + strings.Repeat("line of text\r\n", 500)), err: broken}
		_, err = c.Send(ctxT(t, 5*time.Second), transport.Envelope{From: "a@example.com", To: []string{"b@example.com"}}, body)
		c.Close()
		if !errors.Is(err, broken) {
			t.Errorf("chunking=%v: err = %v, want the reader's error", chunking, err)
		}
		time.Sleep(100 * time.Millisecond)
		if n := len(s.Messages()); n != 0 {
			t.Errorf("chunking=%v: the server accepted %d truncated message(s)", chunking, n)
		}
	}
}
