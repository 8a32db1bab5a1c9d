package audit_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"mailwarden/audit"
)

// stdout is a Sink that prints each entry's JSON.
type stdout struct{}

func (stdout) Write(_ context.Context, e *audit.Entry) error {
	fmt.Printf("%s\n", e.JSON())
	return nil
}
func (stdout) Close() error { return nil }

// A secret-looking key is redacted whatever its value; the user name is not.
func ExampleHandler() {
	now := func() time.Time { return time.Date(2026, 11, 22, 18, 37, 0, 0, time.UTC) }
	h := audit.NewHandler(stdout{}, &audit.Options{Now: now})
	h.Record(context.Background(), slog.LevelInfo, "smtp.auth",
		slog.Group("auth", "mech", "PLAIN", "user", "alice", "password", "hunter2"))
	// Output:
	// {"time":"2026-11-22T18:37:00.000000Z","level":"INFO","msg":"smtp.auth","auth":{"mech":"PLAIN","user":"alice","password":"[REDACTED]"}}
}

// Verify names the first record that was tampered with.
func ExampleVerify() {
	dir, _ := os.MkdirTemp("", "audit-example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "audit.log")
	key := []byte("an example key of thirty-two b..")

	f, _ := audit.OpenFile(audit.FileConfig{Path: path, Key: key})
	h := audit.NewHandler(f, nil)
	log := slog.New(h)
	for _, rcpt := range []string{"a@example.com", "b@example.com", "c@example.com"} {
		log.Info("smtp.send", "rcpts", []string{rcpt})
	}
	h.Close()

	rep, err := audit.Verify(key, path)
	fmt.Println(rep.Records, rep.Sealed, err)

	b, _ := os.ReadFile(path)
	os.WriteFile(path, []byte(strings.Replace(string(b), "b@example.com", "x@example.com", 1)), 0o600)
	_, err = audit.Verify(key, path)
	var te *audit.TamperError
	if errors.As(err, &te) {
		fmt.Println(te.Kind, "record", te.Seq, "line", te.Line)
	}
	// Output:
	// 5 true <nil>
	// edited record 3 line 3
}
