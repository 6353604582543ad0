package encoders

import (
	"errors"
	"fmt"
	"image"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/otiai10/gosseract/v2"
	xdraw "golang.org/x/image/draw"
)

// Tesseract reads Latin-script text with Tesseract's LSTM engine
// (Debian's libtesseract, with its Latin-script model or language models
// from Debian's tesseract-ocr-* packages): a printed page, or one line
// PP-OCR's detector found. PP-OCR's recogniser is a Chinese-and-English
// model that runs words together on small Latin print and drops accents;
// Tesseract reads them.
//
// A gosseract client is not safe for concurrent use, so Tesseract keeps
// a pool of them, one per reader at a time.
type Tesseract struct {
	langs    []string
	tessdata string
	mu       sync.Mutex
	idle     []*gosseract.Client
	reads    atomic.Int64 // images given to the engine
}

// TesseractDataDirs are where Debian's tesseract-ocr-* packages put their
// models (TESSDATA_PREFIX wins).
var TesseractDataDirs = []string{"/usr/share/tesseract-ocr/5/tessdata", "/usr/share/tesseract-ocr/4.00/tessdata"}

// LoadTesseract finds the languages' models (Tesseract's codes: eng, spa,
// por, …; the first leads, the others are tried on words it is unsure of)
// in one tessdata folder and proves the engine reads with them.
func LoadTesseract(langs ...string) (*Tesseract, error) {
	if len(langs) == 0 {
		return nil, &Error{Model: "tesseract", Op: "load", Err: errors.New("no language given")}
	}
	dirs := TesseractDataDirs
	if p := os.Getenv("TESSDATA_PREFIX"); p != "" {
		dirs = append([]string{p}, dirs...)
	}
	t := &Tesseract{langs: langs}
	var missing []string // from the first folder there is
	for _, d := range dirs {
		if _, err := os.Stat(d); err != nil {
			continue
		}
		var lacks []string
		for _, l := range langs {
			if _, err := os.Stat(filepath.Join(d, l+".traineddata")); err != nil {
				lacks = append(lacks, l)
			}
		}
		if len(lacks) == 0 {
			t.tessdata = d
			break
		}
		if missing == nil {
			missing = lacks
		}
	}
	if missing == nil {
		missing = langs
	}
	if t.tessdata == "" {
		return nil, &Error{Model: "tesseract", Op: "load", Err: fmt.Errorf("no model for %s in %v (install %s; scripts/setup installs the default's)",
			strings.Join(missing, ", "), dirs, tesseractPackage(missing[0]))}
	}
	// One read of a blank line loads the models now, not in the first
	// job, and proves they load.
	blank := make([]byte, 64*16*3)
	for i := range blank {
		blank[i] = 255
	}
	if _, err := t.read(blank, 64, 16, image.Rect(0, 0, 64, 16), 1, gosseract.PSM_SINGLE_LINE, gosseract.RIL_TEXTLINE); err != nil {
		t.Close()
		return nil, &Error{Model: "tesseract", Op: "load " + strings.Join(langs, "+"), Err: err}
	}
	return t, nil
}

// tesseractPackage is the Debian package of a Tesseract model: a
// language's is tesseract-ocr-LANG, a script's (capitalised: Latin,
// Cyrillic) tesseract-ocr-script-XXXX.
func tesseractPackage(model string) string {
	if scripts := map[string]string{"Latin": "latn", "Cyrillic": "cyrl", "Arabic": "arab", "Devanagari": "deva", "Greek": "grek"}; scripts[model] != "" {
		return "tesseract-ocr-script-" + scripts[model]
	}
	if model != "" && model[0] >= 'A' && model[0] <= 'Z' {
		return "the tesseract-ocr-script-* package of " + model
	}
	return "tesseract-ocr-" + model
}

func (t *Tesseract) client() (*gosseract.Client, error) {
	t.mu.Lock()
	if n := len(t.idle); n > 0 {
		c := t.idle[n-1]
		t.idle = t.idle[:n-1]
		t.mu.Unlock()
		return c, nil
	}
	t.mu.Unlock()
	c := gosseract.NewClient()
	if err := c.SetTessdataPrefix(t.tessdata); err != nil {
		c.Close()
		return nil, &Error{Model: "tesseract", Op: "load", Err: err}
	}
	if err := c.SetLanguage(t.langs...); err != nil {
		c.Close()
		return nil, &Error{Model: "tesseract", Op: "load", Err: err}
	}
	// Tesseract's notes ("Estimating resolution as 295") would go to the
	// worker's stderr with every page.
	if err := c.DisableOutput(); err != nil {
		c.Close()
		return nil, &Error{Model: "tesseract", Op: "load", Err: err}
	}
	// Tesseract would read a line it is unsure of again inverted; read
	// turns light text on a dark ground over itself, so that second
	// reading only costs time (a fifth of a caption line's).
	if err := c.SetVariable("tessedit_do_invert", "0"); err != nil {
		c.Close()
		return nil, &Error{Model: "tesseract", Op: "load", Err: err}
	}
	return c, nil
}

func (t *Tesseract) put(c *gosseract.Client) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.idle = append(t.idle, c)
}

// Close frees the engines.
func (t *Tesseract) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, c := range t.idle {
		c.Close()
	}
	t.idle = nil
	return nil
}

// edgeStrokes are what a line's surroundings read as at its ends.
const edgeStrokes = "|\\/_[]{}()~ "

// tessPageHeight and tessLineHeight are the smallest text-line heights
// Tesseract is given, on a page and alone: its LSTM reads best with
// capitals some 30 pixels tall, and small print enlarged to that reads
// far better than as it is. A page is enlarged by whole times (its
// layout analysis reads a 12-pixel book page best at four times); a line
// exactly to its height (36 captions in nine languages at 20–34 pixels:
// 0.968 of the characters at 40 pixels, 0.964 at whole times to 48,
// 0.963 as they are).
const (
	tessPageHeight = 48
	tessLineHeight = 40
)

// enlargement is the scale that brings a line height up to want, at most
// fourfold: whole times, or exactly.
func enlargement(height, want int, exact bool) float64 {
	if height <= 0 || height >= want {
		return 1
	}
	if exact {
		return min(4, float64(want)/float64(height))
	}
	return min(4, math.Ceil(float64(want)/float64(height)))
}

// ReadPage reads a text-dense image (a page, a slide) with Tesseract's
// own layout analysis after its orientation detection (a page turned a
// quarter or half turn reads upright; Debian's tesseract-ocr-osd), and
// returns its lines top to bottom with their boxes in the image's pixels
// and Tesseract's confidence in [0, 1].
func (t *Tesseract) ReadPage(rgb []byte, w, h int, lineHeight int) ([]TextLine, error) {
	lines, err := t.read(rgb, w, h, image.Rect(0, 0, w, h), enlargement(lineHeight, tessPageHeight, false), gosseract.PSM_AUTO_OSD, gosseract.RIL_TEXTLINE)
	if err != nil {
		return nil, &Error{Model: "tesseract", Op: "read page", Err: err}
	}
	return lines, nil
}

// ReadLine reads one line of text in box (padded, and scaled up when
// small), as one line.
func (t *Tesseract) ReadLine(rgb []byte, w, h int, box image.Rectangle) (TextLine, error) {
	pad := max(2, box.Dy()/4)
	r := image.Rect(box.Min.X-pad, box.Min.Y-pad, box.Max.X+pad, box.Max.Y+pad).Intersect(image.Rect(0, 0, w, h))
	lines, err := t.read(rgb, w, h, r, enlargement(box.Dy(), tessLineHeight, true), gosseract.PSM_SINGLE_LINE, gosseract.RIL_TEXTLINE)
	if err != nil {
		return TextLine{}, &Error{Model: "tesseract", Op: "read line", Err: err}
	}
	out := TextLine{Box: box}
	var conf float32
	for _, l := range lines {
		if out.Text != "" {
			out.Text += " "
		}
		out.Text += l.Text
		conf += l.Confidence
	}
	// The padding takes in what borders the line — a caption box's
	// edge, a frame — which Tesseract reads as strokes at its ends.
	out.Text = outlineMarks(strings.TrimSpace(strings.Trim(out.Text, edgeStrokes)))
	if len(lines) > 0 {
		out.Confidence = conf / float32(len(lines))
	}
	return out, nil
}

