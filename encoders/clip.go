package encoders

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	ort "github.com/yalue/onnxruntime_go"
	"golang.org/x/image/draw"

	"github.com/mediavec/mediavec/internal/vecmath"
)

// CLIPSpec describes a user-supplied CLIP-family model: an image tower and a
// text tower, exported to ONNX, that map images and texts into one space,
// and the tokenizer.json of its text tower. It is read from
// MODELSDIR/clip/NAME/clip.json; file names are relative to that folder.
//
// A minimal clip.json for a Hugging Face CLIPVisionModelWithProjection and
// CLIPTextModelWithProjection export:
//
//	{"name": "vitb32", "image_model": "vision_model.onnx",
//	 "text_model": "text_model.onnx", "dim": 512,
//	 "license": "MIT", "source": "openai/clip-vit-base-patch32"}
type CLIPSpec struct {
	// Name makes the space "clip_"+Name. Letters, digits and underscores.
	// Defaults to the folder's name.
	Name string `json:"name"`
	// ImageModel is the image tower's .onnx file. Required.
	ImageModel string `json:"image_model"`
	// TextModel is the text tower's .onnx file. Required.
	TextModel string `json:"text_model"`
	// Tokenizer is the text tower's tokenizer.json (byte-level BPE).
	// Defaults to "tokenizer.json".
	Tokenizer string `json:"tokenizer"`
	// ImageInput is the image tower's float32 [N,3,S,S] input. Defaults to
	// "pixel_values".
	ImageInput string `json:"image_input"`
	// ImageOutput is the image tower's [N,Dim] output. Defaults to
	// "image_embeds".
	ImageOutput string `json:"image_output"`
	// TextInput is the text tower's int64 [N,ContextLength] token ids.
	// Defaults to "input_ids".
	TextInput string `json:"text_input"`
	// TextMaskInput is the text tower's int64 [N,ContextLength] attention
	// mask. Defaults to "attention_mask"; "-" (or "" in clip.json) when the
	// export takes no mask.
	TextMaskInput string `json:"text_mask_input"`
	// TextOutput is the text tower's [N,Dim] output. Defaults to
	// "text_embeds".
	TextOutput string `json:"text_output"`
	// ImageSize is the side S of the square the image tower takes. Defaults
	// to 224.
	ImageSize int `json:"image_size"`
	// Mean and Std normalise each RGB channel after scaling to [0,1].
	// Default to OpenAI CLIP's.
	Mean []float32 `json:"mean"`
	Std  []float32 `json:"std"`
	// ContextLength is the tokens per text, start and end tokens included.
	// Defaults to 77.
	ContextLength int `json:"context_length"`
	// Dim is the embedding size, checked against both towers' outputs at
	// load. Required.
	Dim int `json:"dim"`
	// License and Source describe the model for the README and the models
	// listing.
	License string `json:"license"`
	Source  string `json:"source"`

	// Dir is the folder the spec was read from (set by ReadCLIPSpecs).
	Dir string `json:"-"`
}

// CLIPSpecFile is the name of a CLIP model's description in its folder.
const CLIPSpecFile = "clip.json"

var (
	clipMean = []float32{0.48145466, 0.4578275, 0.40821073}
	clipStd  = []float32{0.26862954, 0.26130258, 0.27577711}
	clipName = regexp.MustCompile(`^[A-Za-z0-9_]+$`)
)

// Space is the embedding space of the model: "clip_"+Name.
func (s CLIPSpec) Space() string { return "clip_" + s.Name }

func (s CLIPSpec) withDefaults() CLIPSpec {
	s.Tokenizer = cmp.Or(s.Tokenizer, "tokenizer.json")
	s.ImageInput = cmp.Or(s.ImageInput, "pixel_values")
	s.ImageOutput = cmp.Or(s.ImageOutput, "image_embeds")
	s.TextInput = cmp.Or(s.TextInput, "input_ids")
	s.TextMaskInput = cmp.Or(s.TextMaskInput, "attention_mask")
	s.TextOutput = cmp.Or(s.TextOutput, "text_embeds")
	s.ImageSize = cmp.Or(s.ImageSize, 224)
	s.ContextLength = cmp.Or(s.ContextLength, 77)
	if s.Mean == nil {
		s.Mean = slices.Clone(clipMean)
	}
	if s.Std == nil {
		s.Std = slices.Clone(clipStd)
	}
	return s
}

// maskInput is the attention mask input's name, or "" when there is none.
func (s CLIPSpec) maskInput() string {
	if s.TextMaskInput == "-" {
		return ""
	}
	return s.TextMaskInput
}

