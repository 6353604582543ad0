package encoders

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sync"

	ort "github.com/yalue/onnxruntime_go"
)

// CacheDir is where scripts/setup puts the ONNX Runtime library and the
// models: ${XDG_CACHE_HOME:-$HOME/.cache}/mediavec.
func CacheDir() string {
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "mediavec")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return filepath.Join(os.TempDir(), "mediavec-cache")
	}
	return filepath.Join(home, ".cache", "mediavec")
}

// DefaultModelsDir is $MEDIAVEC_MODELS, else the models folder of CacheDir.
func DefaultModelsDir() string {
	if d := os.Getenv("MEDIAVEC_MODELS"); d != "" {
		return d
	}
	return filepath.Join(CacheDir(), "models")
}

// DefaultORTLib is $MEDIAVEC_ORT_LIB, else the library in CacheDir.
func DefaultORTLib() string {
	if p := os.Getenv("MEDIAVEC_ORT_LIB"); p != "" {
		return p
	}
	return filepath.Join(CacheDir(), "lib", "libonnxruntime.so.1")
}

var (
	runtimeMu   sync.Mutex
	runtimeLib  string
	errNoORTLib = errors.New("ONNX Runtime library not found; run scripts/setup or set MEDIAVEC_ORT_LIB")
)

// InitRuntime loads the ONNX Runtime shared library and creates the one
// environment of this process. Later calls with the same library are no-ops;
// a call with a different library is an error, since ONNX Runtime allows one
// environment per process.
func InitRuntime(libPath string) error {
	runtimeMu.Lock()
	defer runtimeMu.Unlock()
	if runtimeLib != "" {
		if runtimeLib != libPath {
			return fmt.Errorf("onnx runtime already initialised from %s, cannot switch to %s", runtimeLib, libPath)
		}
		return nil
	}
	if _, err := os.Stat(libPath); err != nil {
		return fmt.Errorf("%w: %s: %v", errNoORTLib, libPath, err)
	}
	ort.SetSharedLibraryPath(libPath)
	if err := ort.InitializeEnvironment(ort.WithLogLevelError()); err != nil {
		return fmt.Errorf("initialise onnx runtime from %s: %w", libPath, err)
	}
	runtimeLib = libPath
	return nil
}

// RuntimeVersion is the loaded ONNX Runtime's version, or "" before InitRuntime.
func RuntimeVersion() string {
	runtimeMu.Lock()
	defer runtimeMu.Unlock()
	if runtimeLib == "" {
		return ""
	}
	return ort.GetVersion()
}

// SessionConfig sets how a model's ONNX Runtime session runs.
type SessionConfig struct {
	// IntraOpThreads is the threads one inference may use. Defaults to
	// DefaultIntraOpThreads, 1:
	// the worker runs several jobs at once, and one thread per call scales
	// better across jobs than many threads fighting over two cores.
	IntraOpThreads int
	// InterOpThreads runs independent graph branches in parallel; 1 (the
	// default) runs them in turn.
	InterOpThreads int
	// Optimization is the graph optimisation level: "all"
	// (DefaultOptimization), "extended", "basic" or "none".
	Optimization string
	// Provider is the execution provider: "cpu" (DefaultProvider), "cuda" or
	// "tensorrt". A GPU provider that cannot run every node of the model
	// is an error, never a silent fall-back to the CPU (see SelfTest).
	Provider string
	// Device is the GPU ordinal for cuda and tensorrt.
	Device int
	// MaxBatch caps the items in one session call of a batched model
	// (the speech embedding windows); 0 takes the model's default (64).
	MaxBatch int
}

// The defaults of SessionConfig.
const (
	DefaultIntraOpThreads = 1
	DefaultOptimization   = "all"
	DefaultProvider       = "cpu"
)

// Validate checks the configuration, naming the first bad field.
func (c SessionConfig) Validate() error {
	switch c.Optimization {
	case "", "all", "extended", "basic", "none":
	default:
		return fmt.Errorf("graph optimisation %q: want all, extended, basic or none", c.Optimization)
	}
	switch c.Provider {
	case "", "cpu", "cuda", "tensorrt":
	default:
		return fmt.Errorf("execution provider %q: want cpu, cuda or tensorrt", c.Provider)
	}
	if c.IntraOpThreads < 0 || c.InterOpThreads < 0 || c.Device < 0 || c.MaxBatch < 0 {
		return errors.New("threads and device must not be negative")
	}
	return nil
}

