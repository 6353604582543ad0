package encoders

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mediavec/mediavec/internal/testmedia"
	"github.com/mediavec/mediavec/internal/wordacc"
)

// captionsByLanguage are captions as people write them in the languages
// of a global short-video platform's largest markets, accents and all.
var captionsByLanguage = []struct{ lang, a, b string }{
	{"eng", "Students walking to the morning lecture", "subscribe for more funny moments"},
	{"ind", "Resep nasi goreng enak dan mudah dibuat", "Jangan lupa ikuti untuk bagian kedua"},
	{"por", "Não acredito que isso aconteceu", "Receita fácil de pão de queijo"},
	{"spa", "¿Sabías que el café es más rico así?", "La canción del año según mis seguidores"},
	{"vie", "Cách làm bánh mì ngon nhất Sài Gòn", "Đừng quên theo dõi phần tiếp theo"},
	{"tur", "Şaşırtıcı ama gerçek: İstanbul'da bir gün", "Çok güzel oldu, değil mi?"},
	{"deu", "Größer, schöner, günstiger: so geht's", "Frühstück für die ganze Woche"},
	{"fra", "C'est l'été, à la plage avec mes amis", "Où est passé le gâteau ?"},
	{"ita", "Perché la pizza è più buona così", "Città più bella del mondo"},
}

// Captions in nine languages, burned with an outline into frames of
// opencv-doc's videos, read character for character (accents count) by
// the default OCR, with PP-OCR's recogniser alone beside it.
func TestOCRReadsCaptionsInNineLanguages(t *testing.T) {
	if testing.Short() {
		t.Skip("reads 18 captions twice; skipped in -short mode")
	}
	type caption struct {
		lang, text string
		rgb        []byte
		w, h       int
	}
	dir := t.TempDir()
	fonts := []string{"/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf", "/usr/share/fonts/truetype/liberation2/LiberationSans-Bold.ttf"}
	var caps []caption
	for i, c := range captionsByLanguage {
		for j, text := range []string{c.a, c.b} {
			p := filepath.Join(dir, fmt.Sprintf("%s%d.png", c.lang, j))
			// The text from a file: drawtext's own escaping and the
			// filter graph's would both have to quote ':' , ',' and '\''.
			if err := os.WriteFile(p+".txt", []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
			video := []string{"vtest.avi", "Megamind.avi"}[(i+j)%2]
			draw := fmt.Sprintf("scale=720:-2,drawtext=fontfile=%s:fontsize=%d:textfile=%s:fontcolor=white:borderw=3:bordercolor=black:x=(w-tw)/2:y=h-th-40",
				fonts[j], 26+8*j, p+".txt")
			cmd := exec.Command("ffmpeg", "-v", "error", "-y", "-ss", fmt.Sprint(1+i%5), "-i", filepath.Join(testmedia.OpenCV, video), "-frames:v", "1", "-vf", draw, p)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("ffmpeg (run scripts/setup: opencv-doc and the fonts): %v: %s", err, out)
			}
			rgb, w, h := readPNG(t, p)
			caps = append(caps, caption{c.lang, text, rgb, w, h})
		}
	}
	read := func(o *OCR) (chars, words float64, byLang map[string]float64, got []string) {
		byLang = map[string]float64{}
		for _, c := range caps {
			lines, err := o.Read(c.rgb, c.w, c.h)
			if err != nil {
				t.Fatal(err)
			}
			var parts []string
			for _, l := range lines {
				parts = append(parts, l.Text)
			}
			g := strings.Join(parts, " ")
			ref, r := normalized(c.text), normalized(g)
			acc := float64(lcs(ref, r)) / float64(max(len(ref), len(r)))
			chars += acc / float64(len(caps))
			words += wordacc.Accuracy(wordacc.Words(c.text), wordacc.Words(g)) / float64(len(caps))
			byLang[c.lang] += acc / 2
			got = append(got, g)
		}
		return chars, words, byLang, got
	}
	o := loadOCR(t)
	alone, err := LoadOCR(DefaultModelsDir(), OCRConfig{NoTesseract: true}, SessionConfig{IntraOpThreads: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer alone.Close()
	aloneChars, aloneWords, _, _ := read(alone)
	chars, words, byLang, got := read(o)
	for i, c := range caps {
		t.Logf("%s %-42q read %q", c.lang, c.text, got[i])
	}
	var per []string
	for _, c := range captionsByLanguage {
		per = append(per, fmt.Sprintf("%s %.2f", c.lang, byLang[c.lang]))
	}
	t.Logf("%d captions in %d languages: character accuracy %.3f, word accuracy %.3f (PP-OCR's recogniser alone %.3f, %.3f); by language: %s",
		len(caps), len(captionsByLanguage), chars, words, aloneChars, aloneWords, strings.Join(per, ", "))
	if chars < 0.95 {
		t.Errorf("character accuracy %.3f, want ≥ 0.95", chars)
	}
	for lang, acc := range byLang {
		if acc < 0.85 {
			t.Errorf("%s: character accuracy %.3f, want ≥ 0.85 in every language", lang, acc)
		}
	}
}
