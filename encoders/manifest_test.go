package encoders

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func initORT(t *testing.T) {
	t.Helper()
	if err := InitRuntime(DefaultORTLib()); err != nil {
		t.Fatalf("%v (run scripts/setup)", err)
	}
}

// Every shipped model passes its full check: checksums, and graphs whose
// inputs and outputs are the manifest's.
func TestManifestCheckShippedModels(t *testing.T) {
	initORT(t)
	for _, m := range Manifest {
		ins, outs, err := m.Check(DefaultModelsDir())
		if err != nil {
			t.Errorf("%s: %v (run scripts/setup)", m.Name, err)
			continue
		}
		if len(m.Inputs) > 0 && (len(ins) < len(m.Inputs) || len(outs) < len(m.Outputs)) {
			t.Errorf("%s: graphs declare %v → %v", m.Name, ins, outs)
		}
	}
}

// A changed export fails at start-up with the model and the problem named.
func TestManifestCheckRefusesOtherGraphs(t *testing.T) {
	initORT(t)
	base, _ := Lookup(SpaceAudioSpeech)
	clone := func() Model {
		m := base
		m.Inputs = append([]TensorSpec(nil), base.Inputs...)
		m.Outputs = append([]TensorSpec(nil), base.Outputs...)
		for i := range m.Inputs {
			m.Inputs[i].Shape = append([]int64(nil), base.Inputs[i].Shape...)
		}
		return m
	}
	wrongShape := clone()
	wrongShape.Inputs[1].Shape = []int64{-1, 76, 32, 2}
	wrongName := clone()
	wrongName.Outputs[1].Name = "embeddings"
	wrongRank := clone()
	wrongRank.Inputs[0].Shape = []int64{-1}
	for name, c := range map[string]struct {
		m    Model
		want string
	}{
		"shape": {wrongShape, "has shape [-1 76 32 1], the manifest expects [-1 76 32 2]"},
		"name":  {wrongName, `has no output "embeddings"`},
		"rank":  {wrongRank, "input input has shape"},
	} {
		_, _, err := c.m.Check(DefaultModelsDir())
		if !errors.Is(err, ErrModelFile) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), SpaceAudioSpeech) {
			t.Errorf("%s: %v, want an error with %q", name, err, c.want)
		}
	}

	// A corrupt graph whose checksum is right (a user-supplied model, or
	// a manifest updated by mistake) is refused as unreadable.
	dir := t.TempDir()
	junk := []byte("this is not an onnx graph at all")
	os.WriteFile(filepath.Join(dir, "m.onnx"), junk, 0o644)
	sum := sha256.Sum256(junk)
	corrupt := Model{Name: "corrupt_v1", Files: []ModelFile{{Name: "m.onnx", SHA256: hex.EncodeToString(sum[:])}}}
	if _, _, err := corrupt.Check(dir); err == nil || !strings.Contains(err.Error(), "not a readable ONNX graph") || !strings.Contains(err.Error(), "corrupt_v1") {
		t.Errorf("corrupt graph: %v", err)
	}
}

// A GPU provider that this ONNX Runtime cannot run is refused at session
// creation, never replaced by the CPU.
func TestProvidersAreNeverSilentlyCPU(t *testing.T) {
	initORT(t)
	if err := SelfTest(DefaultModelsDir(), SessionConfig{}); err != nil {
		t.Fatalf("cpu self-test: %v", err)
	}
	for _, p := range []string{"cuda", "tensorrt"} {
		err := SelfTest(DefaultModelsDir(), SessionConfig{Provider: p})
		// The library scripts/setup installs is CPU-only; on a machine with
		// a GPU build and a GPU, the self-test passes instead.
		if err != nil && !errors.Is(err, ErrProvider) {
			t.Errorf("%s: %v, want ErrProvider", p, err)
		}
		if err == nil {
			// Only possible with the provider's library beside ONNX
			// Runtime's; without it a pass would be a silent CPU run.
			lib := filepath.Join(filepath.Dir(DefaultORTLib()), "libonnxruntime_providers_"+p+".so")
			if _, statErr := os.Stat(lib); statErr != nil {
				t.Errorf("%s passed its self-test without %s", p, lib)
			}
			continue
		}
		if _, err := LoadSpeech(DefaultModelsDir(), SessionConfig{Provider: p}); !errors.Is(err, ErrProvider) {
			t.Errorf("loading a model on %s: %v, want ErrProvider", p, err)
		}
	}
	for _, bad := range []SessionConfig{{Provider: "gpu"}, {Optimization: "max"}, {IntraOpThreads: -1}} {
		if err := bad.Validate(); err == nil {
			t.Errorf("%+v must be refused", bad)
		}
	}
}
