package audit

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"mailwarden/internal/faulttest"
	"mailwarden/internal/peers"
)

var chainInLine = regexp.MustCompile(`"chain_seq":([0-9]+),"chain_hash":"([0-9a-f]{64})"`)

// TestRELPRealRsyslog: a trail with a file and RELP (plain and over TLS)
// to the test environment's rsyslog (imrelp). Each record is acknowledged;
// rsyslog's file holds every record with the file's chain_seq and
// chain_hash, and the last of them is an anchor the trail verifies against.
func TestRELPRealRsyslog(t *testing.T) {
	v := peers.Need(t, "MW_SYSLOG_RELP", "MW_SYSLOG_RELPS", "MW_SYSLOG_RELP_FILE", "MW_TEST_CA")
	for _, tr := range []struct {
		network, addr string
	}{{NetRELP, v[0]}, {NetRELPTLS, v[1]}} {
		t.Run(tr.network, func(t *testing.T) {
			dir := t.TempDir()
			url := tr.network + "://" + tr.addr + "?timeout=3s"
			if tr.network == NetRELPTLS {
				// imrelp asks for a client certificate from the CA.
				certs := filepath.Dir(v[3])
				url += "&ca=" + v[3] + "&cert=" + filepath.Join(certs, "client.pem") + "&key=" + filepath.Join(certs, "client.key")
			}
			sc, err := ParseSyslogURL(url)
			if err != nil {
				t.Fatal(err)
			}
			sc.Hostname = "localhost"
			h, err := New(context.Background(), Config{File: &FileConfig{Path: filepath.Join(dir, "audit.log")}, SyslogConfig: &sc})
			if err != nil {
				t.Fatal(err)
			}
			marker := fmt.Sprintf("mw-relp-%s-%d", strings.ReplaceAll(tr.network, "+", ""), time.Now().UnixNano())
			const n = 20
			tk := h.Track()
			for i := 0; i < n; i++ {
				if err := tk.Record(context.Background(), slog.LevelInfo, "smtp.send", slog.String("marker", marker), slog.Int("i", i)); err != nil {
					t.Fatal(err)
				}
			}
			if err := tk.Wait(context.Background()); err != nil {
				t.Fatal(err)
			}
			// Acknowledged means in rsyslog's queue; its file follows.
			waitForLine(t, v[2], fmt.Sprintf(`"marker":%q,"i":%d`, marker, n-1))
			if err := h.Close(); err != nil {
				t.Fatal(err)
			}
			lines := linesWith(t, v[2], marker)
			if len(lines) != n {
				t.Fatalf("rsyslog wrote %d records of %d", len(lines), n)
			}
			last := chainInLine.FindStringSubmatch(lines[n-1])
			if last == nil {
				t.Fatalf("no chain members in %q", lines[n-1])
			}
			a, err := ParseAnchor(last[1] + ":" + last[2])
			if err != nil {
				t.Fatal(err)
			}
			files, _ := filepath.Glob(filepath.Join(dir, "audit*.log"))
			if _, err := VerifyAnchor(nil, a, files...); err != nil {
				t.Fatalf("the trail against the collector's anchor %v: %v", a, err)
			}
			t.Logf("rsyslog (%s) wrote %d records; last: %s", tr.network, len(lines), lines[n-1])
		})
	}
}

func linesWith(t *testing.T, path, marker string) []string {
	t.Helper()
	var out []string
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, marker) {
			out = append(out, l)
		}
	}
	return out
}

