package encoders

import (
	"cmp"
	"errors"
	"sync"
)

// Set is every shipped model, loaded: what a worker or an API process
// runs with.
type Set struct {
	Speech *Speech
	VAD    *VAD
	OCR    *OCR
	// CenterNet gives frame_centernet_v1 and the object labels.
	CenterNet *CenterNet
	// Sentences is Universal Sentence Encoder Lite: text_use_v1.
	Sentences *SentenceEncoder
	// Safety is nsfwjs's classifier: safety_nsfwjs_v1 and
	// frame_mobilenet_v1.
	Safety *SafetyModel
	// CLIP holds the user-supplied CLIP-family models found under
	// MODELS/clip/*/clip.json, each its own space.
	CLIP []*CLIPModel
}

// LoadAll checks every model of the Manifest (checksums, graph inputs and
// outputs), proves cfg's execution provider with SelfTest, and loads the
// sessions, the OCR with ocr's languages and settings. InitRuntime must have run. Any problem fails here, naming the
// model, not at the first job.
//
// The checks, then the loads, run side by side: a worker that restarts
// (a crash, a scale-up) is taking jobs again sooner. The first problem in
// manifest order is the one reported, whatever finished first.
func LoadAll(modelsDir string, cfg SessionConfig, ocr OCRConfig) (*Set, error) {
	checks := make([]func() error, len(Manifest))
	for i, m := range Manifest {
		checks[i] = func() error { _, _, err := m.Check(modelsDir); return err }
	}
	if err := inParallel(checks...); err != nil {
		return nil, err
	}
	if err := SelfTest(modelsDir, cfg); err != nil {
		return nil, err
	}
	s := &Set{}
	var clip []*CLIPSpec
	err := inParallel(
		func() (err error) { s.Speech, err = LoadSpeech(modelsDir, cfg); return err },
		func() (err error) { s.VAD, err = LoadVAD(modelsDir, cfg); return err },
		func() (err error) { s.OCR, err = LoadOCR(modelsDir, ocr, cfg); return err },
		func() (err error) { s.CenterNet, err = LoadCenterNet(modelsDir, centerNetConfig(cfg), cfg); return err },
		func() (err error) { s.Sentences, err = LoadSentenceEncoder(modelsDir, cfg); return err },
		func() (err error) { s.Safety, err = LoadSafety(modelsDir, safetyConfig(cfg), cfg); return err },
		func() error {
			specs, err := ReadCLIPSpecs(modelsDir)
			for i := range specs {
				clip = append(clip, &specs[i])
			}
			return err
		},
	)
	if err != nil {
		s.Close()
		return nil, err
	}
	for _, spec := range clip {
		c, err := LoadCLIP(spec.Dir, *spec, cfg)
		if err != nil {
			s.Close()
			return nil, err
		}
		s.CLIP = append(s.CLIP, NewCLIPModel(c, cfg.MaxBatch))
	}
	return s, nil
}

// inParallel runs fns side by side and returns the first error in their
// order.
func inParallel(fns ...func() error) error {
	errs := make([]error, len(fns))
	var wg sync.WaitGroup
	for i, fn := range fns {
		wg.Go(func() { errs[i] = fn() })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// Close releases every loaded session.
func (s *Set) Close() error {
	var errs []error
	if s.Speech != nil {
		errs = append(errs, s.Speech.Close())
	}
	if s.VAD != nil {
		errs = append(errs, s.VAD.Close())
	}
	if s.OCR != nil {
		errs = append(errs, s.OCR.Close())
	}
	if s.CenterNet != nil {
		errs = append(errs, s.CenterNet.Close())
	}
	if s.Sentences != nil {
		errs = append(errs, s.Sentences.Close())
	}
	if s.Safety != nil {
		errs = append(errs, s.Safety.Close())
	}
	for _, c := range s.CLIP {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}

// centerNetConfig batches CenterNet's frames only on a GPU, where a batch
// pays (up to cfg.MaxBatch, 8 by default); on the CPU one frame a call is
// fastest, and concurrent jobs call the session side by side.
func centerNetConfig(cfg SessionConfig) CenterNetConfig {
	if cfg.Provider != "" && cfg.Provider != "cpu" {
		return CenterNetConfig{MaxBatch: cmp.Or(cfg.MaxBatch, 8)}
	}
	return CenterNetConfig{}
}

// safetyConfig batches the safety model's frames only on a GPU, as
// CenterNet's.
func safetyConfig(cfg SessionConfig) SafetyConfig {
	if cfg.Provider != "" && cfg.Provider != "cpu" {
		return SafetyConfig{MaxBatch: cmp.Or(cfg.MaxBatch, 8)}
	}
	return SafetyConfig{}
}
