package encoders

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// bpeTokenizer is the byte-level BPE tokenizer of a Hugging Face
// tokenizer.json, the kind CLIP-family models ship: a normalizer (NFC,
// whitespace collapse, lower case), a Split pre-tokenizer with CLIP's regular
// expression followed by ByteLevel, a BPE model whose words end in "</w>",
// and a post-processor that wraps the ids in <|startoftext|> … <|endoftext|>.
//
// It is written here because github.com/sugarme/tokenizer v0.3.0 cannot
// read such a file correctly: its BPE never appends end_of_word_suffix (the
// last-rune test in bpe.go can never be true), so every CLIP word gets the
// wrong ids, and its RobertaProcessing post-processor dereferences a nil
// encoding on the first Encode.
//
// What it reads of tokenizer.json: model (type BPE, vocab, merges as "a b"
// strings or ["a","b"] pairs, unk_token, continuing_subword_prefix,
// end_of_word_suffix; dropout is ignored, inference is deterministic),
// added_tokens, normalizer (Sequence, NFC, NFD, NFKC, NFKD, Lowercase,
// Replace, Strip), pre_tokenizer (Sequence of Split with behavior Removed or
// Isolated, and ByteLevel without use_regex), post_processor
// (RobertaProcessing, BertProcessing, TemplateProcessing, ByteLevel,
// Sequence) and padding.pad_id. Anything else is refused at load with an
// error naming it, rather than tokenised differently from the reference.
// Patterns are Go regular expressions (RE2, no look-around) with \s widened
// to Unicode white space, as in the Oniguruma patterns the files are written
// for.
type bpeTokenizer struct {
	vocab     map[string]int64
	ranks     map[[2]string]int
	prefix    string // continuing_subword_prefix
	suffix    string // end_of_word_suffix
	unk       int64
	hasUnk    bool
	normalize []func(string) string
	specials  []addedToken // matched in the normalized text before splitting
	split     *regexp.Regexp
	keepGaps  bool // Split behavior Isolated: the text between matches is kept too
	keepMatch bool
	bos, eos  []int64 // ids the post-processor puts around the text
	pad       int64
	byteRunes [256]string
}

type addedToken struct {
	content string
	id      int64
}

// CLIP's special tokens, used when tokenizer.json has no post-processor that
// adds them.
const (
	clipStartOfText = "<|startoftext|>"
	clipEndOfText   = "<|endoftext|>"
)

type tokenizerFile struct {
	AddedTokens []struct {
		ID      int64  `json:"id"`
		Content string `json:"content"`
	} `json:"added_tokens"`
	Normalizer    json.RawMessage `json:"normalizer"`
	PreTokenizer  json.RawMessage `json:"pre_tokenizer"`
	PostProcessor json.RawMessage `json:"post_processor"`
	Padding       *struct {
		PadID *int64 `json:"pad_id"`
	} `json:"padding"`
	Model struct {
		Type                    string            `json:"type"`
		Vocab                   map[string]int64  `json:"vocab"`
		Merges                  []json.RawMessage `json:"merges"`
		UnkToken                *string           `json:"unk_token"`
		ContinuingSubwordPrefix *string           `json:"continuing_subword_prefix"`
		EndOfWordSuffix         *string           `json:"end_of_word_suffix"`
	} `json:"model"`
}

// component is one normalizer, pre-tokenizer or post-processor object.
type component struct {
	Type string `json:"type"`
	// Sequence
	Normalizers   []json.RawMessage `json:"normalizers"`
	PreTokenizers []json.RawMessage `json:"pretokenizers"`
	Processors    []json.RawMessage `json:"processors"`
	// Replace, Split
	Pattern *struct {
		String *string `json:"String"`
		Regex  *string `json:"Regex"`
	} `json:"pattern"`
	Content string `json:"content"`
	// Strip
	Left  *bool `json:"left"`
	Right *bool `json:"right"`
	// Split
	Behavior string `json:"behavior"`
	Invert   bool   `json:"invert"`
	// ByteLevel
	AddPrefixSpace bool `json:"add_prefix_space"`
	UseRegex       bool `json:"use_regex"`
	// RobertaProcessing, BertProcessing: [token, id]
	Cls []json.RawMessage `json:"cls"`
	Sep []json.RawMessage `json:"sep"`
	// TemplateProcessing
	Single []struct {
		SpecialToken *struct {
			ID string `json:"id"`
		} `json:"SpecialToken"`
		Sequence *struct{} `json:"Sequence"`
	} `json:"single"`
	SpecialTokens map[string]struct {
		IDs []int64 `json:"ids"`
	} `json:"special_tokens"`
}

