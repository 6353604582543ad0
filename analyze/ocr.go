package analyze

import (
	"context"
	"strings"
	"time"
	"unicode"

	"github.com/mediavec/mediavec/decode"
	"github.com/mediavec/mediavec/encoders"
)

// ocrStage reads on-screen text for the text spaces. It reads every
// every-th sampled frame at width pixels wide, at most maxFrames of them
// spread over the video, skips a frame that looks like the last one read
// (the same titles or captions held on screen), and merges a text held
// over several reads into one unit.
type ocrStage struct {
	ocr                     *encoders.OCR
	every, width, maxFrames int
	gateSide                int // textGate's; 0 reads every frame in full
}

// textGate spares the full text detection on frames without text: the
// detector is first run with the frame shrunk to side pixels (a quarter
// of the cost at 640 wide), and a frame it finds no text pixel in is not
// read. Captions and titles are found at that size; small print (a
// clock in a corner, a name on a shirt) is not. So the first frame of
// every shot, and every textGateEvery-th read, is read in full whatever
// the gate says, and when a full read finds text the gate did not see,
// the gate is off for the rest of the video.
type textGate struct {
	side   int // 0: off
	reads  int
	shot   []byte // grey image of the last frame read in full as a check
	checks bool   // the frame being read is a check
	blind  bool   // the gate missed this video's text
}

// textGateEvery is how often a read is a full one whatever the gate says;
// textGateMin is the detector's own threshold for a text pixel
// (encoders.DefaultOCRThreshold).
const (
	textGateEvery = 4
	textGateMin   = 0.3
)

// look reports whether the frame (its image to read, and its grey image)
// is to be read in full.
func (g *textGate) look(ocr *encoders.OCR, im decode.Image, grey []byte) (bool, error) {
	g.checks = g.reads%textGateEvery == 0 || g.shot == nil || newShot(g.shot, grey)
	g.reads++
	if g.checks {
		g.shot = grey
	}
	if g.side == 0 || g.blind || g.checks {
		return true, nil
	}
	sc, err := ocr.TextScore(im.Data, im.Spec.Width, im.Spec.Height, g.side)
	return sc >= textGateMin, err
}

// read takes what the full read of the frame found: text on a check the
// gate would not have seen turns the gate off.
func (g *textGate) read(ocr *encoders.OCR, im decode.Image, found bool) error {
	if !found || !g.checks || g.side == 0 || g.blind {
		return nil
	}
	sc, err := ocr.TextScore(im.Data, im.Spec.Width, im.Spec.Height, g.side)
	g.blind = sc < textGateMin
	return err
}

func (s *ocrStage) Name() string { return "ocr" }

// Spaces is empty: OCR feeds the text spaces.
func (s *ocrStage) Spaces() []SpaceInfo { return nil }

func (s *ocrStage) Loaded() bool { return s.ocr != nil }

func (s *ocrStage) Needs(r Request) (Needs, bool) {
	// At most maxFrames images, spread over the whole video: the memory
	// of a job stays bounded whatever its length.
	read := decode.FrameSpec{Width: s.width, Format: decode.RGB24, Every: s.every, MaxImages: s.maxFrames}
	return Needs{Frames: []decode.FrameSpec{read, greyFrame}}, r.Text
}

