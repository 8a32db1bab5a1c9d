package content

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"strings"
	"sync"
)

// An Image is an inline image: a part of the message that the HTML body
// shows with <img src="cid:ContentID">.
type Image struct {
	Name        string // e.g. "logo", "badge-critical"
	ContentID   string // without angle brackets
	ContentType string // "image/png"
	Data        []byte
}

// imageNames are the built-in images, in the order they are attached.
var imageNames = []string{"logo", "badge-critical", "badge-high", "badge-warning", "badge-low", "badge-info", "badge-ok", "badge-unknown"}

// builtinImages draws the built-in images by name, once, when first used.
var builtinImages = sync.OnceValue(drawImages)

// Images returns the built-in images: "logo" (an envelope, 96x96, shown
// at 48x48) and a round badge per severity ("badge-critical", "badge-high",
// "badge-warning", "badge-low", "badge-info", "badge-ok",
// "badge-unknown"; 32x32, shown at 12x12 or 16x16). They are drawn by
// code, so no file ships with the package and each is the same on every
// run.
func Images() []Image {
	images := builtinImages()
	out := make([]Image, 0, len(imageNames))
	for _, n := range imageNames {
		out = append(out, images[n])
	}
	return out
}

func imageNamed(name string) (Image, error) {
	img, ok := builtinImages()[name]
	if !ok {
		return Image{}, fmt.Errorf("no image %q (built-in images: %s)", name, strings.Join(imageNames, ", "))
	}
	return img, nil
}

// referencedImages returns the built-in images html refers to by cid.
func referencedImages(html string) []Image {
	images := builtinImages()
	var out []Image
	for _, n := range imageNames {
		img := images[n]
		if strings.Contains(html, "cid:"+img.ContentID) {
			out = append(out, img)
		}
	}
	return out
}

func drawImages() map[string]Image {
	images := map[string]Image{}
	add := func(name string, m image.Image) {
		var b bytes.Buffer
		if err := png.Encode(&b, m); err != nil {
			panic(err) // encoding an in-memory RGBA cannot fail
		}
		images[name] = Image{Name: name, ContentID: name + "@mailwarden", ContentType: "image/png", Data: b.Bytes()}
	}
	add("logo", drawLogo())
	for _, class := range []string{"critical", "high", "warning", "low", "info", "ok"} {
		add("badge-"+class, drawBadge(severityColors[class]))
	}
	add("badge-unknown", drawBadge(severityColors[""]))
	return images
}

func hexColor(s string) color.NRGBA {
	var r, g, b uint8
	fmt.Sscanf(s, "#%02x%02x%02x", &r, &g, &b)
	return color.NRGBA{r, g, b, 255}
}

// paint fills an n x n image by sampling inside() 4x4 times per pixel, so
// edges are smooth; inside returns the colour at (x, y) in [0,1)² and
// whether the point is painted.
func paint(n int, inside func(x, y float64) (color.NRGBA, bool)) *image.NRGBA {
	m := image.NewNRGBA(image.Rect(0, 0, n, n))
	const ss = 4
	for py := 0; py < n; py++ {
		for px := 0; px < n; px++ {
			var r, g, b, a float64
			for sy := 0; sy < ss; sy++ {
				for sx := 0; sx < ss; sx++ {
					x := (float64(px) + (float64(sx)+0.5)/ss) / float64(n)
					y := (float64(py) + (float64(sy)+0.5)/ss) / float64(n)
					if c, ok := inside(x, y); ok {
						r += float64(c.R)
						g += float64(c.G)
						b += float64(c.B)
						a++
					}
				}
			}
			if a > 0 {
				m.SetNRGBA(px, py, color.NRGBA{uint8(r / a), uint8(g / a), uint8(b / a), uint8(a * 255 / ss / ss)})
			}
		}
	}
	return m
}

// drawBadge draws a filled circle with a white ring, visible on light and
// dark backgrounds.
func drawBadge(hex string) image.Image {
	fill := hexColor(hex)
	white := color.NRGBA{255, 255, 255, 255}
	return paint(32, func(x, y float64) (color.NRGBA, bool) {
		d := math.Hypot(x-0.5, y-0.5)
		switch {
		case d < 0.36:
			return fill, true
		case d < 0.5:
			return white, true
		}
		return color.NRGBA{}, false
	})
}

// drawLogo draws a white envelope on a blue rounded square.
func drawLogo() image.Image {
	blue := hexColor("#1d4ed8")
	white := color.NRGBA{255, 255, 255, 255}
	return paint(96, func(x, y float64) (color.NRGBA, bool) {
		// Rounded square with corner radius 0.18.
		const r = 0.18
		cx, cy := math.Max(r-x, math.Max(0, x-(1-r))), math.Max(r-y, math.Max(0, y-(1-r)))
		if math.Hypot(cx, cy) > r {
			return color.NRGBA{}, false
		}
		// Envelope body from (0.2,0.3) to (0.8,0.7); border and flap
		// lines 0.05 wide.
		const l, t, rr, b, w = 0.2, 0.3, 0.8, 0.7, 0.05
		if x >= l && x <= rr && y >= t && y <= b {
			if x-l < w || rr-x < w || y-t < w || b-y < w {
				return white, true
			}
			// The flap: two lines from the top corners to (0.5, 0.52).
			fy := t + (0.52-t)*(1-math.Abs(x-0.5)/0.3)
			if math.Abs(y-fy) < w*0.7 {
				return white, true
			}
		}
		return blue, true
	})
}

// InlineImages returns html with each built-in image's cid: URL replaced by
// a data: URL, so that a browser shows the page without the message.
func InlineImages(html string) string {
	images := builtinImages()
	pairs := make([]string, 0, 2*len(imageNames))
	for _, n := range imageNames {
		img := images[n]
		pairs = append(pairs, "cid:"+img.ContentID, "data:"+img.ContentType+";base64,"+base64.StdEncoding.EncodeToString(img.Data))
	}
	return strings.NewReplacer(pairs...).Replace(html)
}

// HTMLInline returns the HTML body with its images as data: URLs instead
// of cid: URLs, for viewing in a browser (see InlineImages).
func (r *Rendered) HTMLInline() string { return InlineImages(r.HTML) }
