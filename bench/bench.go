// Command bench compares Mailwarden's SMTP client with net/smtp and
// github.com/wneessen/go-mail: messages per second over one connection to
// the same in-process go-smtp sink, for 2 KB and 1 MB messages, plaintext
// and implicit TLS, with and without CHUNKING on the sink.
//
//	go run . [-d 2s]
//
// go test -bench . runs the same cases as Go benchmarks.
package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/smtp"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	gomail "github.com/wneessen/go-mail"

	"mailwarden/internal/smtptest"
	"mailwarden/internal/testcert"
	"mailwarden/transport"
)

// Case is one benchmark configuration.
type Case struct {
	Size     int
	TLS      bool
	Chunking bool // the sink offers CHUNKING
}

func (c Case) String() string {
	s := "2KB"
	if c.Size >= 1<<20 {
		s = "1MB"
	}
	if c.TLS {
		s += "/tls"
	} else {
		s += "/plain"
	}
	if c.Chunking {
		s += "/chunking"
	} else {
		s += "/no-chunking"
	}
	return s
}

// Cases lists every configuration.
func Cases() []Case {
	var out []Case
	for _, size := range []int{2 << 10, 1 << 20} {
		for _, tls := range []bool{false, true} {
			for _, ch := range []bool{true, false} {
				out = append(out, Case{size, tls, ch})
			}
		}
	}
	return out
}

// Message returns a text message of about size bytes with 76-character
// lines, some starting with a dot.
func Message(size int) []byte {
	var b strings.Builder
	b.WriteString("From: bench@example.org\r\nTo: sink@example.net\r\nSubject: benchmark\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n")
	line := 0
	for b.Len() < size {
		l := strconv.Itoa(line) + " " + strings.Repeat("abcdefghij", 8)
		if line%10 == 0 {
			l = "." + l
		}
		b.WriteString(l[:74] + "\r\n")
		line++
	}
	return []byte(b.String())
}

// Sink is a server the senders talk to.
type Sink interface {
	Addr() string
	Count() int
	Close() error
}

type goSMTPSink struct{ *smtptest.Server }

func (s goSMTPSink) Addr() string { return s.Server.Addr }

// Env is a sink and the certificates to reach it.
type Env struct {
	Sink    Sink
	Host    string
	Port    int
	RootCAs *tls.Config
	Case    Case
	Msg     []byte
}

// Setup starts a sink for c: "fast" (FastSink) or "go-smtp" (the
// go-smtp server from internal/smtptest) in this process, or either in a
// process of its own: "fast-proc", "go-smtp-proc" (procSink).
func Setup(c Case, kind string) (*Env, error) {
	lb, err := testcert.NewLoopback()
	if err != nil {
		return nil, err
	}
	var srvTLS *tls.Config
	if c.TLS {
		srvTLS = &tls.Config{Certificates: []tls.Certificate{lb.Server.TLS()}}
	}
	e := &Env{RootCAs: &tls.Config{RootCAs: lb.CA.Pool(), ServerName: "127.0.0.1"}, Case: c, Msg: Message(c.Size)}
	if k, ok := strings.CutSuffix(kind, "-proc"); ok {
		s, err := startProcSink(k, c)
		if err != nil {
			return nil, err
		}
		e.Sink = s
	} else if kind == "go-smtp" {
		s, err := smtptest.Serve(smtptest.Options{Discard: true, NoChunking: !c.Chunking, TLS: srvTLS, Implicit: c.TLS})
		if err != nil {
			return nil, err
		}
		e.Sink = goSMTPSink{s}
	} else {
		s, err := StartFastSink(srvTLS, c.Chunking)
		if err != nil {
			return nil, err
		}
		e.Sink = s
	}
	host, port, _ := net.SplitHostPort(e.Sink.Addr())
	e.Host = host
	e.Port, _ = strconv.Atoi(port)
	return e, nil
}

// A Sender sends n messages over one connection.
type Sender func(e *Env, n int) error

// Mailwarden sends with package transport.
func Mailwarden(e *Env, n int) error {
	mode := transport.TLSNone
	if e.Case.TLS {
		mode = transport.TLSImplicit
	}
	ctx := context.Background()
	c, err := transport.Dial(ctx, transport.Address{Host: e.Host, Port: e.Port, TLS: mode},
		&transport.Config{HeloName: "bench.example.org", TLSConfig: e.RootCAs.Clone()})
	if err != nil {
		return err
	}
	defer c.Close()
	env := transport.Envelope{From: "bench@example.org", To: []string{"sink@example.net"}}
	r := bytes.NewReader(nil)
	for i := 0; i < n; i++ {
		r.Reset(e.Msg)
		if _, err := c.Send(ctx, env, r); err != nil {
			return err
		}
	}
	return c.Quit(ctx)
}

