package analyze

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/mediavec/mediavec/decode"
	"github.com/mediavec/mediavec/encoders"
	"github.com/mediavec/mediavec/internal/testmedia"
	"github.com/mediavec/mediavec/internal/wordacc"
)

// Fonts from Debian packages scripts/setup installs.
const (
	fontDejaVuSans   = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"           // fonts-dejavu-core
	fontLiberation   = "/usr/share/fonts/truetype/liberation2/LiberationSerif-Bold.ttf" // fonts-liberation2
	fontFreeSans     = "/usr/share/fonts/truetype/freefont/FreeSans.ttf"                // fonts-freefont-ttf
	fontDejaVuMono   = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf"       // fonts-dejavu-core
	fontWenQuanYiCJK = "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"                   // fonts-wqy-zenhei
)

// captionStyle is one way a caption is burned into a video.
type captionStyle struct {
	name    string
	video   string // opencv-doc video under it
	font    string
	size    int
	text    string
	chinese string // a Chinese line above the caption, when set
	// draw is the caption's drawtext options after its font, size and
	// text; angle, when set, rotates the caption (degrees).
	draw  string
	angle float64
}

var captionStyles = []captionStyle{
	{name: "white outline, DejaVu Sans 28", video: "vtest.avi", font: fontDejaVuSans, size: 28, text: "Students walking to the morning lecture",
		draw: "fontcolor=white:borderw=3:bordercolor=black:x=(w-tw)/2:y=h-th-40"},
	{name: "yellow on a box, Liberation Serif 40", video: "Megamind.avi", font: fontLiberation, size: 40, text: "Dinner date goes wrong",
		draw: "fontcolor=yellow:box=1:boxcolor=black@0.7:boxborderw=10:x=(w-tw)/2:y=h-th-40"},
	{name: "small white outline, FreeSans 18", video: "Megamind.avi", font: fontFreeSans, size: 18, text: "subscribe for more funny cartoon moments every week",
		draw: "fontcolor=white:borderw=2:bordercolor=black:x=(w-tw)/2:y=h-th-24"},
	{name: "large white outline, DejaVu Sans Mono 64", video: "vtest.avi", font: fontDejaVuMono, size: 64, text: "BIG NEWS",
		draw: "fontcolor=white:borderw=4:bordercolor=black:x=(w-tw)/2:y=h/3"},
	{name: "moving across, DejaVu Sans 32", video: "vtest.avi", font: fontDejaVuSans, size: 32, text: "Campus tour starts now",
		draw: "fontcolor=white:borderw=3:bordercolor=black:x=20+t*40:y=h/2"},
	{name: "rotated +10°, Liberation Serif 36", video: "Megamind.avi", font: fontLiberation, size: 36, text: "Best scene of the movie",
		draw: "fontcolor=white:borderw=3:bordercolor=black", angle: 10},
	{name: "rotated −10°, FreeSans 36", video: "vtest.avi", font: fontFreeSans, size: 36, text: "People crossing the square",
		draw: "fontcolor=white:borderw=3:bordercolor=black", angle: -10},
	{name: "Chinese line over an English one", video: "Megamind.avi", font: fontDejaVuSans, size: 30, text: "Welcome to my channel", chinese: "欢迎来到我的频道",
		draw: "fontcolor=white:borderw=3:bordercolor=black:x=(w-tw)/2:y=h-th-40"},
}

// escapeDrawtext quotes text for a drawtext option.
func escapeDrawtext(s string) string {
	return strings.NewReplacer(`\`, `\\`, `'`, `\'`, `:`, `\:`).Replace(s)
}

// captionClip burns the style's caption into 4 s of its real video.
func captionClip(t *testing.T, dir string, i int, st captionStyle) string {
	t.Helper()
	out := filepath.Join(dir, fmt.Sprintf("caption%d.mp4", i))
	text := fmt.Sprintf("drawtext=fontfile=%s:fontsize=%d:text='%s':%s", st.font, st.size, escapeDrawtext(st.text), st.draw)
	var graph string
	switch {
	case st.angle != 0:
		// Drawn on a transparent canvas, turned, laid over the video.
		graph = fmt.Sprintf("[0:v]scale=640:-2,setsar=1[v];color=black@0:size=600x120,format=rgba,%s:x=(w-tw)/2:y=(h-th)/2,rotate=%f*PI/180:c=none:ow=rotw(%f*PI/180):oh=roth(%f*PI/180)[c];[v][c]overlay=(W-w)/2:H-h-30:shortest=1",
			text, st.angle, st.angle, st.angle)
	case st.chinese != "":
		graph = fmt.Sprintf("[0:v]scale=640:-2,setsar=1,drawtext=fontfile=%s:fontsize=%d:text='%s':fontcolor=white:borderw=3:bordercolor=black:x=(w-tw)/2:y=h-th-100,%s",
			fontWenQuanYiCJK, st.size, st.chinese, text)
	default:
		graph = "[0:v]scale=640:-2,setsar=1," + text
	}
	cmd := exec.Command("ffmpeg", "-v", "error", "-y", "-i", filepath.Join(testmedia.OpenCV, st.video), "-t", "4",
		"-filter_complex", graph, "-an", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-r", "25", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg (run scripts/setup: opencv-doc and the fonts): %v: %s", err, b)
	}
	return out
}

func hanChars(s string) []string {
	var out []string
	for _, r := range s {
		if unicode.Is(unicode.Han, r) {
			out = append(out, string(r))
		}
	}
	return out
}

