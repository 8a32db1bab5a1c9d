package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mailwarden/audit"
)

func TestDemoEndToEnd(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := runDemoIn(ctx, &out, dir); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	got := out.String()
	for _, want := range []string{
		"AUTH CRAM-MD5 as demo",
		"queued as DEMO0001",
		"Priority: urgent",
		"Sensitivity: Company-Confidential",
		"smime-type=authEnveloped-data",
		"signature verified: Mailwarden Demo Signer <alerts@example.com>",
		"encrypted=true cipher=aes256-gcm",
		"Volume /var on db-01 is 95% full.",
		"hmac-sha256, sealed=true",
		"attempt 1: deferred",
		"451 4.3.1",
		"delivered; the relay now holds 2 messages",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
	// Bcc goes to the envelope only.
	if !strings.Contains(got, "archive@example.net") || strings.Contains(got, "Bcc:") {
		t.Error("Bcc handling is wrong")
	}
	// The trail it left verifies independently, and its key never appears in it.
	key, err := audit.LoadKey(filepath.Join(dir, "audit.key"))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := audit.Verify(key, filepath.Join(dir, "audit.log"))
	if err != nil || !rep.Sealed || rep.Records < 8 {
		t.Fatalf("trail: %+v, %v", rep, err)
	}
	trail, _ := os.ReadFile(filepath.Join(dir, "audit.log"))
	for _, want := range []string{`"msg":"smtp.send"`, `"signed":true`, `"encrypted":true`, `"mech":"CRAM-MD5"`, `"queue_id":"DEMO0001"`,
		`"msg":"outbox.queued"`, `"msg":"outbox.deferred"`, `"msg":"outbox.delivered"`, `"queue_id":"DEMO0002"`} {
		if !bytes.Contains(trail, []byte(want)) {
			t.Errorf("trail lacks %s", want)
		}
	}
}
