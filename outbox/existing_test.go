package outbox

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestOpenExistingCreatesNothing: with Config.Existing a missing directory
// and a directory that is not a spool are ErrNoSpool, and nothing is
// created; a spool made by an earlier Open opens.
func TestOpenExistingCreatesNothing(t *testing.T) {
	root := t.TempDir()
	missing := filepath.Join(root, "no-such-spool")
	_, err := Open(Config{Dir: missing, Existing: true})
	var oe *Error
	if !errors.Is(err, ErrNoSpool) || !errors.As(err, &oe) || oe.Hint == "" {
		t.Fatalf("missing directory: %v, want ErrNoSpool with a hint", err)
	}
	if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Open with Existing created %s (stat: %v)", missing, err)
	}

	other := filepath.Join(root, "etc")
	if err := os.Mkdir(other, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(other, "hosts"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(Config{Dir: other, Existing: true}); !errors.Is(err, ErrNoSpool) {
		t.Fatalf("a directory that is not a spool: %v, want ErrNoSpool", err)
	}
	if ents, _ := os.ReadDir(other); len(ents) != 1 {
		t.Fatalf("Open with Existing wrote into a directory that is not a spool: %v", ents)
	}

	spool := filepath.Join(root, "spool")
	o, err := Open(Config{Dir: spool})
	if err != nil {
		t.Fatal(err)
	}
	o.Close()
	o, err = Open(Config{Dir: spool, Existing: true})
	if err != nil {
		t.Fatalf("an existing spool with Existing: %v", err)
	}
	o.Close()
}