func isNull(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) == 0 || bytes.Equal(raw, []byte("null"))
}

// readTokenizer reads a byte-level BPE tokenizer.json.
func readTokenizer(path string) (*bpeTokenizer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f tokenizerFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	t, err := newBPETokenizer(&f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

func newBPETokenizer(f *tokenizerFile) (*bpeTokenizer, error) {
	m := f.Model
	if m.Type != "BPE" && m.Type != "" {
		return nil, fmt.Errorf("model type %q: only BPE tokenizers are supported", m.Type)
	}
	if len(m.Vocab) == 0 {
		return nil, errors.New("model has no vocab")
	}
	t := &bpeTokenizer{vocab: m.Vocab, ranks: make(map[[2]string]int, len(m.Merges))}
	if m.ContinuingSubwordPrefix != nil {
		t.prefix = *m.ContinuingSubwordPrefix
	}
	if m.EndOfWordSuffix != nil {
		t.suffix = *m.EndOfWordSuffix
	}
	if m.UnkToken != nil {
		id, ok := m.Vocab[*m.UnkToken]
		if !ok {
			return nil, fmt.Errorf("unk_token %q is not in the vocab", *m.UnkToken)
		}
		t.unk, t.hasUnk = id, true
	}
	for i, raw := range m.Merges {
		pair, err := parseMerge(raw)
		if err != nil {
			return nil, fmt.Errorf("merge %d: %w", i, err)
		}
		if _, ok := m.Vocab[t.merged(pair[0], pair[1])]; !ok {
			return nil, fmt.Errorf("merge %d (%q %q) makes %q, which is not in the vocab", i, pair[0], pair[1], t.merged(pair[0], pair[1]))
		}
		if _, dup := t.ranks[pair]; !dup {
			t.ranks[pair] = i
		}
	}
	for _, a := range f.AddedTokens {
		if a.Content != "" {
			t.specials = append(t.specials, addedToken{content: a.Content, id: a.ID})
		}
	}

	lower := false
	if !isNull(f.Normalizer) {
		if err := t.addNormalizer(f.Normalizer, &lower); err != nil {
			return nil, fmt.Errorf("normalizer: %w", err)
		}
	}
	if !lower {
		// CLIP lower-cases every text; a tokenizer.json without a Lowercase
		// normalizer still belongs to a model trained on lower-case text.
		t.normalize = append(t.normalize, strings.ToLower)
	}

	byteLevel := false
	if !isNull(f.PreTokenizer) {
		if err := t.addPreTokenizer(f.PreTokenizer, &byteLevel); err != nil {
			return nil, fmt.Errorf("pre_tokenizer: %w", err)
		}
	}
	if !byteLevel {
		return nil, errors.New("pre_tokenizer has no ByteLevel step: only byte-level BPE tokenizers are supported")
	}
	t.byteRunes = byteToRunes()

	found := false
	if !isNull(f.PostProcessor) {
		var err error
		if found, err = t.addPostProcessor(f.PostProcessor); err != nil {
			return nil, fmt.Errorf("post_processor: %w", err)
		}
	}
	if !found {
		bos, okB := t.tokenID(clipStartOfText)
		eos, okE := t.tokenID(clipEndOfText)
		if !okB || !okE {
			return nil, fmt.Errorf("no post-processor adds start and end tokens, and %s or %s is not in the vocab", clipStartOfText, clipEndOfText)
		}
		t.bos, t.eos = []int64{bos}, []int64{eos}
	}
	if f.Padding != nil && f.Padding.PadID != nil {
		t.pad = *f.Padding.PadID
	}
	return t, nil
}

func parseMerge(raw json.RawMessage) ([2]string, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		a, b, ok := strings.Cut(s, " ")
		if !ok || a == "" || b == "" || strings.Contains(b, " ") {
			return [2]string{}, fmt.Errorf("%q is not two tokens separated by a space", s)
		}
		return [2]string{a, b}, nil
	}
	var p []string
	if err := json.Unmarshal(raw, &p); err != nil || len(p) != 2 {
		return [2]string{}, fmt.Errorf("%s is neither \"a b\" nor [\"a\", \"b\"]", raw)
	}
	return [2]string{p[0], p[1]}, nil
}

func (t *bpeTokenizer) merged(a, b string) string { return a + strings.TrimPrefix(b, t.prefix) }

func (t *bpeTokenizer) tokenID(s string) (int64, bool) {
	for _, a := range t.specials {
		if a.content == s {
			return a.id, true
		}
	}
	id, ok := t.vocab[s]
	return id, ok
}

func (t *bpeTokenizer) addNormalizer(raw json.RawMessage, lower *bool) error {
	var c component
	if err := json.Unmarshal(raw, &c); err != nil {
		return err
	}
	switch c.Type {
	case "Sequence":
		for _, n := range c.Normalizers {
			if err := t.addNormalizer(n, lower); err != nil {
				return err
			}
		}
	case "NFC":
		t.normalize = append(t.normalize, norm.NFC.String)
	case "NFD":
		t.normalize = append(t.normalize, norm.NFD.String)
	case "NFKC":
		t.normalize = append(t.normalize, norm.NFKC.String)
	case "NFKD":
		t.normalize = append(t.normalize, norm.NFKD.String)
	case "Lowercase":
		*lower = true
		t.normalize = append(t.normalize, strings.ToLower)
	case "Strip":
		left, right := c.Left == nil || *c.Left, c.Right == nil || *c.Right
		t.normalize = append(t.normalize, func(s string) string {
			if left {
				s = strings.TrimLeftFunc(s, unicode.IsSpace)
			}
			if right {
				s = strings.TrimRightFunc(s, unicode.IsSpace)
			}
			return s
		})
	case "Replace":
		re, err := patternRegexp(c)
		if err != nil {
			return err
		}
		content := c.Content
		t.normalize = append(t.normalize, func(s string) string { return re.ReplaceAllLiteralString(s, content) })
	default:
		return fmt.Errorf("normalizer type %q is not supported", c.Type)
	}
	return nil
}

func patternRegexp(c component) (*regexp.Regexp, error) {
	switch {
	case c.Pattern == nil:
		return nil, fmt.Errorf("%s has no pattern", c.Type)
	case c.Pattern.Regex != nil:
		re, err := regexp.Compile(unicodeSpaces(*c.Pattern.Regex))
		if err != nil {
			return nil, fmt.Errorf("%s pattern: %w", c.Type, err)
		}
		return re, nil
	case c.Pattern.String != nil && *c.Pattern.String != "":
		return regexp.MustCompile(regexp.QuoteMeta(*c.Pattern.String)), nil
	}
	return nil, fmt.Errorf("%s pattern is empty", c.Type)
}

// unicodeSpaces makes \s in a tokenizer.json pattern match every Unicode
// white space, as it does in the Oniguruma engine Hugging Face tokenizers
// use; in Go's regexp \s is ASCII only, so a no-break space (U+00A0, common
// in pasted titles) would otherwise become a token of its own. \S outside a
// bracket class is widened to match; inside one it is left alone.
func unicodeSpaces(p string) string {
	const spaces = `\s\v\x{85}\p{Z}`
	var b strings.Builder
	inClass := false
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c == '\\' && i+1 < len(p) {
			switch n := p[i+1]; {
			case n == 's' && inClass:
				b.WriteString(spaces)
			case n == 's':
				b.WriteString("[" + spaces + "]")
			case n == 'S' && !inClass:
				b.WriteString("[^" + spaces + "]")
			default:
				b.WriteByte(c)
				b.WriteByte(n)
			}
			i++
			continue
		}
		switch {
		case c == '[' && !inClass:
			inClass = true
		case c == ']' && inClass:
			inClass = false
		}
		b.WriteByte(c)
	}
	return b.String()
}

