package encoders

import (
	"image"
	"image/draw"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mediavec/mediavec/internal/testmedia"
	"github.com/mediavec/mediavec/internal/wordacc"
)

func readPNG(t testing.TB, path string) ([]byte, int, int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("%v (run scripts/setup: it installs opencv-doc)", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	rgba := image.NewRGBA(img.Bounds())
	draw.Draw(rgba, rgba.Bounds(), img, img.Bounds().Min, draw.Src)
	w, h := rgba.Rect.Dx(), rgba.Rect.Dy()
	rgb := make([]byte, 0, w*h*3)
	for i := 0; i < len(rgba.Pix); i += 4 {
		rgb = append(rgb, rgba.Pix[i], rgba.Pix[i+1], rgba.Pix[i+2])
	}
	return rgb, w, h
}

// A scanned book page in small print reads word for word: Tesseract's
// layout analysis takes the page PP-OCR's detector found text-dense.
// PP-OCR's recogniser alone is measured beside it.
func TestOCRReadsABookPage(t *testing.T) {
	rgb, w, h := readPNG(t, filepath.Join(testmedia.OpenCV, "imageTextN.png"))
	ref := wordacc.Words(testmedia.ImageTextNWords)
	o := loadOCR(t)
	lines, err := o.Read(rgb, w, h)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range lines {
		got = append(got, l.Text)
	}
	acc := wordacc.Accuracy(ref, wordacc.Words(strings.Join(got, "\n")))

	alone, err := LoadOCR(DefaultModelsDir(), OCRConfig{NoTesseract: true}, SessionConfig{IntraOpThreads: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer alone.Close()
	lines, err = alone.Read(rgb, w, h)
	if err != nil {
		t.Fatal(err)
	}
	got = got[:0]
	for _, l := range lines {
		got = append(got, l.Text)
	}
	accAlone := wordacc.Accuracy(ref, wordacc.Words(strings.Join(got, "\n")))
	t.Logf("imageTextN.png, %d words: word accuracy %.3f (PP-OCR's recogniser alone %.3f)", len(ref), acc, accAlone)
	if acc < 0.97 {
		t.Errorf("word accuracy %.3f, want ≥ 0.97", acc)
	}
}
