package search

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/mediavec/mediavec/encoders"
	"github.com/mediavec/mediavec/internal/testmedia"
)

// Text search finds on-screen text by its phrases: a scanned book page
// (opencv-doc's imageTextN.png, about 12-pixel print) indexed as a still
// clip, and captions burned into opencv-doc's real videos, among the same
// media without them.
func TestSearchFindsOnScreenTextByPhrase(t *testing.T) {
	h := sentenceHarness(t, onScreenText)
	dir := t.TempDir()
	clip := func(name string, args ...string) string {
		out := filepath.Join(dir, name+".mp4")
		cmd := exec.Command("ffmpeg", append(append([]string{"-v", "error", "-y"}, args...), "-t", "3", "-an", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-r", "25", out)...)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("ffmpeg (run scripts/setup): %v: %s", err, b)
		}
		return out
	}
	caption := func(text string) string {
		return fmt.Sprintf("scale=640:-2,drawtext=fontfile=/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf:fontsize=30:text='%s':fontcolor=white:borderw=3:bordercolor=black:x=(w-tw)/2:y=h-th-40", text)
	}
	spaces := []string{encoders.SpaceTextLexical, encoders.SpaceTextUSE}
	h.Add("page", testmedia.StillClip(t, dir, filepath.Join(testmedia.OpenCV, "imageTextN.png"), ""), "", spaces...)
	h.Add("lecture", clip("lecture", "-i", filepath.Join(testmedia.OpenCV, "vtest.avi"), "-vf", caption("Students walking to the morning lecture")), "", spaces...)
	h.Add("dinner", clip("dinner", "-i", filepath.Join(testmedia.OpenCV, "Megamind.avi"), "-vf", caption("Dinner date goes wrong")), "", spaces...)
	h.Add("campus", clip("campus", "-i", filepath.Join(testmedia.OpenCV, "vtest.avi"), "-vf", "scale=640:-2"), "", spaces...)
	h.Add("cartoon", clip("cartoon", "-i", filepath.Join(testmedia.OpenCV, "Megamind.avi"), "-vf", "scale=640:-2"), "", spaces...)
	for query, want := range map[string]string{
		"conference papers":          "page",
		"personal photographs":       "page",
		"computer vision problems":   "page",
		"morning lecture":            "lecture",
		"students walking":           "lecture",
		"dinner date":                "dinner",
		"the date goes wrong":        "dinner",
		"real-world imagery variety": "page",
	} {
		resp, err := h.searcher.Text(t.Context(), query, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Results) == 0 || resp.Results[0].VideoID != want {
			var got []string
			for _, r := range resp.Results {
				got = append(got, fmt.Sprintf("%s %.3f", r.VideoID, r.Score))
			}
			t.Errorf("%q: %v, want %s first", query, got, want)
		}
	}
}