func (s *ocrStage) Run(ctx context.Context, in *Input, out *Output) error {
	var last []byte // grey image of the last frame read
	var run captionRun
	var memo encoders.ReadMemo
	gate := textGate{side: s.gateSide}
	reads := 0
	for _, f := range in.Frames(0) {
		grey := in.Image(f, 1).Data
		if last != nil && !changed(last, grey) {
			// Unchanged: what was read last holds on.
			run.hold(out.Units, f)
			continue
		}
		if reads == s.maxFrames {
			break
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		reads++
		last = grey
		look, err := gate.look(s.ocr, f.Image, grey)
		if err != nil {
			return err
		}
		if !look {
			continue // no text: nothing to add, and the run of text ends
		}
		lines, err := s.ocr.ReadWith(&memo, f.Image.Data, f.Image.Spec.Width, f.Image.Spec.Height)
		if err != nil {
			return err
		}
		if err := gate.read(s.ocr, f.Image, len(lines) > 0); err != nil {
			return err
		}
		parts := make([]string, len(lines))
		var conf float32
		for i, l := range lines {
			parts[i] = l.Text
			conf += l.Confidence / float32(len(lines))
		}
		out.Units = run.add(out.Units, f, strings.Join(parts, "\n"), conf)
	}
	untime(out.Units)
	return nil
}

// captionRun follows the on-screen text unit being built: the last one,
// while the frames read stay next to each other in time.
type captionRun struct {
	// onScreen counts the unit's last words that are on screen now: the
	// last reading's.
	onScreen int
	// letterTimes are when each letter (and digit) of the words on
	// screen came on screen, in order.
	letterTimes []time.Duration
	// stepwise says the unit came on screen a word or a phrase at a time.
	stepwise bool
	// conf is the OCR's confidence in the words on screen; wordConf its
	// confidence in each of the unit's words.
	conf     float32
	wordConf []float32
}

// maxStepWords is the most words a reading may have to be taken for one
// step of a caption shown a word or a phrase at a time; maxRunWords ends
// such a unit, so one unit stays a sentence or two.
const (
	maxStepWords = 3
	maxRunWords  = 24
)

// maxStepHold is the longest a step of a caption shown a word or a phrase
// at a time stays on screen: a short caption held longer is a caption of
// its own ("SUNSET SURFING" for four seconds, then "WINTER SKIING"). So
// steps are told apart only where frames are read more often than that
// (the default reads one every 2 s: --sampling fps=2 and more).
const maxStepHold = 1500 * time.Millisecond

// hold extends the last unit, and its words on screen, over f: nothing
// on screen changed.
func (r *captionRun) hold(units []TextUnit, f Frame) {
	n := len(units)
	if n == 0 || units[n-1].End != f.Start {
		return
	}
	u := &units[n-1]
	u.End = f.End
	for i := len(u.Words) - r.onScreen; i < len(u.Words); i++ {
		u.Words[i].End = f.End
	}
}

// add takes the text read at f.
//
// A reading whose letters (spaces and marks aside) are nearly those on
// screen is the same text held, read again: a frame caught in a fade or a
// blur reads outlined words run together ("Waitifor"), so the reading
// with more words, or as many read with more confidence (conf), is kept. Digits must agree: "Day 2"
// is not "Day 1" read again. A reading that begins with nearly the letters on screen
// is the caption grown ("Wait", "Wait for", "Wait for it"); a short one
// after a caption that came a few words at a time, and briefly, is its
// next step ("Wait", "for it"). Both are one unit, and its Words keep when each
// word came on screen: the time of its first letter. Anything else
// starts a new unit.
func (r *captionRun) add(units []TextUnit, f Frame, text string, conf float32) []TextUnit {
	words := strings.Fields(text)
	if len(words) == 0 {
		return units
	}
	if n := len(units); n > 0 && units[n-1].End == f.Start {
		u := &units[n-1]
		kept := len(u.Words) - r.onScreen
		times, grown, ok := carryTimes(foldLetters(unitText(u.Words[kept:])), r.letterTimes, foldLetters(text), f.Start)
		switch {
		case ok && !grown:
			r.hold(units, f)
			if (len(words) > r.onScreen || len(words) == r.onScreen && conf > r.conf) && !sameWords(unitText(u.Words[kept:]), text) {
				r.show(u, kept, words, times, f, conf)
			}
			return units
		case ok && kept+len(words) <= maxRunWords:
			r.hold(units, f)
			r.show(u, kept, words, times, f, conf)
			r.stepwise = true
			return units
		case r.stepwise && len(words) <= maxStepWords && len(u.Words)+len(words) <= maxRunWords && f.Start-u.Words[kept].Start <= maxStepHold:
			r.show(u, len(u.Words), words, nil, f, conf)
			return units
		}
	}
	*r = captionRun{stepwise: len(words) <= maxStepWords}
	units = append(units, TextUnit{Start: f.Start, End: f.End, Text: text, Modality: "ocr", Times: 1})
	r.show(&units[len(units)-1], 0, words, nil, f, conf)
	units[len(units)-1].Text = text // as read, line breaks and all
	return units
}

// show puts words on screen after the unit's first kept words: each from
// the time of its first letter in times (f's start where times is nil),
// on screen to f's end.
func (r *captionRun) show(u *TextUnit, kept int, words []string, times []time.Duration, f Frame, conf float32) {
	if times == nil {
		times = make([]time.Duration, len(foldLetters(strings.Join(words, ""))))
		for i := range times {
			times[i] = f.Start
		}
	}
	u.Words = u.Words[:kept]
	letter := 0
	for _, w := range words {
		start := f.Start
		if letter < len(times) {
			start = times[letter]
		}
		u.Words = append(u.Words, TimedWord{Text: w, Start: start, End: f.End})
		letter += len([]rune(foldLetters(w)))
	}
	r.onScreen, r.letterTimes, r.conf = len(words), times, conf
	r.wordConf = r.wordConf[:kept]
	var sum float32
	for range words {
		r.wordConf = append(r.wordConf, conf)
	}
	for _, c := range r.wordConf {
		sum += c
	}
	u.Confidence = sum / float32(len(r.wordConf))
	u.Text, u.End = unitText(u.Words), f.End
}

func unitText(words []TimedWord) string {
	parts := make([]string, len(words))
	for i, w := range words {
		parts[i] = w.Text
	}
	return strings.Join(parts, " ")
}

// carryTimes aligns the letters read now with those on screen before
// (was, which came on screen at wasTimes) and gives each letter read now
// its time: that of the letter it reads again, or at for a letter after
// them. ok says now reads was again, nearly (an edit distance of at most
// a quarter of was, and one), and grown that letters follow it.
func carryTimes(was string, wasTimes []time.Duration, now string, at time.Duration) (times []time.Duration, grown, ok bool) {
	a, b := []rune(was), []rune(now)
	if len(a) == 0 || len(b) == 0 || len(wasTimes) != len(a) {
		return nil, false, false
	}
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		if i > 0 {
			d[i][0] = d[i-1][0] + gapCost(a[i-1])
		}
	}
	for j := 1; j <= len(b); j++ {
		d[0][j] = d[0][j-1] + gapCost(b[j-1])
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			d[i][j] = min(d[i-1][j-1]+subCost(a[i-1], b[j-1]), d[i-1][j]+gapCost(a[i-1]), d[i][j-1]+gapCost(b[j-1]))
		}
	}
	// was may be read again by the whole of now or by its beginning: the
	// rest is new.
	end := len(b)
	for j := len(b) - 1; j >= 1; j-- {
		if d[len(a)][j] < d[len(a)][end] {
			end = j
		}
	}
	if d[len(a)][end] > max(1, len(a)/4) {
		return nil, false, false
	}
	times = make([]time.Duration, len(b))
	for j := end; j < len(b); j++ {
		times[j] = at
	}
	for i, j := len(a), end; j > 0; {
		switch {
		case i > 0 && d[i][j] == d[i-1][j-1]+subCost(a[i-1], b[j-1]):
			times[j-1] = wasTimes[i-1]
			i, j = i-1, j-1
		case i > 0 && d[i][j] == d[i-1][j]+gapCost(a[i-1]):
			i--
		default:
			times[j-1] = wasTimes[max(0, i-1)]
			j--
		}
	}
	return times, end < len(b), true
}

