package audit

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestNewFileAndSyslog(t *testing.T) {
	srv := newSyslogServer(t, NetTCP)
	path := filepath.Join(t.TempDir(), "audit.log")
	for _, queue := range []int{-1, 0, 16} {
		h, err := New(context.Background(), Config{
			File:   &FileConfig{Path: path, Key: testKey},
			Syslog: "tcp://" + srv.addr + "?facility=local3",
			Queue:  queue,
		})
		if err != nil {
			t.Fatal(err)
		}
		tr := h.Track()
		slog.New(tr).Info("smtp.send", "from", "a@example.com")
		if err := tr.Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
		b := checkSyslogMessage(t, srv.next(t), 19*8+6, "smtp.send")
		if b["from"] != "a@example.com" {
			t.Errorf("syslog body %v", b)
		}
		if err := h.Close(); err != nil {
			t.Fatal(err)
		}
	}
	files, _ := filepath.Glob(filepath.Join(filepath.Dir(path), "*.log"))
	if _, err := Verify(testKey, files...); err != nil {
		t.Errorf("file trail: %v", err)
	}
}

func TestNewErrors(t *testing.T) {
	ctx := context.Background()
	if _, err := New(ctx, Config{}); err == nil {
		t.Error("no sink accepted")
	}
	if _, err := New(ctx, Config{Syslog: "ftp://127.0.0.1"}); err == nil || !strings.HasPrefix(err.Error(), "audit: ") {
		t.Errorf("bad syslog url: %v", err)
	}
	// The file sink opened first is closed (sealed) when syslog fails: a
	// TCP port nothing listens on (any platform has TCP).
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	path := filepath.Join(t.TempDir(), "audit.log")
	if _, err := New(ctx, Config{File: &FileConfig{Path: path}, Syslog: "tcp://" + ln.Addr().String()}); err == nil {
		t.Error("unreachable syslog accepted")
	}
	if _, err := Verify(nil, path); err != nil {
		t.Errorf("file left open: %v", err)
	}
	if runtime.GOOS != "windows" {
		if _, err := New(ctx, Config{EventLog: "Mailwarden"}); !errors.Is(err, ErrNoEventLog) {
			t.Errorf("eventlog: %v", err)
		}
	}
}

func TestLoadKey(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		os.Chmod(p, mode)
		return p
	}
	k, err := LoadKey(write("hex", " "+strings.Repeat("0a", 32)+"\n", 0o600))
	if err != nil || len(k) != 32 || k[0] != 0x0a {
		t.Errorf("hex key: %x, %v", k, err)
	}
	k, err = LoadKey(write("raw", "a raw key of enough bytes!", 0o400))
	if err != nil || string(k) != "a raw key of enough bytes!" {
		t.Errorf("raw key: %q, %v", k, err)
	}
	if _, err := LoadKey(write("short", "abcd", 0o600)); err == nil {
		t.Error("short key accepted")
	}
	// Windows has no group/other mode bits (Go reports 0666 for any
	// writable file): LoadKey leaves the key's protection to its ACL there.
	if runtime.GOOS != "windows" {
		if _, err := LoadKey(write("open", strings.Repeat("ab", 32), 0o644)); err == nil || !strings.Contains(err.Error(), "chmod 600") {
			t.Errorf("world-readable key: %v", err)
		}
	}
	if _, err := LoadKey(filepath.Join(dir, "missing")); err == nil {
		t.Error("missing key file accepted")
	}
}

// TestNewFailClosedThroughQueue: with the default queue a record for a
// syslog server that went away is accepted at once, and the send learns of
// the failure from Wait.
func TestNewFailClosedThroughQueue(t *testing.T) {
	srv := newSyslogServer(t, NetTCP)
	sc, _ := ParseSyslogURL("tcp://" + srv.addr)
	sc.Timeout = time.Second
	h, err := New(context.Background(), Config{SyslogConfig: &sc})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	// The server goes away for good.
	srv.ln.Close()
	(<-srv.conns).Close()
	time.Sleep(50 * time.Millisecond)

	tr := h.Track()
	if err := tr.Record(context.Background(), slog.LevelInfo, "smtp.intent"); err != nil {
		t.Fatalf("Record = %v, want nil (queued)", err)
	}
	err = tr.Wait(context.Background())
	var se *SinkError
	if !errors.As(err, &se) || se.Sink != "syslog" {
		t.Fatalf("Wait = %v, want the syslog failure", err)
	}
}
