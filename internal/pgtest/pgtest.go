// Package pgtest gives tests a schema of their own on the test
// environment's PostgreSQL (MW_POSTGRES_URL), so that tests running at the
// same time do not see each other's tables.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"mailwarden/internal/peers"
)

// Schema creates a fresh schema on the test database, dropped when t ends,
// and returns a connection string whose sessions use it (search_path).
// Without MW_POSTGRES_URL it skips t (fails it when peers are required).
func Schema(t testing.TB) string {
	t.Helper()
	url := peers.Get(t, "MW_POSTGRES_URL")
	ctx := context.Background()
	admin, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(admin.Close)
	var r [6]byte
	rand.Read(r[:])
	schema := "t_" + hex.EncodeToString(r[:])
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE") })
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	return url + sep + "search_path=" + schema
}
