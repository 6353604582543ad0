package analyze

import (
	"fmt"
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
	clip := testmedia.StillClip(t, t.TempDir(), filepath.Join(testmedia.OpenCV, "imageTextN.png"), "")
	res, err := a.Source(t.Context(), clip, Options{})
	if err != nil {
		t.Fatal(err)
	}
	read := ocrTexts(res)
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
// the page is levelled before it is read. So does the page a quarter,
// half or three-quarter turn round (a phone held sideways, a scan upside
// down): Tesseract's orientation detection turns it upright.
func TestTurnedBookPageReads(t *testing.T) {
	a := newAnalyzer(t)
	tilt := func(deg string) string {
		return fmt.Sprintf("rotate=%s*PI/180:c=white:ow=rotw(%s*PI/180):oh=roth(%s*PI/180)", deg, deg, deg)
	}
	for _, turn := range []struct{ name, vf string }{
		{"+4°", tilt("4")},
		{"−6°", tilt("-6")},
		{"90° clockwise", "transpose=clock"},
		{"180°", "hflip,vflip"},
		{"90° counter-clockwise", "transpose=cclock"},
	} {
		clip := testmedia.StillClip(t, t.TempDir(), filepath.Join(testmedia.OpenCV, "imageTextN.png"), turn.vf)
		res, err := a.Source(t.Context(), clip, Options{})
		if err != nil {
			t.Fatal(err)
		}
		read := ocrTexts(res)
		acc := wordacc.Accuracy(wordacc.Words(testmedia.ImageTextNWords), wordacc.Words(strings.Join(read, "\n")))
		t.Logf("imageTextN.png turned %s: word accuracy %.3f", turn.name, acc)
		if acc < 0.95 {
			t.Errorf("turned %s: word accuracy %.3f, want ≥ 0.95", turn.name, acc)
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
