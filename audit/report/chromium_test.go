package report

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"mailwarden/internal/peers"
)

// reportHost is the name the browser loads the report from; every request
// goes to the test server, acting as the browser's only proxy.
const reportHost = "report.test"

// browserServer serves the reports to Chromium and records every request
// the browser makes, anywhere: it is the browser's proxy for all hosts,
// loopback included, so a request for anything but a report shows here.
type browserServer struct {
	addr  string
	pages map[string][]byte

	mu    sync.Mutex
	other []request
}

// A request is one the browser made for something other than a report.
type request struct {
	method, host, url, referer string
}

func (r request) String() string { return r.method + " " + r.url + " (referer " + r.referer + ")" }

func newBrowserServer(t *testing.T, pages map[string][]byte) *browserServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &browserServer{addr: ln.Addr().String(), pages: pages}
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return s
}

func (s *browserServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet && r.Host == reportHost {
		if b, ok := s.pages[r.URL.Path]; ok {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Write(b)
			return
		}
	}
	s.mu.Lock()
	s.other = append(s.other, request{method: r.Method, host: r.Host, url: r.URL.String(), referer: r.Referer()})
	s.mu.Unlock()
	http.Error(w, "not allowed in this test", http.StatusForbidden)
}

// take returns the requests recorded since the last call.
func (s *browserServer) take() []request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.other
	s.other = nil
	return out
}

// chromium runs headless Chromium on the report at path with the extra
// arguments (the action: --screenshot, --print-to-pdf, --dump-dom) and
// returns its standard output.
func (s *browserServer) chromium(t *testing.T, bin, path string, action ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	args := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-default-apps", "--disable-extensions", "--no-default-browser-check", "--mute-audio",
		// Chromium's own background traffic (none of it from the page).
		"--disable-client-side-phishing-detection", "--disable-domain-reliability", "--no-pings", "--disable-breakpad",
		"--safebrowsing-disable-auto-update", "--metrics-recording-only", "--disable-field-trial-config",
		"--disable-features=NetworkTimeServiceQuerying,OptimizationHints,OptimizationGuideModelDownloading,Translate,MediaRouter,AutofillServerCommunication,CertificateTransparencyComponentUpdater,AccountConsistency,SigninInterceptBubble,PrivacySandboxSettings4",
		"--user-data-dir=" + t.TempDir(),
		"--proxy-server=http://" + s.addr, "--proxy-bypass-list=<-loopback>",
		"--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
		"--window-size=1280,2600", "--hide-scrollbars", "--virtual-time-budget=3000"}
	args = append(append(args, action...), "http://"+reportHost+path)
	cmd := exec.CommandContext(ctx, bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %v: %v\n%s", action, err, stderr.String())
	}
	return stdout.Bytes()
}

// colorCount counts the pixels of img within r that are within tol of c.
func colorCount(img image.Image, r image.Rectangle, c [3]int, tol int) int {
	n := 0
	r = r.Intersect(img.Bounds())
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			pr, pg, pb, _ := img.At(x, y).RGBA()
			if abs(int(pr>>8)-c[0]) <= tol && abs(int(pg>>8)-c[1]) <= tol && abs(int(pb>>8)-c[2]) <= tol {
				n++
			}
		}
	}
	return n
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func readPNG(t *testing.T, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return img
}

var (
	red      = [3]int{0xc0, 0x00, 0x00}
	green    = [3]int{0x1b, 0x7f, 0x3b}
	barSent  = [3]int{0x2e, 0x7d, 0x4f}
	barFail  = [3]int{0xc6, 0x28, 0x28}
	barLaten = [3]int{0x34, 0x65, 0xa4}
)

