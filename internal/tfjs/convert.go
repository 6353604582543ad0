package tfjs

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/mediavec/mediavec/internal/onnxgraph"
)

// Opset is the ONNX operator set the converter writes against (ONNX
// Runtime 1.14 and later read it).
const Opset = 18

// Options shape the converted graph.
type Options struct {
	// Outputs, when set, are the graph's outputs (tensor names, "node" or
	// "node:k"); nodes that none of them needs are dropped. Default: the
	// signature's outputs, or else every node whose output nobody reads.
	Outputs []string
	// ExtraOutputs are internal tensors exposed as further outputs, by
	// name: a backbone's feature map for an embedding, say.
	//
	// An entry of Outputs or ExtraOutputs written "tensor=name" gives the
	// output that name in the ONNX graph.
	ExtraOutputs []string
	// DynamicBatch makes the first dimension of every input symbolic. It is
	// right only when the kept part of the graph holds no constant that
	// depends on the batch size (a Reshape to [1,-1], say): ask for outputs
	// before such post-processing.
	DynamicBatch bool
}

// Result is a converted model and what went into it.
type Result struct {
	Model onnxgraph.Model
	// Ops counts the TF.js nodes converted, by op.
	Ops map[string]int
}

// Convert maps m to an ONNX graph. It first refuses every op it does not
// know, naming each op and its node; an attribute value or constant it
// cannot handle then fails the conversion at that node.
func Convert(m *GraphModel, opts Options) (*Result, error) {
	c := &converter{
		m:      m,
		byName: make(map[string]*NodeDef, len(m.Nodes)),
		types:  map[string]onnxgraph.DataType{},
		inits:  map[string]bool{},
		ops:    map[string]int{},
	}
	for i := range m.Nodes {
		n := &m.Nodes[i]
		if _, dup := c.byName[n.Name]; dup {
			return nil, fmt.Errorf("TF.js model: two nodes named %q", n.Name)
		}
		c.byName[n.Name] = n
	}
	outputs, err := c.outputNames(opts)
	if err != nil {
		return nil, err
	}
	order, err := c.topoOrder(outputs)
	if err != nil {
		return nil, err
	}
	// Refuse unknown ops before converting anything, naming all of them.
	var unknown []string
	for _, n := range order {
		if n.Op == "Const" || n.Op == "Placeholder" {
			continue
		}
		if _, ok := opTable[n.Op]; !ok {
			unknown = append(unknown, fmt.Sprintf("op %q at node %q", n.Op, n.Name))
		}
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("TF.js model: %s: %w by the ONNX importer (it converts: %s)",
			strings.Join(unknown, "; "), ErrUnsupported, strings.Join(SupportedOps(), ", "))
	}
	for _, n := range order {
		switch n.Op {
		case "Const":
			continue // materialised where an op reads it as a tensor
		case "Placeholder":
			if err := c.placeholder(n, opts.DynamicBatch); err != nil {
				return nil, err
			}
			continue
		}
		in := dataInputs(n)
		if want := minInputs[n.Op]; len(in) < want {
			return nil, fmt.Errorf("TF.js node %q (op %s): %d inputs, the op takes at least %d", n.Name, n.Op, len(in), want)
		}
		if err := c.convertNode(n, in); err != nil {
			return nil, fmt.Errorf("TF.js node %q (op %s): %w", n.Name, n.Op, err)
		}
		c.ops[n.Op]++
	}
	for _, o := range outputs {
		name := onnxName(o)
		// A graph output that is an initializer (a Const asked for as an
		// output) needs a node to produce it.
		if n := c.byName[nodeOf(o)]; n != nil && n.Op == "Const" {
			src, err := c.input(o)
			if err != nil {
				return nil, err
			}
			name = strings.TrimSuffix(name, ":0") + "/output"
			c.add(n.Name, "Identity", []string{src}, []string{name})
			c.types[name] = c.types[src]
		}
		t, ok := c.types[name]
		if !ok {
			return nil, fmt.Errorf("TF.js model: output %q was not produced by the converted graph", o)
		}
		shape := c.outputShape(o)
		if opts.DynamicBatch && len(shape) > 0 {
			shape[0] = -1
		}
		if alias := c.aliases[onnxName(o)]; alias != "" {
			c.add(nodeOf(o), "Identity", []string{name}, []string{alias})
			name = alias
		}
		c.g.Outputs = append(c.g.Outputs, onnxgraph.Value{Name: name, Type: t, Shape: shape})
	}
	c.g.Name = "tfjs"
	if m.GeneratedBy != "" {
		c.g.Name = "tfjs: " + m.GeneratedBy
	}
	return &Result{Model: onnxgraph.Model{Graph: c.g, Opset: Opset}, Ops: c.ops}, nil
}

