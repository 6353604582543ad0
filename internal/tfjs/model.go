// Package tfjs reads TensorFlow.js graph models (a model.json topology plus
// binary weight shards) and converts them to ONNX models that ONNX Runtime
// runs.
//
// A graph model is a frozen TensorFlow GraphDef written as JSON: nodes with
// an op, inputs and attributes, and a weights manifest that says where each
// constant's bytes lie in the shards and how they were quantised. Load reads
// both and dequantises every constant to float32 or int64; Convert maps each
// node to standard ONNX operators (see ops.go for the list).
package tfjs

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
)

// ErrUnsupported is wrapped by every error about something in a model that
// the converter does not handle: an op, an attribute value, a dtype.
var ErrUnsupported = errors.New("not supported")

// GraphModel is a loaded TF.js graph model.
type GraphModel struct {
	Path        string // the model.json it was read from
	Format      string
	GeneratedBy string
	ConvertedBy string
	Nodes       []NodeDef
	Signature   Signature
	// Weights holds every constant by node name, dequantised.
	Weights map[string]*Weight
	// Dequantised counts the weights stored quantised, by storage dtype.
	Dequantised map[string]int
}

// NodeDef is one node of the topology, as TensorFlow's NodeDef.
type NodeDef struct {
	Name  string               `json:"name"`
	Op    string               `json:"op"`
	Input []string             `json:"input"`
	Attr  map[string]AttrValue `json:"attr"`
}

// AttrValue is a TensorFlow AttrValue in its JSON form: int64 values are
// decimal strings, strings base64 (or, from older converters, a list of
// byte values), dtypes names ("DT_FLOAT") or enum numbers (1).
type AttrValue struct {
	S     *Bytes    `json:"s"`
	I     *string   `json:"i"`
	F     *float64  `json:"f"`
	B     *bool     `json:"b"`
	Type  DataType  `json:"type"`
	List  *AttrList `json:"list"`
	Shape *Shape    `json:"shape"`
}

// AttrList is a list-valued attribute.
type AttrList struct {
	S    []Bytes    `json:"s"`
	I    []string   `json:"i"`
	F    []float64  `json:"f"`
	B    []bool     `json:"b"`
	Type []DataType `json:"type"`
}

// Bytes is a protobuf bytes field in JSON: base64 text, as TF.js writes it
// now, or an array of byte values, as older converters (tfjs-converter
// 0.x/1.x) did.
type Bytes []byte

// UnmarshalJSON reads either form.
func (b *Bytes) UnmarshalJSON(data []byte) error {
	var text string
	if err := json.Unmarshal(data, &text); err == nil {
		raw, err := base64.StdEncoding.DecodeString(text)
		if err != nil {
			return fmt.Errorf("bytes %q: %w", text, err)
		}
		*b = raw
		return nil
	}
	var vals []int
	if err := json.Unmarshal(data, &vals); err != nil {
		return fmt.Errorf("bytes: want base64 text or a list of byte values, got %s", data)
	}
	out := make([]byte, len(vals))
	for i, v := range vals {
		if v < 0 || v > 255 {
			return fmt.Errorf("bytes: value %d is not a byte", v)
		}
		out[i] = byte(v)
	}
	*b = out
	return nil
}

// DataType is a TensorFlow dtype by its enum name ("DT_FLOAT"). Older
// converters wrote the enum's number; those read as the name.
type DataType string

// dataTypeNames are TensorFlow's DataType enum values (types.proto).
var dataTypeNames = map[int]DataType{
	1: "DT_FLOAT", 2: "DT_DOUBLE", 3: "DT_INT32", 4: "DT_UINT8", 5: "DT_INT16", 6: "DT_INT8",
	7: "DT_STRING", 9: "DT_INT64", 10: "DT_BOOL", 17: "DT_UINT16", 19: "DT_HALF", 22: "DT_UINT32", 23: "DT_UINT64",
}

// UnmarshalJSON reads a name or an enum number.
func (t *DataType) UnmarshalJSON(data []byte) error {
	var name string
	if err := json.Unmarshal(data, &name); err == nil {
		*t = DataType(name)
		return nil
	}
	var num int
	if err := json.Unmarshal(data, &num); err != nil {
		return fmt.Errorf("dtype: want a name or a number, got %s", data)
	}
	if n, ok := dataTypeNames[num]; ok {
		*t = n
		return nil
	}
	*t = DataType(fmt.Sprintf("DT_ENUM_%d", num)) // refused, by name, where it matters
	return nil
}