// NetSMTP sends with net/smtp: MAIL, RCPT, DATA per message, one reply at
// a time.
func NetSMTP(e *Env, n int) error {
	var conn net.Conn
	var err error
	if e.Case.TLS {
		conn, err = tls.Dial("tcp", e.Sink.Addr(), e.RootCAs.Clone())
	} else {
		conn, err = net.Dial("tcp", e.Sink.Addr())
	}
	if err != nil {
		return err
	}
	c, err := smtp.NewClient(conn, e.Host)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Hello("bench.example.org"); err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		if err := c.Mail("bench@example.org"); err != nil {
			return err
		}
		if err := c.Rcpt("sink@example.net"); err != nil {
			return err
		}
		w, err := c.Data()
		if err != nil {
			return err
		}
		if _, err := w.Write(e.Msg); err != nil {
			return err
		}
		if err := w.Close(); err != nil {
			return err
		}
	}
	return c.Quit()
}

// GoMail sends with github.com/wneessen/go-mail (its defaults: NOOP
// before and RSET after each message).
func GoMail(e *Env, n int) error {
	opts := []gomail.Option{gomail.WithPort(e.Port), gomail.WithTLSConfig(e.RootCAs.Clone()), gomail.WithHELO("bench.example.org")}
	if e.Case.TLS {
		opts = append(opts, gomail.WithSSL())
	} else {
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	}
	c, err := gomail.NewClient(e.Host, opts...)
	if err != nil {
		return err
	}
	if err := c.DialWithContext(context.Background()); err != nil {
		return err
	}
	defer c.Close()
	// The same body as the others; go-mail writes its own headers.
	_, body, _ := strings.Cut(string(e.Msg), "\r\n\r\n")
	m := gomail.NewMsg(gomail.WithEncoding(gomail.NoEncoding))
	if err := m.From("bench@example.org"); err != nil {
		return err
	}
	if err := m.To("sink@example.net"); err != nil {
		return err
	}
	m.Subject("benchmark")
	m.SetBodyString(gomail.TypeTextPlain, body)
	for i := 0; i < n; i++ {
		if err := c.Send(m); err != nil {
			return err
		}
	}
	return nil
}

// Senders in report order.
var Senders = []struct {
	Name string
	Send Sender
}{{"mailwarden", Mailwarden}, {"net/smtp", NetSMTP}, {"go-mail", GoMail}}

// Rate sends for about d and returns messages per second.
func Rate(e *Env, s Sender, d time.Duration) (float64, error) {
	if err := s(e, 3); err != nil { // warm up
		return 0, err
	}
	n, total := 10, 0
	start := time.Now()
	for time.Since(start) < d {
		if err := s(e, n); err != nil {
			return 0, err
		}
		total += n
		if n < 5000 {
			n *= 2
		}
	}
	return float64(total) / time.Since(start).Seconds(), nil
}

func main() {
	if spec := os.Getenv(serveEnv); spec != "" {
		os.Exit(serveSink(spec))
	}
	d := flag.Duration("d", 2*time.Second, "time per measurement")
	sink := flag.String("sink", "fast", "sink: fast (pipelining-aware, like Postfix) or go-smtp; fast-proc or go-smtp-proc for either in a process of its own (plaintext cases only)")
	flag.Parse()
	fmt.Printf("sink: %s; %v per measurement\n", *sink, *d)
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "case\tmailwarden msg/s\tnet/smtp msg/s\tgo-mail msg/s\tvs net/smtp\tvs go-mail\t")
	for _, c := range Cases() {
		e, err := Setup(c, *sink)
		if errors.Is(err, errProcPlaintext) {
			fmt.Fprintf(os.Stderr, "skipped %s: %v\n", c, err)
			continue
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		var rates []float64
		for _, s := range Senders {
			r, err := Rate(e, s.Send, *d)
			if err != nil {
				fmt.Fprintf(os.Stderr, "%s %s: %v\n", c, s.Name, err)
				os.Exit(1)
			}
			rates = append(rates, r)
		}
		e.Sink.Close()
		fmt.Fprintf(tw, "%s\t%.0f\t%.0f\t%.0f\t%.1fx\t%.1fx\t\n", c, rates[0], rates[1], rates[2], rates[0]/rates[1], rates[0]/rates[2])
		fmt.Fprintf(os.Stderr, "measured %s\n", c)
	}
	tw.Flush()
}