func (t *bpeTokenizer) addPreTokenizer(raw json.RawMessage, byteLevel *bool) error {
	var c component
	if err := json.Unmarshal(raw, &c); err != nil {
		return err
	}
	switch c.Type {
	case "Sequence":
		for _, p := range c.PreTokenizers {
			if err := t.addPreTokenizer(p, byteLevel); err != nil {
				return err
			}
		}
	case "Split":
		if t.split != nil {
			return errors.New("more than one Split is not supported")
		}
		re, err := patternRegexp(c)
		if err != nil {
			return err
		}
		switch {
		case c.Behavior == "Removed" && c.Invert: // keep only the matches: CLIP's findall
			t.keepMatch = true
		case c.Behavior == "Removed":
			t.keepGaps = true
		case c.Behavior == "Isolated" && !c.Invert:
			t.keepMatch, t.keepGaps = true, true
		default:
			return fmt.Errorf("Split behavior %q with invert=%v is not supported", c.Behavior, c.Invert)
		}
		t.split = re
	case "ByteLevel":
		if c.UseRegex {
			return errors.New("ByteLevel with use_regex (GPT-2's look-ahead pattern) is not supported; CLIP's tokenizer.json splits with a Split step")
		}
		if c.AddPrefixSpace {
			return errors.New("ByteLevel with add_prefix_space is not supported")
		}
		*byteLevel = true
	default:
		return fmt.Errorf("pre-tokenizer type %q is not supported", c.Type)
	}
	return nil
}

