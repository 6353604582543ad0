package analyze

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"unicode"

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
		var readings []string
		for _, s := range res.Segments {
			if s.Modality == "ocr" {
				readings = append(readings, s.Text)
			}
		}
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
