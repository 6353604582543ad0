package tfjs_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/mediavec/mediavec/decode"
	"github.com/mediavec/mediavec/encoders"
	"github.com/mediavec/mediavec/internal/tfjs"
)

// The parity tests run the original TF.js graph models with
// @tensorflow/tfjs@4.22.0's pure-JavaScript CPU backend under Node (what
// scripts/setup installs into the cache) and the converted ONNX models with
// ONNX Runtime, on the same real photographs from Debian's opencv-doc.

const opencvData = "/usr/share/doc/opencv-doc/examples/data"

func tfjsModelsDir(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(encoders.DefaultModelsDir(), "tfjs")
	if _, err := os.Stat(filepath.Join(dir, "centernet.json")); err != nil {
		t.Fatalf("TF.js models missing: %v (run scripts/setup)", err)
	}
	return dir
}

func initORT(t testing.TB) {
	t.Helper()
	if err := encoders.InitRuntime(encoders.DefaultORTLib()); err != nil {
		t.Fatalf("%v (run scripts/setup)", err)
	}
}

// photo decodes one of opencv-doc's images to w×h RGB, scaled without
// keeping the aspect ratio (as the models' reference code does).
func photo(t testing.TB, name string, w, h int) []byte {
	t.Helper()
	path := filepath.Join(opencvData, name)
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("%v (scripts/setup installs Debian's opencv-doc)", err)
	}
	m, err := decode.File(context.Background(), path, decode.Config{
		Frames:  []decode.FrameSpec{{Width: w, Height: h, Format: decode.RGB24}},
		NoAudio: true, MaxFrames: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Frames) == 0 {
		t.Fatalf("%s: no frame", name)
	}
	return m.Frames[0].Images[0].Data
}

func toFloats(rgb []byte) []float32 {
	f := make([]float32, len(rgb))
	for i, b := range rgb {
		f[i] = float32(b)
	}
	return f
}

// nhwcToNCHW reorders an interleaved image into planes.
func nhwcToNCHW(x []float32, h, w int) []float32 {
	out := make([]float32, len(x))
	for y := range h {
		for i := range w {
			for c := range 3 {
				out[(c*h+y)*w+i] = x[(y*w+i)*3+c]
			}
		}
	}
	return out
}

type tfjsTensor struct {
	Shape []int     `json:"shape"`
	Data  []float64 `json:"data"`
}

// runTFJS runs modelJSON under Node with @tensorflow/tfjs and returns the
// named outputs.
func runTFJS(t testing.TB, modelJSON string, input []float32, shape []int64, outputs ...string) map[string]tfjsTensor {
	t.Helper()
	modules := filepath.Join(encoders.CacheDir(), "tfjs", "node_modules")
	if _, err := os.Stat(filepath.Join(modules, "@tensorflow", "tfjs")); err != nil {
		t.Fatalf("@tensorflow/tfjs missing: %v (run scripts/setup)", err)
	}
	dir := t.TempDir()
	in := filepath.Join(dir, "input.f32")
	b := make([]byte, 0, 4*len(input))
	for _, v := range input {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	if err := os.WriteFile(in, b, 0o644); err != nil {
		t.Fatal(err)
	}
	dims := make([]string, len(shape))
	for i, d := range shape {
		dims[i] = strconv.FormatInt(d, 10)
	}
	outPath := filepath.Join(dir, "out.json")
	script, err := filepath.Abs("testdata/tfjs_run.js")
	if err != nil {
		t.Fatal(err)
	}
	args := append([]string{script, modelJSON, in, strings.Join(dims, ","), outPath}, outputs...)
	cmd := exec.Command("node", args...)
	cmd.Env = append(os.Environ(), "NODE_PATH="+modules)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("node tfjs_run.js: %v\n%s", err, out)
	}
	raw, err := os.ReadFile(outPath)
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		Backend string                `json:"backend"`
		Version string                `json:"version"`
		MS      int                   `json:"ms"`
		Outputs map[string]tfjsTensor `json:"outputs"`
	}
	if err := json.Unmarshal(raw, &res); err != nil {
		t.Fatal(err)
	}
	if res.Backend != "cpu" || res.Version != "4.22.0" {
		t.Fatalf("ran on tfjs %s backend %s, want 4.22.0 cpu", res.Version, res.Backend)
	}
	t.Logf("tfjs %s (%s backend): %d ms", res.Version, res.Backend, res.MS)
	return res.Outputs
}

// convert writes m's conversion with opts into a temporary file.
func convert(t testing.TB, modelJSON string, opts tfjs.Options) string {
	t.Helper()
	m, err := tfjs.Load(modelJSON)
	if err != nil {
		t.Fatal(err)
	}
	res, err := tfjs.Convert(m, opts)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "model.onnx")
	if err := res.Model.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	return path
}