// addPostProcessor reads the special tokens put around a single text. It
// reports whether the post-processor adds any.
func (t *bpeTokenizer) addPostProcessor(raw json.RawMessage) (bool, error) {
	var c component
	if err := json.Unmarshal(raw, &c); err != nil {
		return false, err
	}
	switch c.Type {
	case "Sequence":
		found := false
		for _, p := range c.Processors {
			ok, err := t.addPostProcessor(p)
			if err != nil {
				return false, err
			}
			found = found || ok
		}
		return found, nil
	case "ByteLevel": // offsets only
		return false, nil
	case "RobertaProcessing", "BertProcessing":
		cls, err := postToken(c.Cls)
		if err != nil {
			return false, fmt.Errorf("%s cls: %w", c.Type, err)
		}
		sep, err := postToken(c.Sep)
		if err != nil {
			return false, fmt.Errorf("%s sep: %w", c.Type, err)
		}
		t.bos, t.eos = []int64{cls}, []int64{sep}
		return true, nil
	case "TemplateProcessing":
		var bos, eos []int64
		seen := false
		for _, item := range c.Single {
			switch {
			case item.Sequence != nil:
				if seen {
					return false, errors.New("TemplateProcessing single has two sequences")
				}
				seen = true
			case item.SpecialToken != nil:
				st, ok := c.SpecialTokens[item.SpecialToken.ID]
				if !ok {
					return false, fmt.Errorf("TemplateProcessing names %q, which is not in special_tokens", item.SpecialToken.ID)
				}
				if seen {
					eos = append(eos, st.IDs...)
				} else {
					bos = append(bos, st.IDs...)
				}
			}
		}
		if !seen {
			return false, errors.New("TemplateProcessing single has no sequence")
		}
		t.bos, t.eos = bos, eos
		return true, nil
	}
	return false, fmt.Errorf("post-processor type %q is not supported", c.Type)
}

func postToken(pair []json.RawMessage) (int64, error) {
	var id int64
	if len(pair) != 2 || json.Unmarshal(pair[1], &id) != nil {
		return 0, errors.New("want [token, id]")
	}
	return id, nil
}

