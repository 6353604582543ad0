package encoders

import (
	"hash/fnv"
	"math"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// SpaceTextLexical is the built-in lexical text space: a hashed bag of
// words as a sparse vector. The index applies inverse document frequency,
// so the vector carries term frequencies only.
const SpaceTextLexical = "text_lexical_v1"

// TextLexicalBuckets is the size of the hashed term space (2^24): large
// enough that distinct words of a catalogue rarely share a bucket.
const TextLexicalBuckets = 1 << 24

// Sparse is a sparse vector: distinct indices, sorted, with their weights.
type Sparse struct {
	Indices []uint32
	Values  []float32
}

// Tokens splits text into lower-case terms, Unicode-aware: runs of letters
// and digits are terms, and a term with accents is followed by its
// unaccented form (people type "cancion" for "canción", and OCR misplaces
// accents); a camelCase or hashtag run (#CatVideos) yields its
// parts and, when it had several, the whole run too, so "#CatVideos"
// matches "cat videos" and "catvideos". Numbers are kept. Scripts written
// without spaces (Han, Hiragana, Katakana, Thai) yield one term per
// character, a crude but language-free segmentation.
func Tokens(text string) []string {
	var out []string
	var word []rune
	flush := func() {
		if len(word) == 0 {
			return
		}
		parts := splitCamel(word)
		for _, p := range parts {
			out = appendFolded(out, strings.ToLower(string(p)))
		}
		if len(parts) > 1 {
			out = appendFolded(out, strings.ToLower(string(word)))
		}
		word = word[:0]
	}
	for _, r := range text {
		switch {
		case unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Thai):
			flush()
			out = append(out, string(r))
		case unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r):
			word = append(word, r)
		default:
			flush()
		}
	}
	flush()
	return out
}

// appendFolded appends term and, when it has accents, its form without.
func appendFolded(out []string, term string) []string {
	out = append(out, term)
	if f := FoldAccents(term); f != term {
		out = append(out, f)
	}
	return out
}

// FoldAccents drops diacritics (é → e, ş → s) and spells out letters that
// have no base letter (ß → ss, ı → i), as search engines' ASCII folding
// does.
func FoldAccents(s string) string {
	ascii := true
	for i := range len(s) {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return s
	}
	var b strings.Builder
	for _, r := range norm.NFD.String(s) {
		switch {
		case unicode.Is(unicode.Mn, r):
		case r == 'ß':
			b.WriteString("ss")
		case letterBases[r] != 0:
			b.WriteRune(letterBases[r])
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// splitCamel splits "CatVideos2024" into "Cat", "Videos", "2024" and
// "HTTPServer" into "HTTP", "Server".
func splitCamel(w []rune) [][]rune {
	var parts [][]rune
	start := 0
	for i := 1; i < len(w); i++ {
		prev, cur := w[i-1], w[i]
		boundary := false
		switch {
		case unicode.IsLower(prev) && unicode.IsUpper(cur):
			boundary = true
		case unicode.IsDigit(prev) != unicode.IsDigit(cur):
			boundary = true
		case unicode.IsUpper(prev) && unicode.IsUpper(cur) && i+1 < len(w) && unicode.IsLower(w[i+1]):
			boundary = true
		}
		if boundary {
			parts = append(parts, w[start:i])
			start = i
		}
	}
	return append(parts, w[start:])
}

// TextLexical embeds text as a sparse vector of hashed terms weighted by
// 1 + ln(term frequency). It is stateless and safe for concurrent use.
type TextLexical struct{}

// Embed returns the sparse vector of text; an empty vector when text has no
// term.
func (t TextLexical) Embed(text string) Sparse { return t.EmbedRepeated(text, 1) }

// EmbedRepeated is Embed of text said times times over: every term
// frequency is multiplied by times. An object label seen in n sampled frames
// is embedded so, as if the label were written once per frame.
func (TextLexical) EmbedRepeated(text string, times int) Sparse {
	times = max(times, 1)
	tf := map[uint32]int{}
	for _, t := range Tokens(text) {
		tf[termIndex(t)]++
	}
	sv := Sparse{Indices: make([]uint32, 0, len(tf)), Values: make([]float32, 0, len(tf))}
	for i := range tf {
		sv.Indices = append(sv.Indices, i)
	}
	sort.Slice(sv.Indices, func(a, b int) bool { return sv.Indices[a] < sv.Indices[b] })
	for _, i := range sv.Indices {
		sv.Values = append(sv.Values, float32(1+math.Log(float64(tf[i]*times))))
	}
	return sv
}

func termIndex(term string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(term))
	return h.Sum32() % TextLexicalBuckets
}
