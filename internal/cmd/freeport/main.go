// Command freeport prints free loopback ports for the test environment.
//
// Usage:
//
//	freeport N
//
// It prints N distinct port numbers, one a line, each of which was free on
// 127.0.0.1 for both TCP and UDP at the moment it was chosen. It holds all N
// sockets open until every port is chosen, so the N ports differ from one
// another, then closes them. Another process may still take a port before the
// caller binds it; testenv/up.sh reports a daemon that cannot bind.
package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: freeport N")
		os.Exit(2)
	}
	n, err := strconv.Atoi(os.Args[1])
	if err != nil || n < 1 || n > 1000 {
		fmt.Fprintln(os.Stderr, "freeport: N must be a number from 1 to 1000")
		os.Exit(2)
	}
	ports, err := free(n)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for _, p := range ports {
		fmt.Println(p)
	}
}

// free returns n distinct ports free on 127.0.0.1 for TCP and UDP.
func free(n int) ([]int, error) {
	var closers []interface{ Close() error }
	defer func() {
		for _, c := range closers {
			c.Close()
		}
	}()
	ports := make([]int, 0, n)
	for tries := 0; len(ports) < n; tries++ {
		if tries > 50*n {
			return nil, errors.New("freeport: no free loopback ports found")
		}
		l, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("freeport: %w", err)
		}
		closers = append(closers, l)
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			continue // UDP port taken: keep the TCP socket so it is not chosen again.
		}
		closers = append(closers, u)
		ports = append(ports, port)
	}
	return ports, nil
}
