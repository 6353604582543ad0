package analyze

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mediavec/mediavec/internal/testmedia"
	"github.com/mediavec/mediavec/internal/wordacc"
)

// A scanned book page indexed as a still clip (opencv-doc's
// imageTextN.png, about 12-pixel print) comes out as its words, once,
// for the whole clip.
func TestBookPageStillReadsWordForWord(t *testing.T) {
	a := newAnalyzer(t)
	clip := filepath.Join(t.TempDir(), "page.mp4")
	if out, err := exec.Command("ffmpeg", "-v", "error", "-y", "-loop", "1", "-i", filepath.Join(testmedia.OpenCV, "imageTextN.png"),
		"-t", "3", "-r", "25", "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2:color=white", "-c:v", "libx264", "-pix_fmt", "yuv420p", clip).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg (run scripts/setup: opencv-doc): %v: %s", err, out)
	}
	res, err := a.Source(t.Context(), clip, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var read []string
	for _, s := range res.Segments {
		if s.Modality == "ocr" {
			read = append(read, s.Text)
		}
	}
	if len(read) != 1 {
		t.Errorf("%d on-screen text segments, want the page once", len(read))
	}
	acc := wordacc.Accuracy(wordacc.Words(testmedia.ImageTextNWords), wordacc.Words(strings.Join(read, "\n")))
	t.Logf("imageTextN.png as a still clip: word accuracy %.3f", acc)
	if acc < 0.97 {
		t.Errorf("word accuracy %.3f, want ≥ 0.97; read:\n%s", acc, strings.Join(read, "\n"))
	}
}

// The same page photographed slightly turned (+4°, −6°) reads as well:
// the page is levelled before it is read.
func TestTurnedBookPageReads(t *testing.T) {
	a := newAnalyzer(t)
	for _, deg := range []string{"4", "-6"} {
		clip := filepath.Join(t.TempDir(), "page.mp4")
		turn := fmt.Sprintf("rotate=%s*PI/180:c=white:ow=rotw(%s*PI/180):oh=roth(%s*PI/180),pad=ceil(iw/2)*2:ceil(ih/2)*2:color=white", deg, deg, deg)
		if out, err := exec.Command("ffmpeg", "-v", "error", "-y", "-loop", "1", "-i", filepath.Join(testmedia.OpenCV, "imageTextN.png"),
			"-t", "3", "-r", "25", "-vf", turn, "-c:v", "libx264", "-pix_fmt", "yuv420p", clip).CombinedOutput(); err != nil {
			t.Fatalf("ffmpeg: %v: %s", err, out)
		}
		res, err := a.Source(t.Context(), clip, Options{})
		if err != nil {
			t.Fatal(err)
		}
		var read []string
		for _, s := range res.Segments {
			if s.Modality == "ocr" {
				read = append(read, s.Text)
			}
		}
		acc := wordacc.Accuracy(wordacc.Words(testmedia.ImageTextNWords), wordacc.Words(strings.Join(read, "\n")))
		t.Logf("imageTextN.png turned %s°: word accuracy %.3f", deg, acc)
		if acc < 0.95 {
			t.Errorf("turned %s°: word accuracy %.3f, want ≥ 0.95", deg, acc)
		}
	}
}

func TestSameWords(t *testing.T) {
	for _, c := range []struct {
		a, b string
		same bool
	}{
		{"BIG NEWS", "BIG\nNEWS", true},
		{"Dinner date  goes wrong", "Dinner date goes wrong", true},
		{"Dinner date goes wrong", "Dinner date went wrong", false},
		{"BIG NEWS", "NEWS BIG", false},
	} {
		if got := sameWords(c.a, c.b); got != c.same {
			t.Errorf("sameWords(%q, %q) = %v", c.a, c.b, got)
		}
	}
}
