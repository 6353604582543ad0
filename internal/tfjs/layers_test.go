package tfjs_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mediavec/mediavec/internal/tfjs"
)

// Keras layers models are refused by name, whether real (nsfwjs's
// mobilenet_v2, unpacked by scripts/setup) or in either of the layers
// formats' shapes; the refusal says how to make a graph model of one.
func TestLayersModelsRefused(t *testing.T) {
	dir := t.TempDir()
	write := func(name, doc string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		name, path string
	}{
		{"nsfwjs mobilenet_v2", filepath.Join(tfjsModelsDir(t), "nsfwjs", "mobilenet_v2", "model.json")},
		{"format field", write("format.json", `{"format":"layers-model","modelTopology":{"class_name":"Sequential","config":{}}}`)},
		{"class_name at the top", write("top.json", `{"modelTopology":{"class_name":"Model","config":{"layers":[]},"keras_version":"tfjs-layers 4.22.0"}}`)},
		{"model_config", write("config.json", `{"modelTopology":{"keras_version":"2.2.4","model_config":{"class_name":"Model"}}}`)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tfjs.Load(tc.path)
			if !errors.Is(err, tfjs.ErrUnsupported) || !strings.Contains(err.Error(), "Keras layers model") || !strings.Contains(err.Error(), "tfjs_graph_model") {
				t.Errorf("Load: %v, want a refusal naming the layers format", err)
			}
		})
	}
	// A document that is neither is not called a layers model.
	_, err := tfjs.Load(write("empty.json", `{"modelTopology":{}}`))
	if err == nil || strings.Contains(err.Error(), "Keras") {
		t.Errorf("empty topology: %v", err)
	}
}
