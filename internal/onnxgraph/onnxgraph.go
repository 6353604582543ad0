// Package onnxgraph writes small ONNX models: a graph of standard operators,
// typed inputs and outputs, and initializers. Tests use it to make tiny
// stand-ins for user-supplied models with the same input and output names,
// so that loading, batching and shapes can be checked against the real ONNX
// Runtime without committing binary model files. Such graphs prove the
// plumbing around a model, never the quality of the model they stand in for.
//
// Only the few protobuf messages such graphs need are encoded (with
// protowire): ModelProto, GraphProto, NodeProto, AttributeProto,
// TensorProto, ValueInfoProto and the type and shape messages. Field numbers
// are those of onnx.proto.
package onnxgraph

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"

	"google.golang.org/protobuf/encoding/protowire"
)

// DataType is an ONNX tensor element type (TensorProto.DataType).
type DataType int32

const (
	Float32 DataType = 1
	Int32   DataType = 6
	Int64   DataType = 7
	Bool    DataType = 9
)

// Value is a typed graph input or output. A negative dimension is dynamic
// and is written as the symbolic dimension "d<index>" (the batch dimension
// of an input, say). A nil Shape leaves the shape unknown (an output whose
// shape the writer did not infer); an empty, non-nil one is a scalar.
type Value struct {
	Name  string
	Type  DataType
	Shape []int64
}

// Tensor is a constant: an initializer of the graph, or a tensor attribute.
// Exactly one of Floats and Int64s holds the data, in row-major order.
type Tensor struct {
	Name   string
	Dims   []int64
	Floats []float32
	Int64s []int64
}

// Attr is a node attribute. Build one with Int, Ints, Float or Str.
type Attr struct {
	name  string
	kind  int32 // AttributeProto.AttributeType
	i     int64
	ints  []int64
	f     float32
	s     string
	valid bool
}

// Int is an integer attribute.
func Int(name string, v int64) Attr { return Attr{name: name, kind: 2, i: v, valid: true} }

// Ints is an integer-list attribute.
func Ints(name string, v ...int64) Attr { return Attr{name: name, kind: 7, ints: v, valid: true} }

// Float is a float attribute.
func Float(name string, v float32) Attr { return Attr{name: name, kind: 1, f: v, valid: true} }

// Str is a string attribute.
func Str(name, v string) Attr { return Attr{name: name, kind: 3, s: v, valid: true} }

// Node is one operator of the default ONNX domain. Name is optional; ONNX
// Runtime uses it in its error messages.
type Node struct {
	Name    string
	Op      string
	Inputs  []string
	Outputs []string
	Attrs   []Attr
}

// Graph is a model's computation.
type Graph struct {
	Name         string
	Nodes        []Node
	Inputs       []Value
	Outputs      []Value
	Initializers []Tensor
}

// Model is a graph with the opset it is written against.
type Model struct {
	Graph Graph
	// Opset is the version of the default operator set. Defaults to 13.
	Opset int64
	// IRVersion is the ONNX IR version. Defaults to 8, which every ONNX
	// Runtime from 1.10 on reads.
	IRVersion int64
}

// Marshal encodes m as an ONNX ModelProto. It fails on a tensor whose data
// does not match its dimensions or an attribute made without a constructor.
func (m Model) Marshal() ([]byte, error) {
	ir, opset := m.IRVersion, m.Opset
	if ir == 0 {
		ir = 8
	}
	if opset == 0 {
		opset = 13
	}
	g, err := m.Graph.marshal()
	if err != nil {
		return nil, err
	}
	var b []byte
	b = appendVarint(b, 1, uint64(ir))
	b = appendString(b, 2, "mediavec-onnxgraph")
	b = appendBytes(b, 7, g)
	var op []byte
	op = appendString(op, 1, "")
	op = appendVarint(op, 2, uint64(opset))
	b = appendBytes(b, 8, op)
	return b, nil
}

