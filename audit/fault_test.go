package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"mailwarden/internal/faulttest"
)

const crashChildEnv = "MAILWARDEN_AUDIT_CRASH_CHILD"

// TestAuditCrashChild is the writer TestTrailSurvivesSIGKILL kills: it
// writes records to the trail at $MAILWARDEN_AUDIT_CRASH_CHILD until it is
// killed, or, with a count after a comma, writes that many and closes.
func TestAuditCrashChild(t *testing.T) {
	arg := os.Getenv(crashChildEnv)
	if arg == "" {
		t.Skip("the child process of TestTrailSurvivesSIGKILL")
	}
	path, count, _ := strings.Cut(arg, ",")
	n, _ := strconv.Atoi(count)
	f, err := OpenFile(FileConfig{Path: path, Key: testKey})
	if err != nil {
		t.Fatal(err)
	}
	h := NewHandler(f, nil)
	for i := 0; n == 0 || i < n; i++ {
		if err := h.Record(context.Background(), slog.LevelInfo, "smtp.send", slog.Int("i", i), slog.String("pad", strings.Repeat("x", 300))); err != nil {
			t.Fatal(err)
		}
		if i == 20 {
			fmt.Println("WRITING") // the parent kills from here on
		}
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
}

func runCrashChild(t *testing.T, arg string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestAuditCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+arg)
	return cmd
}

// TestTrailSurvivesSIGKILL: a writer killed with SIGKILL in the middle of
// writing (a real process) leaves a file without its seal, perhaps with a
// torn line. The next writer records the crash (last intact seq and hash);
// Verify reports it as a gap and goes on, so that an edit made later in the
// chain is still found, and so is a record cut off the crashed file after
// the restart.
func TestTrailSurvivesSIGKILL(t *testing.T) {
	if os.Getenv(crashChildEnv) != "" {
		t.Skip()
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.log")
	kills := 3
	for k := 0; k < kills; k++ {
		cmd := runCrashChild(t, path)
		out, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 64)
		var seen []byte
		for !bytes.Contains(seen, []byte("WRITING")) {
			n, err := out.Read(buf)
			if err != nil {
				t.Fatalf("child: %v (%s)", err, seen)
			}
			seen = append(seen, buf[:n]...)
		}
		time.Sleep(time.Duration(5+7*k) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
	}
	if out, err := runCrashChild(t, path+",5").CombinedOutput(); err != nil {
		t.Fatalf("clean writer: %v\n%s", err, out)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "audit*.log"))
	rep, err := Verify(testKey, files...)
	if err != nil {
		t.Fatalf("after %d kills and a clean run: %v", kills, err)
	}
	torn := 0
	for _, g := range rep.Gaps {
		if g.Torn {
			torn++
		}
	}
	t.Logf("%d files, %d records, %d recorded crashes (%d with a torn line)", len(files), rep.Records, len(rep.Gaps), torn)
	if len(rep.Gaps) != kills || !rep.Sealed {
		t.Fatalf("gaps = %+v, sealed %v; want %d crashes recorded", rep.Gaps, rep.Sealed, kills)
	}

	// Later tampering is still found: edit a record after the last crash.
	last := readLines(t, path)
	edited := append([]string(nil), last...)
	edited[2] = strings.Replace(edited[2], `"i":1,`, `"i":7,`, 1)
	writeLines(t, path, edited)
	_, err = Verify(testKey, files...)
	var te *TamperError
	if !errors.As(err, &te) || te.Kind != Edited || te.File != path {
		t.Fatalf("an edit after the recorded crashes: %v, want it found", err)
	}
	writeLines(t, path, last)

	// Cutting the crashed file short after the restart is found too: the
	// recorded crash names a record that is no longer its last.
	crashed := rep.Gaps[0].File
	raw, _ := os.ReadFile(crashed)
	lines := readLines(t, crashed)
	cut := strings.Join(lines[:len(lines)-1], "")
	os.WriteFile(crashed, []byte(cut), 0o600)
	if _, err := Verify(testKey, files...); !errors.As(err, &te) || te.Kind != Truncated || te.File != crashed {
		t.Fatalf("crashed file cut short after the restart: %v, want it found", err)
	}
	os.WriteFile(crashed, raw, 0o600)
}

// TestFileRecoversAfterDiskFull: the disk holding the trail fills up (a
// real tmpfs). Records fail while it is full; once space is freed the sink
// goes on by itself (a new file, its open record naming the last intact
// record), leaves no empty file behind, and the trail verifies with the
// break reported as a gap.
func TestFileRecoversAfterDiskFull(t *testing.T) {
	if os.Getenv(crashChildEnv) != "" {
		t.Skip()
	}
	dir := faulttest.Tmpfs(t, "256k")
	path := filepath.Join(dir, "audit.log")
	f, err := OpenFile(FileConfig{Path: path, Key: testKey})
	if err != nil {
		t.Fatal(err)
	}
	h := NewHandler(f, nil)
	t.Cleanup(func() { h.Close() }) // before the unmount
	ctx := context.Background()
	rec := func(i int) error {
		return h.Record(ctx, slog.LevelInfo, "smtp.send", slog.Int("i", i), slog.String("pad", strings.Repeat("x", 200)))
	}
	for i := 0; i < 5; i++ {
		if err := rec(i); err != nil {
			t.Fatal(err)
		}
	}
	filler := faulttest.Fill(t, dir)
	// Records still fit in the file's last page until it is full; then
	// every one fails.
	failed := 0
	for i := 5; i < 40; i++ {
		if err := rec(i); err != nil {
			failed++
		}
	}
	if failed < 20 {
		t.Fatalf("%d of 35 records failed on a full disk", failed)
	}
	os.Remove(filler)
	for i := 40; i < 45; i++ {
		if err := rec(i); err != nil {
			t.Fatalf("record %d after the space was freed: %v", i, err)
		}
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "audit*.log"))
	for _, name := range files {
		if st, _ := os.Stat(name); st.Size() == 0 {
			t.Errorf("empty file left behind: %s", name)
		}
	}
	rep, err := Verify(testKey, files...)
	if err != nil || len(rep.Gaps) != 1 || rep.Gaps[0].Reason != ReasonRecover || !rep.Sealed {
		t.Fatalf("verify: %+v, %v; want one recorded recovery", rep, err)
	}
	t.Logf("%d files, %d records, %d refused while full, gap after seq %d", len(files), rep.Records, failed, rep.Gaps[0].LastSeq)
}
