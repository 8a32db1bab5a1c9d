package smtptest

import (
	"crypto/tls"
	"net/smtp"
	"strings"
	"testing"
)

func TestStartKeepsMessages(t *testing.T) {
	s := Start(t, Options{})
	if err := smtp.SendMail(s.Addr, nil, "a@example.org", []string{"b@example.net"}, []byte("Subject: x\r\n\r\nhi\r\n")); err != nil {
		t.Fatal(err)
	}
	m := s.Messages()
	if len(m) != 1 || m[0].From != "a@example.org" || string(m[0].Data) != "Subject: x\r\n\r\nhi\r\n" || s.Sessions() != 1 {
		t.Fatalf("%+v", m)
	}
}

func TestNoChunking(t *testing.T) {
	s := Start(t, Options{NoChunking: true})
	c, err := smtp.Dial(s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello("x.example"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := c.Extension("CHUNKING"); ok {
		t.Error("CHUNKING advertised")
	}
	if ok, _ := c.Extension("PIPELINING"); !ok {
		t.Error("PIPELINING missing")
	}
	if _, err := Serve(Options{NoChunking: true, TLS: &tls.Config{}}); err == nil {
		t.Error("NoChunking with STARTTLS accepted")
	}
}

func TestHostileScript(t *testing.T) {
	got := make(chan string, 1)
	addr := Hostile(t, func(c *Conn) {
		c.Send("220 hi\r\n")
		l, _ := c.Until("EHLO")
		c.Send("250 ok\r\n")
		c.Until("QUIT")
		c.Send("221 bye\r\n")
		got <- l + "|" + strings.ReplaceAll(string(c.Raw()), "\r\n", "/")
	})
	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Hello("x.example"); err != nil {
		t.Fatal(err)
	}
	c.Quit()
	if g := <-got; g != "EHLO x.example|EHLO x.example/QUIT/" {
		t.Errorf("got %q", g)
	}
}