// runORT runs an ONNX file on one float32 input and returns the named
// outputs (float32 ones, or int64 converted).
func runORT(t testing.TB, path, input string, x []float32, shape []int64, outputs ...string) map[string][]float32 {
	t.Helper()
	initORT(t)
	s, err := ort.NewDynamicAdvancedSession(path, []string{input}, outputs, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Destroy()
	in, err := ort.NewTensor(ort.NewShape(shape...), x)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Destroy()
	outs := make([]ort.Value, len(outputs))
	if err := s.Run([]ort.Value{in}, outs); err != nil {
		t.Fatal(err)
	}
	res := map[string][]float32{}
	for i, o := range outs {
		switch v := o.(type) {
		case *ort.Tensor[float32]:
			res[outputs[i]] = slices.Clone(v.GetData())
		default:
			t.Fatalf("output %s: %T", outputs[i], o)
		}
		o.Destroy()
	}
	return res
}

func pooled(x []float32, channels int) []float64 {
	p := make([]float64, channels)
	for i, v := range x {
		p[i%channels] += float64(v)
	}
	for i := range p {
		p[i] /= float64(len(x) / channels)
	}
	return p
}

func relErr(a []float64, b []float64) float64 {
	var d, n float64
	for i := range a {
		d += (a[i] - b[i]) * (a[i] - b[i])
		n += b[i] * b[i]
	}
	return math.Sqrt(d / n)
}

// TestCenterNetParity converts the whole CenterNet graph (backbone, heads
// and its in-graph decoding: max-pool peaks, TopKV2, FloorDiv, FloorMod,
// GatherV2, StridedSlice) and compares it with TF.js on a real photo.
func TestCenterNetParity(t *testing.T) {
	dir := tfjsModelsDir(t)
	model := filepath.Join(dir, "centernet.json")
	const feature = "tower_0/extern1/hard_swish/mul_1"
	path := convert(t, model, tfjs.Options{ExtraOutputs: []string{feature}})
	x := toFloats(photo(t, "messi5.jpg", 512, 512))
	shape := []int64{1, 512, 512, 3}
	got := runORT(t, path, "tower_0/images", x, shape, "tower_0/detections", feature)
	want := runTFJS(t, model, x, shape, "tower_0/detections", feature)

	wd, gd := want["tower_0/detections"].Data, got["tower_0/detections"]
	if len(gd) != 600 || len(wd) != 600 {
		t.Fatalf("detections: %d and %d values, want 600", len(gd), len(wd))
	}
	compared := 0
	for i := 0; i < 100; i++ {
		w := wd[6*i : 6*i+6]
		if w[4] < 0.05 {
			continue
		}
		compared++
		// Match by class and box, not by rank: two scores within float
		// noise of each other may swap places.
		best, bestD := -1, math.Inf(1)
		for j := 0; j < 100; j++ {
			g := gd[6*j : 6*j+6]
			if float64(g[5]) != w[5] {
				continue
			}
			d := 0.0
			for k := range 4 {
				d = math.Max(d, math.Abs(float64(g[k])-w[k]))
			}
			if d < bestD {
				best, bestD = j, d
			}
		}
		if best < 0 || bestD > 1 {
			t.Errorf("tfjs detection %d (class %v, score %.3f, box %.1f) has no ONNX match within 1 px (closest %.2f px)", i, w[5], w[4], w[:4], bestD)
			continue
		}
		if ds := math.Abs(float64(gd[6*best+4]) - w[4]); ds > 1e-3 {
			t.Errorf("detection %d (class %v): score %.5f, tfjs %.5f", i, w[5], gd[6*best+4], w[4])
		}
	}
	if compared < 3 {
		t.Fatalf("only %d tfjs detections above 0.05 to compare", compared)
	}
	t.Logf("%d detections agree (boxes within 1 px, scores within 1e-3)", compared)

	ge, we := pooled(got[feature], 480), want[feature].Data
	wp := pooled(func() []float32 {
		f := make([]float32, len(we))
		for i, v := range we {
			f[i] = float32(v)
		}
		return f
	}(), 480)
	if e := relErr(ge, wp); e > 1e-3 {
		t.Errorf("pooled %s: relative error %.2e, want ≤ 1e-3", feature, e)
	} else {
		t.Logf("pooled embedding relative error %.2e", e)
	}
}

// TestNanoDetParity converts NanoDet (NCHW input, Pad, PadV2, Transpose,
// LeakyRelu, SplitV, SparseToDense folded, half-pixel ResizeBilinear) and
// compares its six raw outputs with TF.js.
func TestNanoDetParity(t *testing.T) {
	dir := tfjsModelsDir(t)
	model := filepath.Join(dir, "nanodet.json")
	path := convert(t, model, tfjs.Options{})
	x := nhwcToNCHW(toFloats(photo(t, "fruits.jpg", 416, 416)), 416, 416)
	for i := range x {
		x[i] /= 255
	}
	shape := []int64{1, 3, 416, 416}
	names := []string{"Identity", "Identity_1", "Identity_2", "Identity_3", "Identity_4", "Identity_5"}
	got := runORT(t, path, "input_1", x, shape, names...)
	refs := make([]string, len(names))
	for i, n := range names {
		refs[i] = n + ":0"
	}
	want := runTFJS(t, model, x, shape, refs...)
	for i, n := range names {
		g, w := got[n], want[refs[i]].Data
		if len(g) != len(w) || len(g) == 0 {
			t.Fatalf("%s: %d values, tfjs %d", n, len(g), len(w))
		}
		maxDiff, scale := 0.0, 0.0
		for k := range g {
			maxDiff = math.Max(maxDiff, math.Abs(float64(g[k])-w[k]))
			scale = math.Max(scale, math.Abs(w[k]))
		}
		if maxDiff > 1e-3*math.Max(1, scale) {
			t.Errorf("%s: max difference %.2e (values up to %.2f)", n, maxDiff, scale)
		}
	}
}
