//go:build unix

// Command benchcmp compares the smime package with `openssl cms -stream` in
// one run: wall time and peak resident memory of a child process per
// operation, for several message sizes and recipient counts. Run it from the
// module root:
//
//	go run ./smime/internal/benchcmp [-sizes 10KB,1MB,100MB] [-runs 3]
//
// Each measurement is one child process (this program in -child mode, or
// openssl) reading the message from a file and writing to /dev/null; the
// reported time is the median of -runs runs (one run for sizes of 100 MB and
// more) and the memory is the child's peak RSS from getrusage.
package main

import (
	"bufio"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"mailwarden/internal/testcert"
	"mailwarden/smime"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "-child" {
		if err := child(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "benchcmp child:", err)
			os.Exit(1)
		}
		return
	}
	certs := flag.String("certs", "testdata/certs", "directory with signer-rsa.pem/.key and recipient-rsa.pem")
	sizes := flag.String("sizes", "10KB,1MB,100MB", "message sizes")
	runs := flag.Int("runs", 3, "runs per measurement below 100 MB (median reported)")
	ops := flag.String("ops", "sign,sign-opaque,encrypt-cbc,encrypt-gcm", "operations")
	rcpts := flag.String("rcpts", "1,10", "recipient counts for encryption")
	flag.Parse()
	if err := run(*certs, *sizes, *ops, *rcpts, *runs); err != nil {
		fmt.Fprintln(os.Stderr, "benchcmp:", err)
		os.Exit(1)
	}
}

func parseSize(s string) (int, error) {
	mult := 1
	switch {
	case strings.HasSuffix(s, "KB"):
		mult, s = 1<<10, strings.TrimSuffix(s, "KB")
	case strings.HasSuffix(s, "MB"):
		mult, s = 1<<20, strings.TrimSuffix(s, "MB")
	}
	n, err := strconv.Atoi(s)
	return n * mult, err
}

func writeInput(path string, size int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	io.WriteString(w, "Content-Type: text/plain; charset=us-ascii\r\n\r\n")
	line := "2026-11-22T10:00:00Z host=db1 disk=/var used=97% status=CRITICAL\r\n"
	for n := 0; n < size; n += len(line) {
		io.WriteString(w, line)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return f.Close()
}

type result struct {
	d   time.Duration
	rss int64 // KiB
}

// measure runs name with args and returns the median wall time and the
// peak RSS. The RSS comes from GNU time (-f %M) when it is installed: a
// child forked and exec'd directly by this Go process inherits the parent's
// high-water mark (Linux carries ru_maxrss across exec), which would hide
// anything smaller than this harness itself.
func measure(runs int, timeBin, name string, args ...string) (result, error) {
	var ds []time.Duration
	var rss int64
	for range runs {
		argv := append([]string{name}, args...)
		var rssFile string
		if timeBin != "" {
			f, err := os.CreateTemp("", "benchcmp-rss")
			if err != nil {
				return result{}, err
			}
			rssFile = f.Name()
			f.Close()
			defer os.Remove(rssFile)
			argv = append([]string{timeBin, "-f", "%M", "-o", rssFile}, argv...)
		}
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Stdout = io.Discard
		var stderr strings.Builder
		cmd.Stderr = &stderr
		start := time.Now()
		if err := cmd.Run(); err != nil {
			return result{}, fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, stderr.String())
		}
		ds = append(ds, time.Since(start))
		if rssFile != "" {
			b, err := os.ReadFile(rssFile)
			if err != nil {
				return result{}, err
			}
			fields := strings.Fields(string(b))
			if len(fields) == 0 {
				return result{}, fmt.Errorf("no RSS from %s", timeBin)
			}
			kb, err := strconv.ParseInt(fields[len(fields)-1], 10, 64)
			if err != nil {
				return result{}, fmt.Errorf("RSS %q: %w", b, err)
			}
			rss = max(rss, kb)
		} else if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			rss = max(rss, ru.Maxrss)
		}
	}
	slices.Sort(ds)
	return result{d: ds[len(ds)/2], rss: rss}, nil
}

func run(certDir, sizeList, opList, rcptList string, runs int) error {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		return errors.New("openssl not found")
	}
	timeBin, _ := exec.LookPath("/usr/bin/time")
	if timeBin == "" {
		fmt.Fprintln(os.Stderr, "benchcmp: GNU time not found: RSS figures are floored at this harness's own RSS")
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "benchcmp")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	// Ten RSA recipients: the committed one and nine generated.
	rcptFiles := []string{filepath.Join(certDir, "recipient-rsa.pem")}
	ca, err := testcert.NewCA("benchcmp CA")
	if err != nil {
		return err
	}
	for i := 1; i < 10; i++ {
		l, err := ca.Issue(testcert.Options{CommonName: fmt.Sprintf("rcpt%d", i), Emails: []string{fmt.Sprintf("r%d@example.org", i)}, Key: testcert.RSA2048, Purpose: testcert.SMIME})
		if err != nil {
			return err
		}
		p := filepath.Join(tmp, fmt.Sprintf("rcpt%d.pem", i))
		if err := os.WriteFile(p, l.CertPEM, 0o600); err != nil {
			return err
		}
		rcptFiles = append(rcptFiles, p)
	}
	signerCert, signerKey := filepath.Join(certDir, "signer-rsa.pem"), filepath.Join(certDir, "signer-rsa.key")

	fmt.Printf("%-12s %6s %5s | %10s %10s %7s | %9s %9s %7s\n", "op", "size", "rcpts", "go", "openssl", "time", "go RSS", "ossl RSS", "RSS")
	for _, sz := range strings.Split(sizeList, ",") {
		size, err := parseSize(sz)
		if err != nil {
			return fmt.Errorf("size %q: %w", sz, err)
		}
		in := filepath.Join(tmp, "in-"+sz)
		if err := writeInput(in, size); err != nil {
			return err
		}
		n := runs
		if size >= 100<<20 {
			n = 1
		}
		for _, op := range strings.Split(opList, ",") {
			counts := []string{"-"}
			if strings.HasPrefix(op, "encrypt") {
				counts = strings.Split(rcptList, ",")
			}
			for _, rc := range counts {
				goArgs := []string{"-child", op, in, signerCert, signerKey}
				var osslArgs []string
				switch op {
				case "sign":
					osslArgs = []string{"cms", "-sign", "-stream", "-md", "sha256", "-signer", signerCert, "-inkey", signerKey, "-in", in, "-out", "/dev/null"}
				case "sign-opaque":
					osslArgs = []string{"cms", "-sign", "-stream", "-nodetach", "-md", "sha256", "-signer", signerCert, "-inkey", signerKey, "-in", in, "-out", "/dev/null"}
				case "encrypt-cbc", "encrypt-gcm":
					k, err := strconv.Atoi(rc)
					if err != nil || k < 1 || k > len(rcptFiles) {
						return fmt.Errorf("recipients %q: want 1..%d", rc, len(rcptFiles))
					}
					c := "-aes-256-cbc"
					if op == "encrypt-gcm" {
						c = "-aes-256-gcm"
					}
					osslArgs = []string{"cms", "-encrypt", "-stream", c, "-in", in, "-out", "/dev/null"}
					osslArgs = append(osslArgs, rcptFiles[:k]...)
					goArgs = append(goArgs, rcptFiles[:k]...)
				default:
					return fmt.Errorf("unknown op %q", op)
				}
				g, err := measure(n, timeBin, self, goArgs...)
				if err != nil {
					return err
				}
				o, err := measure(n, timeBin, openssl, osslArgs...)
				if err != nil {
					return err
				}
				fmt.Printf("%-12s %6s %5s | %10s %10s %6.2fx | %7.1fMB %7.1fMB %6.2fx\n", op, sz, rc,
					g.d.Round(time.Millisecond), o.d.Round(time.Millisecond), float64(g.d)/float64(o.d),
					float64(g.rss)/1024, float64(o.rss)/1024, float64(g.rss)/float64(o.rss))
			}
		}
	}
	fmt.Println("time and RSS columns are go/openssl ratios (below 1 means smime is faster or smaller)")
	return nil
}

// child performs one operation: op input signerCert signerKey [recipients...].
func child(args []string) error {
	if len(args) < 4 {
		return errors.New("usage: -child op input signer.pem signer.key [recipient.pem...]")
	}
	op, in := args[0], args[1]
	var w smime.Wrapper
	switch op {
	case "sign", "sign-opaque":
		id, err := smime.LoadPEMFiles(args[2], args[3])
		if err != nil {
			return err
		}
		s, err := smime.NewSigner(smime.SignConfig{Identity: id, Opaque: op == "sign-opaque"})
		if err != nil {
			return err
		}
		w = s
	case "encrypt-cbc", "encrypt-gcm":
		var rcpts []*x509.Certificate
		for _, p := range args[4:] {
			cs, err := smime.LoadCertificateFile(p)
			if err != nil {
				return err
			}
			rcpts = append(rcpts, cs[0])
		}
		c := smime.AES256CBC
		if op == "encrypt-gcm" {
			c = smime.AES256GCM
		}
		e, err := smime.NewEncrypter(smime.EncryptConfig{Recipients: rcpts, Cipher: c})
		if err != nil {
			return err
		}
		w = e
	default:
		return fmt.Errorf("unknown op %q", op)
	}
	f, err := os.Open(in)
	if err != nil {
		return err
	}
	defer f.Close()
	out, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer out.Close()
	bw := bufio.NewWriterSize(out, 64<<10)
	wc, err := w.Wrap(bw)
	if err != nil {
		return err
	}
	if _, err := io.Copy(wc, f); err != nil {
		return err
	}
	if err := wc.Close(); err != nil {
		return err
	}
	return bw.Flush()
}