// convertNode runs n's op function. A model file is untrusted input: an
// attribute or constant of a shape the function did not foresee must fail
// the conversion with the node named, never crash the process.
func (c *converter) convertNode(n *NodeDef, in []string) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("malformed node: %v", r)
		}
	}()
	return opTable[n.Op](c, n, in)
}

// SupportedOps lists the TF ops Convert maps, sorted.
func SupportedOps() []string {
	ops := slices.Collect(maps.Keys(opTable))
	ops = append(ops, "Const", "Placeholder")
	slices.Sort(ops)
	return ops
}

type converter struct {
	m      *GraphModel
	byName map[string]*NodeDef
	g      onnxgraph.Graph
	types  map[string]onnxgraph.DataType // ONNX tensor name → element type
	inits  map[string]bool
	ops    map[string]int
	seq    int
	// aliases renames outputs ("tensor=name" in the options), by tensor.
	aliases map[string]string
}

// Tensor names: TF writes "node" (or "node:0") for a node's first output and
// "node:k" for the others; ONNX tensors are named the same, ":0" dropped.
func nodeOf(ref string) string {
	ref = strings.TrimPrefix(ref, "^")
	if i := strings.LastIndexByte(ref, ':'); i >= 0 {
		if _, err := strconv.Atoi(ref[i+1:]); err == nil {
			return ref[:i]
		}
	}
	return ref
}

func outputIndex(ref string) int {
	if i := strings.LastIndexByte(ref, ':'); i >= 0 {
		if k, err := strconv.Atoi(ref[i+1:]); err == nil {
			return k
		}
	}
	return 0
}

func onnxName(ref string) string { return out(nodeOf(ref), outputIndex(ref)) }

func out(node string, k int) string {
	if k == 0 {
		return node
	}
	return node + ":" + strconv.Itoa(k)
}

// dataInputs drops control inputs ("^node").
func dataInputs(n *NodeDef) []string {
	in := make([]string, 0, len(n.Input))
	for _, s := range n.Input {
		if !strings.HasPrefix(s, "^") {
			in = append(in, s)
		}
	}
	return in
}

func (c *converter) outputNames(opts Options) ([]string, error) {
	outs := slices.Clone(opts.Outputs)
	if len(outs) == 0 {
		for _, key := range slices.Sorted(maps.Keys(c.m.Signature.Outputs)) {
			name := c.m.Signature.Outputs[key].Name
			if name == "" {
				name = key
			}
			outs = append(outs, name)
		}
	}
	if len(outs) == 0 {
		read := map[string]bool{}
		for _, n := range c.m.Nodes {
			for _, in := range n.Input {
				read[nodeOf(in)] = true
			}
		}
		for _, n := range c.m.Nodes {
			if !read[n.Name] && n.Op != "Const" && n.Op != "NoOp" {
				outs = append(outs, n.Name)
			}
		}
	}
	outs = append(outs, opts.ExtraOutputs...)
	c.aliases = map[string]string{}
	seen := map[string]bool{}
	var uniq []string
	for _, o := range outs {
		if ref, alias, ok := strings.Cut(o, "="); ok {
			if alias == "" || c.byName[alias] != nil {
				return nil, fmt.Errorf("TF.js model: output name %q is empty or a node's name", alias)
			}
			o = ref
			c.aliases[onnxName(o)] = alias
		}
		if _, ok := c.byName[nodeOf(o)]; !ok {
			return nil, fmt.Errorf("TF.js model: no tensor named %q (outputs and extra outputs name a node, or node:k)", o)
		}
		if !seen[onnxName(o)] {
			seen[onnxName(o)] = true
			uniq = append(uniq, o)
		}
	}
	return uniq, nil
}

