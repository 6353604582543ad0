package encoders

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
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
	// IntraOpThreads is the threads one inference may use. Defaults to 1:
	// the worker runs several jobs at once, and one thread per call scales
	// better across jobs than many threads fighting over two cores.
	IntraOpThreads int
}

func newSession(path string, inputs, outputs []string, cfg SessionConfig) (*ort.DynamicAdvancedSession, error) {
	opts, err := ort.NewSessionOptions()
	if err != nil {
		return nil, err
	}
	defer opts.Destroy()
	threads := cfg.IntraOpThreads
	if threads <= 0 {
		threads = 1
	}
	if err := opts.SetIntraOpNumThreads(threads); err != nil {
		return nil, err
	}
	if err := opts.SetInterOpNumThreads(1); err != nil {
		return nil, err
	}
	return ort.NewDynamicAdvancedSession(path, inputs, outputs, opts)
}