// Shape is a TensorShapeProto: a size of -1 is unknown.
type Shape struct {
	Dim []struct {
		Size string `json:"size"`
	} `json:"dim"`
	UnknownRank bool `json:"unknownRank"`
}

// Dims returns the shape's sizes (-1 where unknown).
func (s *Shape) Dims() ([]int64, error) {
	if s == nil || s.UnknownRank {
		return nil, nil
	}
	out := make([]int64, len(s.Dim))
	for i, d := range s.Dim {
		if d.Size == "" {
			out[i] = -1
			continue
		}
		v, err := strconv.ParseInt(d.Size, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("shape size %q: %w", d.Size, err)
		}
		out[i] = v
	}
	return out, nil
}

// Signature names a model's inputs and outputs.
type Signature struct {
	Inputs  map[string]TensorInfo `json:"inputs"`
	Outputs map[string]TensorInfo `json:"outputs"`
}

// TensorInfo is one entry of a signature.
type TensorInfo struct {
	Name        string `json:"name"`
	DType       string `json:"dtype"`
	TensorShape *Shape `json:"tensorShape"`
}

// Weight is a constant. Exactly one of Floats and Ints holds its values;
// TF.js int32 and bool constants are widened to int64.
type Weight struct {
	Name   string
	DType  string // "float32", "int32" or "bool", as in the manifest
	Shape  []int64
	Floats []float32
	Ints   []int64
}

// Len is the number of elements the shape holds.
func (w *Weight) Len() int64 { return numElements(w.Shape) }

func numElements(shape []int64) int64 {
	n := int64(1)
	for _, d := range shape {
		n *= d
	}
	return n
}

// maxElements bounds a weight or a folded constant: 2^31 elements is far
// beyond any model this importer is for, and keeps every product of
// dimensions below overflow.
const maxElements = 1 << 31

// checkedElements is the element count of a shape, or an error when a
// dimension is negative or the count passes maxElements.
func checkedElements(shape []int64) (int64, error) {
	n := int64(1)
	for _, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("negative dimension in %v", shape)
		}
		if d > 0 && n > maxElements/d {
			return 0, fmt.Errorf("shape %v holds more than 2^31 elements", shape)
		}
		n *= d
	}
	return n, nil
}

type modelJSON struct {
	Format        string `json:"format"`
	GeneratedBy   string `json:"generatedBy"`
	ConvertedBy   string `json:"convertedBy"`
	ModelTopology struct {
		Node []NodeDef `json:"node"`
		// A Keras layers model has a model config instead of nodes:
		// under model_config (tf.keras's save format) or at the top
		// (class_name and config).
		ModelConfig  json.RawMessage `json:"model_config"`
		ClassName    string          `json:"class_name"`
		KerasVersion string          `json:"keras_version"`
	} `json:"modelTopology"`
	Signature       Signature     `json:"signature"`
	WeightsManifest []weightGroup `json:"weightsManifest"`
}

type weightGroup struct {
	Paths   []string     `json:"paths"`
	Weights []weightSpec `json:"weights"`
}

type weightSpec struct {
	Name         string        `json:"name"`
	Shape        []int64       `json:"shape"`
	DType        string        `json:"dtype"`
	Quantization *quantization `json:"quantization"`
}

type quantization struct {
	DType         string  `json:"dtype"` // uint8, uint16 or float16
	Scale         float64 `json:"scale"`
	Min           float64 `json:"min"`
	OriginalDType string  `json:"original_dtype"`
}

