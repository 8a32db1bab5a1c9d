//go:build windows

package robustio

import (
	"math/rand/v2"
	"time"
)

// retry calls f until it succeeds, fails with an error transient does not
// accept, or the next wait would end after Bound; the waits start at 1 ms
// and each is the previous one times a random factor between 1 and 2. It
// returns f's last error and the time spent.
func retry(f func() error, transient func(error) bool) (error, time.Duration) {
	start := time.Now()
	next := time.Millisecond
	for {
		err := f()
		if err == nil || !transient(err) {
			return err, time.Since(start)
		}
		if time.Since(start)+next > Bound {
			return err, time.Since(start)
		}
		time.Sleep(next)
		next += time.Duration(rand.Int64N(int64(next)))
	}
}
