package firewall

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"
)

func TestTrace(t *testing.T) {
	dst := greeter(t)
	h, p := hostPort(t, (&fakeSOCKS5{}).start(t))
	d := mustNew(t, Config{Type: TypeSOCKS5, Host: h, Port: p})
	refused := serve(t, nil, func(c net.Conn) { socks5NoAuth(c); read(c, 10); c.Write([]byte{5, 5, 0, 1, 0, 0, 0, 0, 0, 0}) })
	rh, rp := hostPort(t, refused)
	dr := mustNew(t, Config{Type: TypeSOCKS5, Host: rh, Port: rp})

	type event struct {
		what, proxy, addr string
		elapsed           time.Duration
		err               error
	}
	var events []event
	ctx := WithTrace(context.Background(), &Trace{
		ProxyConnected: func(proxy string, elapsed time.Duration, err error) {
			events = append(events, event{"connected", proxy, "", elapsed, err})
		},
		TunnelOpened: func(proxy, addr string, elapsed time.Duration, err error) {
			events = append(events, event{"tunnel", proxy, addr, elapsed, err})
		},
	})
	c, err := d.DialContext(ctx, "tcp", dst)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if _, err := dr.DialContext(ctx, "tcp", "127.0.0.1:25"); err == nil {
		t.Fatal("dial through the refusing proxy succeeded")
	}
	// Direct connections have no proxy hop to report.
	c, err = mustNew(t, Config{}).DialContext(ctx, "tcp", dst)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()

	if len(events) != 4 {
		t.Fatalf("events = %+v, want 4", events)
	}
	for i, want := range []event{
		{"connected", d.Proxy(), "", 0, nil},
		{"tunnel", d.Proxy(), dst, 0, nil},
		{"connected", dr.Proxy(), "", 0, nil},
		{"tunnel", dr.Proxy(), "127.0.0.1:25", 0, nil},
	} {
		e := events[i]
		if e.what != want.what || e.proxy != want.proxy || e.addr != want.addr || e.elapsed <= 0 {
			t.Errorf("event %d = %+v, want %+v with a duration", i, e, want)
		}
	}
	var pe *ProxyError
	if events[1].err != nil || !errors.As(events[3].err, &pe) || pe.Code != 5 {
		t.Errorf("tunnel errors = %v, %v; want nil, then the refusal", events[1].err, events[3].err)
	}
}
