//go:build unix

package main

import (
	"os"
	"os/signal"
	"syscall"
)

// notifySnapshot delivers SIGUSR1 to ch (a running 'outbox run' prints a
// full snapshot on it) and returns the function that stops that.
func notifySnapshot(ch chan<- os.Signal) func() {
	signal.Notify(ch, syscall.SIGUSR1)
	return func() { signal.Stop(ch) }
}