// validate checks a spec with defaults applied and names the bad field.
func (s CLIPSpec) validate() error {
	switch {
	case !clipName.MatchString(s.Name):
		return fmt.Errorf("name %q: want letters, digits and underscores", s.Name)
	case s.ImageModel == "":
		return errors.New("image_model is required")
	case s.TextModel == "":
		return errors.New("text_model is required")
	case s.Dim <= 0:
		return fmt.Errorf("dim %d: must be the embedding size, above 0", s.Dim)
	case s.ImageSize <= 0:
		return fmt.Errorf("image_size %d: must be above 0", s.ImageSize)
	case s.ContextLength <= 2:
		return fmt.Errorf("context_length %d: must leave room for the start and end tokens", s.ContextLength)
	case len(s.Mean) != 3:
		return fmt.Errorf("mean has %d values, want 3 (R, G, B)", len(s.Mean))
	case len(s.Std) != 3:
		return fmt.Errorf("std has %d values, want 3 (R, G, B)", len(s.Std))
	}
	for _, v := range s.Std {
		if !(v > 0) {
			return fmt.Errorf("std %v: every value must be above 0", s.Std)
		}
	}
	for _, n := range []struct{ field, v string }{
		{"image_model", s.ImageModel}, {"text_model", s.TextModel}, {"tokenizer", s.Tokenizer},
	} {
		if filepath.IsAbs(n.v) || !filepath.IsLocal(n.v) {
			return fmt.Errorf("%s %q: must be a file name inside the model's folder", n.field, n.v)
		}
	}
	return nil
}

// ReadCLIPSpecs reads MODELSDIR/clip/*/clip.json, sorted by folder name,
// with defaults applied. No clip folder gives none and no error. A folder
// without clip.json, a malformed or invalid clip.json, or two models with
// the same name is an error that names the file.
func ReadCLIPSpecs(modelsDir string) ([]CLIPSpec, error) {
	root := filepath.Join(modelsDir, "clip")
	entries, err := os.ReadDir(root)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read CLIP models: %w", err)
	}
	var specs []CLIPSpec
	seen := map[string]string{}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		dir := filepath.Join(root, e.Name())
		path := filepath.Join(dir, CLIPSpecFile)
		spec, err := readCLIPSpec(path)
		if err != nil {
			return nil, fmt.Errorf("CLIP model %s: %w", path, err)
		}
		if spec.Name == "" {
			spec.Name = e.Name()
		}
		spec = spec.withDefaults()
		spec.Dir = dir
		if err := spec.validate(); err != nil {
			return nil, fmt.Errorf("CLIP model %s: %w", path, err)
		}
		if other, dup := seen[spec.Name]; dup {
			return nil, fmt.Errorf("CLIP model %s: name %q is also used by %s", path, spec.Name, other)
		}
		seen[spec.Name] = path
		specs = append(specs, spec)
	}
	return specs, nil
}

func readCLIPSpec(path string) (CLIPSpec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return CLIPSpec{}, err
	}
	var spec CLIPSpec
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&spec); err != nil {
		return CLIPSpec{}, fmt.Errorf("malformed %s: %w", CLIPSpecFile, err)
	}
	// In clip.json an explicit "" means the export takes no mask, while a
	// missing field takes the default.
	var mask struct {
		V *string `json:"text_mask_input"`
	}
	if json.Unmarshal(data, &mask) == nil && mask.V != nil && *mask.V == "" {
		spec.TextMaskInput = "-"
	}
	return spec, nil
}

// Image is a packed RGB24 image: Width*Height*3 bytes, row-major, R G B.
type Image struct {
	RGB           []byte
	Width, Height int
}

// CLIP embeds images and texts into one space with a user-supplied
// CLIP-family model. Its methods are safe for concurrent use.
//
// No CLIP model ships with mediavec. The package's tests run CLIP on tiny
// graphs they write themselves, with the input and output names of common
// CLIP exports, and on a tiny tokenizer.json: they prove loading, batching,
// preprocessing and shapes, never retrieval quality, which only the real
// model can show.
type CLIP struct {
	spec  CLIPSpec
	image *ort.DynamicAdvancedSession
	text  *ort.DynamicAdvancedSession
	tok   *bpeTokenizer
}

