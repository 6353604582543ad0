package encoders

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/mediavec/mediavec/internal/onnxgraph"
	"github.com/mediavec/mediavec/internal/tinyclip"
	"github.com/mediavec/mediavec/internal/vecmath"
)

// The CLIP tests run the real ONNX Runtime on tiny graphs that the tests
// write themselves, with the input and output names of common CLIP exports
// (pixel_values → image_embeds; input_ids, attention_mask → text_embeds), and
// a tiny CLIP-style tokenizer.json. The image tower is the per-channel mean
// of the pixels times a 3×8 matrix; the text tower is the mean of a [V,8]
// table over the token ids. They prove loading, batching, preprocessing and
// shapes, never retrieval quality.

// The tiny model itself is internal/tinyclip's.
const (
	tinyDim           = tinyclip.Dim
	tinyVocab         = tinyclip.Vocab
	tinyTokenizerJSON = tinyclip.TokenizerJSON
)

type tinyOpts = tinyclip.Opts

var (
	tinyImageW = tinyclip.ImageW
	tinyTable  = tinyclip.Table
	imageGraph = tinyclip.ImageGraph
	textGraph  = tinyclip.TextGraph
)

// Token ids of the tiny vocab.
const (
	tA, tPhoto, tOf, tCat, tDot, tE = 8, 21, 22, 17, 15, 27
	tBOS, tEOS                      = 23, 24
)

// writeTinyCLIP writes image.onnx, text.onnx and tokenizer.json into dir and
// returns the spec that loads them.
func writeTinyCLIP(t *testing.T, dir string, o tinyOpts) CLIPSpec {
	t.Helper()
	if err := tinyclip.Write(dir, o); err != nil {
		t.Fatal(err)
	}
	return CLIPSpec{Name: "tiny", ImageModel: "image.onnx", TextModel: "text.onnx", Dim: tinyDim}
}

func clipInitORT(t *testing.T) {
	t.Helper()
	if err := InitRuntime(DefaultORTLib()); err != nil {
		t.Fatalf("%v (run scripts/setup)", err)
	}
}