// topoOrder returns the nodes the outputs need, each after its inputs.
func (c *converter) topoOrder(outputs []string) ([]*NodeDef, error) {
	const (
		unseen = iota
		visiting
		done
	)
	state := map[string]int{}
	var order []*NodeDef
	type frame struct {
		n    *NodeDef
		next int
	}
	for _, o := range outputs {
		root := c.byName[nodeOf(o)]
		if state[root.Name] == done {
			continue
		}
		stack := []frame{{n: root}}
		state[root.Name] = visiting
		for len(stack) > 0 {
			top := &stack[len(stack)-1]
			if top.next < len(top.n.Input) {
				ref := top.n.Input[top.next]
				top.next++
				if strings.HasPrefix(ref, "^") {
					continue // a control dependency: no data flows
				}
				dep, ok := c.byName[nodeOf(ref)]
				if !ok {
					return nil, fmt.Errorf("TF.js node %q reads %q, which no node produces", top.n.Name, ref)
				}
				switch state[dep.Name] {
				case visiting:
					return nil, fmt.Errorf("TF.js model: a cycle through node %q (control flow is not supported)", dep.Name)
				case unseen:
					state[dep.Name] = visiting
					stack = append(stack, frame{n: dep})
				}
				continue
			}
			state[top.n.Name] = done
			order = append(order, top.n)
			stack = stack[:len(stack)-1]
		}
	}
	return order, nil
}

func (c *converter) placeholder(n *NodeDef, dynamicBatch bool) error {
	t, err := onnxType(n.attrType("dtype"))
	if err != nil {
		return fmt.Errorf("TF.js input %q: %w", n.Name, err)
	}
	var dims []int64
	if a, ok := n.Attr["shape"]; ok && a.Shape != nil {
		if dims, err = a.Shape.Dims(); err != nil {
			return fmt.Errorf("TF.js input %q: %w", n.Name, err)
		}
	}
	if dims == nil {
		for _, key := range slices.Sorted(maps.Keys(c.m.Signature.Inputs)) {
			info := c.m.Signature.Inputs[key]
			if nodeOf(key) == n.Name || nodeOf(info.Name) == n.Name {
				if dims, err = info.TensorShape.Dims(); err != nil {
					return fmt.Errorf("TF.js input %q: %w", n.Name, err)
				}
			}
		}
	}
	if dims == nil {
		return fmt.Errorf("TF.js input %q: no shape in the node or the signature", n.Name)
	}
	dims = slices.Clone(dims)
	if dynamicBatch && len(dims) > 0 {
		dims[0] = -1
	}
	c.g.Inputs = append(c.g.Inputs, onnxgraph.Value{Name: n.Name, Type: t, Shape: dims})
	c.types[n.Name] = t
	return nil
}

// outputShape is the signature's shape for an output, when it has one.
func (c *converter) outputShape(ref string) []int64 {
	for _, key := range slices.Sorted(maps.Keys(c.m.Signature.Outputs)) {
		info := c.m.Signature.Outputs[key]
		if onnxName(key) == onnxName(ref) || (info.Name != "" && onnxName(info.Name) == onnxName(ref)) {
			dims, err := info.TensorShape.Dims()
			if err != nil || dims == nil {
				return nil
			}
			return slices.Clone(dims)
		}
	}
	return nil
}

// onnxType maps a TF dtype; int32 is widened to int64, which ONNX index and
// shape inputs need.
func onnxType(dtype string) (onnxgraph.DataType, error) {
	switch dtype {
	case "DT_FLOAT", "":
		return onnxgraph.Float32, nil
	case "DT_INT32", "DT_INT64":
		return onnxgraph.Int64, nil
	case "DT_BOOL":
		return onnxgraph.Bool, nil
	}
	return 0, fmt.Errorf("dtype %s: %w", dtype, ErrUnsupported)
}

// add appends an ONNX node named after the TF node it comes from.
func (c *converter) add(from, op string, inputs, outputs []string, attrs ...onnxgraph.Attr) {
	c.seq++
	c.g.Nodes = append(c.g.Nodes, onnxgraph.Node{
		Name: fmt.Sprintf("%s/%s_%d", from, op, c.seq), Op: op,
		Inputs: inputs, Outputs: outputs, Attrs: attrs,
	})
}