// LoadCLIP opens the two towers and the tokenizer of spec from dir, after
// checking that each graph has the spec's input and output names, element
// types and shapes (dynamic dimensions allowed) and that both outputs are
// Dim wide. Every failure is an *Error that names the space, the file and
// the problem. InitRuntime must have been called.
func LoadCLIP(dir string, spec CLIPSpec, cfg SessionConfig) (*CLIP, error) {
	spec = spec.withDefaults()
	spec.Dir = dir
	space := spec.Space()
	if err := spec.validate(); err != nil {
		return nil, &Error{Model: space, Op: "spec", Err: err}
	}
	s := spec.ImageSize
	imgPath := filepath.Join(dir, spec.ImageModel)
	if err := checkGraph(imgPath,
		[]ioWant{{spec.ImageInput, ort.TensorElementDataTypeFloat, []int64{-1, 3, int64(s), int64(s)}}},
		ioWant{spec.ImageOutput, ort.TensorElementDataTypeFloat, []int64{-1, int64(spec.Dim)}},
	); err != nil {
		return nil, &Error{Model: space, Op: "load image model " + spec.ImageModel, Err: err}
	}
	textIn := []ioWant{{spec.TextInput, ort.TensorElementDataTypeInt64, []int64{-1, int64(spec.ContextLength)}}}
	if m := spec.maskInput(); m != "" {
		textIn = append(textIn, ioWant{m, ort.TensorElementDataTypeInt64, []int64{-1, int64(spec.ContextLength)}})
	}
	textPath := filepath.Join(dir, spec.TextModel)
	if err := checkGraph(textPath, textIn,
		ioWant{spec.TextOutput, ort.TensorElementDataTypeFloat, []int64{-1, int64(spec.Dim)}},
	); err != nil {
		return nil, &Error{Model: space, Op: "load text model " + spec.TextModel, Err: err}
	}
	tok, err := readTokenizer(filepath.Join(dir, spec.Tokenizer))
	if err != nil {
		return nil, &Error{Model: space, Op: "load tokenizer " + spec.Tokenizer, Err: err}
	}
	if n := len(tok.bos) + len(tok.eos); spec.ContextLength <= n {
		return nil, &Error{Model: space, Op: "load tokenizer " + spec.Tokenizer,
			Err: fmt.Errorf("context_length %d leaves no room for text after %d start and end tokens", spec.ContextLength, n)}
	}

	img, err := newSession(imgPath, []string{spec.ImageInput}, []string{spec.ImageOutput}, cfg)
	if err != nil {
		return nil, &Error{Model: space, Op: "load image model " + spec.ImageModel, Err: err}
	}
	names := make([]string, len(textIn))
	for i, w := range textIn {
		names[i] = w.name
	}
	txt, err := newSession(textPath, names, []string{spec.TextOutput}, cfg)
	if err != nil {
		img.Destroy()
		return nil, &Error{Model: space, Op: "load text model " + spec.TextModel, Err: err}
	}
	return &CLIP{spec: spec, image: img, text: txt, tok: tok}, nil
}

// ioWant is an input or output a graph must have; -1 in shape matches any
// size, and a dynamic dimension in the graph matches any wanted size.
type ioWant struct {
	name  string
	dtype ort.TensorElementDataType
	shape []int64
}

func checkGraph(path string, inputs []ioWant, output ioWant) error {
	if _, err := os.Stat(path); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("missing file %s", path)
		}
		return err
	}
	ins, outs, err := ort.GetInputOutputInfo(path)
	if err != nil {
		return fmt.Errorf("%s is not a readable ONNX model: %w", path, err)
	}
	for _, w := range inputs {
		if err := matchIO("input", ins, w); err != nil {
			return err
		}
	}
	for _, in := range ins {
		if !slices.ContainsFunc(inputs, func(w ioWant) bool { return w.name == in.Name }) {
			return fmt.Errorf("the graph also needs input %q (%s %v), which the spec does not feed", in.Name, in.DataType, in.Dimensions)
		}
	}
	return matchIO("output", outs, output)
}