func loadTinyCLIP(t *testing.T) *CLIP {
	t.Helper()
	clipInitORT(t)
	dir := t.TempDir()
	spec := writeTinyCLIP(t, dir, tinyOpts{})
	c, err := LoadCLIP(dir, spec, SessionConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestCLIPLoads(t *testing.T) {
	t.Parallel()
	c := loadTinyCLIP(t)
	if c.Space() != "clip_tiny" || c.Dim() != tinyDim {
		t.Fatalf("space %q dim %d, want clip_tiny 8", c.Space(), c.Dim())
	}
	s := c.Spec()
	if s.ImageInput != "pixel_values" || s.ImageOutput != "image_embeds" || s.TextInput != "input_ids" ||
		s.TextMaskInput != "attention_mask" || s.TextOutput != "text_embeds" || s.Tokenizer != "tokenizer.json" ||
		s.ImageSize != 224 || s.ContextLength != 77 || !slices.Equal(s.Mean, clipMean) || !slices.Equal(s.Std, clipStd) {
		t.Fatalf("defaults not applied: %+v", s)
	}
}

func TestCLIPLoadErrors(t *testing.T) {
	t.Parallel()
	clipInitORT(t)
	rng := rand.New(rand.NewPCG(1, 2))
	cases := []struct {
		name  string
		opts  tinyOpts
		spec  func(*CLIPSpec)
		setup func(t *testing.T, dir string)
		op    string   // the *Error's Op
		want  []string // fragments of the message
	}{
		{name: "missing image model", opts: tinyOpts{SkipImageOutput: true},
			op: "load image model image.onnx", want: []string{"missing file", "image.onnx"}},
		{name: "missing text model", spec: func(s *CLIPSpec) { s.TextModel = "nope.onnx" },
			op: "load text model nope.onnx", want: []string{"missing file", "nope.onnx"}},
		{name: "missing tokenizer", setup: func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, "tokenizer.json")) },
			op: "load tokenizer tokenizer.json", want: []string{"no such file"}},
		{name: "corrupt onnx", setup: func(t *testing.T, dir string) {
			junk := make([]byte, 4096)
			for i := range junk {
				junk[i] = byte(rng.Uint32())
			}
			if err := os.WriteFile(filepath.Join(dir, "image.onnx"), junk, 0o644); err != nil {
				t.Fatal(err)
			}
		}, op: "load image model image.onnx", want: []string{"not a readable ONNX model"}},
		{name: "wrong output name", opts: tinyOpts{ImageOutput: "last_hidden_state"},
			op: "load image model image.onnx", want: []string{`no output named "image_embeds"`, "last_hidden_state"}},
		{name: "dim mismatch", spec: func(s *CLIPSpec) { s.Dim = 512 },
			op: "load image model image.onnx", want: []string{`output "image_embeds" is 8 wide`, "spec's dim is 512"}},
		{name: "text dim mismatch", opts: tinyOpts{Dim: 16}, spec: func(s *CLIPSpec) { s.Dim = 16; s.ImageModel = "image16.onnx" },
			setup: func(t *testing.T, dir string) {
				if err := imageGraph(tinyOpts{ImageSize: 224, Dim: 16, ImageOutput: "image_embeds", ImageInputType: onnxgraph.Float32}).WriteFile(filepath.Join(dir, "image16.onnx")); err != nil {
					t.Fatal(err)
				}
				if err := textGraph(tinyOpts{Ctx: 77, Dim: 8, TextInputs: []string{"input_ids", "attention_mask"}}).WriteFile(filepath.Join(dir, "text.onnx")); err != nil {
					t.Fatal(err)
				}
			},
			op: "load text model text.onnx", want: []string{`output "text_embeds" is 8 wide`, "spec's dim is 16"}},
		{name: "image size mismatch", spec: func(s *CLIPSpec) { s.ImageSize = 336 },
			op: "load image model image.onnx", want: []string{`input "pixel_values" has shape [-1 3 224 224], want [N,3,336,336]`}},
		{name: "fixed batch size", opts: tinyOpts{FixedBatch: 1},
			op: "load image model image.onnx", want: []string{"fixed batch size of 1", "dynamic batch axis"}},
		{name: "float16 input", opts: tinyOpts{ImageInputType: 10},
			op: "load image model image.onnx", want: []string{`input "pixel_values" holds`, "want"}},
		{name: "context length mismatch", spec: func(s *CLIPSpec) { s.ContextLength = 64 },
			op: "load text model text.onnx", want: []string{`input "input_ids" has shape [-1 77], want [N,64]`}},
		{name: "spec says no mask but graph needs one", spec: func(s *CLIPSpec) { s.TextMaskInput = "-" },
			op: "load text model text.onnx", want: []string{`also needs input "attention_mask"`}},
		{name: "graph has no mask", opts: tinyOpts{TextInputs: []string{"input_ids"}},
			op: "load text model text.onnx", want: []string{`no input named "attention_mask"`}},
		{name: "spec without dim", spec: func(s *CLIPSpec) { s.Dim = 0 },
			op: "spec", want: []string{"dim 0"}},
		{name: "file outside the folder", spec: func(s *CLIPSpec) { s.TextModel = "../text.onnx" },
			op: "spec", want: []string{"text_model", "inside the model's folder"}},
		{name: "not byte-level tokenizer", opts: tinyOpts{Tokenizer: strings.Replace(tinyTokenizerJSON, `"type": "BPE"`, `"type": "WordPiece"`, 1)},
			op: "load tokenizer tokenizer.json", want: []string{`model type "WordPiece"`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			spec := writeTinyCLIP(t, dir, tc.opts)
			if tc.spec != nil {
				tc.spec(&spec)
			}
			if tc.setup != nil {
				tc.setup(t, dir)
			}
			c, err := LoadCLIP(dir, spec, SessionConfig{})
			if err == nil {
				c.Close()
				t.Fatal("loaded")
			}
			var me *Error
			if !errors.As(err, &me) {
				t.Fatalf("error %T %v, want *Error", err, err)
			}
			if me.Model != "clip_tiny" || me.Op != tc.op {
				t.Errorf("error model %q op %q, want clip_tiny %q", me.Model, me.Op, tc.op)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

// twoColour makes a w×h image whose columns [0, split) are colour a and the
// rest colour b (or, with rows, the rows).
func twoColour(w, h, split int, rows bool, a, b [3]byte) Image {
	img := Image{RGB: make([]byte, w*h*3), Width: w, Height: h}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := b
			if !rows && x < split || rows && y < split {
				c = a
			}
			copy(img.RGB[(y*w+x)*3:], c[:])
		}
	}
	return img
}

var (
	red  = [3]byte{255, 0, 0}
	blue = [3]byte{0, 0, 255}
)

func norm255(v byte, c int) float32 { return (float32(v)/255 - clipMean[c]) / clipStd[c] }

func TestCLIPResizedSize(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ w, h, s, ww, wh int }{
		{224, 224, 224, 224, 224},
		{640, 480, 224, 298, 224}, // 224*640/480 = 298.67, truncated as torchvision does
		{480, 640, 224, 224, 298},
		{1920, 1080, 224, 398, 224},
		{100, 50, 224, 448, 224}, // upscaled
		{448, 224, 224, 448, 224},
	} {
		if w, h := clipResized(tc.w, tc.h, tc.s); w != tc.ww || h != tc.wh {
			t.Errorf("%dx%d to %d: %dx%d, want %dx%d", tc.w, tc.h, tc.s, w, h, tc.ww, tc.wh)
		}
	}
}

func TestCLIPPreprocessCropsCentre(t *testing.T) {
	t.Parallel()
	const s = 224
	plane := s * s
	// 448×224: the shortest side is already 224, so only the crop acts:
	// columns 112..335 of the image. The image's first 150 columns are red,
	// so the crop's first 150-112 = 38 columns are red, the rest blue.
	img := twoColour(448, 224, 150, false, red, blue)
	dst := make([]float32, 3*plane)
	clipPixels(dst, img, s, clipMean, clipStd)
	for y := 0; y < s; y++ {
		for x := 0; x < s; x++ {
			c := blue
			if x < 38 {
				c = red
			}
			for ch := 0; ch < 3; ch++ {
				if got, want := dst[ch*plane+y*s+x], norm255(c[ch], ch); got != want {
					t.Fatalf("channel %d at (%d,%d) = %v, want %v", ch, x, y, got, want)
				}
			}
		}
	}
	// Tall: 224×448 with the top 150 rows red: the crop's top 38 rows red.
	img = twoColour(224, 448, 150, true, red, blue)
	clipPixels(dst, img, s, clipMean, clipStd)
	for y := 0; y < s; y++ {
		want := norm255(0, 0)
		if y < 38 {
			want = norm255(255, 0)
		}
		if got := dst[y*s+100]; got != want {
			t.Fatalf("red at row %d = %v, want %v", y, got, want)
		}
	}
}

func TestCLIPPreprocessResizesShortestSide(t *testing.T) {
	t.Parallel()
	const s = 224
	plane := s * s
	// 896×448 with the first 300 columns red: resized to 448×224, the edge
	// falls at column 150; the centre crop takes columns 112..335, so the red
	// share of the crop is (150-112)/224. Squashing the whole image to
	// 224×224 would give 300/896, cropping without resizing 0.
	img := twoColour(896, 448, 300, false, red, blue)
	dst := make([]float32, 3*plane)
	clipPixels(dst, img, s, clipMean, clipStd)
	var r, b float64
	for i := 0; i < plane; i++ {
		r += float64(dst[i])*float64(clipStd[0]) + float64(clipMean[0])
		b += float64(dst[2*plane+i])*float64(clipStd[2]) + float64(clipMean[2])
	}
	r, b = r/float64(plane), b/float64(plane)
	want := 38.0 / 224
	// The resampling blends the one or two columns at the edge.
	if math.Abs(r-want) > 1.0/224 || math.Abs(b-(1-want)) > 1.0/224 {
		t.Fatalf("red share %.4f blue share %.4f, want %.4f and %.4f", r, b, want, 1-want)
	}
	// Beyond the filter's reach (two crop columns each side of the edge at
	// 2× reduction) the colours are untouched.
	for _, x := range []int{0, 30, 33, 43, 100, 223} {
		wantR := byte(0)
		if x < 38 {
			wantR = 255
		}
		if got := dst[50*s+x]; got != norm255(wantR, 0) {
			t.Fatalf("red at column %d = %v, want %v", x, got, norm255(wantR, 0))
		}
	}
	// A flat colour stays exactly that colour whatever the size.
	flat := Image{RGB: make([]byte, 333*517*3), Width: 333, Height: 517}
	for i := 0; i < len(flat.RGB); i += 3 {
		flat.RGB[i], flat.RGB[i+1], flat.RGB[i+2] = 10, 200, 30
	}
	clipPixels(dst, flat, s, clipMean, clipStd)
	for ch, v := range []byte{10, 200, 30} {
		for i := 0; i < plane; i++ {
			if got := dst[ch*plane+i]; got != norm255(v, ch) {
				t.Fatalf("flat channel %d pixel %d = %v, want %v", ch, i, got, norm255(v, ch))
			}
		}
	}
}

// expectedImage is what the tiny image tower gives for a preprocessed image:
// the channel means times tinyImageW, L2-normalised.
func expectedImage(pixels []float32) []float32 {
	plane := len(pixels) / 3
	w := tinyImageW()
	var means [3]float64
	for c := range means {
		for _, v := range pixels[c*plane : (c+1)*plane] {
			means[c] += float64(v)
		}
		means[c] /= float64(plane)
	}
	out := make([]float32, tinyDim)
	for j := range out {
		var v float64
		for c := range means {
			v += means[c] * float64(w[c][j])
		}
		out[j] = float32(v)
	}
	return vecmath.Normalized(out)
}

func assertClose(t *testing.T, what string, got, want []float32, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range got {
		if math.Abs(float64(got[i])-float64(want[i])) > tol {
			t.Fatalf("%s: %v, want %v (±%g)", what, got, want, tol)
		}
	}
}

func assertUnit(t *testing.T, what string, v []float32) {
	t.Helper()
	var ss float64
	for _, x := range v {
		ss += float64(x) * float64(x)
	}
	if math.Abs(math.Sqrt(ss)-1) > 1e-6 {
		t.Fatalf("%s: norm %v, want 1", what, math.Sqrt(ss))
	}
}

func TestCLIPImageTowerSeesPreprocessedPixels(t *testing.T) {
	t.Parallel()
	c := loadTinyCLIP(t)
	img := twoColour(448, 224, 150, false, red, blue)
	vecs, err := c.EmbedImages([]Image{img})
	if err != nil {
		t.Fatal(err)
	}
	// Worked out by hand: the crop is 38/224 red, the rest blue.
	share := 38.0 / 224
	var means [3]float64
	for ch := 0; ch < 3; ch++ {
		means[ch] = share*float64(norm255(red[ch], ch)) + (1-share)*float64(norm255(blue[ch], ch))
	}
	w := tinyImageW()
	want := make([]float32, tinyDim)
	for j := range want {
		for ch := 0; ch < 3; ch++ {
			want[j] += float32(means[ch]) * w[ch][j]
		}
	}
	// The graph's ReduceMean adds 50176 float32 values; 2e-4 allows for
	// that, while one column of crop too many or too few moves the result
	// by about 5e-3.
	assertClose(t, "embedding", vecs[0], vecmath.Normalized(want), 2e-4)
	assertUnit(t, "embedding", vecs[0])
}

func randomImage(rng *rand.Rand, w, h int) Image {
	img := Image{RGB: make([]byte, w*h*3), Width: w, Height: h}
	// Smooth colour fields plus noise, different per image.
	fr, fg, fb := rng.Float64()*0.1, rng.Float64()*0.1, rng.Float64()*0.1
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			i := (y*w + x) * 3
			img.RGB[i] = byte(128 + 100*math.Sin(fr*float64(x)) + rng.Float64()*20)
			img.RGB[i+1] = byte(128 + 100*math.Cos(fg*float64(y)) + rng.Float64()*20)
			img.RGB[i+2] = byte(128 + 100*math.Sin(fb*float64(x+y)) + rng.Float64()*20)
		}
	}
	return img
}

