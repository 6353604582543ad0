package encoders

import "testing"

func TestEnglishWords(t *testing.T) {
	t.Parallel()
	words, err := loadLexicon(EnglishWordsFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		line  string
		plain bool
		share float64
	}{
		{"Best moments of the week!", true, 1},
		{"Top 10 tricks for 2026", true, 1},
		{"La cancion del ano segun mis seguidores", false, 2.0 / 7},
		{"subscribeformore videos", false, 0.5},
		{"", false, 0},
	} {
		if got := plainEnglish(words, c.line); got != c.plain {
			t.Errorf("plainEnglish(%q) = %v, want %v", c.line, got, c.plain)
		}
		if got := englishShare(words, c.line); got != c.share {
			t.Errorf("englishShare(%q) = %v, want %v", c.line, got, c.share)
		}
	}
	for in, want := range map[string]string{
		"People crossing thě square": "People crossing the square",
		"Stúdents walking":           "Students walking",
		"Receita fácil":              "Receita fácil", // fácil is no English word
	} {
		if got := unaccentEnglish(words, in); got != want {
			t.Errorf("unaccentEnglish(%q) = %q, want %q", in, got, want)
		}
	}
}
