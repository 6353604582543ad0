package encoders

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"unicode"
)

// EnglishWordsFile is Debian's word list of American English (package
// wamerican): 104,000 words with their plurals, inflections and
// possessives.
const EnglishWordsFile = "/usr/share/dict/american-english"

// loadLexicon reads a word list, one word a line, lower-cased.
func loadLexicon(path string) (map[string]bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w (install Debian's wamerican: scripts/setup does)", err)
	}
	defer f.Close()
	words := make(map[string]bool, 110_000)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if w := strings.TrimSpace(sc.Text()); w != "" {
			words[strings.ToLower(w)] = true
		}
	}
	return words, sc.Err()
}

// plainEnglish reports whether every word of a line is an English word
// (or a number): a line PP-OCR's recogniser, trained on Chinese and
// English, reads as well as Tesseract would. A word it does not know — a
// Spanish or Indonesian word read without its accents, two words run
// together, a name — is not.
func plainEnglish(words map[string]bool, line string) bool {
	return englishShare(words, line) == 1
}

// mostlyEnglish is the share of English words from which a line is taken
// for English.
const mostlyEnglish = 0.6

// englishShare is the share of a line's words (numbers count) that are
// English words; 0 for a line without words.
func englishShare(words map[string]bool, line string) float64 {
	n, known := 0, 0
	for _, w := range strings.Fields(line) {
		w = strings.TrimFunc(w, notWordRune)
		if w == "" {
			continue
		}
		n++
		if words[strings.ToLower(w)] || strings.TrimFunc(w, unicode.IsDigit) == "" {
			known++
		}
	}
	if n == 0 {
		return 0
	}
	return float64(known) / float64(n)
}

// unaccentEnglish drops the accents of the words of line that are
// English words without them.
func unaccentEnglish(words map[string]bool, line string) string {
	fields := strings.Fields(line)
	for i, f := range fields {
		if plain := FoldAccents(f); plain != f && words[strings.ToLower(strings.TrimFunc(plain, notWordRune))] {
			fields[i] = plain
		}
	}
	return strings.Join(fields, " ")
}

func notWordRune(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }
