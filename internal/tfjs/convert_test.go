package tfjs_test

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/mediavec/mediavec/internal/tfjs"
)

// graphBuilder writes a small TF.js graph model (model.json and one weight
// shard) the way tensorflowjs_converter lays them out, with weights stored
// as float32, int32, or quantised to uint8, uint16 or float16.
type graphBuilder struct {
	nodes   []map[string]any
	weights []map[string]any
	bin     []byte
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func ints(v ...int) map[string]any {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.Itoa(x)
	}
	return map[string]any{"list": map[string]any{"i": s}}
}

func (g *graphBuilder) node(name, op string, attr map[string]any, inputs ...string) {
	n := map[string]any{"name": name, "op": op, "input": inputs}
	if attr != nil {
		n["attr"] = attr
	}
	g.nodes = append(g.nodes, n)
}

func (g *graphBuilder) placeholder(name string, shape ...int) {
	dims := make([]map[string]string, len(shape))
	for i, d := range shape {
		dims[i] = map[string]string{"size": strconv.Itoa(d)}
	}
	g.node(name, "Placeholder", map[string]any{"dtype": map[string]any{"type": "DT_FLOAT"}, "shape": map[string]any{"shape": map[string]any{"dim": dims}}})
}

// constant adds a Const node and its weight. quant is "", "uint8", "uint16"
// or "float16"; int constants are int32.
func (g *graphBuilder) constant(name string, shape []int, quant string, floats []float32, intVals []int32) {
	dtype := "float32"
	if intVals != nil {
		dtype = "int32"
	}
	g.node(name, "Const", map[string]any{"dtype": map[string]any{"type": "DT_" + strings.ToUpper(strings.TrimSuffix(dtype, "32")) + "32"}})
	w := map[string]any{"name": name, "shape": shape, "dtype": dtype}
	switch {
	case intVals != nil:
		for _, v := range intVals {
			g.bin = binary.LittleEndian.AppendUint32(g.bin, uint32(v))
		}
	case quant == "":
		for _, v := range floats {
			g.bin = binary.LittleEndian.AppendUint32(g.bin, math.Float32bits(v))
		}
	case quant == "float16":
		w["quantization"] = map[string]any{"dtype": "float16", "original_dtype": "float32"}
		for _, v := range floats {
			g.bin = binary.LittleEndian.AppendUint16(g.bin, floatToHalf(v))
		}
	default: // affine: v ≈ q·scale + min
		lo, hi := floats[0], floats[0]
		for _, v := range floats {
			lo, hi = min(lo, v), max(hi, v)
		}
		levels := 255.0
		if quant == "uint16" {
			levels = 65535
		}
		scale := float64(hi-lo) / levels
		w["quantization"] = map[string]any{"dtype": quant, "scale": scale, "min": lo, "original_dtype": "float32"}
		for _, v := range floats {
			q := math.Round(float64(v-lo) / scale)
			if quant == "uint8" {
				g.bin = append(g.bin, byte(q))
			} else {
				g.bin = binary.LittleEndian.AppendUint16(g.bin, uint16(q))
			}
		}
	}
	g.weights = append(g.weights, w)
}

