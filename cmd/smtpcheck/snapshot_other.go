//go:build !unix

package main

import "os"

// notifySnapshot does nothing where there is no SIGUSR1: 'outbox status'
// prints the snapshot instead.
func notifySnapshot(chan<- os.Signal) func() { return func() {} }