// read gives Tesseract the part r of the image in grey, scaled by scale
// (≥ 1), in the page segmentation mode psm, and returns the blocks of
// level ril.
func (t *Tesseract) read(rgb []byte, w, h int, r image.Rectangle, scale float64, psm gosseract.PageSegMode, ril gosseract.PageIteratorLevel) ([]TextLine, error) {
	src := image.NewGray(image.Rect(0, 0, r.Dx(), r.Dy()))
	sum := 0
	for y := range r.Dy() {
		row := rgb[((r.Min.Y+y)*w+r.Min.X)*3:]
		out := src.Pix[y*src.Stride : y*src.Stride+r.Dx()]
		for x := range out {
			p := row[3*x : 3*x+3]
			out[x] = uint8((299*int(p[0]) + 587*int(p[1]) + 114*int(p[2]) + 500) / 1000)
			sum += int(out[x])
		}
	}
	// Tesseract's LSTM was trained on dark print on light paper: light
	// text on a dark ground (most captions, a dark slide) is turned over
	// first.
	if sum < 128*len(src.Pix) {
		for i, v := range src.Pix {
			src.Pix[i] = 255 - v
		}
	}
	img := src
	if scale > 1 {
		// Smooth strokes, not blocks: Tesseract's LSTM reads an
		// interpolated enlargement far better than a pixel-doubled one.
		img = image.NewGray(image.Rect(0, 0, int(math.Round(float64(r.Dx())*scale)), int(math.Round(float64(r.Dy())*scale))))
		xdraw.CatmullRom.Scale(img, img.Rect, src, src.Rect, xdraw.Src, nil)
	}
	// A binary PGM: Leptonica reads it as it is, with no compression to
	// undo.
	pgm := fmt.Appendf(make([]byte, 0, len(img.Pix)+20), "P5\n%d %d\n255\n", img.Rect.Dx(), img.Rect.Dy())
	pgm = append(pgm, img.Pix...)
	c, err := t.client()
	if err != nil {
		return nil, err
	}
	defer t.put(c)
	if err := c.SetPageSegMode(psm); err != nil {
		return nil, err
	}
	if err := c.SetImageFromBytes(pgm); err != nil {
		return nil, err
	}
	t.reads.Add(1)
	var boxes []gosseract.BoundingBox
	if err := serially(func() (err error) {
		boxes, err = c.GetBoundingBoxes(ril)
		return err
	}); err != nil {
		return nil, err
	}
	var lines []TextLine
	at := func(v int) int { return int(float64(v) / scale) }
	for _, b := range boxes {
		text := strings.Join(strings.Fields(b.Word), " ")
		if text == "" {
			continue
		}
		box := image.Rect(r.Min.X+at(b.Box.Min.X), r.Min.Y+at(b.Box.Min.Y), r.Min.X+at(b.Box.Max.X), r.Min.Y+at(b.Box.Max.Y))
		lines = append(lines, TextLine{Text: text, Box: box, Confidence: float32(b.Confidence / 100)})
	}
	return lines, nil
}

// quoteMark is a mark Tesseract reads in the gap between two outlined
// words, where their outlines touch: an apostrophe or a quote glued
// between two lower-case words.
var quoteMark = regexp.MustCompile(`([a-z])['’‘` + "`" + `]+([a-z]+)`)

// contraction endings keep their apostrophe: don't, it's, we're, I've,
// we'll, he'd, I'm.
var contraction = map[string]bool{"t": true, "s": true, "re": true, "ve": true, "ll": true, "d": true, "m": true}

// outlineMarks turns a quote mark between two lower-case words into the
// space it stands for, unless it ends a contraction.
func outlineMarks(s string) string {
	return quoteMark.ReplaceAllStringFunc(s, func(m string) string {
		g := quoteMark.FindStringSubmatch(m)
		if contraction[g[2]] {
			return m
		}
		return g[1] + " " + g[2]
	})
}