func TestCLIPImageBatch(t *testing.T) {
	t.Parallel()
	c := loadTinyCLIP(t)
	rng := rand.New(rand.NewPCG(3, 4))
	imgs := []Image{
		randomImage(rng, 224, 224),
		randomImage(rng, 640, 480),
		randomImage(rng, 480, 640),
		randomImage(rng, 300, 1000),
		randomImage(rng, 97, 53), // upscaled
	}
	batch, err := c.EmbedImages(imgs)
	if err != nil {
		t.Fatal(err)
	}
	if len(batch) != len(imgs) {
		t.Fatalf("%d vectors for %d images", len(batch), len(imgs))
	}
	pixels := make([]float32, 3*224*224)
	for i, img := range imgs {
		if len(batch[i]) != tinyDim {
			t.Fatalf("image %d: %d dims", i, len(batch[i]))
		}
		assertUnit(t, fmt.Sprintf("image %d", i), batch[i])
		alone, err := c.EmbedImages([]Image{img})
		if err != nil {
			t.Fatal(err)
		}
		assertClose(t, fmt.Sprintf("image %d batched vs alone", i), batch[i], alone[0], 1e-6)
		clipPixels(pixels, img, 224, clipMean, clipStd)
		assertClose(t, fmt.Sprintf("image %d vs its pixels", i), batch[i], expectedImage(pixels), 2e-4)
		if i > 0 && slices.Equal(batch[i], batch[0]) {
			t.Fatalf("images 0 and %d embed the same", i)
		}
	}
	if v, err := c.EmbedImages(nil); err != nil || v != nil {
		t.Fatalf("no images: %v %v", v, err)
	}
	bad := Image{RGB: make([]byte, 10), Width: 4, Height: 4}
	_, err = c.EmbedImages([]Image{imgs[0], bad})
	var me *Error
	if err == nil || errors.As(err, &me) || !strings.Contains(err.Error(), "image 1: 10 bytes for 4x4 RGB24, want 48") {
		t.Fatalf("bad image: %v", err)
	}
}

