package app

import (
	"cmp"
	"context"
	"path/filepath"

	"github.com/mediavec/mediavec/analyze"
	"github.com/mediavec/mediavec/encoders"
	"github.com/mediavec/mediavec/index"
	"github.com/mediavec/mediavec/index/embedded"
	"github.com/mediavec/mediavec/index/qdrant"
)

// LoadModels starts ONNX Runtime and loads every model, checked against
// the manifest, with cfg's session settings (a GPU provider self-tested).
func LoadModels(cfg Config) (*encoders.Set, error) {
	cfg = cfg.withDefaults()
	if err := encoders.InitRuntime(cfg.ORTLib); err != nil {
		return nil, err
	}
	return encoders.LoadAll(cfg.ModelsDir, cfg.Session, cfg.OCR)
}

// newAnalyzer is the analyzer of a model set: every model the set loaded
// goes to the stage that uses it.
func newAnalyzer(cfg Config, set *encoders.Set) (*analyze.Analyzer, error) {
	return analyze.New(cfg.Analyze, analyze.Models{Speech: set.Speech, VAD: set.VAD, OCR: set.OCR, CLIP: set.CLIP, CenterNet: set.CenterNet, Sentences: set.Sentences, Safety: set.Safety})
}

// LoadAnalyzer loads the models and returns the analyzer a worker with cfg
// runs, and a function that frees the models: for commands and tests that
// analyse media without a queue or an index.
func LoadAnalyzer(cfg Config) (*analyze.Analyzer, func(), error) {
	if err := cfg.Validate(); err != nil {
		return nil, nil, err
	}
	cfg = cfg.withDefaults()
	set, err := LoadModels(cfg)
	if err != nil {
		return nil, nil, err
	}
	a, err := newAnalyzer(cfg, set)
	if err != nil {
		set.Close()
		return nil, nil, err
	}
	return a, func() { set.Close() }, nil
}

// OpenIndex opens the index cfg names: Qdrant when cfg.Qdrant is set, else
// the embedded index in DataDir/index.
func OpenIndex(ctx context.Context, cfg Config) (index.Index, error) {
	if cfg.Qdrant != nil {
		return qdrant.Open(ctx, *cfg.Qdrant)
	}
	return embedded.Open(filepath.Join(cmp.Or(cfg.DataDir, DefaultDataDir), "index"))
}

// OpenIndexReadOnly opens the index cfg names for commands that only
// read: the embedded index's files are left byte for byte as they are
// (embedded.OpenReadOnly), so listing cannot damage what a crash left.
func OpenIndexReadOnly(ctx context.Context, cfg Config) (index.Index, error) {
	if cfg.Qdrant != nil {
		return qdrant.Open(ctx, *cfg.Qdrant)
	}
	return embedded.OpenReadOnly(filepath.Join(cmp.Or(cfg.DataDir, DefaultDataDir), "index"))
}