func matchIO(kind string, have []ort.InputOutputInfo, w ioWant) error {
	i := slices.IndexFunc(have, func(h ort.InputOutputInfo) bool { return h.Name == w.name })
	if i < 0 {
		names := make([]string, len(have))
		for j, h := range have {
			names[j] = h.Name
		}
		return fmt.Errorf("no %s named %q; the graph's %ss are %q", kind, w.name, kind, names)
	}
	h := have[i]
	if h.OrtValueType != ort.ONNXTypeTensor {
		return fmt.Errorf("%s %q is a %s, want a tensor", kind, w.name, h.OrtValueType)
	}
	if h.DataType != w.dtype {
		return fmt.Errorf("%s %q holds %s, want %s", kind, w.name, h.DataType, w.dtype)
	}
	if len(h.Dimensions) != len(w.shape) {
		return fmt.Errorf("%s %q has shape %v, want %s", kind, w.name, h.Dimensions, shapeString(w.shape))
	}
	last := len(w.shape) - 1
	if d := h.Dimensions[last]; kind == "output" && d > 0 && w.shape[last] > 0 && d != w.shape[last] {
		return fmt.Errorf("output %q is %d wide (shape %v), but the spec's dim is %d", w.name, d, h.Dimensions, w.shape[last])
	}
	for j, d := range h.Dimensions {
		if d > 0 && w.shape[j] > 0 && d != w.shape[j] {
			return fmt.Errorf("%s %q has shape %v, want %s", kind, w.name, h.Dimensions, shapeString(w.shape))
		}
	}
	// Frames and queries are batched: an export with a fixed batch size
	// would load, then fail on the first batch of two.
	if d := h.Dimensions[0]; d > 0 && w.shape[0] < 0 {
		return fmt.Errorf("%s %q has a fixed batch size of %d (shape %v): export it with a dynamic batch axis", kind, w.name, d, h.Dimensions)
	}
	return nil
}

func shapeString(s []int64) string {
	parts := make([]string, len(s))
	for i, d := range s {
		if d < 0 {
			parts[i] = "N"
		} else {
			parts[i] = fmt.Sprint(d)
		}
	}
	return "[" + strings.Join(parts, ",") + "]"
}

// Space is the embedding space: "clip_"+Name.
func (c *CLIP) Space() string { return c.spec.Space() }

// Dim is the embedding size.
func (c *CLIP) Dim() int { return c.spec.Dim }

// Spec is the spec the model was loaded with, defaults applied.
func (c *CLIP) Spec() CLIPSpec { return c.spec }

// Close releases the sessions.
func (c *CLIP) Close() error {
	c.image.Destroy()
	c.text.Destroy()
	return nil
}

// EmbedImages embeds imgs in one run of the image tower and returns one
// L2-normalised vector per image, in order.
//
// Each image is resized so that its shortest side is ImageSize, centre
// cropped to ImageSize×ImageSize, scaled to [0,1] and normalised with
// Mean/Std per RGB channel, and laid out NCHW. The resize is bicubic
// (Catmull-Rom, as the bicubic filter of CLIP's reference preprocessing) and
// filters over the whole footprint when it shrinks, as PIL does; an image
// whose shortest side is already ImageSize is only cropped.
//
// An image whose RGB length does not match its size is an input error (not
// an *Error); a failed run is an *Error.
func (c *CLIP) EmbedImages(imgs []Image) ([][]float32, error) {
	if len(imgs) == 0 {
		return nil, nil
	}
	s := c.spec.ImageSize
	per := 3 * s * s
	buf := make([]float32, len(imgs)*per)
	for i, img := range imgs {
		if err := img.check(); err != nil {
			return nil, fmt.Errorf("%s: image %d: %w", c.Space(), i, err)
		}
		clipPixels(buf[i*per:(i+1)*per], img, s, c.spec.Mean, c.spec.Std)
	}
	in, err := ort.NewTensor(ort.NewShape(int64(len(imgs)), 3, int64(s), int64(s)), buf)
	if err != nil {
		return nil, &Error{Model: c.Space(), Op: "image tower", Err: err}
	}
	defer in.Destroy()
	vecs, err := c.run(c.image, []ort.Value{in}, len(imgs))
	if err != nil {
		return nil, &Error{Model: c.Space(), Op: "image tower", Err: err}
	}
	return vecs, nil
}

// EmbedTexts embeds texts in one run of the text tower and returns one
// L2-normalised vector per text, in order. Each text is tokenised as the
// model's tokenizer.json says (lower-cased as CLIP does), wrapped in the
// start and end tokens, cut to ContextLength keeping the end token, and
// padded with the tokenizer's pad id (0 when it names none) under a zero
// attention mask.
func (c *CLIP) EmbedTexts(texts []string) ([][]float32, error) {
	if len(texts) == 0 {
		return nil, nil
	}
	n, l := int64(len(texts)), int64(c.spec.ContextLength)
	// BPE costs more than linear time in a word's length, and only the
	// first ContextLength tokens are used: a text is cut well before
	// that many tokens could need it.
	capped := make([]string, len(texts))
	for i, t := range texts {
		capped[i] = truncateRunes(t, 16*c.spec.ContextLength)
	}
	ids, mask := c.tok.batch(capped, c.spec.ContextLength)
	idT, err := ort.NewTensor(ort.NewShape(n, l), ids)
	if err != nil {
		return nil, &Error{Model: c.Space(), Op: "text tower", Err: err}
	}
	defer idT.Destroy()
	inputs := []ort.Value{idT}
	if c.spec.maskInput() != "" {
		maskT, err := ort.NewTensor(ort.NewShape(n, l), mask)
		if err != nil {
			return nil, &Error{Model: c.Space(), Op: "text tower", Err: err}
		}
		defer maskT.Destroy()
		inputs = append(inputs, maskT)
	}
	vecs, err := c.run(c.text, inputs, len(texts))
	if err != nil {
		return nil, &Error{Model: c.Space(), Op: "text tower", Err: err}
	}
	return vecs, nil
}

