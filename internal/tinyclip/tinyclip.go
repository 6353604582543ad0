// Package tinyclip writes a tiny CLIP-style model — an image tower, a text
// tower and a tokenizer.json with the input and output names of common
// CLIP exports — for tests of the plumbing of user-supplied CLIP models:
// loading, batching, preprocessing and shapes. Its embeddings mean
// nothing; it never proves retrieval quality.
package tinyclip

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"

	"github.com/mediavec/mediavec/internal/onnxgraph"
)

// Dim is the width of both towers' outputs.
const Dim = 8

// TokenizerJSON is a CLIP-style tokenizer.json in the layout Hugging
// Face writes for openai/clip-*, with a tiny vocab: single bytes, their
// end-of-word forms, a few merges, a two-byte character (é) and the two
// special tokens.
const TokenizerJSON = `{
  "version": "1.0",
  "truncation": null,
  "padding": null,
  "added_tokens": [
    {"id": 23, "content": "<|startoftext|>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": true, "special": true},
    {"id": 24, "content": "<|endoftext|>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": true, "special": true}
  ],
  "normalizer": {"type": "Sequence", "normalizers": [
    {"type": "NFC"},
    {"type": "Replace", "pattern": {"Regex": "\\s+"}, "content": " "},
    {"type": "Lowercase"}]},
  "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
    {"type": "Split", "pattern": {"Regex": "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+"}, "behavior": "Removed", "invert": true},
    {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false}]},
  "post_processor": {"type": "RobertaProcessing", "sep": ["<|endoftext|>", 24], "cls": ["<|startoftext|>", 23], "trim_offsets": false, "add_prefix_space": false},
  "decoder": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
  "model": {"type": "BPE", "dropout": null, "unk_token": "<|endoftext|>", "continuing_subword_prefix": "", "end_of_word_suffix": "</w>", "fuse_unk": false, "byte_fallback": false,
    "vocab": {"a": 0, "c": 1, "t": 2, "o": 3, "h": 4, "p": 5, "f": 6, ".": 7,
      "a</w>": 8, "c</w>": 9, "t</w>": 10, "o</w>": 11, "h</w>": 12, "p</w>": 13, "f</w>": 14, ".</w>": 15,
      "ca": 16, "cat</w>": 17, "ph": 18, "ot": 19, "phot": 20, "photo</w>": 21, "of</w>": 22,
      "<|startoftext|>": 23, "<|endoftext|>": 24, "Ã": 25, "©</w>": 26, "Ã©</w>": 27},
    "merges": ["c a", "ca t</w>", "p h", "o t", "ph ot", "phot o</w>", "o f</w>", "Ã ©</w>"]}
}`

// Vocab is the tokenizer's vocabulary size.
const Vocab = 28

// ImageW is the image tower's [3,8] matrix: the first three outputs are
// the channel means themselves, the rest mix them.
func ImageW() [3][Dim]float32 {
	var w [3][Dim]float32
	for c := 0; c < 3; c++ {
		w[c][c] = 1
		w[c][3+c] = 0.5
		w[c][6] = 0.25 * float32(c+1)
		w[c][7] = -0.1 * float32(c+1)
	}
	return w
}

// Table is entry (v, j) of the text tower's embedding table.
func Table(v, j int) float32 { return float32(math.Sin(float64(v*Dim + j + 1))) }

// Opts vary the tiny model, to make the exports a loader must refuse.
type Opts struct {
	ImageSize       int    // graph's image side, default 224
	Ctx             int    // graph's context length, default 77
	Dim             int    // both graphs' output width, default Dim
	ImageOutput     string // default "image_embeds"
	TextInputs      []string
	ImageInputType  onnxgraph.DataType
	Tokenizer       string // default TokenizerJSON
	SkipImageOutput bool
	FixedBatch      int // a fixed batch size in the image tower's input (0: dynamic)
}