// tmp names an intermediate tensor of the TF node n.
func (c *converter) tmp(n *NodeDef, what string) string {
	c.seq++
	return fmt.Sprintf("%s/__%s_%d", n.Name, what, c.seq)
}

// weight returns the constant a reference names, or an error saying that
// the op needs a constant there.
func (c *converter) weight(ref, role string) (*Weight, error) {
	n := c.byName[nodeOf(ref)]
	if n == nil || n.Op != "Const" {
		return nil, fmt.Errorf("%s %q must be a constant: %w", role, ref, ErrUnsupported)
	}
	w, ok := c.m.Weights[n.Name]
	if !ok {
		return nil, fmt.Errorf("constant %q has no entry in the weights manifest", n.Name)
	}
	return w, nil
}

func (c *converter) constInts(ref, role string) ([]int64, error) {
	w, err := c.weight(ref, role)
	if err != nil {
		return nil, err
	}
	if w.Ints == nil {
		return nil, fmt.Errorf("%s %q: want an integer constant, got %s", role, ref, w.DType)
	}
	return w.Ints, nil
}

func (c *converter) constFloats(ref, role string) ([]float32, error) {
	w, err := c.weight(ref, role)
	if err != nil {
		return nil, err
	}
	if w.Floats == nil {
		return nil, fmt.Errorf("%s %q: want a float constant, got %s", role, ref, w.DType)
	}
	return w.Floats, nil
}

func (c *converter) isConst(ref string) bool {
	n := c.byName[nodeOf(ref)]
	return n != nil && n.Op == "Const"
}

// input returns the ONNX tensor for a TF reference, writing a constant as an
// initializer the first time one is read.
func (c *converter) input(ref string) (string, error) {
	name := onnxName(ref)
	if !c.isConst(ref) {
		if _, ok := c.types[name]; !ok {
			return "", fmt.Errorf("input %q is not produced by an earlier node", ref)
		}
		return name, nil
	}
	if c.inits[name] {
		return name, nil
	}
	w, err := c.weight(ref, "constant")
	if err != nil {
		return "", err
	}
	switch {
	case w.Floats != nil:
		c.initFloats(name, w.Shape, w.Floats)
	case w.DType == "bool":
		raw := name + "/__int64"
		c.initInts(raw, w.Shape, w.Ints)
		c.add(name, "Cast", []string{raw}, []string{name}, onnxgraph.Int("to", int64(onnxgraph.Bool)))
		c.types[name] = onnxgraph.Bool
		c.inits[name] = true
	default:
		c.initInts(name, w.Shape, w.Ints)
	}
	return name, nil
}

func (c *converter) initFloats(name string, dims []int64, v []float32) string {
	if !c.inits[name] {
		c.g.Initializers = append(c.g.Initializers, onnxgraph.Tensor{Name: name, Dims: slices.Clone(dims), Floats: v})
		c.inits[name] = true
		c.types[name] = onnxgraph.Float32
	}
	return name
}

func (c *converter) initInts(name string, dims []int64, v []int64) string {
	if !c.inits[name] {
		c.g.Initializers = append(c.g.Initializers, onnxgraph.Tensor{Name: name, Dims: slices.Clone(dims), Int64s: v})
		c.inits[name] = true
		c.types[name] = onnxgraph.Int64
	}
	return name
}

// intVector writes a 1-D int64 initializer owned by node n.
func (c *converter) intVector(n *NodeDef, what string, v []int64) string {
	return c.initInts(c.tmp(n, what), []int64{int64(len(v))}, v)
}

// scalarFloat writes (once) a shared float scalar initializer.
func (c *converter) scalarFloat(v float32) string {
	return c.initFloats(fmt.Sprintf("__const/f32_%g", v), []int64{}, []float32{v})
}

func (c *converter) inputs(refs []string) ([]string, error) {
	out := make([]string, len(refs))
	for i, r := range refs {
		s, err := c.input(r)
		if err != nil {
			return nil, err
		}
		out[i] = s
	}
	return out, nil
}
