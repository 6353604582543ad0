package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mediavec/mediavec/encoders"
)

// TestImportTFJS runs `models import-tfjs` as a user would: --for makes the
// shipped centernet.onnx with exactly the manifest's sha256 and then finds
// it up to date; a plain conversion exposes an extra output; the usage
// errors exit 2.
func TestImportTFJS(t *testing.T) {
	src := filepath.Join(encoders.DefaultModelsDir(), "tfjs")
	if _, err := os.Stat(filepath.Join(src, "centernet.json")); err != nil {
		t.Fatalf("%v (run scripts/setup)", err)
	}
	models := t.TempDir()
	if err := os.Symlink(src, filepath.Join(models, "tfjs")); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if code := run(context.Background(), []string{"models", "import-tfjs", "--for", encoders.SpaceFrameCenterNet, "--models", models}, &out, &out); code != 0 {
		t.Fatalf("import-tfjs --for: exit %d: %s", code, out.String())
	}
	if !strings.Contains(out.String(), "sha256 "+encoders.CenterNetSHA256) || !strings.Contains(out.String(), "ONNX Runtime") {
		t.Errorf("import-tfjs --for printed:\n%s", out.String())
	}
	m, _ := encoders.Lookup(encoders.SpaceFrameCenterNet)
	if _, _, err := m.Check(models); err != nil {
		t.Errorf("the converted model fails the manifest check: %v", err)
	}
	out.Reset()
	if code := run(context.Background(), []string{"models", "import-tfjs", "--for", encoders.SpaceFrameCenterNet, "--models", models, "--quiet"}, &out, &out); code != 0 || out.Len() != 0 {
		t.Errorf("a second --for --quiet: exit %d, printed %q", code, out.String())
	}

	// Flags after the arguments, an extra output.
	dst := filepath.Join(t.TempDir(), "cn.onnx")
	out.Reset()
	if code := run(context.Background(), []string{"models", "import-tfjs", filepath.Join(src, "centernet.json"), dst,
		"--extra-output", encoders.CenterNetFeatures, "--no-check"}, &out, &out); code != 0 {
		t.Fatalf("import-tfjs: exit %d: %s", code, out.String())
	}
	for _, want := range []string{"output tower_0/detections", "output " + encoders.CenterNetFeatures, "dequantised weights: 227 float16"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("import-tfjs printed no %q:\n%s", want, out.String())
		}
	}

	for _, args := range [][]string{
		{"models", "import-tfjs"},
		{"models", "import-tfjs", "only-one.json"},
		{"models", "import-tfjs", "--for", "frame_nothing_v1"},
	} {
		out.Reset()
		if code := run(context.Background(), args, &out, &out); code != 2 {
			t.Errorf("%v: exit %d, want 2: %s", args, code, out.String())
		}
	}
	// A wrong expected checksum writes nothing.
	bad := filepath.Join(t.TempDir(), "bad.onnx")
	out.Reset()
	if code := run(context.Background(), []string{"models", "import-tfjs", filepath.Join(src, "centernet.json"), bad, "--expect-sha256", strings.Repeat("0", 64)}, &out, &out); code == 0 {
		t.Error("a wrong --expect-sha256 succeeded")
	}
	if _, err := os.Stat(bad); !os.IsNotExist(err) {
		t.Errorf("a refused conversion left %s: %v", bad, err)
	}
	out.Reset()
	if code := run(context.Background(), []string{"models", "import-tfjs", "--help"}, &out, &out); code != 0 || !strings.Contains(out.String(), "Usage: mediavec models import-tfjs") {
		t.Errorf("import-tfjs --help: exit %d: %s", code, out.String())
	}
}