// byteToRunes is GPT-2's bytes_to_unicode: printable bytes stand for
// themselves, the others for the code points from 256 up, in byte order.
func byteToRunes() [256]string {
	var out [256]string
	n := 0
	for b := 0; b < 256; b++ {
		switch {
		case b >= '!' && b <= '~', b >= 0xA1 && b <= 0xAC, b >= 0xAE && b <= 0xFF:
			out[b] = string(rune(b))
		default:
			out[b] = string(rune(256 + n))
			n++
		}
	}
	return out
}

// encode tokenises text into ids without the start and end tokens.
func (t *bpeTokenizer) encode(text string) []int64 {
	for _, f := range t.normalize {
		text = f(text)
	}
	var ids []int64
	for len(text) > 0 {
		// Added (special) tokens are matched in the normalized text first,
		// as Hugging Face tokenizers do, and never split or merged.
		at, sp := len(text), -1
		for i, a := range t.specials {
			if j := strings.Index(text, a.content); j >= 0 && (j < at || j == at && sp >= 0 && len(a.content) > len(t.specials[sp].content)) {
				at, sp = j, i
			}
		}
		ids = t.encodeSegment(ids, text[:at])
		if sp < 0 {
			break
		}
		ids = append(ids, t.specials[sp].id)
		text = text[at+len(t.specials[sp].content):]
	}
	return ids
}

func (t *bpeTokenizer) encodeSegment(ids []int64, s string) []int64 {
	if s == "" {
		return ids
	}
	if t.split == nil {
		return t.encodeWord(ids, s)
	}
	last := 0
	for _, m := range t.split.FindAllStringIndex(s, -1) {
		if t.keepGaps && m[0] > last {
			ids = t.encodeWord(ids, s[last:m[0]])
		}
		if t.keepMatch && m[1] > m[0] {
			ids = t.encodeWord(ids, s[m[0]:m[1]])
		}
		last = m[1]
	}
	if t.keepGaps && last < len(s) {
		ids = t.encodeWord(ids, s[last:])
	}
	return ids
}

// encodeWord maps a word's bytes to BPE symbols, marks the word's end with
// the suffix, applies the merges lowest rank first, and appends the ids.
func (t *bpeTokenizer) encodeWord(ids []int64, word string) []int64 {
	syms := make([]string, 0, len(word))
	for i := 0; i < len(word); i++ {
		s := t.byteRunes[word[i]]
		if i > 0 {
			s = t.prefix + s
		}
		syms = append(syms, s)
	}
	syms[len(syms)-1] += t.suffix
	for len(syms) > 1 {
		best, rank := -1, 0
		for i := 0; i+1 < len(syms); i++ {
			if r, ok := t.ranks[[2]string{syms[i], syms[i+1]}]; ok && (best < 0 || r < rank) {
				best, rank = i, r
			}
		}
		if best < 0 {
			break
		}
		a, b := syms[best], syms[best+1]
		out := syms[:best]
		for i := best; i < len(syms); i++ {
			if i+1 < len(syms) && syms[i] == a && syms[i+1] == b {
				out = append(out, t.merged(a, b))
				i++
			} else {
				out = append(out, syms[i])
			}
		}
		syms = out
	}
	for _, s := range syms {
		if id, ok := t.vocab[s]; ok {
			ids = append(ids, id)
		} else if t.hasUnk {
			ids = append(ids, t.unk)
		}
	}
	return ids
}

// batch tokenises texts into row-major [len(texts), ctx] ids and attention
// mask: start tokens, the text cut to fit, end tokens (so a long text keeps
// its end token at the last position), then the pad id with mask 0.
func (t *bpeTokenizer) batch(texts []string, ctx int) (ids, mask []int64) {
	ids = make([]int64, len(texts)*ctx)
	mask = make([]int64, len(texts)*ctx)
	room := ctx - len(t.bos) - len(t.eos)
	for i, text := range texts {
		row := ids[i*ctx : i*ctx : (i+1)*ctx]
		row = append(row, t.bos...)
		body := t.encode(text)
		row = append(row, body[:min(len(body), room)]...)
		row = append(row, t.eos...)
		for j := range row {
			mask[i*ctx+j] = 1
		}
		for j := len(row); j < ctx; j++ {
			ids[i*ctx+j] = t.pad
		}
	}
	return ids, mask
}
