package content

import (
	"bytes"
	"context"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"mailwarden/internal/peers"
)

// chromium returns the path of the Chromium browser (Debian package
// chromium, which testenv/up.sh installs), skipping the test without it
// unless MAILWARDEN_REQUIRE_PEERS=1, which makes it a failure.
func chromium(t *testing.T) string {
	t.Helper()
	p := peers.Tool(t, "chromium", "Debian package chromium; testenv/up.sh installs it")
	return p
}

// TestChromiumRendersBuiltins opens each built-in template's HTML (as
// 'smtpcheck template render --html' writes it) and the hostile report in
// headless Chromium, served from 127.0.0.1, and checks that the page makes
// no request anywhere else, that every image loads, that nothing scrolls
// sideways at 600 and 1200 px (long words in the data wrap), and that no injected script ran. The
// screenshots at both widths are kept in the test's artifact directory
// (go test -artifacts -outputdir DIR).
func TestChromiumRendersBuiltins(t *testing.T) {
	exe := chromium(t)
	pages := map[string]string{}
	for _, name := range []string{"alert", "report", "test"} {
		_, _, r := example(t, name)
		pages[name] = r.HTMLInline()
	}
	tm, _ := Lookup("report")
	r, err := tm.Render(hostileReport())
	if err != nil {
		t.Fatal(err)
	}
	pages["hostile"] = r.HTMLInline()

	var mu sync.Mutex
	var served []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		mu.Lock()
		served = append(served, req.URL.Path)
		mu.Unlock()
		page, ok := pages[strings.TrimSuffix(strings.TrimPrefix(req.URL.Path, "/"), ".html")]
		if !ok {
			http.NotFound(w, req)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(page))
	}))
	t.Cleanup(srv.Close)

	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(exe),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		// Nothing but 127.0.0.1 resolves, should a request slip through.
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"),
		chromedp.UserDataDir(t.TempDir()),
	)
	t.Cleanup(cancelAlloc)
	browser, cancelBrowser := chromedp.NewContext(allocCtx)
	t.Cleanup(cancelBrowser)
	if err := chromedp.Do(browser); err != nil { // start the browser
		t.Fatalf("starting %s: %v", exe, err)
	}
	out := t.ArtifactDir()

	for _, name := range []string{"alert", "report", "test", "hostile"} {
		t.Run(name, func(t *testing.T) {
			tab, cancel := chromedp.NewContext(browser)
			defer cancel()
			var reqMu sync.Mutex
			var requests []string
			if err := chromedp.Listen(tab, func(ev any) {
				if e, ok := ev.(*network.EventRequestWillBeSent); ok {
					reqMu.Lock()
					requests = append(requests, e.Request.URL)
					reqMu.Unlock()
				}
			}); err != nil {
				t.Fatal(err)
			}
			ctx, cancelT := context.WithTimeout(tab, 60*time.Second)
			defer cancelT()
			for _, width := range []int64{600, 1200} {
				if err := chromedp.Do(ctx, chromedp.EmulateViewport(width, 900), chromedp.Navigate(srv.URL+"/"+name+".html")); err != nil {
					t.Fatal(err)
				}
				imgs, err := chromedp.Run(ctx, chromedp.Evaluate[[]bool](`Array.from(document.images).map(i => i.complete && i.naturalWidth > 0)`))
				if err != nil {
					t.Fatal(err)
				}
				if len(imgs) == 0 {
					t.Errorf("%d px: no images on the page", width)
				}
				for i, ok := range imgs {
					if !ok {
						t.Errorf("%d px: image %d did not load", width, i)
					}
				}
				sw, err := chromedp.Run(ctx, chromedp.Evaluate[int64](`document.documentElement.scrollWidth`))
				if err != nil {
					t.Fatal(err)
				}
				if sw > width {
					t.Errorf("%d px: the page is %d px wide and scrolls sideways", width, sw)
				}
				shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
				if err != nil {
					t.Fatal(err)
				}
				file := filepath.Join(out, name+"-"+strconv.FormatInt(width, 10)+".png")
				if err := os.WriteFile(file, shot, 0o644); err != nil {
					t.Fatal(err)
				}
				if !hasLogoBlue(t, shot) {
					t.Errorf("%d px: the logo's blue does not appear in the screenshot %s", width, file)
				}
				t.Logf("screenshot %s", file)
			}
			pwned, err := chromedp.Run(ctx, chromedp.Evaluate[string](`typeof window.__pwned`))
			if err != nil {
				t.Fatal(err)
			}
			if pwned != "undefined" {
				t.Errorf("an injected script ran (window.__pwned is %s)", pwned)
			}
			bad, err := chromedp.Run(ctx, chromedp.Evaluate[int64](`document.querySelectorAll('script, [onerror], a[href^="javascript:"], a[href^="data:"]').length`))
			if err != nil {
				t.Fatal(err)
			}
			if bad != 0 {
				t.Errorf("%d script elements, event handlers or script links in the page", bad)
			}
			reqMu.Lock()
			defer reqMu.Unlock()
			if len(requests) == 0 {
				t.Error("no network events seen: the listener is not working")
			}
			for _, u := range requests {
				if !strings.HasPrefix(u, srv.URL+"/") && !strings.HasPrefix(u, "data:") {
					t.Errorf("remote request to %s", u)
				}
			}
		})
	}
}

// hasLogoBlue reports whether the PNG shows the logo's blue (#1d4ed8).
func hasLogoBlue(t *testing.T, b []byte) bool {
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	n := 0
	bounds := img.Bounds()
	for y := bounds.Min.Y; y < min(bounds.Max.Y, 200); y++ {
		for x := bounds.Min.X; x < bounds.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if near(r>>8, 0x1d) && near(g>>8, 0x4e) && near(bl>>8, 0xd8) {
				n++
			}
		}
	}
	return n > 400 // most of a 40x40 logo
}

func near(a uint32, b uint32) bool { return a+6 >= b && a <= b+6 }