// Load reads model.json at path and the weight shards it names (paths
// relative to its folder), and dequantises every weight.
func Load(path string) (*GraphModel, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read TF.js model: %w", err)
	}
	var mj modelJSON
	if err := json.Unmarshal(raw, &mj); err != nil {
		return nil, fmt.Errorf("parse TF.js model %s: %w", path, err)
	}
	top := mj.ModelTopology
	if mj.Format == "layers-model" || (len(top.Node) == 0 && (len(top.ModelConfig) > 0 || top.ClassName != "" || top.KerasVersion != "")) {
		keras := ""
		if top.KerasVersion != "" {
			keras = ", Keras " + top.KerasVersion
		}
		return nil, fmt.Errorf("TF.js model %s: a Keras layers model (layers-model%s): %w: only TF.js graph models are imported; convert it first with tensorflowjs_converter --input_format=tfjs_layers_model --output_format=tfjs_graph_model", path, keras, ErrUnsupported)
	}
	if mj.Format != "" && mj.Format != "graph-model" {
		return nil, fmt.Errorf("TF.js model %s: format %q: %w (only graph models)", path, mj.Format, ErrUnsupported)
	}
	if len(mj.ModelTopology.Node) == 0 {
		return nil, fmt.Errorf("TF.js model %s: no modelTopology.node: not a graph model", path)
	}
	m := &GraphModel{
		Path: path, Format: mj.Format, GeneratedBy: mj.GeneratedBy, ConvertedBy: mj.ConvertedBy,
		Nodes: mj.ModelTopology.Node, Signature: mj.Signature,
		Weights: map[string]*Weight{}, Dequantised: map[string]int{},
	}
	dir := filepath.Dir(path)
	for gi, g := range mj.WeightsManifest {
		var buf []byte
		for _, p := range g.Paths {
			if !filepath.IsLocal(p) {
				return nil, fmt.Errorf("TF.js model %s: weight shard path %q leaves the model's folder", path, p)
			}
			b, err := os.ReadFile(filepath.Join(dir, p))
			if err != nil {
				return nil, fmt.Errorf("TF.js model %s: weight shard: %w", path, err)
			}
			buf = append(buf, b...)
		}
		off := 0
		for _, spec := range g.Weights {
			w, n, err := decodeWeight(spec, buf[off:])
			if err != nil {
				return nil, fmt.Errorf("TF.js model %s: weight group %d: %w", path, gi, err)
			}
			off += n
			m.Weights[spec.Name] = w
			if spec.Quantization != nil {
				m.Dequantised[spec.Quantization.DType]++
			}
		}
		if off != len(buf) {
			return nil, fmt.Errorf("TF.js model %s: weight group %d: shards hold %d bytes, the manifest describes %d", path, gi, len(buf), off)
		}
	}
	return m, nil
}

