package search

import (
	"slices"

	"github.com/mediavec/mediavec/encoders"
)

// MinShouldMatch is the share of a text query's content words that a text
// segment must contain for the lexical space to count it as a match (as
// minimum_should_match does in Elasticsearch). Without it, a query that
// says something in other words "matches" every title sharing one of its
// function words or one stray term, and rank fusion would put those titles
// above what the semantic space found; with it, the lexical space speaks
// when the words themselves were meant: names, hashtags, quoted captions.
const MinShouldMatch = 0.5

// functionWords are left out of the share: English words that carry no
// content of their own. Other languages' are not listed, which only makes
// their lexical matching stricter.
var functionWords = map[string]bool{}

func init() {
	for _, w := range []string{
		"a", "an", "the", "and", "or", "but", "nor", "so", "yet", "of", "in", "on", "at", "to", "for", "from", "by",
		"with", "without", "into", "onto", "over", "under", "about", "above", "below", "across", "after", "before",
		"around", "through", "between", "during", "off", "up", "down", "out", "as", "than", "then", "there", "here",
		"is", "am", "are", "was", "were", "be", "been", "being", "do", "does", "did", "has", "have", "had",
		"i", "me", "my", "we", "our", "you", "your", "he", "him", "his", "she", "her", "it", "its", "they", "them",
		"their", "this", "that", "these", "those", "what", "which", "who", "whom", "how", "why", "when", "where",
		"s", "t", "not", "no", "very", "too", "can", "will", "just", "while", "some", "any", "all", "each",
	} {
		functionWords[w] = true
	}
}

// contentWords are a query's words that carry content: its tokens less the
// function words, or all its tokens when it has nothing else.
func contentWords(query string) []string {
	tokens := encoders.Tokens(query)
	var out []string
	for _, t := range tokens {
		if !functionWords[t] && !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	if len(out) == 0 {
		for _, t := range tokens {
			if !slices.Contains(out, t) {
				out = append(out, t)
			}
		}
	}
	return out
}

// coverage is the share of words that text contains.
func coverage(words []string, text string) float64 {
	if len(words) == 0 {
		return 0
	}
	have := encoders.Tokens(text)
	n := 0
	for _, w := range words {
		if slices.Contains(have, w) {
			n++
		}
	}
	return float64(n) / float64(len(words))
}