// subCost is what reading letter a as b costs, and gapCost what missing
// or adding r does: nothing for the same letter, one for another, more
// than a reading may differ by for a digit (a counter or a score moved
// on).
func subCost(a, b rune) int {
	switch {
	case a == b:
		return 0
	case unicode.IsDigit(a) || unicode.IsDigit(b):
		return digitCost
	}
	return 1
}

func gapCost(r rune) int {
	if unicode.IsDigit(r) {
		return digitCost
	}
	return 1
}

const digitCost = 1 << 20

// foldLetters keeps a text's letters and digits, lower-cased and without
// accents (encoders.FoldAccents, as search folds them): a letter read
// with a stray accent is the same letter.
func foldLetters(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return unicode.ToLower(r)
		}
		return -1
	}, encoders.FoldAccents(s))
}

// untime drops the word times of units shown whole: only a caption whose
// words came on screen at different times keeps them.
func untime(units []TextUnit) {
	for i := range units {
		whole := true
		for _, w := range units[i].Words {
			whole = whole && w.Start == units[i].Words[0].Start
		}
		if whole {
			units[i].Words = nil
		}
	}
}

// changed reports whether two 64×64 grey frames differ anywhere enough to
// hold different text: the largest mean absolute difference of their 8×8
// blocks is over 3 levels. A whole-frame mean would miss a caption that
// changes over a still background, which moves one block in twenty.
func changed(a, b []byte) bool {
	const side, block = encoders.FrameDCTInput, 8
	if len(a) != side*side || len(b) != side*side {
		return true
	}
	for by := 0; by < side; by += block {
		for bx := 0; bx < side; bx += block {
			sum := 0
			for y := by; y < by+block; y++ {
				for x := bx; x < bx+block; x++ {
					d := int(a[y*side+x]) - int(b[y*side+x])
					if d < 0 {
						d = -d
					}
					sum += d
				}
			}
			if sum > 3*block*block {
				return true
			}
		}
	}
	return false
}

// newShot reports whether two grey frames are of different shots: their
// mean absolute difference is at least the scenes sampling policy's cut
// (decode.DefaultSceneThreshold).
func newShot(a, b []byte) bool {
	if len(a) != len(b) || len(a) == 0 {
		return true
	}
	sum := 0
	for i := range a {
		d := int(a[i]) - int(b[i])
		if d < 0 {
			d = -d
		}
		sum += d
	}
	return float64(sum)/float64(len(a))/255 >= decode.DefaultSceneThreshold
}

// sameWords reports whether two readings hold the same words in the same
// order, whatever the line breaks and spacing between them.
func sameWords(a, b string) bool {
	return strings.Join(strings.Fields(a), " ") == strings.Join(strings.Fields(b), " ")
}
