package encoders

import "testing"

// The fusion of two readings of a line, on pairs the two recognisers
// really produced for captions over opencv-doc's videos.
func TestFuseReadings(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, pp, tess string
		leads          bool
		want           string
	}{
		{"accents from Tesseract", "La cancion del ano segun mis seguidores", "La canción del año según[mis seguidores", false, "La canción del año según mis seguidores"},
		{"a letter only Tesseract's languages have", "Sasirticl ama gercek", "Şaşırtıcı ama gerçek", true, "Şaşırtıcı ama gerçek"},
		{"outline between words read as a mark", "Citta piu bella del mondo", "Città piùlbella{del mondo", false, "Città più bella del mondo"},
		{"border before the line dropped", "Perché la pizza", "BPerché la pizza", true, "Perché la pizza"},
		{"PP-OCR's apostrophe against Tesseract's letter", "istanbul'da bir gun", "İstanbulida bir gün", true, "İstanbul'da bir gün"},
		{"PP-OCR leads a letter it reads differently", "C'est la plage", "Gest la plage", false, "C'est la plage"},
		{"Tesseract leads: small print run together", "subscribeformorefunny", "subscribe for more funny", true, "subscribe for more funny"},
		{"Tesseract leads: a thin letter PP-OCR dropped", "stuents", "students", true, "students"},
		{"Tesseract unsure: its extra letter dropped", "Receita facil", "Receita fácill", false, "Receita fácil"},
		{"no Tesseract reading", "Hello world", "", false, "Hello world"},
		{"no PP-OCR reading", "", "Hello", true, "Hello"},
	}
	for _, c := range cases {
		if got := fuseReadings(c.pp, c.tess, c.leads); got != c.want {
			t.Errorf("%s: fuse(%q, %q, leads %v) = %q, want %q", c.name, c.pp, c.tess, c.leads, got, c.want)
		}
	}
}
