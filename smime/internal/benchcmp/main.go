//go:build unix

// Command benchcmp compares the smime package with `openssl cms` at its
// fastest settings (-stream -binary) in one run: wall time, CPU time and
// peak resident memory of a child process per operation, for several
// message sizes, recipient counts and an RSA 2048 or P-256 signer. Run it
// from the module root:
//
//	go run ./smime/internal/benchcmp [-sizes 10KB,1MB,100MB] [-runs 5] [-text]
//
// Each measurement is one child process (this program in -child mode, or
// openssl; for sign+encrypt two openssl processes in a pipe, since its
// command line does one operation at a time) reading the message from a
// file and writing to /dev/null. Every case runs -runs interleaved rounds
// (ours, then openssl, the order alternating from round to round) at every
// size; the report gives medians with their ranges and the median of the
// per-round ratios. Memory is the child's peak RSS from GNU time.
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
	runs := flag.Int("runs", 5, "interleaved rounds per case, every size (medians and ranges reported)")
	ops := flag.String("ops", "sign,sign-p256,sign-opaque,sign-opaque-p256,encrypt-cbc,encrypt-gcm,sign+encrypt-gcm,sign+encrypt-gcm-p256", "operations (-p256: the P-256 signer, otherwise RSA 2048)")
	rcpts := flag.String("rcpts", "1,10", "recipient counts for encryption")
	textToo := flag.Bool("text", false, "also run openssl -stream without -binary (earlier runs' settings)")
	flag.Parse()
	if err := run(*certs, *sizes, *ops, *rcpts, *runs, *textToo); err != nil {
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
	d   time.Duration // wall time
	cpu time.Duration // user+system time of the child (and its children)
	rss int64         // KiB, peak of the largest process
}

// once runs name with args and returns its wall time, CPU time and peak
// RSS. The RSS comes from GNU time (-f %M) when it is installed: a child
// forked and exec'd directly by this Go process inherits the parent's
// high-water mark (Linux carries ru_maxrss across exec), which would hide
// anything smaller than this harness itself.
func once(timeBin, name string, args ...string) (result, error) {
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
		argv = append([]string{timeBin, "-f", "%M %U %S", "-o", rssFile}, argv...)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout = io.Discard
	var stderr strings.Builder
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return result{}, fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, stderr.String())
	}
	r := result{d: time.Since(start)}
	if rssFile == "" {
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			r.rss = ru.Maxrss
		}
		r.cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
		return r, nil
	}
	b, err := os.ReadFile(rssFile)
	if err != nil {
		return result{}, err
	}
	fields := strings.Fields(string(b))
	if len(fields) < 3 {
		return result{}, fmt.Errorf("no RSS from %s: %q", timeBin, b)
	}
	fields = fields[len(fields)-3:]
	if r.rss, err = strconv.ParseInt(fields[0], 10, 64); err != nil {
		return result{}, fmt.Errorf("RSS %q: %w", b, err)
	}
	for _, f := range fields[1:] {
		s, err := strconv.ParseFloat(f, 64)
		if err != nil {
			return result{}, fmt.Errorf("CPU %q: %w", b, err)
		}
		r.cpu += time.Duration(s * float64(time.Second))
	}
	return r, nil
}

// variant is one way of doing an operation: this program's child or an
// openssl command line (a pipeline through sh for sign+encrypt).
type variant struct {
	name string
	argv []string
}

// stats summarises the rounds of one variant.
type stats struct {
	d, cpu []time.Duration
	rss    []int64
}