// Captions burned into real video in the ways people burn them — several
// fonts and sizes, an outline, a box, moving, turned ±10°, under a
// Chinese line — read word for word: each reading of a caption is scored
// against its text (word accuracy for Latin script, character accuracy
// for Chinese), printed per style.
func TestCaptionsOverRealVideo(t *testing.T) {
	a := newAnalyzer(t)
	dir := t.TempDir()
	var latin, han []float64
	for i, st := range captionStyles {
		res, err := a.Source(t.Context(), captionClip(t, dir, i, st), Options{})
		if err != nil {
			t.Fatal(err)
		}
		readings := ocrTexts(res)
		ref := wordacc.Words(st.text)
		acc, hanAcc := 0.0, 0.0
		for _, r := range readings {
			acc += max(0, wordacc.Accuracy(ref, wordacc.Words(latinPart(r))))
			if st.chinese != "" {
				hanAcc += max(0, wordacc.Accuracy(hanChars(st.chinese), hanChars(r)))
			}
		}
		if n := float64(len(readings)); n > 0 {
			acc /= n
			hanAcc /= n
		}
		latin = append(latin, acc)
		line := fmt.Sprintf("%-40s word accuracy %.3f", st.name, acc)
		if st.chinese != "" {
			han = append(han, hanAcc)
			line += fmt.Sprintf(", Chinese character accuracy %.3f", hanAcc)
		}
		t.Logf("%s  (%d readings: %q)", line, len(readings), readings)
	}
	mean := func(xs []float64) float64 {
		s := 0.0
		for _, x := range xs {
			s += x
		}
		return s / float64(len(xs))
	}
	t.Logf("Latin word accuracy %.3f over %d styles; Chinese character accuracy %.3f", mean(latin), len(latin), mean(han))
	if mean(latin) < 0.95 {
		t.Errorf("Latin word accuracy %.3f, want ≥ 0.95", mean(latin))
	}
	if mean(han) < 0.9 {
		t.Errorf("Chinese character accuracy %.3f, want ≥ 0.9", mean(han))
	}
}

// latinPart drops the Han characters of a reading.
func latinPart(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.Is(unicode.Han, r) {
			return ' '
		}
		return r
	}, s)
}

// Captions that come on screen a word at a time, the two ways short-video
// editors animate them — growing ("Wait", "Wait for", …) and one word
// replacing the last — are each one on-screen text segment of the whole
// phrase, and keep when each word came on screen, to the OCR's reading
// interval (here frames sampled at 2 fps, each read).
func TestWordByWordCaptionsKeepWordTimes(t *testing.T) {
	policy, err := decode.ParsePolicy("fps=2")
	if err != nil {
		t.Fatal(err)
	}
	a := newAnalyzerWith(t, Config{Decode: decode.Config{Sampling: policy}, OCREvery: 1})
	words := []string{"Wait", "for", "the", "best", "part"}
	for _, style := range []string{"growing", "replacing"} {
		// Word i comes on screen at i seconds; the clip ends at 6 s.
		var draws []string
		for i := range words {
			text := words[i]
			if style == "growing" {
				text = strings.Join(words[:i+1], " ")
			}
			end := i + 1
			if style == "growing" && i == len(words)-1 || style == "replacing" && i == len(words)-1 {
				end = 6
			}
			draws = append(draws, fmt.Sprintf("drawtext=fontfile=%s:fontsize=40:text='%s':fontcolor=white:borderw=3:bordercolor=black:x=(w-tw)/2:y=h-th-50:enable='gte(t,%d)*lt(t,%d)'",
				fontDejaVuSans, text, i, end))
		}
		clip := filepath.Join(t.TempDir(), style+".mp4")
		cmd := exec.Command("ffmpeg", "-v", "error", "-y", "-i", filepath.Join(testmedia.OpenCV, "vtest.avi"), "-t", "6",
			"-vf", "scale=640:-2,setsar=1,"+strings.Join(draws, ","), "-an", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-r", "25", clip)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("ffmpeg (run scripts/setup: opencv-doc): %v: %s", err, b)
		}
		res, err := a.Source(t.Context(), clip, Options{})
		if err != nil {
			t.Fatal(err)
		}
		var lexical []Segment
		for _, s := range ocrSegments(res) {
			if s.Space == encoders.SpaceTextLexical {
				lexical = append(lexical, s)
			}
		}
		if len(lexical) != 1 {
			t.Fatalf("%s: %d on-screen text segments %+v, want the phrase once", style, len(lexical), lexical)
		}
		s := lexical[0]
		t.Logf("%s: %q over %v–%v, words %+v", style, s.Text, s.Start, s.End, s.Words)
		if s.Confidence < 0.5 || s.Confidence > 1 {
			t.Errorf("%s: confidence %v, want a sure reading's", style, s.Confidence)
		}
		if acc := wordacc.Accuracy(wordacc.Words(strings.Join(words, " ")), wordacc.Words(s.Text)); acc < 1 {
			t.Errorf("%s: read %q, want %q", style, s.Text, strings.Join(words, " "))
		}
		if len(s.Words) != len(words) {
			t.Fatalf("%s: %d timed words, want %d", style, len(s.Words), len(words))
		}
		for i, w := range s.Words {
			// Read every 0.5 s: a word is seen by the first read at or
			// after it appears.
			at := time.Duration(i) * time.Second
			if w.Start < at || w.Start > at+500*time.Millisecond {
				t.Errorf("%s: word %q comes on screen at %v, want %v", style, w.Text, w.Start, at)
			}
			wantEnd := time.Duration(i+1) * time.Second
			if style == "growing" || i == len(words)-1 {
				wantEnd = 6 * time.Second
			}
			if w.End < wantEnd-500*time.Millisecond || w.End > wantEnd+500*time.Millisecond {
				t.Errorf("%s: word %q leaves the screen at %v, want %v", style, w.Text, w.End, wantEnd)
			}
		}
	}
}
