package main

import (
	"net"
	"strconv"
	"testing"
)

func TestFreeReturnsDistinctBindablePorts(t *testing.T) {
	const n = 8
	ports, err := free(n)
	if err != nil {
		t.Fatal(err)
	}
	if len(ports) != n {
		t.Fatalf("free(%d) returned %d ports", n, len(ports))
	}
	seen := map[int]bool{}
	for _, p := range ports {
		if p <= 0 || p > 65535 {
			t.Fatalf("port %d out of range", p)
		}
		if seen[p] {
			t.Fatalf("port %d returned twice in %v", p, ports)
		}
		seen[p] = true
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(p))
		l, err := net.Listen("tcp4", addr)
		if err != nil {
			t.Fatalf("port %d not free for TCP after free returned: %v", p, err)
		}
		u, err := net.ListenPacket("udp4", addr)
		if err != nil {
			l.Close()
			t.Fatalf("port %d not free for UDP after free returned: %v", p, err)
		}
		u.Close()
		l.Close()
	}
}