// decodeWeight reads one weight from the start of b and returns it with the
// number of bytes it took.
func decodeWeight(spec weightSpec, b []byte) (*Weight, int, error) {
	n, err := checkedElements(spec.Shape)
	if err != nil {
		return nil, 0, fmt.Errorf("weight %s: %w", spec.Name, err)
	}
	w := &Weight{Name: spec.Name, DType: spec.DType, Shape: spec.Shape}
	switch spec.DType {
	case "float32", "int32", "bool":
	default:
		return nil, 0, fmt.Errorf("weight %s: dtype %q: %w", spec.Name, spec.DType, ErrUnsupported)
	}
	q := spec.Quantization
	if q == nil {
		size := 4
		if spec.DType == "bool" {
			size = 1
		}
		if int64(len(b)) < n*int64(size) {
			return nil, 0, fmt.Errorf("weight %s: needs %d bytes, %d left in the shards", spec.Name, n*int64(size), len(b))
		}
		switch spec.DType {
		case "float32":
			w.Floats = make([]float32, n)
			for i := range w.Floats {
				w.Floats[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
			}
		case "int32":
			w.Ints = make([]int64, n)
			for i := range w.Ints {
				w.Ints[i] = int64(int32(binary.LittleEndian.Uint32(b[4*i:])))
			}
		case "bool":
			w.Ints = make([]int64, n)
			for i := range w.Ints {
				if b[i] != 0 {
					w.Ints[i] = 1
				}
			}
		}
		return w, int(n) * size, nil
	}
	// Quantised: uint8 and uint16 are affine (v·scale + min), float16 is a
	// half-precision copy. An int32 weight quantised affinely is rounded back.
	var size int
	switch q.DType {
	case "uint8":
		size = 1
	case "uint16", "float16":
		size = 2
	default:
		return nil, 0, fmt.Errorf("weight %s: quantisation dtype %q: %w", spec.Name, q.DType, ErrUnsupported)
	}
	if spec.DType == "bool" {
		return nil, 0, fmt.Errorf("weight %s: quantised bool: %w", spec.Name, ErrUnsupported)
	}
	if q.DType != "float16" && (q.Scale <= 0 || math.IsNaN(q.Scale) || math.IsInf(q.Scale, 0) || math.IsNaN(q.Min) || math.IsInf(q.Min, 0)) {
		return nil, 0, fmt.Errorf("weight %s: %s quantisation without a finite positive scale and a finite min", spec.Name, q.DType)
	}
	if int64(len(b)) < n*int64(size) {
		return nil, 0, fmt.Errorf("weight %s: needs %d bytes, %d left in the shards", spec.Name, n*int64(size), len(b))
	}
	// The explicit float64() rounds the product before the sum, so no
	// platform fuses them: the bytes written (and their pinned sha256) are
	// the same on every machine.
	value := func(i int) float64 {
		switch q.DType {
		case "uint8":
			return float64(float64(b[i])*q.Scale) + q.Min
		case "uint16":
			return float64(float64(binary.LittleEndian.Uint16(b[2*i:]))*q.Scale) + q.Min
		default: // float16
			return float64(HalfToFloat32(binary.LittleEndian.Uint16(b[2*i:])))
		}
	}
	if spec.DType == "int32" {
		// Rounded from the double, half up, as TF.js's Math.round does.
		w.Ints = make([]int64, n)
		for i := range w.Ints {
			w.Ints[i] = int64(math.Floor(value(i) + 0.5))
		}
	} else {
		w.Floats = make([]float32, n)
		for i := range w.Floats {
			w.Floats[i] = float32(value(i))
		}
	}
	return w, int(n) * size, nil
}

// HalfToFloat32 widens an IEEE 754 half-precision value, subnormals,
// infinities and NaN included.
func HalfToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	frac := uint32(h) & 0x3ff
	switch {
	case exp == 0 && frac == 0:
		return math.Float32frombits(sign)
	case exp == 0: // subnormal: normalise
		e := uint32(127 - 15 + 1)
		for frac&0x400 == 0 {
			frac <<= 1
			e--
		}
		frac &= 0x3ff
		return math.Float32frombits(sign | e<<23 | frac<<13)
	case exp == 0x1f:
		return math.Float32frombits(sign | 0xff<<23 | frac<<13)
	default:
		return math.Float32frombits(sign | (exp+127-15)<<23 | frac<<13)
	}
}

// attribute accessors: a missing attribute yields the default.

func (n *NodeDef) attrInt(name string, def int64) (int64, error) {
	a, ok := n.Attr[name]
	if !ok || a.I == nil {
		return def, nil
	}
	v, err := strconv.ParseInt(*a.I, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("node %q: attribute %s=%q: %w", n.Name, name, *a.I, err)
	}
	return v, nil
}

func (n *NodeDef) attrInts(name string) ([]int64, error) {
	a, ok := n.Attr[name]
	if !ok || a.List == nil {
		return nil, nil
	}
	out := make([]int64, len(a.List.I))
	for i, s := range a.List.I {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("node %q: attribute %s: %w", n.Name, name, err)
		}
		out[i] = v
	}
	return out, nil
}

func (n *NodeDef) attrString(name, def string) (string, error) {
	a, ok := n.Attr[name]
	if !ok || a.S == nil {
		return def, nil
	}
	return string(*a.S), nil
}

func (n *NodeDef) attrStrings(name string) ([]string, error) {
	a, ok := n.Attr[name]
	if !ok || a.List == nil {
		return nil, nil
	}
	out := make([]string, len(a.List.S))
	for i, s := range a.List.S {
		out[i] = string(s)
	}
	return out, nil
}

func (n *NodeDef) attrFloat(name string, def float64) float64 {
	a, ok := n.Attr[name]
	if !ok || a.F == nil {
		return def
	}
	return *a.F
}

func (n *NodeDef) attrBool(name string, def bool) bool {
	a, ok := n.Attr[name]
	if !ok || a.B == nil {
		return def
	}
	return *a.B
}

func (n *NodeDef) attrType(name string) string {
	return string(n.Attr[name].Type)
}