func (g *graphBuilder) write(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	m := map[string]any{
		"format": "graph-model", "generatedBy": "test",
		"modelTopology":   map[string]any{"node": g.nodes, "versions": map[string]any{"producer": 1482}, "library": map[string]any{}},
		"weightsManifest": []any{map[string]any{"paths": []string{"group1-shard1of1.bin"}, "weights": g.weights}},
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "model.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "group1-shard1of1.bin"), g.bin, 0o644); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "model.json")
}

// floatToHalf rounds to the nearest half (normal range only: the tests'
// values are small).
func floatToHalf(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	if f == 0 {
		return sign
	}
	exp := int((b>>23)&0xff) - 127 + 15
	mant := b & 0x7fffff
	h := uint32(exp)<<10 | mant>>13
	if mant&0x1000 != 0 { // round half up
		h++
	}
	return sign | uint16(h)
}

func TestHalfToFloat32(t *testing.T) {
	for _, c := range []struct {
		h    uint16
		want float32
	}{
		{0x3c00, 1}, {0xc000, -2}, {0x3555, 0.333251953125}, {0x7bff, 65504},
		{0x0001, 5.960464477539063e-08}, {0x0000, 0}, {0x8000, float32(math.Copysign(0, -1))},
		{0x7c00, float32(math.Inf(1))},
	} {
		if got := tfjs.HalfToFloat32(c.h); got != c.want || math.Signbit(float64(got)) != math.Signbit(float64(c.want)) {
			t.Errorf("HalfToFloat32(%#04x) = %v, want %v", c.h, got, c.want)
		}
	}
	if got := tfjs.HalfToFloat32(0x7e00); !math.IsNaN(float64(got)) {
		t.Errorf("HalfToFloat32(NaN) = %v", got)
	}
}

// TestDequantise reads weights stored as uint8, uint16 and float16.
func TestDequantise(t *testing.T) {
	g := &graphBuilder{}
	vals := []float32{-1, -0.5, 0, 0.25, 1}
	g.constant("u8", []int{5}, "uint8", vals, nil)
	g.constant("u16", []int{5}, "uint16", vals, nil)
	g.constant("f16", []int{5}, "float16", vals, nil)
	g.constant("i32", []int{3}, "", nil, []int32{-7, 0, 1 << 30})
	// An int32 weight quantised to uint8: rounded half up, as Math.round.
	g.node("qi", "Const", map[string]any{"dtype": map[string]any{"type": "DT_INT32"}})
	g.weights = append(g.weights, map[string]any{"name": "qi", "shape": []int{3}, "dtype": "int32",
		"quantization": map[string]any{"dtype": "uint8", "scale": 1, "min": -2.5, "original_dtype": "int32"}})
	g.bin = append(g.bin, 0, 1, 5)
	m, err := tfjs.Load(g.write(t))
	if err != nil {
		t.Fatal(err)
	}
	for name, tol := range map[string]float64{"u8": 2.0 / 255, "u16": 2.0 / 65535, "f16": 1e-3} {
		w := m.Weights[name]
		for i, v := range vals {
			if math.Abs(float64(w.Floats[i]-v)) > tol {
				t.Errorf("%s[%d] = %v, want %v ± %g", name, i, w.Floats[i], v, tol)
			}
		}
	}
	if got := m.Weights["qi"].Ints; got[0] != -2 || got[1] != -1 || got[2] != 3 {
		t.Errorf("quantised int32 weights %v, want [-2 -1 3]", got)
	}
	if got := m.Weights["i32"].Ints; got[0] != -7 || got[2] != 1<<30 {
		t.Errorf("int32 weights %v", got)
	}
	if m.Dequantised["uint8"] != 2 || m.Dequantised["uint16"] != 1 || m.Dequantised["float16"] != 1 {
		t.Errorf("dequantised counts %v", m.Dequantised)
	}
}

func TestLoadRefusesShortShards(t *testing.T) {
	g := &graphBuilder{}
	g.constant("w", []int{4}, "", []float32{1, 2, 3, 4}, nil)
	path := g.write(t)
	bin := filepath.Join(filepath.Dir(path), "group1-shard1of1.bin")
	if err := os.WriteFile(bin, make([]byte, 10), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := tfjs.Load(path); err == nil || !strings.Contains(err.Error(), "needs 16 bytes") {
		t.Errorf("a short shard: %v", err)
	}
}

// TestConvertRefusesUnknownOps names every unknown op and its node before
// writing anything.
func TestConvertRefusesUnknownOps(t *testing.T) {
	g := &graphBuilder{}
	g.placeholder("x", 1, 4)
	g.node("weird", "NonMaxSuppressionV5", nil, "x")
	g.node("odd", "Bucketize", nil, "weird")
	g.node("y", "Relu", nil, "odd")
	m, err := tfjs.Load(g.write(t))
	if err != nil {
		t.Fatal(err)
	}
	_, err = tfjs.Convert(m, tfjs.Options{})
	if !errors.Is(err, tfjs.ErrUnsupported) {
		t.Fatalf("got %v, want ErrUnsupported", err)
	}
	for _, want := range []string{`op "NonMaxSuppressionV5" at node "weird"`, `op "Bucketize" at node "odd"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}

func TestConvertRefusesTooFewInputs(t *testing.T) {
	g := &graphBuilder{}
	g.placeholder("x", 1, 4)
	g.node("y", "AddV2", nil, "x")
	m, err := tfjs.Load(g.write(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tfjs.Convert(m, tfjs.Options{}); err == nil || !strings.Contains(err.Error(), `node "y" (op AddV2): 1 inputs, the op takes at least 2`) {
		t.Errorf("an AddV2 with one input: %v", err)
	}
}

func TestLoadRefusesHugeShapes(t *testing.T) {
	g := &graphBuilder{}
	g.constant("w", []int{1}, "", []float32{1}, nil)
	g.weights[0]["shape"] = []int64{1 << 32, 1 << 32}
	if _, err := tfjs.Load(g.write(t)); err == nil || !strings.Contains(err.Error(), "more than 2^31") {
		t.Errorf("a 2^64-element weight: %v", err)
	}
}

// TestExtraOutputAlias exposes an internal tensor under a name of its own.
func TestExtraOutputAlias(t *testing.T) {
	g := &graphBuilder{}
	g.placeholder("x", 1, 4)
	g.node("hidden", "Relu", nil, "x")
	g.node("y", "Sigmoid", nil, "hidden")
	path := g.write(t)
	onnx := convert(t, path, tfjs.Options{ExtraOutputs: []string{"hidden=features"}})
	got := runORT(t, onnx, "x", []float32{-1, 0, 2, -3}, []int64{1, 4}, "y", "features")
	if f := got["features"]; len(f) != 4 || f[0] != 0 || f[2] != 2 || f[3] != 0 {
		t.Errorf("features %v, want relu(x)", f)
	}
	if y := got["y"]; len(y) != 4 || math.Abs(float64(y[2])-1/(1+math.Exp(-2))) > 1e-6 {
		t.Errorf("y %v, want sigmoid(relu(x))", y)
	}
}

func TestConvertRefusesMissingTensor(t *testing.T) {
	g := &graphBuilder{}
	g.placeholder("x", 1, 4)
	g.node("y", "Relu", nil, "x")
	m, err := tfjs.Load(g.write(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tfjs.Convert(m, tfjs.Options{ExtraOutputs: []string{"nope"}}); err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("an unknown extra output: %v", err)
	}
}

// TestOpsParity runs a small graph of ops the shipped models use little or
// not at all (quantised fused convolution with Relu6, MirrorPad, a strided
// slice with masks, FloorDiv and FloorMod on negative integers, SplitV,
// TopKV2, LeakyRelu, AvgPool, Pack, Squeeze) through the converter and
// ONNX Runtime and through @tensorflow/tfjs.
func TestOpsParity(t *testing.T) {
	g := &graphBuilder{}
	g.placeholder("x", 1, 5, 5, 2)
	w := make([]float32, 3*3*2*4)
	for i := range w {
		w[i] = float32(math.Sin(float64(i)*0.7)) * 0.8
	}
	g.constant("w", []int{3, 3, 2, 4}, "uint8", w, nil)
	g.constant("b", []int{4}, "uint16", []float32{0.5, -0.25, 1, 2}, nil)
	g.node("conv", "_FusedConv2D", map[string]any{
		"strides": ints(1, 1, 1, 1), "padding": map[string]any{"s": b64("SAME")},
		"fused_ops": map[string]any{"list": map[string]any{"s": []string{b64("BiasAdd"), b64("Relu6")}}},
		"num_args":  map[string]any{"i": "1"}, "data_format": map[string]any{"s": b64("NHWC")},
	}, "x", "w", "b")
	g.constant("pads", []int{4, 2}, "", nil, []int32{0, 0, 1, 1, 2, 2, 0, 0})
	g.node("mirror", "MirrorPad", map[string]any{"mode": map[string]any{"s": b64("REFLECT")}}, "conv", "pads")
	g.constant("begin", []int{4}, "", nil, []int32{0, 1, 0, 0})
	g.constant("end", []int{4}, "", nil, []int32{0, -1, 0, 0})
	g.constant("step", []int{4}, "", nil, []int32{1, 2, 1, 1})
	g.node("slice", "StridedSlice", map[string]any{"begin_mask": map[string]any{"i": "13"}, "end_mask": map[string]any{"i": "13"}}, "mirror", "begin", "end", "step")
	g.node("avg", "AvgPool", map[string]any{"ksize": ints(1, 2, 2, 1), "strides": ints(1, 2, 2, 1), "padding": map[string]any{"s": b64("SAME")}, "data_format": map[string]any{"s": b64("NHWC")}}, "slice")
	g.constant("axes", []int{2}, "", nil, []int32{1, 2})
	g.node("mean", "Mean", map[string]any{"keep_dims": map[string]any{"b": false}}, "avg", "axes")
	g.constant("three", []int{}, "float16", []float32{3}, nil)
	g.node("shifted", "Sub", nil, "mean", "three")
	g.constant("scale", []int{}, "", []float32{7.5}, nil)
	g.node("scaled", "Mul", nil, "shifted", "scale")
	g.node("asint", "Cast", map[string]any{"SrcT": map[string]any{"type": "DT_FLOAT"}, "DstT": map[string]any{"type": "DT_INT32"}}, "scaled")
	g.constant("div", []int{}, "", nil, []int32{3})
	g.node("fdiv", "FloorDiv", nil, "asint", "div")
	g.node("fmod", "FloorMod", nil, "asint", "div")
	g.node("fdivf", "Cast", map[string]any{"DstT": map[string]any{"type": "DT_FLOAT"}}, "fdiv")
	g.node("fmodf", "Cast", map[string]any{"DstT": map[string]any{"type": "DT_FLOAT"}}, "fmod")
	g.node("ints", "Pack", map[string]any{"axis": map[string]any{"i": "1"}, "N": map[string]any{"i": "2"}}, "fdivf", "fmodf")
	g.constant("sizes", []int{2}, "", nil, []int32{1, 3})
	g.constant("splitdim", []int{}, "", nil, []int32{1})
	g.node("split", "SplitV", map[string]any{"num_split": map[string]any{"i": "2"}}, "scaled", "sizes", "splitdim")
	g.node("leaky", "LeakyRelu", map[string]any{"alpha": map[string]any{"f": 0.1}}, "split:1")
	g.constant("k", []int{}, "", nil, []int32{2})
	g.node("top", "TopKV2", map[string]any{"sorted": map[string]any{"b": true}}, "scaled", "k")
	g.node("topi", "Cast", map[string]any{"DstT": map[string]any{"type": "DT_FLOAT"}}, "top:1")
	g.node("sq", "Squeeze", map[string]any{"squeeze_dims": ints(0)}, "split")
	// Half-pixel nearest-neighbour upsampling (TF floors).
	g.constant("nnsize", []int{2}, "", nil, []int32{10, 10})
	g.node("nn", "ResizeNearestNeighbor", map[string]any{"half_pixel_centers": map[string]any{"b": true}}, "conv", "nnsize")
	// A reduction over a scalar axis.
	g.constant("lastaxis", []int{}, "", nil, []int32{-1})
	g.node("sumax", "Sum", map[string]any{"keep_dims": map[string]any{"b": false}}, "conv", "lastaxis")
	// A shrunk axis whose begin_mask TF ignores: row 2, not row 0.
	g.constant("sbegin", []int{4}, "", nil, []int32{0, 2, 0, 0})
	g.constant("send", []int{4}, "", nil, []int32{1, 3, 5, 4})
	g.constant("sstep", []int{4}, "", nil, []int32{1, 1, 1, 1})
	g.node("shr", "StridedSlice", map[string]any{"begin_mask": map[string]any{"i": "2"}, "shrink_axis_mask": map[string]any{"i": "2"}}, "conv", "sbegin", "send", "sstep")
	// Div on integers floors in TF.js.
	g.node("idiv", "Div", nil, "asint", "div")
	g.node("idivf", "Cast", map[string]any{"DstT": map[string]any{"type": "DT_FLOAT"}}, "idiv")
	// A control dependency is followed by nothing.
	g.node("nothing", "NoOp", nil)
	g.node("ctl", "Identity", nil, "idivf", "^nothing")
	path := g.write(t)

	outs := []string{"ints", "leaky", "top", "topi", "sq", "avg", "nn", "sumax", "shr", "ctl"}
	onnx := convert(t, path, tfjs.Options{Outputs: outs})
	x := make([]float32, 50)
	for i := range x {
		x[i] = float32(math.Cos(float64(i)*1.3)) * 4
	}
	shape := []int64{1, 5, 5, 2}
	got := runORT(t, onnx, "x", x, shape, outs...)
	want := runTFJS(t, path, x, shape, outs...)
	for _, name := range outs {
		g, w := got[name], want[name].Data
		if len(g) != len(w) || len(g) == 0 {
			t.Errorf("%s: %d values, tfjs %d", name, len(g), len(w))
			continue
		}
		for i := range g {
			if math.Abs(float64(g[i])-w[i]) > 1e-4*math.Max(1, math.Abs(w[i])) {
				t.Errorf("%s: ONNX %v, tfjs %v", name, g, w)
				break
			}
		}
	}
	// The integer path must have met negative numbers for FloorDiv and
	// FloorMod to mean anything.
	neg := false
	for _, v := range want["ints"].Data {
		neg = neg || v < 0
	}
	if !neg {
		t.Errorf("no negative integer reached FloorDiv: %v", want["ints"].Data)
	}
}