// ImageGraph is the image tower: pixel_values [N,3,S,S] → per-channel
// mean → MatMul with ImageW → image_embeds [N,Dim].
func ImageGraph(o Opts) onnxgraph.Model {
	w := ImageW()
	flat := make([]float32, 0, 3*o.Dim)
	for c := 0; c < 3; c++ {
		for j := 0; j < o.Dim; j++ {
			v := float32(0)
			if j < Dim {
				v = w[c][j]
			}
			flat = append(flat, v)
		}
	}
	s := int64(o.ImageSize)
	var nodes []onnxgraph.Node
	px := "pixel_values"
	if o.ImageInputType != onnxgraph.Float32 {
		nodes = append(nodes, onnxgraph.Node{Op: "Cast", Inputs: []string{px}, Outputs: []string{"px"},
			Attrs: []onnxgraph.Attr{onnxgraph.Int("to", int64(onnxgraph.Float32))}})
		px = "px"
	}
	nodes = append(nodes,
		onnxgraph.Node{Op: "ReduceMean", Inputs: []string{px}, Outputs: []string{"pooled"},
			Attrs: []onnxgraph.Attr{onnxgraph.Ints("axes", 2, 3), onnxgraph.Int("keepdims", 0)}},
		onnxgraph.Node{Op: "MatMul", Inputs: []string{"pooled", "W"}, Outputs: []string{o.ImageOutput}},
	)
	return onnxgraph.Model{Graph: onnxgraph.Graph{
		Name:         "tiny_image_tower",
		Nodes:        nodes,
		Inputs:       []onnxgraph.Value{{Name: "pixel_values", Type: o.ImageInputType, Shape: []int64{batch(o), 3, s, s}}},
		Outputs:      []onnxgraph.Value{{Name: o.ImageOutput, Type: onnxgraph.Float32, Shape: []int64{-1, int64(o.Dim)}}},
		Initializers: []onnxgraph.Tensor{{Name: "W", Dims: []int64{3, int64(o.Dim)}, Floats: flat}},
	}}
}

// TextGraph is the text tower: input_ids [N,Ctx] → Gather from Table →
// mean over the tokens → text_embeds [N,Dim].
func TextGraph(o Opts) onnxgraph.Model {
	table := make([]float32, 0, Vocab*o.Dim)
	for v := 0; v < Vocab; v++ {
		for j := 0; j < o.Dim; j++ {
			table = append(table, Table(v, j))
		}
	}
	var inputs []onnxgraph.Value
	for _, name := range o.TextInputs {
		inputs = append(inputs, onnxgraph.Value{Name: name, Type: onnxgraph.Int64, Shape: []int64{-1, int64(o.Ctx)}})
	}
	return onnxgraph.Model{Graph: onnxgraph.Graph{
		Name: "tiny_text_tower",
		Nodes: []onnxgraph.Node{
			{Op: "Gather", Inputs: []string{"table", "input_ids"}, Outputs: []string{"tokens"}, Attrs: []onnxgraph.Attr{onnxgraph.Int("axis", 0)}},
			{Op: "ReduceMean", Inputs: []string{"tokens"}, Outputs: []string{"text_embeds"},
				Attrs: []onnxgraph.Attr{onnxgraph.Ints("axes", 1), onnxgraph.Int("keepdims", 0)}},
		},
		Inputs:       inputs,
		Outputs:      []onnxgraph.Value{{Name: "text_embeds", Type: onnxgraph.Float32, Shape: []int64{-1, int64(o.Dim)}}},
		Initializers: []onnxgraph.Tensor{{Name: "table", Dims: []int64{Vocab, int64(o.Dim)}, Floats: table}},
	}}
}

// Write writes image.onnx, text.onnx and tokenizer.json into dir.
func Write(dir string, o Opts) error {
	if o.ImageSize == 0 {
		o.ImageSize = 224
	}
	if o.Ctx == 0 {
		o.Ctx = 77
	}
	if o.Dim == 0 {
		o.Dim = Dim
	}
	if o.ImageOutput == "" {
		o.ImageOutput = "image_embeds"
	}
	if o.TextInputs == nil {
		o.TextInputs = []string{"input_ids", "attention_mask"}
	}
	if o.ImageInputType == 0 {
		o.ImageInputType = onnxgraph.Float32
	}
	if o.Tokenizer == "" {
		o.Tokenizer = TokenizerJSON
	}
	if !o.SkipImageOutput {
		if err := ImageGraph(o).WriteFile(filepath.Join(dir, "image.onnx")); err != nil {
			return err
		}
	}
	if err := TextGraph(o).WriteFile(filepath.Join(dir, "text.onnx")); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "tokenizer.json"), []byte(o.Tokenizer), 0o644)
}

// WriteModelsDir installs the tiny model as name under a models folder,
// the way a user installs a CLIP export: MODELS/clip/NAME/ with its
// clip.json.
func WriteModelsDir(modelsDir, name string) error {
	dir := filepath.Join(modelsDir, "clip", name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := Write(dir, Opts{}); err != nil {
		return err
	}
	spec, _ := json.MarshalIndent(map[string]any{
		"name": name, "image_model": "image.onnx", "text_model": "text.onnx", "dim": Dim,
		"license": "test fixture", "source": "internal/tinyclip",
	}, "", "  ")
	return os.WriteFile(filepath.Join(dir, "clip.json"), spec, 0o644)
}

func batch(o Opts) int64 {
	if o.FixedBatch > 0 {
		return int64(o.FixedBatch)
	}
	return -1
}
