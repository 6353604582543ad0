package encoders

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"

	"github.com/otiai10/gosseract/v2"
	xdraw "golang.org/x/image/draw"
)

// Tesseract reads Latin-script text with Tesseract's LSTM engine
// (Debian's libtesseract and its English model, tesseract-ocr-eng): a
// printed page, or one line PP-OCR's detector found. PP-OCR's recogniser
// is a Chinese-and-English model that runs words together on small
// Latin print; Tesseract reads them as words.
//
// A gosseract client is not safe for concurrent use, so Tesseract keeps
// a pool of them, one per reader at a time.
type Tesseract struct {
	lang, tessdata string
	mu             sync.Mutex
	idle           []*gosseract.Client
}

// TesseractDataDirs are where Debian's tesseract-ocr-* packages put their
// models (TESSDATA_PREFIX wins).
var TesseractDataDirs = []string{"/usr/share/tesseract-ocr/5/tessdata", "/usr/share/tesseract-ocr/4.00/tessdata"}

// LoadTesseract finds the language's model and proves the engine reads
// with it.
func LoadTesseract(lang string) (*Tesseract, error) {
	dirs := TesseractDataDirs
	if p := os.Getenv("TESSDATA_PREFIX"); p != "" {
		dirs = append([]string{p}, dirs...)
	}
	t := &Tesseract{lang: lang}
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, lang+".traineddata")); err == nil {
			t.tessdata = d
			break
		}
	}
	if t.tessdata == "" {
		return nil, &Error{Model: "tesseract", Op: "load", Err: fmt.Errorf("no %s.traineddata in %v (run scripts/setup: it installs tesseract-ocr-%s)", lang, dirs, lang)}
	}
	c, err := t.client()
	if err != nil {
		return nil, err
	}
	t.put(c)
	return t, nil
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
	if err := c.SetLanguage(t.lang); err != nil {
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

// tessMinHeight is the smallest text-line height Tesseract is given:
// its LSTM reads best with capitals some 30 pixels tall, and small print
// scaled up to that reads far better than as it is.
const tessMinHeight = 48

// ReadPage reads a text-dense image (a page, a slide) with Tesseract's
// own layout analysis, and returns its lines top to bottom with their
// boxes in the image's pixels and Tesseract's confidence in [0, 1].
func (t *Tesseract) ReadPage(rgb []byte, w, h int, lineHeight int) ([]TextLine, error) {
	scale := 1
	if lineHeight > 0 && lineHeight < tessMinHeight {
		scale = min(4, (tessMinHeight+lineHeight-1)/lineHeight)
	}
	lines, err := t.read(rgb, w, h, image.Rect(0, 0, w, h), scale, gosseract.PSM_AUTO, gosseract.RIL_TEXTLINE)
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
	scale := 1
	if box.Dy() < tessMinHeight {
		scale = min(4, (tessMinHeight+box.Dy()-1)/box.Dy())
	}
	lines, err := t.read(rgb, w, h, r, scale, gosseract.PSM_SINGLE_LINE, gosseract.RIL_TEXTLINE)
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

// read gives Tesseract the part r of the image, scaled by scale, in the
// page segmentation mode psm, and returns the blocks of level ril.
func (t *Tesseract) read(rgb []byte, w, h int, r image.Rectangle, scale int, psm gosseract.PageSegMode, ril gosseract.PageIteratorLevel) ([]TextLine, error) {
	src := image.NewRGBA(image.Rect(0, 0, r.Dx(), r.Dy()))
	for y := range r.Dy() {
		for x := range r.Dx() {
			s := ((r.Min.Y+y)*w + r.Min.X + x) * 3
			o := src.PixOffset(x, y)
			src.Pix[o], src.Pix[o+1], src.Pix[o+2], src.Pix[o+3] = rgb[s], rgb[s+1], rgb[s+2], 255
		}
	}
	// Tesseract's LSTM was trained on dark print on light paper: light
	// text on a dark ground (most captions) is turned over first.
	if psm == gosseract.PSM_SINGLE_LINE && meanLuma(src) < 128 {
		for i := 0; i < len(src.Pix); i += 4 {
			src.Pix[i], src.Pix[i+1], src.Pix[i+2] = 255-src.Pix[i], 255-src.Pix[i+1], 255-src.Pix[i+2]
		}
	}
	img := src
	if scale > 1 {
		// Smooth strokes, not blocks: Tesseract's LSTM reads an
		// interpolated enlargement far better than a pixel-doubled one.
		img = image.NewRGBA(image.Rect(0, 0, r.Dx()*scale, r.Dy()*scale))
		xdraw.CatmullRom.Scale(img, img.Rect, src, src.Rect, xdraw.Src, nil)
	}
	var buf bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.NoCompression}).Encode(&buf, img); err != nil {
		return nil, err
	}
	c, err := t.client()
	if err != nil {
		return nil, err
	}
	defer t.put(c)
	if err := c.SetPageSegMode(psm); err != nil {
		return nil, err
	}
	if err := c.SetImageFromBytes(buf.Bytes()); err != nil {
		return nil, err
	}
	boxes, err := c.GetBoundingBoxes(ril)
	if err != nil {
		return nil, err
	}
	var lines []TextLine
	for _, b := range boxes {
		text := strings.Join(strings.Fields(b.Word), " ")
		if text == "" {
			continue
		}
		box := image.Rect(r.Min.X+b.Box.Min.X/scale, r.Min.Y+b.Box.Min.Y/scale, r.Min.X+b.Box.Max.X/scale, r.Min.Y+b.Box.Max.Y/scale)
		lines = append(lines, TextLine{Text: text, Box: box, Confidence: float32(b.Confidence / 100)})
	}
	return lines, nil
}

func meanLuma(img *image.RGBA) float64 {
	var sum float64
	for i := 0; i < len(img.Pix); i += 4 {
		sum += 0.299*float64(img.Pix[i]) + 0.587*float64(img.Pix[i+1]) + 0.114*float64(img.Pix[i+2])
	}
	return sum / float64(max(1, len(img.Pix)/4))
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