// TestRELPStoppedCollectorRefuses: a private rsyslogd (imrelp) that is
// stopped with SIGSTOP still accepts connections in the kernel but
// acknowledges nothing. A record sent to it fails within the timeout (the
// sender would refuse the send); resumed, the collector acknowledges again,
// and killed, the next record fails at once (no collector).
func TestRELPStoppedCollectorRefuses(t *testing.T) {
	col := faulttest.StartRsyslog(t)
	sc, err := ParseSyslogURL("relp://" + col.Addr + "?timeout=1s")
	if err != nil {
		t.Fatal(err)
	}
	h, err := New(context.Background(), Config{SyslogConfig: &sc})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	rec := func(tag string) error {
		tk := h.Track()
		if err := tk.Record(context.Background(), slog.LevelInfo, "smtp.intent", slog.String("tag", tag)); err != nil {
			return err
		}
		return tk.Wait(context.Background())
	}
	if err := rec("before"); err != nil {
		t.Fatal(err)
	}
	col.Stop()
	start := time.Now()
	err = rec("while-stopped")
	took := time.Since(start)
	if err == nil || !strings.Contains(err.Error(), "no acknowledgement") {
		t.Fatalf("a record to a stopped collector: %v", err)
	}
	if took > 5*time.Second {
		t.Errorf("refusal took %v with a 1s timeout", took)
	}
	var se *SinkError
	if !errors.As(err, &se) || se.Sink != "syslog" {
		t.Errorf("error does not name the sink: %v", err)
	}
	col.Resume()
	if err := rec("after-resume"); err != nil {
		t.Fatalf("after SIGCONT: %v", err)
	}
	waitForLine(t, col.File, `"tag":"after-resume"`)
	col.Kill()
	if err := rec("after-kill"); err == nil {
		t.Fatal("a record to a killed collector was accepted")
	}
	// What was acknowledged is in the collector's file; the record sent
	// while it was stopped may be there too (it was read after SIGCONT):
	// RELP is at-least-once, and the sender treated it as not recorded.
	for _, tag := range []string{"before", "after-resume"} {
		if col.Count(`"tag":"`+tag+`"`) != 1 {
			t.Errorf("acknowledged record %s: %d copies in the collector's file", tag, col.Count(`"tag":"`+tag+`"`))
		}
	}
	t.Logf("stopped collector refused after %v; record sent while stopped found %d time(s) after resume", took.Round(time.Millisecond), col.Count(`"tag":"while-stopped"`))
}

func TestParseSyslogURLRELP(t *testing.T) {
	c, err := ParseSyslogURL("relp://127.0.0.1?timeout=1500ms")
	if err != nil || c.Network != NetRELP || c.Addr != "127.0.0.1:2514" || c.Timeout != 1500*time.Millisecond || !c.CanFailClose() {
		t.Errorf("relp: %+v %v", c, err)
	}
	c, err = ParseSyslogURL("relp+tls://logs.example.com:2515?ca=/ca.pem&cert=/c.pem&key=/c.key")
	if err != nil || c.Network != NetRELPTLS || c.CAFile != "/ca.pem" || c.CertFile != "/c.pem" || c.KeyFile != "/c.key" {
		t.Errorf("relp+tls: %+v %v", c, err)
	}
	for _, bad := range []string{"relp://h?timeout=0s", "relp://h?timeout=x", "relp://h?ca=/ca.pem", "relp+tls://h?cert=/c.pem", "tcp://h?key=/k"} {
		if _, err := ParseSyslogURL(bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	if c, _ := ParseSyslogURL("udp://h"); c.CanFailClose() {
		t.Error("udp can fail closed?")
	}
	if _, err := New(context.Background(), Config{Syslog: "udp://127.0.0.1:9"}); !errors.Is(err, ErrSyslogFailOpenOnly) {
		t.Errorf("udp under FailClosed: %v", err)
	}
	h, err := New(context.Background(), Config{Syslog: "udp://127.0.0.1:9", Policy: FailOpen})
	if err != nil {
		t.Fatalf("udp under FailOpen: %v", err)
	}
	h.Close()
}

// TestRELPNegativeAnswer: a collector that answers a syslog command with a
// code other than 200 (here an in-process one answering 500) fails the
// record with a *RELPError carrying its code and text.
func TestRELPNegativeAnswer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		r := &relpSession{conn: c, r: bufio.NewReader(c), timeout: 5 * time.Second}
		for {
			txnr, cmd, _, err := r.readFrame()
			if err != nil {
				return
			}
			var data string
			switch cmd {
			case "open":
				data = "200 OK\nrelp_version=0\nrelp_software=test\ncommands=syslog"
			case "syslog":
				data = "500 queue full\x07"
			default:
				data = "200 OK"
			}
			fmt.Fprintf(c, "%d rsp %d %s\n", txnr, len(data), data)
		}
	}()
	s, err := DialSyslog(context.Background(), SyslogConfig{Network: NetRELP, Addr: ln.Addr().String(), Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	err = s.Write(context.Background(), &Entry{Time: time.Now(), Msg: "m", members: []byte(`"msg":"m"`)})
	var re *RELPError
	if !errors.As(err, &re) || re.Code != 500 || re.Text != "queue full?" || re.Command != "syslog" {
		t.Fatalf("got %v", err)
	}
}