func readTinyTokenizer(t *testing.T, doc string) *bpeTokenizer {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tokenizer.json")
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	tok, err := readTokenizer(path)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// editTokenizer returns tinyTokenizerJSON with edit applied to its decoded
// form.
func editTokenizer(t *testing.T, edit func(m map[string]any)) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(tinyTokenizerJSON), &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestCLIPTokenizer(t *testing.T) {
	t.Parallel()
	tok := readTinyTokenizer(t, tinyTokenizerJSON)
	pad := func(ids ...int64) []int64 { return append(ids, make([]int64, 77-len(ids))...) }
	cases := []struct {
		text string
		want []int64
	}{
		// "photo" takes five merges: p h → ph, o t → ot, ph ot → phot,
		// phot o</w> → photo</w>; a lone letter ends the word: a</w>.
		{"A photo of a CAT.", []int64{tBOS, tA, tPhoto, tOf, tA, tCat, tDot, tEOS}},
		{"  a\tphoto\n of A cat .", []int64{tBOS, tA, tPhoto, tOf, tA, tCat, tDot, tEOS}},
		{"cat.cat", []int64{tBOS, tCat, tDot, tCat, tEOS}},
		{"é", []int64{tBOS, tE, tEOS}},                        // two bytes, Ã ©</w> → Ã©</w>
		{"cat<|endoftext|>", []int64{tBOS, tCat, tEOS, tEOS}}, // special tokens in the text are kept whole
		{"", []int64{tBOS, tEOS}},
		{"a\u00a0cat\u3000.", []int64{tBOS, tA, tCat, tDot, tEOS}}, // Unicode spaces separate words, as in the reference
	}
	for _, tc := range cases {
		ids, mask := tok.batch([]string{tc.text}, 77)
		if !slices.Equal(ids, pad(tc.want...)) {
			t.Errorf("%q: ids %v, want %v", tc.text, ids[:len(tc.want)+2], tc.want)
		}
		wantMask := make([]int64, 77)
		for i := range tc.want {
			wantMask[i] = 1
		}
		if !slices.Equal(mask, wantMask) {
			t.Errorf("%q: mask %v, want %v", tc.text, mask[:len(tc.want)+2], wantMask[:len(tc.want)+2])
		}
	}

	// Truncation keeps the end token at the last position.
	ids, mask := tok.batch([]string{"a photo of a cat", "cat"}, 5)
	if want := []int64{tBOS, tA, tPhoto, tOf, tEOS, tBOS, tCat, tEOS, 0, 0}; !slices.Equal(ids, want) {
		t.Fatalf("truncated batch %v, want %v", ids, want)
	}
	if want := []int64{1, 1, 1, 1, 1, 1, 1, 1, 0, 0}; !slices.Equal(mask, want) {
		t.Fatalf("truncated mask %v, want %v", mask, want)
	}
	long := strings.Repeat("cat ", 200)
	ids, _ = tok.batch([]string{long}, 77)
	if ids[0] != tBOS || ids[76] != tEOS || ids[75] != tCat || len(ids) != 77 {
		t.Fatalf("long text: %v", ids)
	}

	// The same tokens from the other layouts tokenizer.json comes in.
	variants := map[string]string{
		"merges as pairs": editTokenizer(t, func(m map[string]any) {
			model := m["model"].(map[string]any)
			var pairs [][]string
			for _, s := range model["merges"].([]any) {
				a, b, _ := strings.Cut(s.(string), " ")
				pairs = append(pairs, []string{a, b})
			}
			model["merges"] = pairs
		}),
		"template post-processor": editTokenizer(t, func(m map[string]any) {
			m["post_processor"] = map[string]any{
				"type":   "TemplateProcessing",
				"single": []any{map[string]any{"SpecialToken": map[string]any{"id": "<|startoftext|>", "type_id": 0}}, map[string]any{"Sequence": map[string]any{"id": "A", "type_id": 0}}, map[string]any{"SpecialToken": map[string]any{"id": "<|endoftext|>", "type_id": 0}}},
				"special_tokens": map[string]any{
					"<|startoftext|>": map[string]any{"id": "<|startoftext|>", "ids": []int{23}, "tokens": []string{"<|startoftext|>"}},
					"<|endoftext|>":   map[string]any{"id": "<|endoftext|>", "ids": []int{24}, "tokens": []string{"<|endoftext|>"}},
				},
			}
		}),
		"no post-processor, no lower-case normalizer": editTokenizer(t, func(m map[string]any) {
			m["post_processor"] = nil
			m["normalizer"] = map[string]any{"type": "NFC"}
		}),
	}
	want := pad(tBOS, tA, tPhoto, tOf, tA, tCat, tDot, tEOS)
	for name, doc := range variants {
		ids, _ := readTinyTokenizer(t, doc).batch([]string{"A Photo of a CAT."}, 77)
		if !slices.Equal(ids, want) {
			t.Errorf("%s: %v, want %v", name, ids[:10], want[:10])
		}
	}
	padded := readTinyTokenizer(t, editTokenizer(t, func(m map[string]any) { m["padding"] = map[string]any{"pad_id": 24} }))
	if ids, _ := padded.batch([]string{"cat"}, 6); !slices.Equal(ids, []int64{tBOS, tCat, tEOS, 24, 24, 24}) {
		t.Errorf("pad_id 24: %v", ids)
	}

	// What it cannot tokenise as the reference would, it refuses.
	for name, doc := range map[string]string{
		"GPT-2 regex": editTokenizer(t, func(m map[string]any) {
			m["pre_tokenizer"] = map[string]any{"type": "ByteLevel", "add_prefix_space": false, "use_regex": true}
		}),
		"not byte-level": editTokenizer(t, func(m map[string]any) {
			m["pre_tokenizer"] = map[string]any{"type": "Whitespace"}
		}),
		"merge outside vocab": editTokenizer(t, func(m map[string]any) {
			model := m["model"].(map[string]any)
			model["merges"] = append(model["merges"].([]any), "c h")
		}),
	} {
		path := filepath.Join(t.TempDir(), "tokenizer.json")
		if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := readTokenizer(path); err == nil {
			t.Errorf("%s: read without error", name)
		}
	}
}

func TestByteToRunes(t *testing.T) {
	t.Parallel()
	m := byteToRunes()
	// GPT-2's table: printable bytes are themselves; space is Ġ, newline Ċ,
	// the soft hyphen 0xAD is Ń.
	for b, want := range map[byte]string{'a': "a", '!': "!", 0xE9: "é", ' ': "Ġ", '\n': "Ċ", 0xAD: "Ń", 0: "Ā"} {
		if m[b] != want {
			t.Errorf("byte %#x → %q, want %q", b, m[b], want)
		}
	}
	seen := map[string]bool{}
	for _, s := range m {
		seen[s] = true
	}
	if len(seen) != 256 {
		t.Fatalf("%d distinct runes for 256 bytes", len(seen))
	}
}

func TestCLIPTextBatch(t *testing.T) {
	t.Parallel()
	c := loadTinyCLIP(t)
	texts := []string{"a photo of a cat", "A PHOTO of a cat", "cat", "", strings.Repeat("photo of a cat. ", 40), "é."}
	batch, err := c.EmbedTexts(texts)
	if err != nil {
		t.Fatal(err)
	}
	if len(batch) != len(texts) {
		t.Fatalf("%d vectors for %d texts", len(batch), len(texts))
	}
	for i, text := range texts {
		if len(batch[i]) != tinyDim {
			t.Fatalf("text %d: %d dims", i, len(batch[i]))
		}
		assertUnit(t, text, batch[i])
		alone, err := c.EmbedTexts([]string{text})
		if err != nil {
			t.Fatal(err)
		}
		assertClose(t, fmt.Sprintf("text %d batched vs alone", i), batch[i], alone[0], 1e-6)
		// The tiny tower is the mean of table rows over the 77 ids.
		ids, _ := c.tok.batch([]string{text}, 77)
		want := make([]float32, tinyDim)
		for j := range want {
			var s float64
			for _, id := range ids {
				s += float64(tinyTable(int(id), j))
			}
			want[j] = float32(s / 77)
		}
		assertClose(t, fmt.Sprintf("text %d vs its ids", i), batch[i], vecmath.Normalized(want), 1e-5)
	}
	if !reflect.DeepEqual(batch[0], batch[1]) {
		t.Fatal("case changed the embedding")
	}
	if slices.Equal(batch[0], batch[2]) {
		t.Fatal("different texts embed the same")
	}
}

func TestCLIPConcurrentUse(t *testing.T) {
	t.Parallel()
	c := loadTinyCLIP(t)
	rng := rand.New(rand.NewPCG(5, 6))
	img := randomImage(rng, 320, 240)
	wantImg, err := c.EmbedImages([]Image{img})
	if err != nil {
		t.Fatal(err)
	}
	wantTxt, err := c.EmbedTexts([]string{"a photo of a cat"})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 5; i++ {
				v, err := c.EmbedImages([]Image{img})
				if err == nil && !slices.Equal(v[0], wantImg[0]) {
					err = errors.New("image embedding changed under concurrency")
				}
				if err == nil {
					var tv [][]float32
					tv, err = c.EmbedTexts([]string{"a photo of a cat"})
					if err == nil && !slices.Equal(tv[0], wantTxt[0]) {
						err = errors.New("text embedding changed under concurrency")
					}
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func TestReadCLIPSpecs(t *testing.T) {
	t.Parallel()
	models := t.TempDir()
	if specs, err := ReadCLIPSpecs(models); specs != nil || err != nil {
		t.Fatalf("no clip folder: %v %v", specs, err)
	}
	write := func(folder, doc string) string {
		t.Helper()
		dir := filepath.Join(models, "clip", folder)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if doc != "" {
			if err := os.WriteFile(filepath.Join(dir, CLIPSpecFile), []byte(doc), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	full := write("b", `{"name": "vitb32", "image_model": "v.onnx", "text_model": "t.onnx", "tokenizer": "tok.json",
		"image_input": "pixels", "image_output": "img", "text_input": "ids", "text_mask_input": "", "text_output": "txt",
		"image_size": 336, "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5], "context_length": 64, "dim": 768,
		"license": "MIT", "source": "openai/clip-vit-base-patch32"}`)
	minimal := write("a", `{"image_model": "image.onnx", "text_model": "text.onnx", "dim": 8}`)
	if err := os.WriteFile(filepath.Join(models, "clip", "README.txt"), []byte("not a model"), 0o644); err != nil {
		t.Fatal(err)
	}
	specs, err := ReadCLIPSpecs(models)
	if err != nil {
		t.Fatal(err)
	}
	want := []CLIPSpec{
		{Name: "a", ImageModel: "image.onnx", TextModel: "text.onnx", Tokenizer: "tokenizer.json",
			ImageInput: "pixel_values", ImageOutput: "image_embeds", TextInput: "input_ids", TextMaskInput: "attention_mask",
			TextOutput: "text_embeds", ImageSize: 224, Mean: clipMean, Std: clipStd, ContextLength: 77, Dim: 8, Dir: minimal},
		{Name: "vitb32", ImageModel: "v.onnx", TextModel: "t.onnx", Tokenizer: "tok.json",
			ImageInput: "pixels", ImageOutput: "img", TextInput: "ids", TextMaskInput: "-", TextOutput: "txt",
			ImageSize: 336, Mean: []float32{0.5, 0.5, 0.5}, Std: []float32{0.5, 0.5, 0.5}, ContextLength: 64, Dim: 768,
			License: "MIT", Source: "openai/clip-vit-base-patch32", Dir: full},
	}
	if !reflect.DeepEqual(specs, want) {
		t.Fatalf("specs\n%+v\nwant\n%+v", specs, want)
	}
	if specs[0].Space() != "clip_a" || specs[1].Space() != "clip_vitb32" {
		t.Fatalf("spaces %s %s", specs[0].Space(), specs[1].Space())
	}

	// The spec read from disk loads the model in its folder.
	clipInitORT(t)
	writeTinyCLIP(t, minimal, tinyOpts{})
	c, err := LoadCLIP(specs[0].Dir, specs[0], SessionConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if v, err := c.EmbedTexts([]string{"a cat"}); err != nil || len(v) != 1 || len(v[0]) != tinyDim {
		t.Fatalf("embed with the read spec: %v %v", v, err)
	}
	c.Close()

	for _, tc := range []struct {
		name, doc string
		want      []string
	}{
		{"malformed", `{"image_model": "i.onnx",`, []string{"zz/clip.json", "malformed clip.json"}},
		{"unknown field", `{"image_model": "i.onnx", "text_model": "t.onnx", "dim": 8, "dimension": 8}`, []string{"zz/clip.json", `unknown field "dimension"`}},
		{"no dim", `{"image_model": "i.onnx", "text_model": "t.onnx"}`, []string{"zz/clip.json", "dim 0"}},
		{"bad name", `{"name": "a b", "image_model": "i.onnx", "text_model": "t.onnx", "dim": 8}`, []string{"zz/clip.json", `name "a b"`}},
		{"duplicate name", `{"name": "vitb32", "image_model": "i.onnx", "text_model": "t.onnx", "dim": 8}`, []string{"zz/clip.json", `"vitb32" is also used by`}},
		{"no clip.json", "", []string{"zz/clip.json", "no such file"}},
	} {
		dir := write("zz", tc.doc)
		_, err := ReadCLIPSpecs(models)
		if err == nil {
			t.Errorf("%s: no error", tc.name)
		} else {
			for _, w := range tc.want {
				if !strings.Contains(filepath.ToSlash(err.Error()), w) {
					t.Errorf("%s: error %q does not say %q", tc.name, err, w)
				}
			}
		}
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
	}
}
