package encoders

import (
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"github.com/mediavec/mediavec/internal/testmedia"
)

func loadOCR(t *testing.T) *OCR {
	t.Helper()
	if err := InitRuntime(DefaultORTLib()); err != nil {
		t.Fatalf("%v (run scripts/setup)", err)
	}
	o, err := LoadOCR(DefaultModelsDir(), OCRConfig{}, SessionConfig{IntraOpThreads: 2})
	if err != nil {
		t.Fatalf("%v (run scripts/setup)", err)
	}
	t.Cleanup(func() { o.Close() })
	return o
}

// renderText draws text with the ffmpeg CLI's drawtext on a background
// and returns the frame as RGB24.
func renderText(t testing.TB, bg, filter string, w, h int) ([]byte, int, int) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "frame.png")
	sep := "="
	if strings.Contains(bg, "=") {
		sep = ":"
	}
	cmd := exec.Command("ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", bg+sep+"size="+itoa(w)+"x"+itoa(h),
		"-vf", filter, "-frames:v", "1", p)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v: %s", err, out)
	}
	return readPNG(t, p)
}

func itoa(i int) string { return strconv.Itoa(i) }

const testFont = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"

func drawtext(text string, size int, color, extra string) string {
	return "drawtext=fontfile=" + testFont + ":text='" + text + "':fontsize=" + itoa(size) + ":fontcolor=" + color + ":x=(w-tw)/2:y=(h-th)/2" + extra
}

// normalized keeps letters and digits, lower-cased: OCR is scored on
// characters, case-insensitive, spaces ignored.
func normalized(s string) []rune {
	var out []rune
	for _, r := range strings.ToLower(s) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsPunct(r) {
			out = append(out, r)
		}
	}
	return out
}