// WriteFile marshals m into path.
func (m Model) WriteFile(path string) error {
	b, err := m.Marshal()
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

func (g Graph) marshal() ([]byte, error) {
	var b []byte
	for _, n := range g.Nodes {
		nb, err := n.marshal()
		if err != nil {
			return nil, err
		}
		b = appendBytes(b, 1, nb)
	}
	name := g.Name
	if name == "" {
		name = "graph"
	}
	b = appendString(b, 2, name)
	for _, t := range g.Initializers {
		tb, err := t.marshal()
		if err != nil {
			return nil, err
		}
		b = appendBytes(b, 5, tb)
	}
	for _, v := range g.Inputs {
		b = appendBytes(b, 11, v.marshal())
	}
	for _, v := range g.Outputs {
		b = appendBytes(b, 12, v.marshal())
	}
	return b, nil
}

func (n Node) marshal() ([]byte, error) {
	var b []byte
	for _, in := range n.Inputs {
		b = appendString(b, 1, in)
	}
	for _, out := range n.Outputs {
		b = appendString(b, 2, out)
	}
	if n.Name != "" {
		b = appendString(b, 3, n.Name)
	}
	b = appendString(b, 4, n.Op)
	for _, a := range n.Attrs {
		if !a.valid {
			return nil, fmt.Errorf("node %s: attribute %q not made with Int, Ints, Float or Str", n.Op, a.name)
		}
		b = appendBytes(b, 5, a.marshal())
	}
	return b, nil
}

func (a Attr) marshal() []byte {
	var b []byte
	b = appendString(b, 1, a.name)
	switch a.kind {
	case 1:
		b = protowire.AppendTag(b, 2, protowire.Fixed32Type)
		b = protowire.AppendFixed32(b, math.Float32bits(a.f))
	case 2:
		b = appendVarint(b, 3, uint64(a.i))
	case 3:
		b = appendString(b, 4, a.s)
	case 7:
		var packed []byte
		for _, v := range a.ints {
			packed = protowire.AppendVarint(packed, uint64(v))
		}
		b = appendBytes(b, 8, packed)
	}
	b = appendVarint(b, 20, uint64(a.kind))
	return b
}

func (t Tensor) marshal() ([]byte, error) {
	n := int64(1)
	for _, d := range t.Dims {
		n *= d
	}
	var b []byte
	for _, d := range t.Dims {
		b = appendVarint(b, 1, uint64(d))
	}
	var raw []byte
	switch {
	case t.Floats != nil && t.Int64s == nil:
		if int64(len(t.Floats)) != n {
			return nil, fmt.Errorf("tensor %s: %d floats for dims %v", t.Name, len(t.Floats), t.Dims)
		}
		b = appendVarint(b, 2, uint64(Float32))
		raw = make([]byte, 0, 4*len(t.Floats))
		for _, v := range t.Floats {
			raw = binary.LittleEndian.AppendUint32(raw, math.Float32bits(v))
		}
	case t.Int64s != nil && t.Floats == nil:
		if int64(len(t.Int64s)) != n {
			return nil, fmt.Errorf("tensor %s: %d int64s for dims %v", t.Name, len(t.Int64s), t.Dims)
		}
		b = appendVarint(b, 2, uint64(Int64))
		raw = make([]byte, 0, 8*len(t.Int64s))
		for _, v := range t.Int64s {
			raw = binary.LittleEndian.AppendUint64(raw, uint64(v))
		}
	default:
		return nil, fmt.Errorf("tensor %s: set exactly one of Floats and Int64s", t.Name)
	}
	b = appendString(b, 8, t.Name)
	b = appendBytes(b, 9, raw)
	return b, nil
}

func (v Value) marshal() []byte {
	var shape []byte
	for i, d := range v.Shape {
		var dim []byte
		if d < 0 {
			dim = appendString(dim, 2, fmt.Sprintf("d%d", i))
		} else {
			dim = appendVarint(dim, 1, uint64(d))
		}
		shape = appendBytes(shape, 1, dim)
	}
	var tensor []byte
	tensor = appendVarint(tensor, 1, uint64(v.Type))
	if v.Shape != nil {
		tensor = appendBytes(tensor, 2, shape)
	}
	var typ []byte
	typ = appendBytes(typ, 1, tensor)
	var b []byte
	b = appendString(b, 1, v.Name)
	b = appendBytes(b, 2, typ)
	return b
}

func appendVarint(b []byte, field protowire.Number, v uint64) []byte {
	b = protowire.AppendTag(b, field, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

func appendBytes(b []byte, field protowire.Number, v []byte) []byte {
	b = protowire.AppendTag(b, field, protowire.BytesType)
	return protowire.AppendBytes(b, v)
}

func appendString(b []byte, field protowire.Number, s string) []byte {
	b = protowire.AppendTag(b, field, protowire.BytesType)
	return protowire.AppendString(b, s)
}
