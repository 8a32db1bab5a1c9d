package mailwarden

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type vault map[string]string

func (v vault) Secret(_ context.Context, ref string) (string, error) {
	s, ok := v[ref]
	if !ok {
		return "", errors.New("no such entry")
	}
	return s, nil
}

func TestSecretRefResolve(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "pw")
	if err := os.WriteFile(file, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	getenv := func(k string) string {
		if k == "MW_PW" {
			return "from-env"
		}
		return ""
	}
	v := vault{"vault:smtp/relay": "from-vault"}
	tests := []struct {
		ref     SecretRef
		want    string
		wantErr string
	}{
		{"", "", ""},
		{"env:MW_PW", "from-env", ""},
		{"env:MW_MISSING", "", "MW_MISSING is empty or unset"},
		{SecretRef("file:" + file), "s3cret", ""},
		{SecretRef("file:" + empty), "", "is empty"},
		{SecretRef("file:" + filepath.Join(dir, "nope")), "", "no such file"},
		{"vault:smtp/relay", "from-vault", ""},
		{"vault:other", "", "vault: no such entry"},
		{"plaintext", "", "not of the form"},
		{"env:", "", "not of the form"},
	}
	for _, tt := range tests {
		got, err := tt.ref.Resolve(context.Background(), getenv, v)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrSecretUnresolved) {
				t.Errorf("%q: err = %v, want one containing %q", tt.ref, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%q = %q, %v; want %q", tt.ref, got, err, tt.want)
		}
	}
	if _, err := SecretRef("custom:x").Resolve(context.Background(), getenv, nil); err == nil || !strings.Contains(err.Error(), "needs a SecretSource") {
		t.Errorf("custom scheme without a source: %v", err)
	}
}

// TestInlineSecretNotEchoed: a secret typed where a reference belongs
// (a profile built in code with Password "Tr0ub4dor&3") must not come
// back in the error that rejects it.
func TestInlineSecretNotEchoed(t *testing.T) {
	for _, ref := range []SecretRef{"Tr0ub4dor&3", "Tr0ub4dor&3:"} {
		_, err := ref.Resolve(context.Background(), nil, nil)
		if err == nil || !errors.Is(err, ErrSecretUnresolved) || strings.Contains(err.Error(), "Tr0ub4dor") {
			t.Errorf("%d characters: %v", len(ref), err)
		}
	}
	p := Profile{Name: "inline", Servers: []string{"127.0.0.1:1"}, Auth: Auth{Mechanism: "PLAIN", Username: "u", Password: "Tr0ub4dor&3"}}
	_, err := NewSender(context.Background(), p, &Options{Getenv: func(string) string { return "" }})
	if err == nil || strings.Contains(err.Error(), "Tr0ub4dor") {
		t.Errorf("NewSender: %v", err)
	}
}