func (c SessionConfig) options() (*ort.SessionOptions, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	opts, err := ort.NewSessionOptions()
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			opts.Destroy()
		}
	}()
	if err := opts.SetIntraOpNumThreads(cmp.Or(c.IntraOpThreads, DefaultIntraOpThreads)); err != nil {
		return nil, err
	}
	if err := opts.SetInterOpNumThreads(max(1, c.InterOpThreads)); err != nil {
		return nil, err
	}
	level := map[string]ort.GraphOptimizationLevel{
		"": ort.GraphOptimizationLevelEnableAll, "all": ort.GraphOptimizationLevelEnableAll,
		"extended": ort.GraphOptimizationLevelEnableExtended, "basic": ort.GraphOptimizationLevelEnableBasic,
		"none": ort.GraphOptimizationLevelDisableAll,
	}[c.Optimization]
	if err := opts.SetGraphOptimizationLevel(level); err != nil {
		return nil, err
	}
	switch c.Provider {
	case "cuda":
		cuda, err := ort.NewCUDAProviderOptions()
		if err != nil {
			return nil, providerError("cuda", err)
		}
		defer cuda.Destroy()
		if err := cuda.Update(map[string]string{"device_id": fmt.Sprint(c.Device)}); err != nil {
			return nil, providerError("cuda", err)
		}
		if err := opts.AppendExecutionProviderCUDA(cuda); err != nil {
			return nil, providerError("cuda", err)
		}
	case "tensorrt":
		trt, err := ort.NewTensorRTProviderOptions()
		if err != nil {
			return nil, providerError("tensorrt", err)
		}
		defer trt.Destroy()
		if err := trt.Update(map[string]string{"device_id": fmt.Sprint(c.Device)}); err != nil {
			return nil, providerError("tensorrt", err)
		}
		if err := opts.AppendExecutionProviderTensorRT(trt); err != nil {
			return nil, providerError("tensorrt", err)
		}
	}
	if c.Provider == "cuda" || c.Provider == "tensorrt" {
		// A node the GPU provider cannot run would otherwise go to the
		// CPU without a word: make that an error at session creation.
		if err := opts.AddSessionConfigEntry("session.disable_cpu_ep_fallback", "1"); err != nil {
			return nil, err
		}
	}
	ok = true
	return opts, nil
}

// ErrProvider is wrapped when a configured execution provider cannot run.
var ErrProvider = errors.New("execution provider unavailable")

func providerError(name string, err error) error {
	return fmt.Errorf("%w: %s: %v (the ONNX Runtime library from onnxruntime-node is CPU-only: use a GPU build of libonnxruntime with its libonnxruntime_providers_%s.so beside it, set --ort-lib, or choose --provider cpu)", ErrProvider, name, err, name)
}

func newSession(path string, inputs, outputs []string, cfg SessionConfig) (*ort.DynamicAdvancedSession, error) {
	opts, err := cfg.options()
	if err != nil {
		return nil, err
	}
	defer opts.Destroy()
	s, err := ort.NewDynamicAdvancedSession(path, inputs, outputs, opts)
	if err != nil && cfg.Provider != "" && cfg.Provider != "cpu" {
		// Blame the provider only if the model opens on the CPU.
		cpu := cfg
		cpu.Provider = ""
		if cs, cerr := newSession(path, inputs, outputs, cpu); cerr != nil {
			return nil, cerr
		} else {
			cs.Destroy()
		}
		return nil, providerError(cfg.Provider, err)
	}
	return s, err
}

// SelfTest proves that cfg's execution provider really runs: it opens a
// session of modelsDir's speech embedding model with the provider and CPU
// fall-back disabled, runs one window, and compares the result with the
// CPU's. It refuses (ErrProvider) rather than let a GPU configuration run
// on the CPU unnoticed. With the CPU provider it only checks the model
// runs.
func SelfTest(modelsDir string, cfg SessionConfig) error {
	window := make([]float32, embFrames*melBands)
	for i := range window {
		window[i] = float32(math.Sin(float64(i) * 0.37))
	}
	run := func(cfg SessionConfig) ([]float32, error) {
		s, err := newSession(filepath.Join(modelsDir, "embedding_model.onnx"), []string{"input_1"}, []string{"conv2d_19"}, cfg)
		if err != nil {
			return nil, err
		}
		defer s.Destroy()
		in, err := ort.NewTensor(ort.NewShape(1, embFrames, melBands, 1), window)
		if err != nil {
			return nil, err
		}
		defer in.Destroy()
		out := []ort.Value{nil}
		if err := s.Run([]ort.Value{in}, out); err != nil {
			return nil, err
		}
		defer out[0].Destroy()
		return slices.Clone(out[0].(*ort.Tensor[float32]).GetData()), nil
	}
	got, err := run(cfg)
	if err != nil {
		return fmt.Errorf("self-test of provider %q: %w", cfg.Provider, err)
	}
	if cfg.Provider == "" || cfg.Provider == "cpu" {
		return nil
	}
	cpu := cfg
	cpu.Provider = ""
	want, err := run(cpu)
	if err != nil {
		return fmt.Errorf("self-test on the cpu: %w", err)
	}
	for i := range want {
		if d := math.Abs(float64(got[i] - want[i])); d > 1e-2*(1+math.Abs(float64(want[i]))) {
			return fmt.Errorf("%w: %s: output %d is %v, the cpu gives %v", ErrProvider, cfg.Provider, i, got[i], want[i])
		}
	}
	return nil
}

// OpenCheck creates (and closes) a CPU session of the ONNX file at path with
// all its inputs and outputs: ONNX Runtime then validates the graph, infers
// its types and shapes, and runs its graph optimisations.
func OpenCheck(path string) error {
	ins, outs, err := ort.GetInputOutputInfo(path)
	if err != nil {
		return fmt.Errorf("read ONNX %s: %w", path, err)
	}
	names := func(infos []ort.InputOutputInfo) []string {
		n := make([]string, len(infos))
		for i, info := range infos {
			n[i] = info.Name
		}
		return n
	}
	s, err := newSession(path, names(ins), names(outs), SessionConfig{})
	if err != nil {
		return fmt.Errorf("ONNX Runtime refuses %s: %w", path, err)
	}
	return s.Destroy()
}
