package main

// Durable enqueue, three ways, in one run on the same disk: the outbox's
// spool directory (one file per message: write, fsync, rename, fsync the
// directory), bbolt (one update transaction per message, fsync'd on commit)
// and SQLite (one INSERT per transaction, WAL, synchronous=FULL). Each
// stores the same 2 KiB message with its envelope and returns only when it
// is durable.
//
//	cd bench && go test -run '^$' -bench Spool -benchtime 2s

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"io"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"
	_ "modernc.org/sqlite"

	"mailwarden/outbox"
)

var spoolMsg = bytes.Repeat([]byte("Subject: disk full on db-01\r\n\r\n0123456789abcdef\r\n"), 2048/48)

func BenchmarkSpoolFiles(b *testing.B) {
	o, err := outbox.Open(outbox.Config{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer o.Close()
	env := outbox.Envelope{From: "alerts@example.com", To: []string{"ops@example.com"}, MessageID: "x@example.com"}
	b.SetBytes(int64(len(spoolMsg)))
	b.ResetTimer()
	for range b.N {
		if _, err := o.Enqueue(context.Background(), env, func(w io.Writer) error { _, err := w.Write(spoolMsg); return err }); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

func BenchmarkSpoolBbolt(b *testing.B) {
	db, err := bolt.Open(filepath.Join(b.TempDir(), "spool.db"), 0o600, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	b.SetBytes(int64(len(spoolMsg)))
	b.ResetTimer()
	for i := range b.N {
		err := db.Update(func(tx *bolt.Tx) error {
			bk, err := tx.CreateBucketIfNotExists([]byte("queue"))
			if err != nil {
				return err
			}
			var k [8]byte
			binary.BigEndian.PutUint64(k[:], uint64(i))
			return bk.Put(k[:], append([]byte(`{"from":"alerts@example.com","to":["ops@example.com"]}`+"\n"), spoolMsg...))
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

func BenchmarkSpoolSQLite(b *testing.B) {
	db, err := sql.Open("sqlite", filepath.Join(b.TempDir(), "spool.sqlite")+"?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TABLE queue (id INTEGER PRIMARY KEY, env TEXT, msg BLOB)`); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(spoolMsg)))
	b.ResetTimer()
	for range b.N {
		if _, err := db.Exec(`INSERT INTO queue (env, msg) VALUES (?, ?)`, `{"from":"alerts@example.com","to":["ops@example.com"]}`, spoolMsg); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}