// lcs is the length of the longest common subsequence: the characters
// read right, in order.
func lcs(a, b []rune) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for i := range a {
		for j := range b {
			if a[i] == b[j] {
				cur[j+1] = prev[j] + 1
			} else {
				cur[j+1] = max(cur[j], prev[j+1])
			}
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func TestOCRReadsRenderedText(t *testing.T) {
	o := loadOCR(t)
	cases := []struct {
		name, bg, text string
		size           int
		color, extra   string
	}{
		{"white on black", "color=c=black", "HELLO WORLD 2026", 56, "white", ""},
		{"black on white", "color=c=white", "Summer sale - 50 off", 40, "black", ""},
		{"yellow in a box on colour bars", "smptehdbars", "Subscribe for more videos", 30, "yellow", ":box=1:boxcolor=black@0.7:boxborderw=8"},
		{"small white on blue", "color=c=0x1040a0", "mediavec reads on-screen text", 24, "white", ""},
	}
	total, got := 0, 0
	for _, c := range cases {
		rgb, w, h := renderText(t, c.bg, drawtext(c.text, c.size, c.color, c.extra), 640, 360)
		lines, err := o.Read(rgb, w, h)
		if err != nil {
			t.Fatal(err)
		}
		var read []string
		for _, l := range lines {
			read = append(read, l.Text)
			if l.Box.Empty() || l.Confidence <= 0 || l.Confidence > 1 {
				t.Errorf("%s: line %+v", c.name, l)
			}
		}
		want, have := normalized(c.text), normalized(strings.Join(read, " "))
		n := lcs(want, have)
		total += len(want)
		got += n
		t.Logf("%s: read %q (%d/%d characters)", c.name, read, n, len(want))
		// The words come back as words, for the lexical index.
		tokens := Tokens(strings.Join(read, " "))
		for _, word := range Tokens(c.text) {
			if len(word) >= 4 && !slices.Contains(tokens, word) {
				t.Errorf("%s: the word %q is not among the tokens read, %q", c.name, word, tokens)
			}
		}
		// Reading what is not there counts against it too.
		if extra := len(have) - n; extra > len(want)/10 {
			t.Errorf("%s: %d characters read that are not in the text", c.name, extra)
		}
	}
	if share := float64(got) / float64(total); share < 0.9 {
		t.Errorf("characters read: %d of %d (%.1f%%), want ≥ 90%%", got, total, 100*share)
	} else {
		t.Logf("characters read: %d of %d (%.1f%%)", got, total, 100*share)
	}

	// No text, no lines (and no recogniser run).
	rgb, w, h := renderText(t, "color=c=gray", "null", 640, 360)
	if lines, err := o.Read(rgb, w, h); err != nil || len(lines) != 0 {
		t.Errorf("a blank frame: %v %v", lines, err)
	}
}

func TestOutlineMarks(t *testing.T) {
	for in, want := range map[string]string{
		"People crossing the’square": "People crossing the square",
		"the’ square":                "the’ square",
		"don't stop, it’s fine":      "don't stop, it’s fine",
		"we’re here":                 "we’re here",
		"Rock 'n' roll":              "Rock 'n' roll",
	} {
		if got := outlineMarks(in); got != want {
			t.Errorf("outlineMarks(%q) = %q, want %q", in, got, want)
		}
	}
}

// A caption held on screen while the picture under it changes is read by
// Tesseract once: the next frame's PP-OCR reading is the same, and the
// memo gives back the first frame's fused reading.
func TestReadMemoReadsAHeldCaptionOnce(t *testing.T) {
	o := loadOCR(t)
	caption := drawtext("Receita fácil de pão de queijo", 30, "white", ":borderw=3:bordercolor=black")
	var memo ReadMemo
	var first []TextLine
	before := o.latin.reads.Load()
	for i, bg := range []string{"color=c=0x3060a0", "color=c=0x406030", "color=c=0x3060a0"} {
		rgb, w, h := renderText(t, bg, caption, 640, 360)
		lines, err := o.ReadWith(&memo, rgb, w, h)
		if err != nil || len(lines) != 1 {
			t.Fatalf("frame %d: %v, %v", i, lines, err)
		}
		if i == 0 {
			first = lines
		} else if lines[0].Text != first[0].Text {
			t.Errorf("frame %d read %q, the first %q", i, lines[0].Text, first[0].Text)
		}
	}
	if n := o.latin.reads.Load() - before; n != 1 {
		t.Errorf("Tesseract read %d images for one caption held over three frames, want 1", n)
	}
	t.Logf("read %q", first[0].Text)
}

// Tesseract reads only the lines PP-OCR's recogniser cannot be trusted
// with: none on a frame of real video without text, none on a caption of
// plain English words, one on a Spanish caption (its accents).
func TestTesseractReadsOnlyWhatPPOCRCannot(t *testing.T) {
	o := loadOCR(t)
	frame := func(t *testing.T, vf string) ([]byte, int, int) {
		p := filepath.Join(t.TempDir(), "frame.png")
		if out, err := exec.Command("ffmpeg", "-v", "error", "-y", "-ss", "3", "-i", filepath.Join(testmedia.OpenCV, "vtest.avi"), "-frames:v", "1",
			"-vf", "scale=640:-2"+vf, p).CombinedOutput(); err != nil {
			t.Fatalf("ffmpeg (run scripts/setup: opencv-doc): %v: %s", err, out)
		}
		return readPNG(t, p)
	}
	caption := func(text string, size int) string {
		return "," + drawtext(text, size, "white", ":borderw=3:bordercolor=black")
	}
	for _, c := range []struct {
		name, vf string
		reads    int64
	}{
		{"no text", "", 0},
		{"plain English", caption("Best moments of the week", 30), 0},
		{"Spanish", caption("La canción del año", 30), 1},
	} {
		rgb, w, h := frame(t, c.vf)
		before := o.latin.reads.Load()
		lines, err := o.Read(rgb, w, h)
		if err != nil {
			t.Fatal(err)
		}
		if n := o.latin.reads.Load() - before; n != c.reads {
			t.Errorf("%s: Tesseract read %d lines, want %d (read %v)", c.name, n, c.reads, lines)
		}
	}
}
