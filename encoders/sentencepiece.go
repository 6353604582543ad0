package encoders

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"unicode/utf16"

	"golang.org/x/text/unicode/norm"
)

// SentencePiece is a unigram SentencePiece tokenizer: the most likely
// segmentation of a text into the vocabulary's pieces (Viterbi over the
// pieces' log probabilities), with "▁" marking where words begin. It is the
// tokenizer of Universal Sentence Encoder Lite, and reproduces token for
// token the JavaScript implementation that ships beside the model
// (@tensorflow-models/universal-sentence-encoder's Tokenizer, a port of
// SentencePiece's EncodeAsIds), quirks included:
//
//   - the text is NFKC-normalised, every ASCII space becomes "▁", and a
//     non-empty text gets a leading "▁";
//   - a character no piece starts with is one unknown token (id 0) scoring
//     0, better than any piece; runs of unknown tokens become one;
//   - a piece whose score is missing (null in the vocabulary) scores 0;
//   - on equal scores the later candidate wins, and a position whose best
//     score is exactly 0 takes any candidate;
//   - a piece listed twice keeps its last id and score.
//
// It is safe for concurrent use.
type SentencePiece struct {
	pieces []string
	units  []int // each piece's length in UTF-16 code units, as JavaScript counts
	root   *trieNode
}

type trieNode struct {
	children map[rune]*trieNode
	end      bool
	runes    int // the piece's length in characters
	score    float64
	id       int
}

// sentencePieceReserved is how many ids at the start of the vocabulary are
// control symbols (unknown, <s>, </s>, …) that text never maps to.
const sentencePieceReserved = 6

// LoadSentencePiece reads a vocabulary file: a JSON array of [piece,
// score] pairs, id = position.
func LoadSentencePiece(path string) (*SentencePiece, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var entries [][2]any
	if err := json.Unmarshal(b, &entries); err != nil {
		return nil, fmt.Errorf("vocabulary %s: %w", path, err)
	}
	if len(entries) <= sentencePieceReserved {
		return nil, fmt.Errorf("vocabulary %s: %d pieces", path, len(entries))
	}
	sp := &SentencePiece{pieces: make([]string, len(entries)), units: make([]int, len(entries)), root: &trieNode{}}
	for i, e := range entries {
		piece, ok := e[0].(string)
		if !ok {
			return nil, fmt.Errorf("vocabulary %s: entry %d: the piece is not a string", path, i)
		}
		score := 0.0 // null: JavaScript adds it as 0
		switch v := e[1].(type) {
		case float64:
			score = v
		case nil:
		default:
			return nil, fmt.Errorf("vocabulary %s: entry %d: the score is not a number", path, i)
		}
		sp.pieces[i] = piece
		sp.units[i] = len(utf16.Encode([]rune(piece)))
		if i >= sentencePieceReserved {
			sp.insert(piece, score, i)
		}
	}
	return sp, nil
}

func (sp *SentencePiece) insert(piece string, score float64, id int) {
	node := sp.root
	runes := []rune(piece)
	for _, r := range runes {
		if node.children == nil {
			node.children = map[rune]*trieNode{}
		}
		next := node.children[r]
		if next == nil {
			next = &trieNode{}
			node.children[r] = next
		}
		node = next
	}
	if len(runes) > 0 {
		node.end, node.runes, node.score, node.id = true, len(runes), score, id
	}
}

// Size is the number of ids.
func (sp *SentencePiece) Size() int { return len(sp.pieces) }

// Piece returns the piece of an id.
func (sp *SentencePiece) Piece(id int) string { return sp.pieces[id] }

// candidate is a piece that can end at a position of the lattice.
type candidate struct {
	start, id, runes int
	score            float64
}

// Encode returns the ids of text's pieces, in order; none for empty text.
func (sp *SentencePiece) Encode(text string) []int {
	text = norm.NFKC.String(text)
	if text == "" {
		return nil
	}
	symbols := []rune("\u2581" + strings.ReplaceAll(text, " ", "\u2581"))
	n := len(symbols)
	// ends[e] holds the candidates ending at e, by start ascending.
	ends := make([][]candidate, n+1)
	for i := range n {
		found := false
		node := sp.root.children[symbols[i]]
		for j := i; j < n && node != nil; j++ {
			if node.end {
				ends[i+node.runes] = append(ends[i+node.runes], candidate{start: i, id: node.id, runes: node.runes, score: node.score})
				found = true
			}
			if j+1 < n {
				node = node.children[symbols[j+1]]
			} else {
				node = nil
			}
		}
		if !found {
			ends[i+1] = append(ends[i+1], candidate{start: i, id: 0, runes: 1, score: 0})
		}
	}
	best := make([]float64, n+1)
	words := make([]int, n+1)
	for e := range n + 1 {
		// Candidates were added by start ascending already, as JavaScript
		// walks an object's integer keys.
		for _, c := range ends[e] {
			score := c.score + best[e-c.runes]
			if best[e] == 0 || score >= best[e] {
				best[e], words[e] = score, c.id
			}
		}
	}
	var ids []int
	for at := n; at > 0; at -= sp.units[words[at]] {
		ids = append(ids, words[at])
	}
	// Runs of unknown tokens become one, then back to text order.
	out := make([]int, 0, len(ids))
	prevUnknown := false
	for _, id := range ids {
		if !(prevUnknown && id == 0) {
			out = append(out, id)
		}
		prevUnknown = id == 0
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}