func med[T int64 | time.Duration | float64](xs []T) T {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func ms(d time.Duration) string { return fmt.Sprintf("%.0f", float64(d)/1e6) }

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func run(certDir, sizeList, opList, rcptList string, runs int, textToo bool) error {
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

	fmt.Printf("load average before: %s; %d interleaved rounds per case; times in ms, median (min-max); ratio = median of the per-round go/openssl ratios\n", loadavg(), runs)
	hdr := fmt.Sprintf("%-21s %5s %3s | %-18s %-18s %-22s | %-18s %-18s | %8s %8s", "op", "size", "rc", "go ms", "openssl ms", "go/openssl (range)", "go cpu ms", "openssl cpu ms", "go RSS", "ossl RSS")
	if textToo {
		hdr += fmt.Sprintf(" | %-18s", "ossl no -binary ms")
	}
	fmt.Println(hdr)
	for _, sz := range strings.Split(sizeList, ",") {
		size, err := parseSize(sz)
		if err != nil {
			return fmt.Errorf("size %q: %w", sz, err)
		}
		in := filepath.Join(tmp, "in-"+sz)
		if err := writeInput(in, size); err != nil {
			return err
		}
		for _, op := range strings.Split(opList, ",") {
			counts := []string{"-"}
			if strings.Contains(op, "encrypt") {
				counts = strings.Split(rcptList, ",")
			}
			for _, rc := range counts {
				vs, err := variants(op, rc, in, certDir, rcptFiles, self, openssl, textToo)
				if err != nil {
					return err
				}
				st := make([]stats, len(vs))
				var ratios []float64
				for r := range runs {
					// Alternate which side goes first from round to round.
					order := make([]int, len(vs))
					for i := range order {
						order[i] = i
					}
					if r%2 == 1 {
						order[0], order[1] = 1, 0
					}
					for _, i := range order {
						res, err := once(timeBin, vs[i].argv[0], vs[i].argv[1:]...)
						if err != nil {
							return err
						}
						st[i].d = append(st[i].d, res.d)
						st[i].cpu = append(st[i].cpu, res.cpu)
						st[i].rss = append(st[i].rss, res.rss)
					}
					ratios = append(ratios, float64(st[0].d[r])/float64(st[1].d[r]))
				}
				rng := func(xs []time.Duration) string {
					return fmt.Sprintf("%s (%s-%s)", ms(med(xs)), ms(slices.Min(xs)), ms(slices.Max(xs)))
				}
				line := fmt.Sprintf("%-21s %5s %3s | %-18s %-18s %-22s | %-18s %-18s | %6.1fMB %6.1fMB", op, sz, rc,
					rng(st[0].d), rng(st[1].d), fmt.Sprintf("%.2fx (%.2f-%.2f)", med(ratios), slices.Min(ratios), slices.Max(ratios)),
					rng(st[0].cpu), rng(st[1].cpu),
					float64(slices.Max(st[0].rss))/1024, float64(slices.Max(st[1].rss))/1024)
				if textToo {
					line += fmt.Sprintf(" | %-18s", rng(st[2].d))
				}
				fmt.Println(line)
			}
		}
	}
	fmt.Printf("load average after: %s\n", loadavg())
	fmt.Println("RSS is the largest peak over the rounds (for the openssl pipeline, the larger of its two processes)")
	return nil
}

// variants returns this program's child, openssl at its fastest settings
// (-stream -binary) and, with textToo, openssl -stream without -binary
// (the settings of earlier runs of this harness).
func variants(op, rc, in, certDir string, rcptFiles []string, self, openssl string, textToo bool) ([]variant, error) {
	base, signer := op, "rsa"
	if b, ok := strings.CutSuffix(op, "-p256"); ok {
		base, signer = b, "ecdsa"
	}
	signerCert := filepath.Join(certDir, "signer-"+signer+".pem")
	signerKey := filepath.Join(certDir, "signer-"+signer+".key")
	var rcpts []string
	if rc != "-" {
		k, err := strconv.Atoi(rc)
		if err != nil || k < 1 || k > len(rcptFiles) {
			return nil, fmt.Errorf("recipients %q: want 1..%d", rc, len(rcptFiles))
		}
		rcpts = rcptFiles[:k]
	}
	goArgv := append([]string{self, "-child", base, in, signerCert, signerKey}, rcpts...)
	ossl := func(binary bool) ([]string, error) {
		mode := []string{"-stream"}
		if binary {
			mode = append(mode, "-binary")
		}
		sign := append(append([]string{openssl, "cms", "-sign"}, mode...), "-md", "sha256", "-signer", signerCert, "-inkey", signerKey)
		switch base {
		case "sign":
			return append(sign, "-in", in, "-out", "/dev/null"), nil
		case "sign-opaque":
			return append(sign, "-nodetach", "-in", in, "-out", "/dev/null"), nil
		case "encrypt-cbc", "encrypt-gcm":
			c := "-aes-256-cbc"
			if base == "encrypt-gcm" {
				c = "-aes-256-gcm"
			}
			a := append(append([]string{openssl, "cms", "-encrypt"}, mode...), c, "-in", in, "-out", "/dev/null")
			return append(a, rcpts...), nil
		case "sign+encrypt-gcm":
			// Two processes in a pipe: OpenSSL's command line cannot sign
			// and encrypt in one.
			enc := append(append([]string{openssl, "cms", "-encrypt"}, mode...), "-aes-256-gcm", "-out", "/dev/null")
			enc = append(enc, rcpts...)
			q := func(a []string) string {
				var b strings.Builder
				for i, s := range a {
					if i > 0 {
						b.WriteByte(' ')
					}
					b.WriteString("'" + strings.ReplaceAll(s, "'", `'\''`) + "'")
				}
				return b.String()
			}
			return []string{"/bin/sh", "-c", q(append(sign, "-in", in)) + " | " + q(enc)}, nil
		}
		return nil, fmt.Errorf("unknown op %q", op)
	}
	o, err := ossl(true)
	if err != nil {
		return nil, err
	}
	vs := []variant{{"go", goArgv}, {"openssl", o}}
	if textToo {
		t, _ := ossl(false)
		vs = append(vs, variant{"openssl-text", t})
	}
	return vs, nil
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
	case "encrypt-cbc", "encrypt-gcm", "sign+encrypt-gcm":
		var rcpts []*x509.Certificate
		for _, p := range args[4:] {
			cs, err := smime.LoadCertificateFile(p)
			if err != nil {
				return err
			}
			rcpts = append(rcpts, cs[0])
		}
		c := smime.AES256CBC
		if op != "encrypt-cbc" {
			c = smime.AES256GCM
		}
		e, err := smime.NewEncrypter(smime.EncryptConfig{Recipients: rcpts, Cipher: c})
		if err != nil {
			return err
		}
		w = e
		if op == "sign+encrypt-gcm" {
			id, err := smime.LoadPEMFiles(args[2], args[3])
			if err != nil {
				return err
			}
			s, err := smime.NewSigner(smime.SignConfig{Identity: id})
			if err != nil {
				return err
			}
			w = smime.SignAndEncrypt(s, e)
		}
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