// run runs one tower and returns its n output rows, L2-normalised.
func (c *CLIP) run(sess *ort.DynamicAdvancedSession, inputs []ort.Value, n int) ([][]float32, error) {
	outs := []ort.Value{nil}
	if err := sess.Run(inputs, outs); err != nil {
		return nil, err
	}
	defer outs[0].Destroy()
	t, ok := outs[0].(*ort.Tensor[float32])
	if !ok {
		return nil, fmt.Errorf("output is %T, want a float32 tensor", outs[0])
	}
	shape, d := t.GetShape(), c.spec.Dim
	if len(shape) != 2 || shape[0] != int64(n) || shape[1] != int64(d) {
		return nil, fmt.Errorf("output shape %v, want [%d %d]", shape, n, d)
	}
	data := t.GetData()
	vecs := make([][]float32, n)
	for i := range vecs {
		vecs[i] = vecmath.Normalized(data[i*d : (i+1)*d])
	}
	return vecs, nil
}

func (img Image) check() error {
	if img.Width <= 0 || img.Height <= 0 {
		return fmt.Errorf("size %dx%d", img.Width, img.Height)
	}
	if len(img.RGB) != img.Width*img.Height*3 {
		return fmt.Errorf("%d bytes for %dx%d RGB24, want %d", len(img.RGB), img.Width, img.Height, img.Width*img.Height*3)
	}
	return nil
}

// clipResized is the size of img after resizing its shortest side to s, as
// torchvision and Hugging Face's CLIPImageProcessor compute it (the long
// side is truncated).
func clipResized(w, h, s int) (int, int) {
	if w <= h {
		return s, max(s, s*h/w)
	}
	return max(s, s*w/h), s
}

// clipPixels writes the preprocessed NCHW pixels of img into dst (3*s*s
// values): shortest side resized to s, centre crop s×s, x/255, then
// (x-mean)/std per channel.
func clipPixels(dst []float32, img Image, s int, mean, std []float32) {
	w, h := img.Width, img.Height
	nw, nh := clipResized(w, h, s)
	left, top := (nw-s)/2, (nh-s)/2
	plane := s * s
	put := func(x, y int, r, g, b byte) {
		i := y*s + x
		dst[i] = (float32(r)/255 - mean[0]) / std[0]
		dst[plane+i] = (float32(g)/255 - mean[1]) / std[1]
		dst[2*plane+i] = (float32(b)/255 - mean[2]) / std[2]
	}
	if nw == w && nh == h {
		for y := 0; y < s; y++ {
			row := img.RGB[((y+top)*w+left)*3:]
			for x := 0; x < s; x++ {
				put(x, y, row[3*x], row[3*x+1], row[3*x+2])
			}
		}
		return
	}
	src := image.NewRGBA(image.Rect(0, 0, w, h))
	for i, j := 0, 0; i < len(img.RGB); i, j = i+3, j+4 {
		src.Pix[j], src.Pix[j+1], src.Pix[j+2], src.Pix[j+3] = img.RGB[i], img.RGB[i+1], img.RGB[i+2], 0xff
	}
	crop := image.NewRGBA(image.Rect(0, 0, s, s))
	// Scale into the whole resized frame, placed so that only its centre
	// s×s falls inside crop; the rest is clipped.
	draw.CatmullRom.Scale(crop, image.Rect(-left, -top, nw-left, nh-top), src, src.Bounds(), draw.Src, nil)
	for y := 0; y < s; y++ {
		row := crop.Pix[y*crop.Stride:]
		for x := 0; x < s; x++ {
			put(x, y, row[4*x], row[4*x+1], row[4*x+2])
		}
	}
}

func truncateRunes(s string, n int) string {
	i := 0
	for pos := range s {
		if i == n {
			return s[:pos]
		}
		i++
	}
	return s
}
