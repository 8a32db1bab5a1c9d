//go:build windows

package robustio

import (
	"math/rand/v2"
	"time"
)

// retry calls f until it succeeds, fails with an error transient does not
// accept, or Bound has passed; the waits start at 1 ms and each is the
// previous one times a random factor between 1 and 2 (the last one cut to
// end at Bound). It returns f's last error and the time spent.
func retry(f func() error, transient func(error) bool) (error, time.Duration) {
	start := time.Now()
	next := time.Millisecond
	for {
		err := f()
		if err == nil || !transient(err) {
			return err, time.Since(start)
		}
		left := Bound - time.Since(start)
		if left <= 0 {
			return err, time.Since(start)
		}
		time.Sleep(min(next, left))
		next += time.Duration(rand.Int64N(int64(next)))
	}
}