// TestReportInChromium opens the HTML reports in headless Chromium (Debian's
// chromium; testenv/up.sh installs it and exports MW_CHROMIUM and
// MW_PDFTOPPM): the browser makes no request but the report's own, the
// verdict (red for a tampered trail) and the charts are on screen, and the
// report prints to PDF, whose pages are rendered with pdftoppm. Screenshots,
// PDFs and page images are kept as test artifacts (go test -artifacts).
func TestReportInChromium(t *testing.T) {
	bins := peers.Need(t, "MW_CHROMIUM", "MW_PDFTOPPM")
	chromium, pdftoppm := bins[0], bins[1]
	art := t.ArtifactDir()
	pages := map[string][]byte{}
	for _, name := range []string{"tampered", "purge"} {
		h, _, _ := render(t, buildFixed(t, name, Options{}))
		pages["/"+name+".html"] = h
		if err := os.WriteFile(filepath.Join(art, name+".html"), h, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	pages["/blank.html"] = []byte("<!DOCTYPE html><title>blank</title>")
	pages["/leak.html"] = []byte(`<!DOCTYPE html><title>control</title><img src="http://leak.test/pixel.png">`)
	srv := newBrowserServer(t, pages)

	// Chromium talks to its vendor's update and account services even with
	// every background feature turned off; the proxy refuses all of it, so
	// nothing leaves the machine. What the browser does on its own with an
	// empty page is the baseline: a request made while showing a report
	// must be one of those hosts, carry no referer (page requests do), and
	// never be for the report's own host.
	srv.chromium(t, chromium, "/blank.html", "--dump-dom")
	baseline := map[string]bool{}
	for _, r := range srv.take() {
		baseline[r.host] = true
	}
	checkRequests := func(t *testing.T) {
		t.Helper()
		for _, r := range srv.take() {
			if r.referer != "" || r.host == reportHost || !baseline[r.host] {
				t.Errorf("request caused by the report: %v", r)
			}
		}
	}

	// The check sees a page's request: a page that loads an image does.
	srv.chromium(t, chromium, "/leak.html", "--dump-dom")
	leaked := false
	for _, r := range srv.take() {
		leaked = leaked || (r.host == "leak.test" && r.referer != "")
	}
	if !leaked {
		t.Fatal("the control page's image request was not seen: the request check is blind")
	}

	dom := srv.chromium(t, chromium, "/tampered.html", "--dump-dom")
	checkRequests(t)
	for _, want := range []string{"TAMPERED", "record 62", "edited", "Activity", "<svg", "<rect class=\"fail\""} {
		if !bytes.Contains(dom, []byte(want)) {
			t.Errorf("the rendered page lacks %q", want)
		}
	}

	for _, tc := range []struct {
		name    string
		verdict [3]int
	}{{"tampered", red}, {"purge", green}} {
		t.Run(tc.name, func(t *testing.T) {
			shot := filepath.Join(art, tc.name+".png")
			srv.chromium(t, chromium, "/"+tc.name+".html", "--screenshot="+shot)
			checkRequests(t)
			img := readPNG(t, shot)
			// The verdict box is at the top, in its colour.
			if n := colorCount(img, image.Rect(0, 0, 1280, 520), tc.verdict, 24); n < 2000 {
				t.Errorf("verdict colour: %d pixels in the top of the page", n)
			}
			for name, c := range map[string][3]int{"sent bars": barSent, "failure bars": barFail, "latency bars": barLaten} {
				if n := colorCount(img, img.Bounds(), c, 10); n < 300 {
					t.Errorf("%s: %d pixels on screen", name, n)
				}
			}

			pdf := filepath.Join(art, tc.name+".pdf")
			srv.chromium(t, chromium, "/"+tc.name+".html", "--print-to-pdf="+pdf, "--no-pdf-header-footer")
			checkRequests(t)
			b, err := os.ReadFile(pdf)
			if err != nil || !bytes.HasPrefix(b, []byte("%PDF-")) {
				t.Fatalf("no PDF: %v", err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			prefix := filepath.Join(art, tc.name+"-page")
			if out, err := exec.CommandContext(ctx, pdftoppm, "-r", "60", "-png", pdf, prefix).CombinedOutput(); err != nil {
				t.Fatalf("pdftoppm: %v\n%s", err, out)
			}
			pngs, _ := filepath.Glob(prefix + "-*.png")
			sort.Strings(pngs)
			if len(pngs) < 2 {
				t.Fatalf("%d PDF pages", len(pngs))
			}
			first := readPNG(t, pngs[0])
			if bd := first.Bounds(); bd.Dx() <= bd.Dy() {
				t.Errorf("page 1 is %v: want A4 landscape", bd)
			}
			// Printed in colour (print-color-adjust), verdict first.
			if n := colorCount(first, image.Rect(0, 0, first.Bounds().Dx(), first.Bounds().Dy()/2), tc.verdict, 30); n < 300 {
				t.Errorf("page 1: %d pixels of the verdict colour", n)
			}
			t.Logf("%s: %d PDF pages, artifacts in %s", tc.name, len(pngs), art)
		})
	}
}
