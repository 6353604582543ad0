package encoders

import (
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// The parity tests run the JavaScript references under Node, from the
// cache scripts/setup fills with npm ci (scripts/tfjs's lock file):
// @energetic-ai/embeddings@0.2.0's tokenizer, which ships beside the model,
// and @tensorflow/tfjs@4.22.0's CPU backend running the original TF.js
// graph.

func nodeModules(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(CacheDir(), "tfjs", "node_modules")
	for _, pkg := range []string{"@tensorflow/tfjs", "@energetic-ai/embeddings"} {
		if _, err := os.Stat(filepath.Join(dir, pkg, "package.json")); err != nil {
			t.Fatalf("%s missing: %v (run scripts/setup)", pkg, err)
		}
	}
	return dir
}

// runNode runs one of testdata's scripts with args and decodes the JSON it
// writes to its last argument into out.
func runNode(t testing.TB, script string, out any, args ...string) {
	t.Helper()
	path, err := filepath.Abs(filepath.Join("testdata", script))
	if err != nil {
		t.Fatal(err)
	}
	outPath := filepath.Join(t.TempDir(), "out.json")
	cmd := exec.Command("node", append(append([]string{path}, args...), outPath)...)
	cmd.Env = append(os.Environ(), "NODE_PATH="+nodeModules(t))
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("node %s: %v\n%s", script, err, b)
	}
	b, err := os.ReadFile(outPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatal(err)
	}
}

func writeJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "in.json")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// paritySentences are the test's varied texts (testdata/use_sentences.json:
// punctuation, numbers, emoji, twelve scripts, one word, odd spacing) and a
// text of about 500 words, past the model's 128-token limit.
func paritySentences(t testing.TB) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "use_sentences.json"))
	if err != nil {
		t.Fatal(err)
	}
	var texts []string
	if err := json.Unmarshal(b, &texts); err != nil {
		t.Fatal(err)
	}
	var long []string
	for _, s := range texts[:24] {
		long = append(long, s)
	}
	for len(strings.Fields(strings.Join(long, " "))) < 500 {
		long = append(long, long...)
	}
	words := strings.Fields(strings.Join(long, " "))[:500]
	return append(texts, strings.Join(words, " "))
}

func useVocab(t testing.TB) string {
	t.Helper()
	p := filepath.Join(DefaultModelsDir(), USEVocabFile)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("%v (run scripts/setup)", err)
	}
	return p
}

// The Go tokenizer gives the JavaScript tokenizer's ids, id for id.
func TestSentencePieceMatchesJavaScript(t *testing.T) {
	t.Parallel()
	texts := paritySentences(t)
	sp, err := LoadSentencePiece(useVocab(t))
	if err != nil {
		t.Fatal(err)
	}
	var want [][]int
	runNode(t, "use_tokenize.js", &want, useVocab(t), writeJSON(t, texts))
	if len(want) != len(texts) {
		t.Fatalf("%d id lists for %d texts", len(want), len(texts))
	}
	var tokens int
	for i, text := range texts {
		got := sp.Encode(text)
		tokens += len(got)
		if !slices.Equal(got, want[i]) && !(len(got) == 0 && len(want[i]) == 0) {
			t.Errorf("%q:\n  go %v\n  js %v", text, got, want[i])
		}
	}
	t.Logf("%d texts, %d tokens, identical ids", len(texts), tokens)
}

func loadSentenceEncoder(t testing.TB) *SentenceEncoder {
	t.Helper()
	if err := InitRuntime(DefaultORTLib()); err != nil {
		t.Fatalf("%v (run scripts/setup)", err)
	}
	e, err := LoadSentenceEncoder(DefaultModelsDir(), SessionConfig{})
	if err != nil {
		t.Fatalf("%v (run scripts/setup)", err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// relErr is ‖a−b‖ / ‖b‖.
func relErr(a, b []float32) float64 {
	var d, n float64
	for i := range b {
		d += (float64(a[i]) - float64(b[i])) * (float64(a[i]) - float64(b[i]))
		n += float64(b[i]) * float64(b[i])
	}
	return math.Sqrt(d / n)
}

// The converted model embeds the same token ids as the original TF.js
// graph does under @tensorflow/tfjs, within 1e-4, sentence by sentence:
// the whole batch at once (the long text cut by the graph itself), and
// each text through SentenceEncoder.Embed (cut before the graph).
func TestUSEMatchesTFJS(t *testing.T) {
	t.Parallel()
	e := loadSentenceEncoder(t)
	texts := paritySentences(t)
	var ids [][]int64
	var kept []string
	for _, text := range texts {
		tok := e.Tokens(text)
		if !slices.ContainsFunc(tok, func(id int) bool { return id != 0 }) {
			continue // nothing the model can embed: Embed gives no vector
		}
		v := make([]int64, len(tok))
		for j, id := range tok {
			v[j] = int64(id)
		}
		ids = append(ids, v)
		kept = append(kept, text)
	}
	if len(kept) < 50 {
		t.Fatalf("only %d embeddable texts", len(kept))
	}
	model := filepath.Join(DefaultModelsDir(), "tfjs", "use", "model.json")
	var want [][]float32
	runNode(t, "use_embed.js", &want, model, writeJSON(t, ids))
	got, err := RunUSE(e.sess, ids)
	if err != nil {
		t.Fatal(err)
	}
	worst := 0.0
	for i := range kept {
		err := relErr(got[i], want[i])
		worst = max(worst, err)
		if err > 1e-4 {
			t.Errorf("%q: relative error %.2g against TF.js", kept[i], err)
		}
	}
	// Through Embed, one text at a time, as the pipeline calls it.
	sents, err := e.Embed(t.Context(), kept)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range sents {
		if err := relErr(s.Vector, want[i]); err > 1e-4 {
			t.Errorf("%q through Embed: relative error %.2g", kept[i], err)
		}
	}
	t.Logf("%d texts, largest relative error %.2g", len(kept), worst)
}

// Embed cuts a text at the model's limit and says so; a text with nothing
// to embed has no vector; concurrent callers share session calls and get
// what each would alone.
func TestSentenceEncoderEmbed(t *testing.T) {
	t.Parallel()
	e := loadSentenceEncoder(t)
	long := strings.Repeat("the quick brown fox jumps over the lazy dog ", 40)
	sents, err := e.Embed(t.Context(), []string{long, "", "   ", "a dog on the beach"})
	if err != nil {
		t.Fatal(err)
	}
	if !sents[0].Cut() || sents[0].Tokens <= USEMaxTokens || len(sents[0].Vector) != USEDim {
		t.Errorf("long text: %d tokens, cut %v", sents[0].Tokens, sents[0].Cut())
	}
	if sents[1].Vector != nil || sents[2].Vector != nil {
		t.Error("an empty text got a vector")
	}
	if sents[3].Cut() || len(sents[3].Vector) != USEDim {
		t.Errorf("short text: %+v", sents[3])
	}
	var n float64
	for _, x := range sents[3].Vector {
		n += float64(x) * float64(x)
	}
	if math.Abs(n-1) > 1e-4 {
		t.Errorf("norm² %v, want 1", n)
	}
	texts := paritySentences(t)[:20]
	alone, err := e.Embed(t.Context(), texts)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			again, err := e.Embed(t.Context(), texts)
			if err != nil {
				t.Error(err)
				return
			}
			for i := range again {
				if again[i].Vector != nil && relErr(again[i].Vector, alone[i].Vector) > 1e-5 {
					t.Errorf("%q: concurrent embedding differs", texts[i])
				}
			}
		})
	}
	wg.Wait()
}
