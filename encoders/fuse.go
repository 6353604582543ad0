package encoders

import (
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// fuseReadings combines two readings of one Latin-script line: pp from
// PP-OCR's recogniser, tess from Tesseract's. They fail differently.
// PP-OCR finds the line's extent and the gaps between outlined words, but
// reads accented letters as plain ones or as others ("Sabfas" for
// "Sabías") and runs small print together; Tesseract reads diacritics
// and small print, but takes the outline between two captioned words for
// a mark ("piu¥bella") and a border at the line's ends for a letter.
//
// The readings are aligned letter by letter on their base letters (case
// and diacritics folded away). Where they agree, Tesseract's letter is
// kept with its diacritics; a space in either is a space; where they
// disagree, a letter only Tesseract's languages have wins, and otherwise
// the leader does: Tesseract when tessLeads (it is sure of the line),
// PP-OCR when not. What Tesseract alone reads before or after PP-OCR's
// extent is the line's border, and is dropped.
//
// Tesseract's Latin model sometimes puts an accent where there is none
// ("Stúdents"); PP-OCR's recogniser drops most true ones, however sure
// it is of the plain letter, so it cannot overrule them (measured on
// captions in nine languages: keeping Tesseract's accents reads 0.967 of
// the characters, overruling them where PP-OCR is sure 0.942). Search
// folds accents, so a stray one costs no match.
func fuseReadings(pp, tess string, tessLeads bool) string {
	p, t := []rune(pp), []rune(tess)
	if len(t) == 0 {
		return pp
	}
	if len(p) == 0 {
		return tess
	}
	steps := align(p, t)
	var out []rune
	space := func() {
		if len(out) > 0 && out[len(out)-1] != ' ' {
			out = append(out, ' ')
		}
	}
	firstP, lastP := -1, -1 // the steps holding PP-OCR's first and last letters
	for k, s := range steps {
		if s.p >= 0 {
			if firstP < 0 {
				firstP = k
			}
			lastP = k
		}
	}
	for k, s := range steps {
		switch {
		case s.p >= 0 && s.t >= 0: // aligned
			pr, tr := p[s.p], t[s.t]
			switch {
			case fold(pr) == fold(tr) && tessLeads:
				out = append(out, tr)
			case fold(pr) == fold(tr):
				out = append(out, withCaseOf(tr, pr))
			case pr == ' ' || tr == ' ':
				space()
			case !isWordRune(pr) || !isWordRune(tr):
				// A mark against a letter: PP-OCR reads apostrophes and
				// punctuation where Tesseract sees outline.
				out = append(out, pr)
			case isWordRune(tr) && (tessLeads || tr > unicode.MaxASCII):
				out = append(out, tr)
			default:
				out = append(out, pr)
			}
		case s.p >= 0: // PP-OCR alone
			if p[s.p] == ' ' {
				space()
			} else {
				out = append(out, p[s.p])
			}
		default: // Tesseract alone
			tr := t[s.t]
			switch {
			case k < firstP || k > lastP:
				// Beyond PP-OCR's line: the border Tesseract's padding took in.
			case tr == ' ':
				space()
			case tessLeads && isWordRune(tr):
				out = append(out, tr)
			}
		}
	}
	return strings.Join(strings.Fields(string(out)), " ")
}

// step pairs a rune of each reading by index; -1 where one side has none.
type step struct{ p, t int }

// align is the least-cost alignment of two readings: letters with the
// same base letter cost nothing, a space against a mark (Tesseract's
// reading of the gap between outlined words) little, anything else one.
func align(p, t []rune) []step {
	n, m := len(p), len(t)
	cost := make([][]float64, n+1)
	for i := range cost {
		cost[i] = make([]float64, m+1)
		cost[i][0] = float64(i)
	}
	for j := range m + 1 {
		cost[0][j] = float64(j)
	}
	sub := func(a, b rune) float64 {
		switch {
		case fold(a) == fold(b):
			return 0
		case a == ' ' && !isWordRune(b), b == ' ' && !isWordRune(a):
			return 0.25
		}
		return 1
	}
	for i := 1; i <= n; i++ {
		for j := 1; j <= m; j++ {
			cost[i][j] = min(cost[i-1][j-1]+sub(p[i-1], t[j-1]), cost[i-1][j]+1, cost[i][j-1]+1)
		}
	}
	var steps []step
	for i, j := n, m; i > 0 || j > 0; {
		switch {
		case i > 0 && j > 0 && cost[i][j] == cost[i-1][j-1]+sub(p[i-1], t[j-1]):
			i, j = i-1, j-1
			steps = append(steps, step{i, j})
		case i > 0 && cost[i][j] == cost[i-1][j]+1:
			i--
			steps = append(steps, step{i, -1})
		default:
			j--
			steps = append(steps, step{-1, j})
		}
	}
	for a, b := 0, len(steps)-1; a < b; a, b = a+1, b-1 {
		steps[a], steps[b] = steps[b], steps[a]
	}
	return steps
}

// letterBases are letters that do not decompose into a base letter and a
// mark but read as one.
var letterBases = map[rune]rune{'ı': 'i', 'ł': 'l', 'đ': 'd', 'ø': 'o', 'ß': 's', 'æ': 'a', 'œ': 'o', 'ð': 'd', 'þ': 't'}

// fold is a rune's base letter, lower-cased: é, É and e fold alike.
func fold(r rune) rune {
	r = unicode.ToLower(r)
	if b, ok := letterBases[r]; ok {
		return b
	}
	if d := norm.NFD.String(string(r)); d != "" {
		return []rune(d)[0]
	}
	return r
}

// withCaseOf is r in the case of like.
func withCaseOf(r, like rune) rune {
	if unicode.IsUpper(like) {
		return unicode.ToUpper(r)
	}
	if unicode.IsLower(like) {
		return unicode.ToLower(r)
	}
	return r
}

func isWordRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }
