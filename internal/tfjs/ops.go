package tfjs

import (
	"fmt"
	"math"
	"slices"

	"github.com/mediavec/mediavec/internal/onnxgraph"
)

// opFunc converts one TF node whose data inputs are in; it writes ONNX
// nodes whose outputs carry the TF tensor names (out(n.Name, k)).
type opFunc func(c *converter, n *NodeDef, in []string) error

// opTable lists every TF op the importer converts.
//
// Layout: TF graphs are NHWC and ONNX convolutions and pools are NCHW, so
// each of those is wrapped in a pair of Transposes and everything else stays
// NHWC, as TF wrote it (axes, shapes and slices keep their meaning). ONNX
// Runtime's transpose optimiser cancels the pairs between neighbouring
// convolutions when the session is created.
//
// Types: TF int32 tensors become int64, which ONNX needs for shapes,
// indices and axes.
var opTable map[string]opFunc

func init() {
	opTable = map[string]opFunc{
		"Identity": unary("Identity"), "StopGradient": unary("Identity"), "Snapshot": unary("Identity"),
		"Relu": unary("Relu"), "Sigmoid": unary("Sigmoid"), "Tanh": unary("Tanh"), "Elu": unary("Elu"),
		"Selu": unary("Selu"), "Exp": unary("Exp"), "Log": unary("Log"), "Sqrt": unary("Sqrt"),
		"Neg": unary("Neg"), "Abs": unary("Abs"), "Floor": unary("Floor"), "Ceil": unary("Ceil"),
		"Round": unary("Round"), "Softplus": unary("Softplus"), "Reciprocal": unary("Reciprocal"),
		"Sin": unary("Sin"), "Cos": unary("Cos"), "Sign": unary("Sign"), "Erf": unary("Erf"),
		"LogicalNot": unary("Not"),
		"Softmax":    unary("Softmax"), // TF and ONNX (13+) both take the last axis
		"Relu6":      relu6,
		"Rsqrt":      rsqrt,
		"Square":     square,
		"LeakyRelu":  leakyRelu,
		"Prelu":      elementwise("PRelu"),

		"Add": elementwise("Add"), "AddV2": elementwise("Add"), "BiasAdd": biasAdd, "Sub": elementwise("Sub"),
		"Mul": elementwise("Mul"), "RealDiv": elementwise("Div"), "Div": div, "Maximum": elementwise("Max"),
		"Minimum": elementwise("Min"), "Pow": elementwise("Pow"),
		"SquaredDifference": squaredDifference,
		"FloorDiv":          floorDiv,
		"FloorMod":          floorMod,
		"AddN":              addN,

		"Equal": compare("Equal", false), "NotEqual": compare("Equal", true),
		"Greater": compare("Greater", false), "GreaterEqual": compare("GreaterOrEqual", false),
		"Less": compare("Less", false), "LessEqual": compare("LessOrEqual", false),
		"LogicalAnd": compare("And", false), "LogicalOr": compare("Or", false),
		"Select": selectOp, "SelectV2": selectOp,
		"Cast": cast,

		"Conv2D": conv, "_FusedConv2D": conv,
		"DepthwiseConv2dNative": conv, "FusedDepthwiseConv2dNative": conv,
		"MaxPool": pool("MaxPool"), "AvgPool": pool("AveragePool"),
		"MatMul": matMul, "BatchMatMul": matMul, "BatchMatMulV2": matMul, "_FusedMatMul": matMul,

		"Mean": reduce("ReduceMean"), "Sum": reduce("ReduceSum"), "Max": reduce("ReduceMax"),
		"Min": reduce("ReduceMin"), "Prod": reduce("ReduceProd"),
		"ArgMax": argReduce("ArgMax"), "ArgMin": argReduce("ArgMin"),

		"ResizeBilinear":        resize("linear"),
		"ResizeNearestNeighbor": resize("nearest"),

		"Reshape": reshape, "Squeeze": squeeze, "ExpandDims": expandDims, "Transpose": transpose,
		"ConcatV2": concat, "Pack": pack, "Unpack": unpack, "Split": split, "SplitV": splitV,
		"Pad": pad, "PadV2": pad, "MirrorPad": pad,
		"StridedSlice": stridedSlice, "Slice": slice, "Tile": elementwise("Tile"),
		"GatherV2": gather, "TopKV2": topK, "Shape": shape, "Fill": fill,
		"SparseToDense": sparseToDense,
	}
}

// minInputs is the fewest data inputs each op reads; Convert checks it
// before an op function indexes its inputs. Ops absent take one.
var minInputs = map[string]int{
	"Prelu": 2, "Add": 2, "AddV2": 2, "BiasAdd": 2, "Sub": 2, "Mul": 2, "RealDiv": 2, "Div": 2,
	"Maximum": 2, "Minimum": 2, "Pow": 2, "SquaredDifference": 2, "FloorDiv": 2, "FloorMod": 2,
	"Equal": 2, "NotEqual": 2, "Greater": 2, "GreaterEqual": 2, "Less": 2, "LessEqual": 2,
	"LogicalAnd": 2, "LogicalOr": 2, "Select": 3, "SelectV2": 3,
	"Conv2D": 2, "_FusedConv2D": 2, "DepthwiseConv2dNative": 2, "FusedDepthwiseConv2dNative": 2,
	"MatMul": 2, "BatchMatMul": 2, "BatchMatMulV2": 2, "_FusedMatMul": 2,
	"Mean": 2, "Sum": 2, "Max": 2, "Min": 2, "Prod": 2, "ArgMax": 2, "ArgMin": 2,
	"ResizeBilinear": 2, "ResizeNearestNeighbor": 2, "Reshape": 2, "ExpandDims": 2, "Transpose": 2,
	"ConcatV2": 2, "Split": 2, "SplitV": 3, "Pad": 2, "PadV2": 3, "MirrorPad": 2,
	"StridedSlice": 4, "Slice": 3, "Tile": 2, "GatherV2": 3, "TopKV2": 2, "Fill": 2, "SparseToDense": 4,
}

func init() {
	for op := range opTable {
		if _, ok := minInputs[op]; !ok {
			minInputs[op] = 1
		}
	}
}

// unary maps an op with one input and one output onto one ONNX op.
func unary(op string) opFunc {
	return func(c *converter, n *NodeDef, in []string) error {
		x, err := c.input(in[0])
		if err != nil {
			return err
		}
		c.add(n.Name, op, []string{x}, []string{n.Name})
		c.types[n.Name] = c.types[x]
		return nil
	}
}

// elementwise maps a two-input op with numpy broadcasting (both TF and ONNX
// broadcast the same way).
func elementwise(op string) opFunc {
	return func(c *converter, n *NodeDef, in []string) error {
		if len(in) != 2 {
			return fmt.Errorf("want 2 inputs, got %d", len(in))
		}
		xs, err := c.inputs(in)
		if err != nil {
			return err
		}
		c.add(n.Name, op, xs, []string{n.Name})
		c.types[n.Name] = c.types[xs[0]]
		return nil
	}
}

// biasAdd adds a per-channel bias on the last axis (NHWC); an NCHW bias
// would need a reshape, and graph models do not write one.
func biasAdd(c *converter, n *NodeDef, in []string) error {
	if f, err := n.attrString("data_format", "NHWC"); err != nil {
		return err
	} else if f != "NHWC" {
		return fmt.Errorf("BiasAdd data_format %s: %w", f, ErrUnsupported)
	}
	return elementwise("Add")(c, n, in)
}

func compare(op string, negate bool) opFunc {
	return func(c *converter, n *NodeDef, in []string) error {
		xs, err := c.inputs(in)
		if err != nil {
			return err
		}
		target := n.Name
		if negate {
			target = c.tmp(n, "eq")
		}
		c.add(n.Name, op, xs, []string{target})
		if negate {
			c.add(n.Name, "Not", []string{target}, []string{n.Name})
		}
		c.types[n.Name] = onnxgraph.Bool
		return nil
	}
}

func relu6(c *converter, n *NodeDef, in []string) error {
	x, err := c.input(in[0])
	if err != nil {
		return err
	}
	c.add(n.Name, "Clip", []string{x, c.scalarFloat(0), c.scalarFloat(6)}, []string{n.Name})
	c.types[n.Name] = onnxgraph.Float32
	return nil
}

func rsqrt(c *converter, n *NodeDef, in []string) error {
	x, err := c.input(in[0])
	if err != nil {
		return err
	}
	t := c.tmp(n, "sqrt")
	c.add(n.Name, "Sqrt", []string{x}, []string{t})
	c.add(n.Name, "Reciprocal", []string{t}, []string{n.Name})
	c.types[n.Name] = c.types[x]
	return nil
}

func square(c *converter, n *NodeDef, in []string) error {
	x, err := c.input(in[0])
	if err != nil {
		return err
	}
	c.add(n.Name, "Mul", []string{x, x}, []string{n.Name})
	c.types[n.Name] = c.types[x]
	return nil
}

func leakyRelu(c *converter, n *NodeDef, in []string) error {
	x, err := c.input(in[0])
	if err != nil {
		return err
	}
	c.add(n.Name, "LeakyRelu", []string{x}, []string{n.Name}, onnxgraph.Float("alpha", float32(n.attrFloat("alpha", 0.2))))
	c.types[n.Name] = c.types[x]
	return nil
}

func squaredDifference(c *converter, n *NodeDef, in []string) error {
	xs, err := c.inputs(in)
	if err != nil {
		return err
	}
	d := c.tmp(n, "diff")
	c.add(n.Name, "Sub", xs, []string{d})
	c.add(n.Name, "Mul", []string{d, d}, []string{n.Name})
	c.types[n.Name] = c.types[xs[0]]
	return nil
}

// div is TF's Div: true division for floats; for integers TF.js floors
// (as FloorDiv), where ONNX's Div would truncate.
func div(c *converter, n *NodeDef, in []string) error {
	xs, err := c.inputs(in)
	if err != nil {
		return err
	}
	if c.types[xs[0]] == onnxgraph.Float32 {
		c.add(n.Name, "Div", xs, []string{n.Name})
		c.types[n.Name] = onnxgraph.Float32
		return nil
	}
	return floorDiv(c, n, in)
}

// floorDiv rounds towards −∞ as TF does. For integers ONNX Div truncates,
// so it divides x − (x mod y), which is exact; Mod with fmod=0 is the floor
// modulus.
func floorDiv(c *converter, n *NodeDef, in []string) error {
	xs, err := c.inputs(in)
	if err != nil {
		return err
	}
	if c.types[xs[0]] == onnxgraph.Float32 {
		q := c.tmp(n, "div")
		c.add(n.Name, "Div", xs, []string{q})
		c.add(n.Name, "Floor", []string{q}, []string{n.Name})
	} else {
		mod, diff := c.tmp(n, "mod"), c.tmp(n, "sub")
		c.add(n.Name, "Mod", xs, []string{mod}, onnxgraph.Int("fmod", 0))
		c.add(n.Name, "Sub", []string{xs[0], mod}, []string{diff})
		c.add(n.Name, "Div", []string{diff, xs[1]}, []string{n.Name})
	}
	c.types[n.Name] = c.types[xs[0]]
	return nil
}

// floorMod takes the sign of the divisor, as TF does.
func floorMod(c *converter, n *NodeDef, in []string) error {
	xs, err := c.inputs(in)
	if err != nil {
		return err
	}
	if c.types[xs[0]] == onnxgraph.Float32 {
		q, f, p := c.tmp(n, "div"), c.tmp(n, "floor"), c.tmp(n, "mul")
		c.add(n.Name, "Div", xs, []string{q})
		c.add(n.Name, "Floor", []string{q}, []string{f})
		c.add(n.Name, "Mul", []string{f, xs[1]}, []string{p})
		c.add(n.Name, "Sub", []string{xs[0], p}, []string{n.Name})
	} else {
		c.add(n.Name, "Mod", xs, []string{n.Name}, onnxgraph.Int("fmod", 0))
	}
	c.types[n.Name] = c.types[xs[0]]
	return nil
}

func addN(c *converter, n *NodeDef, in []string) error {
	xs, err := c.inputs(in)
	if err != nil {
		return err
	}
	c.add(n.Name, "Sum", xs, []string{n.Name})
	c.types[n.Name] = c.types[xs[0]]
	return nil
}

func selectOp(c *converter, n *NodeDef, in []string) error {
	xs, err := c.inputs(in)
	if err != nil {
		return err
	}
	if len(xs) != 3 {
		return fmt.Errorf("want 3 inputs, got %d", len(xs))
	}
	c.add(n.Name, "Where", xs, []string{n.Name})
	c.types[n.Name] = c.types[xs[1]]
	return nil
}

func cast(c *converter, n *NodeDef, in []string) error {
	x, err := c.input(in[0])
	if err != nil {
		return err
	}
	to, err := onnxType(n.attrType("DstT"))
	if err != nil {
		return err
	}
	if c.types[x] == to {
		c.add(n.Name, "Identity", []string{x}, []string{n.Name})
	} else {
		c.add(n.Name, "Cast", []string{x}, []string{n.Name}, onnxgraph.Int("to", int64(to)))
	}
	c.types[n.Name] = to
	return nil
}

// spatial reads the data format and the H, W entries of a 4-element
// strides/dilations/ksize list written in that format.
func spatial(n *NodeDef, attr string) (nhwc bool, hw [2]int64, err error) {
	format, err := n.attrString("data_format", "NHWC")
	if err != nil {
		return false, hw, err
	}
	switch format {
	case "NHWC":
		nhwc = true
	case "NCHW":
	default:
		return false, hw, fmt.Errorf("data_format %s: %w", format, ErrUnsupported)
	}
	v, err := n.attrInts(attr)
	if err != nil {
		return false, hw, err
	}
	switch {
	case len(v) == 0:
		hw = [2]int64{1, 1}
	case len(v) != 4:
		return false, hw, fmt.Errorf("%s has %d entries, want 4", attr, len(v))
	case nhwc:
		hw = [2]int64{v[1], v[2]}
	default:
		hw = [2]int64{v[2], v[3]}
	}
	return nhwc, hw, nil
}

// padding turns TF's padding attribute into ONNX attributes. TF's SAME puts
// the odd pixel at the end, as ONNX's SAME_UPPER does.
func padding(n *NodeDef, nhwc bool) ([]onnxgraph.Attr, error) {
	p, err := n.attrString("padding", "VALID")
	if err != nil {
		return nil, err
	}
	switch p {
	case "SAME":
		return []onnxgraph.Attr{onnxgraph.Str("auto_pad", "SAME_UPPER")}, nil
	case "VALID":
		return []onnxgraph.Attr{onnxgraph.Ints("pads", 0, 0, 0, 0)}, nil
	case "EXPLICIT":
		e, err := n.attrInts("explicit_paddings")
		if err != nil {
			return nil, err
		}
		if len(e) != 8 {
			return nil, fmt.Errorf("explicit_paddings has %d entries, want 8", len(e))
		}
		var h, w []int64
		if nhwc {
			h, w = e[2:4], e[4:6]
		} else {
			h, w = e[4:6], e[6:8]
		}
		return []onnxgraph.Attr{onnxgraph.Ints("pads", h[0], w[0], h[1], w[1])}, nil
	}
	return nil, fmt.Errorf("padding %s: %w", p, ErrUnsupported)
}

func (c *converter) toNCHW(n *NodeDef, x string) string {
	t := c.tmp(n, "nchw")
	c.add(n.Name, "Transpose", []string{x}, []string{t}, onnxgraph.Ints("perm", 0, 3, 1, 2))
	c.types[t] = c.types[x]
	return t
}

func (c *converter) toNHWC(n *NodeDef, x, target string) {
	c.add(n.Name, "Transpose", []string{x}, []string{target}, onnxgraph.Ints("perm", 0, 2, 3, 1))
	c.types[target] = c.types[x]
}

// conv converts Conv2D, DepthwiseConv2dNative and their fused forms
// (_FusedConv2D, FusedDepthwiseConv2dNative): BiasAdd or FusedBatchNorm
// (folded into the filter) followed by an optional activation.
func conv(c *converter, n *NodeDef, in []string) error {
	depthwise := n.Op == "DepthwiseConv2dNative" || n.Op == "FusedDepthwiseConv2dNative"
	fused := n.Op == "_FusedConv2D" || n.Op == "FusedDepthwiseConv2dNative"
	if len(in) < 2 {
		return fmt.Errorf("want an input and a filter")
	}
	w, err := c.weight(in[1], "filter")
	if err != nil {
		return err
	}
	if len(w.Shape) != 4 || w.Floats == nil {
		return fmt.Errorf("filter %s: want a float [h,w,in,out] constant, got %s %v", in[1], w.DType, w.Shape)
	}
	nhwc, strides, err := spatial(n, "strides")
	if err != nil {
		return err
	}
	_, dilations, err := spatial(n, "dilations")
	if err != nil {
		return err
	}
	pads, err := padding(n, nhwc)
	if err != nil {
		return err
	}
	kh, kw, cin, cout := w.Shape[0], w.Shape[1], w.Shape[2], w.Shape[3]
	if kh == 0 || kw == 0 || cin == 0 || cout == 0 {
		return fmt.Errorf("filter %s has an empty dimension: %v", in[1], w.Shape)
	}
	var filter []float32
	var dims []int64
	group := int64(1)
	if depthwise {
		// [h,w,in,multiplier] → [in·multiplier, 1, h, w], one group per
		// input channel.
		mult := cout
		filter = make([]float32, len(w.Floats))
		for y := range kh {
			for x := range kw {
				for ci := range cin {
					for m := range mult {
						filter[((ci*mult+m)*kh+y)*kw+x] = w.Floats[((y*kw+x)*cin+ci)*mult+m]
					}
				}
			}
		}
		dims = []int64{cin * mult, 1, kh, kw}
		group = cin
		cout = cin * mult
	} else {
		// [h,w,in,out] → [out,in,h,w]
		filter = make([]float32, len(w.Floats))
		for y := range kh {
			for x := range kw {
				for ci := range cin {
					for co := range cout {
						filter[((co*cin+ci)*kh+y)*kw+x] = w.Floats[((y*kw+x)*cin+ci)*cout+co]
					}
				}
			}
		}
		dims = []int64{cout, cin, kh, kw}
	}
	var bias []float32
	act, actArg := "", ""
	if fused {
		ops, err := n.attrStrings("fused_ops")
		if err != nil {
			return err
		}
		args := in[2:]
		if len(ops) == 0 {
			return fmt.Errorf("fused op without fused_ops")
		}
		used := 0
		switch ops[0] {
		case "BiasAdd":
			if len(args) < 1 {
				return fmt.Errorf("BiasAdd without a bias input")
			}
			if bias, err = c.constFloats(args[0], "bias"); err != nil {
				return err
			}
			used = 1
		case "FusedBatchNorm":
			if len(args) < 4 {
				return fmt.Errorf("FusedBatchNorm needs scale, offset, mean and variance")
			}
			var bn [4][]float32
			for i := range bn {
				if bn[i], err = c.constFloats(args[i], "batch norm"); err != nil {
					return err
				}
				if int64(len(bn[i])) != cout {
					return fmt.Errorf("batch norm input %s has %d values for %d output channels", args[i], len(bn[i]), cout)
				}
			}
			eps := n.attrFloat("epsilon", 0.0001) // TF's default
			bias = make([]float32, cout)
			per := int64(len(filter)) / cout
			for o := range cout {
				k := float32(float64(bn[0][o]) / math.Sqrt(float64(bn[3][o])+eps))
				for j := range per {
					filter[o*per+j] *= k
				}
				bias[o] = bn[1][o] - float32(bn[2][o]*k) // rounded first: no FMA, the same bytes everywhere
			}
			used = 4
		default:
			return fmt.Errorf("fused op %s: %w", ops[0], ErrUnsupported)
		}
		if len(ops) > 2 {
			return fmt.Errorf("fused ops %v: %w", ops, ErrUnsupported)
		}
		if len(ops) == 2 {
			act = ops[1]
			if act == "Prelu" {
				if len(args) <= used {
					return fmt.Errorf("Prelu without its alpha input")
				}
				actArg = args[used]
			}
		}
		if int64(len(bias)) != cout {
			return fmt.Errorf("bias has %d values for %d output channels", len(bias), cout)
		}
	}
	x, err := c.input(in[0])
	if err != nil {
		return err
	}
	if nhwc {
		x = c.toNCHW(n, x)
	}
	inputs := []string{x, c.initFloats(c.tmp(n, "filter"), dims, filter)}
	if bias != nil {
		inputs = append(inputs, c.initFloats(c.tmp(n, "bias"), []int64{cout}, bias))
	}
	attrs := append([]onnxgraph.Attr{
		onnxgraph.Ints("kernel_shape", kh, kw),
		onnxgraph.Ints("strides", strides[0], strides[1]),
		onnxgraph.Ints("dilations", dilations[0], dilations[1]),
		onnxgraph.Int("group", group),
	}, pads...)
	y := n.Name
	if nhwc || act != "" {
		y = c.tmp(n, "conv")
	}
	c.add(n.Name, "Conv", inputs, []string{y}, attrs...)
	c.types[y] = onnxgraph.Float32
	if act != "" {
		z := n.Name
		if nhwc {
			z = c.tmp(n, "act")
		}
		if err := c.activation(n, act, actArg, y, z, cout); err != nil {
			return err
		}
		y = z
	}
	if nhwc {
		c.toNHWC(n, y, n.Name)
	}
	c.types[n.Name] = onnxgraph.Float32
	return nil
}

// activation writes a fused activation on an NCHW tensor (channels = c) or
// on a [.., channels] matrix (c = 0).
func (c *converter) activation(n *NodeDef, act, arg, x, target string, channels int64) error {
	switch act {
	case "Relu", "Sigmoid", "Tanh", "Elu":
		c.add(n.Name, act, []string{x}, []string{target})
	case "Relu6":
		c.add(n.Name, "Clip", []string{x, c.scalarFloat(0), c.scalarFloat(6)}, []string{target})
	case "LeakyRelu":
		c.add(n.Name, "LeakyRelu", []string{x}, []string{target}, onnxgraph.Float("alpha", float32(n.attrFloat("leakyrelu_alpha", 0.2))))
	case "Prelu":
		alpha, err := c.constFloats(arg, "Prelu alpha")
		if err != nil {
			return err
		}
		dims := []int64{int64(len(alpha))}
		if channels > 0 {
			if int64(len(alpha)) != channels {
				return fmt.Errorf("Prelu alpha has %d values for %d channels", len(alpha), channels)
			}
			dims = []int64{channels, 1, 1}
		}
		c.add(n.Name, "PRelu", []string{x, c.initFloats(c.tmp(n, "alpha"), dims, alpha)}, []string{target})
	default:
		return fmt.Errorf("fused activation %s: %w", act, ErrUnsupported)
	}
	c.types[target] = onnxgraph.Float32
	return nil
}

func pool(op string) opFunc {
	return func(c *converter, n *NodeDef, in []string) error {
		nhwc, k, err := spatial(n, "ksize")
		if err != nil {
			return err
		}
		_, strides, err := spatial(n, "strides")
		if err != nil {
			return err
		}
		pads, err := padding(n, nhwc)
		if err != nil {
			return err
		}
		x, err := c.input(in[0])
		if err != nil {
			return err
		}
		if nhwc {
			x = c.toNCHW(n, x)
		}
		y := n.Name
		if nhwc {
			y = c.tmp(n, "pool")
		}
		// TF's SAME average excludes the padding from the count, as ONNX's
		// default count_include_pad=0 does.
		attrs := append([]onnxgraph.Attr{onnxgraph.Ints("kernel_shape", k[0], k[1]), onnxgraph.Ints("strides", strides[0], strides[1])}, pads...)
		c.add(n.Name, op, []string{x}, []string{y}, attrs...)
		c.types[y] = onnxgraph.Float32
		if nhwc {
			c.toNHWC(n, y, n.Name)
		}
		c.types[n.Name] = onnxgraph.Float32
		return nil
	}
}

func matMul(c *converter, n *NodeDef, in []string) error {
	if len(in) < 2 {
		return fmt.Errorf("want two inputs")
	}
	xs, err := c.inputs(in[:2])
	if err != nil {
		return err
	}
	ta := n.attrBool("transpose_a", false) || n.attrBool("adj_x", false)
	tb := n.attrBool("transpose_b", false) || n.attrBool("adj_y", false)
	for i, t := range []bool{ta, tb} {
		if !t {
			continue
		}
		// Swap the last two axes whatever the rank: Einsum says so without
		// knowing it.
		y := c.tmp(n, "t")
		c.add(n.Name, "Einsum", []string{xs[i]}, []string{y}, onnxgraph.Str("equation", "...ij->...ji"))
		c.types[y] = c.types[xs[i]]
		xs[i] = y
	}
	if n.Op != "_FusedMatMul" {
		c.add(n.Name, "MatMul", xs, []string{n.Name})
		c.types[n.Name] = c.types[xs[0]]
		return nil
	}
	ops, err := n.attrStrings("fused_ops")
	if err != nil {
		return err
	}
	if len(ops) == 0 || ops[0] != "BiasAdd" || len(ops) > 2 || len(in) < 3 {
		return fmt.Errorf("fused ops %v: %w", ops, ErrUnsupported)
	}
	m := c.tmp(n, "matmul")
	c.add(n.Name, "MatMul", xs, []string{m})
	b, err := c.input(in[2])
	if err != nil {
		return err
	}
	target := n.Name
	if len(ops) == 2 {
		target = c.tmp(n, "bias")
	}
	c.add(n.Name, "Add", []string{m, b}, []string{target})
	c.types[target] = onnxgraph.Float32
	if len(ops) == 2 {
		arg := ""
		if len(in) > 3 {
			arg = in[3]
		}
		if err := c.activation(n, ops[1], arg, target, n.Name, 0); err != nil {
			return err
		}
	}
	c.types[n.Name] = onnxgraph.Float32
	return nil
}

// reduce maps Mean, Sum, Max, Min and Prod. TF takes the axes as a scalar
// or a vector, and no axes means no reduction; ONNX wants a vector, and no
// axes means all unless noop_with_empty_axes says otherwise.
func reduce(op string) opFunc {
	return func(c *converter, n *NodeDef, in []string) error {
		x, err := c.input(in[0])
		if err != nil {
			return err
		}
		var axes string
		if c.isConst(in[1]) {
			v, err := c.constInts(in[1], "reduction_indices")
			if err != nil {
				return err
			}
			axes = c.intVector(n, "axes", v)
		} else {
			a, err := c.input(in[1])
			if err != nil {
				return err
			}
			axes = c.tmp(n, "axes")
			c.add(n.Name, "Reshape", []string{a, c.intVector(n, "flat", []int64{-1})}, []string{axes})
		}
		keep := int64(0)
		if n.attrBool("keep_dims", false) {
			keep = 1
		}
		c.add(n.Name, op, []string{x, axes}, []string{n.Name}, onnxgraph.Int("keepdims", keep), onnxgraph.Int("noop_with_empty_axes", 1))
		c.types[n.Name] = c.types[x]
		return nil
	}
}

func argReduce(op string) opFunc {
	return func(c *converter, n *NodeDef, in []string) error {
		x, err := c.input(in[0])
		if err != nil {
			return err
		}
		axis, err := c.constInts(in[1], "axis")
		if err != nil {
			return err
		}
		if len(axis) != 1 {
			return fmt.Errorf("axis %s has %d values, want one", in[1], len(axis))
		}
		c.add(n.Name, op, []string{x}, []string{n.Name}, onnxgraph.Int("axis", axis[0]), onnxgraph.Int("keepdims", 0))
		c.types[n.Name] = onnxgraph.Int64
		return nil
	}
}

// resize converts ResizeBilinear and ResizeNearestNeighbor on NHWC images.
// The output size [N, C, h, w] is built from the input's own shape, so the
// batch may vary.
func resize(mode string) opFunc {
	return func(c *converter, n *NodeDef, in []string) error {
		x, err := c.input(in[0])
		if err != nil {
			return err
		}
		var size string
		if !c.isConst(in[1]) {
			if size, err = c.input(in[1]); err != nil {
				return err
			}
		}
		align, half := n.attrBool("align_corners", false), n.attrBool("half_pixel_centers", false)
		attrs := []onnxgraph.Attr{onnxgraph.Str("mode", mode)}
		switch {
		case align && half:
			return fmt.Errorf("align_corners with half_pixel_centers: %w", ErrUnsupported)
		case align:
			attrs = append(attrs, onnxgraph.Str("coordinate_transformation_mode", "align_corners"))
			if mode == "nearest" {
				attrs = append(attrs, onnxgraph.Str("nearest_mode", "round_prefer_ceil"))
			}
		case half && mode == "nearest":
			// TF: floor((y + 0.5)·in/out), which is ONNX's half-pixel
			// transform for nearest neighbours rounded down.
			attrs = append(attrs, onnxgraph.Str("coordinate_transformation_mode", "tf_half_pixel_for_nn"), onnxgraph.Str("nearest_mode", "floor"))
		case half:
			attrs = append(attrs, onnxgraph.Str("coordinate_transformation_mode", "half_pixel"))
		default:
			attrs = append(attrs, onnxgraph.Str("coordinate_transformation_mode", "asymmetric"))
			if mode == "nearest" {
				attrs = append(attrs, onnxgraph.Str("nearest_mode", "floor"))
			}
		}
		xc := c.toNCHW(n, x)
		var sizes string
		if c.isConst(in[1]) {
			hw, err := c.constInts(in[1], "size")
			if err != nil {
				return err
			}
			if len(hw) != 2 {
				return fmt.Errorf("size %s has %d values, want [height, width]", in[1], len(hw))
			}
			// A constant size: Resize-18 scales only H and W (axes), so
			// no shape arithmetic runs at inference and the batch is free.
			sizes = c.intVector(n, "sizes", hw)
			attrs = append(attrs, onnxgraph.Ints("axes", 2, 3))
		} else {
			// [N, C] of the input, then the computed [h, w].
			shp, nc := c.tmp(n, "shape"), c.tmp(n, "nc")
			sizes = c.tmp(n, "sizes")
			c.add(n.Name, "Shape", []string{xc}, []string{shp})
			c.add(n.Name, "Slice", []string{shp, c.intVector(n, "zero", []int64{0}), c.intVector(n, "two", []int64{2})}, []string{nc})
			c.add(n.Name, "Concat", []string{nc, size}, []string{sizes}, onnxgraph.Int("axis", 0))
		}
		y := c.tmp(n, "resize")
		c.add(n.Name, "Resize", []string{xc, "", "", sizes}, []string{y}, attrs...)
		c.types[y] = c.types[x]
		c.toNHWC(n, y, n.Name)
		return nil
	}
}

func reshape(c *converter, n *NodeDef, in []string) error {
	xs, err := c.inputs(in)
	if err != nil {
		return err
	}
	// allowzero: a 0 in a TF shape is a real zero, never "copy".
	c.add(n.Name, "Reshape", xs, []string{n.Name}, onnxgraph.Int("allowzero", 1))
	c.types[n.Name] = c.types[xs[0]]
	return nil
}

func squeeze(c *converter, n *NodeDef, in []string) error {
	x, err := c.input(in[0])
	if err != nil {
		return err
	}
	axes, err := n.attrInts("squeeze_dims")
	if err != nil {
		return err
	}
	if len(axes) == 0 {
		if axes, err = n.attrInts("axis"); err != nil {
			return err
		}
	}
	inputs := []string{x}
	if len(axes) > 0 {
		inputs = append(inputs, c.intVector(n, "axes", axes))
	}
	c.add(n.Name, "Squeeze", inputs, []string{n.Name})
	c.types[n.Name] = c.types[x]
	return nil
}

func expandDims(c *converter, n *NodeDef, in []string) error {
	x, err := c.input(in[0])
	if err != nil {
		return err
	}
	dim, err := c.constInts(in[1], "dim")
	if err != nil {
		return err
	}
	c.add(n.Name, "Unsqueeze", []string{x, c.intVector(n, "axes", dim)}, []string{n.Name})
	c.types[n.Name] = c.types[x]
	return nil
}

func transpose(c *converter, n *NodeDef, in []string) error {
	x, err := c.input(in[0])
	if err != nil {
		return err
	}
	perm, err := c.constInts(in[1], "perm")
	if err != nil {
		return err
	}
	c.add(n.Name, "Transpose", []string{x}, []string{n.Name}, onnxgraph.Ints("perm", perm...))
	c.types[n.Name] = c.types[x]
	return nil
}

func concat(c *converter, n *NodeDef, in []string) error {
	if len(in) < 2 {
		return fmt.Errorf("want values and an axis")
	}
	axis, err := c.constInts(in[len(in)-1], "axis")
	if err != nil {
		return err
	}
	if len(axis) != 1 {
		return fmt.Errorf("axis %s has %d values, want one", in[len(in)-1], len(axis))
	}
	xs, err := c.inputs(in[:len(in)-1])
	if err != nil {
		return err
	}
	c.add(n.Name, "Concat", xs, []string{n.Name}, onnxgraph.Int("axis", axis[0]))
	c.types[n.Name] = c.types[xs[0]]
	return nil
}

func pack(c *converter, n *NodeDef, in []string) error {
	axis, err := n.attrInt("axis", 0)
	if err != nil {
		return err
	}
	xs, err := c.inputs(in)
	if err != nil {
		return err
	}
	axes := c.intVector(n, "axes", []int64{axis})
	var parts []string
	for _, x := range xs {
		u := c.tmp(n, "unsqueeze")
		c.add(n.Name, "Unsqueeze", []string{x, axes}, []string{u})
		parts = append(parts, u)
	}
	c.add(n.Name, "Concat", parts, []string{n.Name}, onnxgraph.Int("axis", axis))
	c.types[n.Name] = c.types[xs[0]]
	return nil
}

func unpack(c *converter, n *NodeDef, in []string) error {
	x, err := c.input(in[0])
	if err != nil {
		return err
	}
	axis, err := n.attrInt("axis", 0)
	if err != nil {
		return err
	}
	num, err := n.attrInt("num", 0)
	if err != nil {
		return err
	}
	if num <= 0 || num > 1<<16 {
		return fmt.Errorf("Unpack num %d", num)
	}
	parts := make([]string, num)
	for i := range parts {
		parts[i] = c.tmp(n, "part")
	}
	c.add(n.Name, "Split", []string{x}, parts, onnxgraph.Int("axis", axis), onnxgraph.Int("num_outputs", num))
	axes := c.intVector(n, "axes", []int64{axis})
	for i, p := range parts {
		o := out(n.Name, i)
		c.add(n.Name, "Squeeze", []string{p, axes}, []string{o})
		c.types[o] = c.types[x]
	}
	return nil
}

// split is TF's Split: (axis, value) with num_split equal parts.
func split(c *converter, n *NodeDef, in []string) error {
	axis, err := c.constInts(in[0], "split_dim")
	if err != nil {
		return err
	}
	if len(axis) != 1 {
		return fmt.Errorf("split_dim %s has %d values, want one", in[0], len(axis))
	}
	x, err := c.input(in[1])
	if err != nil {
		return err
	}
	num, err := n.attrInt("num_split", 0)
	if err != nil {
		return err
	}
	if num <= 0 || num > 1<<16 {
		return fmt.Errorf("Split num_split %d", num)
	}
	outs := make([]string, num)
	for i := range outs {
		outs[i] = out(n.Name, i)
		c.types[outs[i]] = c.types[x]
	}
	c.add(n.Name, "Split", []string{x}, outs, onnxgraph.Int("axis", axis[0]), onnxgraph.Int("num_outputs", num))
	return nil
}

// splitV is TF's SplitV: (value, size_splits, axis).
func splitV(c *converter, n *NodeDef, in []string) error {
	x, err := c.input(in[0])
	if err != nil {
		return err
	}
	sizes, err := c.constInts(in[1], "size_splits")
	if err != nil {
		return err
	}
	if slices.Contains(sizes, -1) {
		return fmt.Errorf("size_splits with -1: %w", ErrUnsupported)
	}
	axis, err := c.constInts(in[2], "split_dim")
	if err != nil {
		return err
	}
	if len(axis) != 1 {
		return fmt.Errorf("split_dim %s has %d values, want one", in[2], len(axis))
	}
	outs := make([]string, len(sizes))
	for i := range outs {
		outs[i] = out(n.Name, i)
		c.types[outs[i]] = c.types[x]
	}
	c.add(n.Name, "Split", []string{x, c.intVector(n, "split", sizes)}, outs, onnxgraph.Int("axis", axis[0]))
	return nil
}

func pad(c *converter, n *NodeDef, in []string) error {
	x, err := c.input(in[0])
	if err != nil {
		return err
	}
	p, err := c.constInts(in[1], "paddings")
	if err != nil {
		return err
	}
	// [[begin, end] per axis] → [begins..., ends...]
	rank := len(p) / 2
	pads := make([]int64, 2*rank)
	for i := range rank {
		pads[i], pads[rank+i] = p[2*i], p[2*i+1]
	}
	inputs := []string{x, c.intVector(n, "pads", pads)}
	attrs := []onnxgraph.Attr{onnxgraph.Str("mode", "constant")}
	switch n.Op {
	case "PadV2":
		v, err := c.input(in[2])
		if err != nil {
			return err
		}
		inputs = append(inputs, v)
	case "MirrorPad":
		mode, err := n.attrString("mode", "REFLECT")
		if err != nil {
			return err
		}
		if mode != "REFLECT" {
			return fmt.Errorf("MirrorPad mode %s: %w", mode, ErrUnsupported)
		}
		attrs = []onnxgraph.Attr{onnxgraph.Str("mode", "reflect")}
	}
	c.add(n.Name, "Pad", inputs, []string{n.Name}, attrs...)
	c.types[n.Name] = c.types[x]
	return nil
}

// stridedSlice handles constant begin/end/strides with begin, end and
// shrink-axis masks; ellipsis and new-axis masks are refused.
func stridedSlice(c *converter, n *NodeDef, in []string) error {
	x, err := c.input(in[0])
	if err != nil {
		return err
	}
	begin, err := c.constInts(in[1], "begin")
	if err != nil {
		return err
	}
	end, err := c.constInts(in[2], "end")
	if err != nil {
		return err
	}
	strides, err := c.constInts(in[3], "strides")
	if err != nil {
		return err
	}
	if len(begin) != len(end) || len(begin) != len(strides) {
		return fmt.Errorf("begin, end and strides differ in length")
	}
	masks := map[string]int64{}
	for _, m := range []string{"begin_mask", "end_mask", "ellipsis_mask", "new_axis_mask", "shrink_axis_mask"} {
		if masks[m], err = n.attrInt(m, 0); err != nil {
			return err
		}
	}
	if masks["ellipsis_mask"] != 0 || masks["new_axis_mask"] != 0 {
		return fmt.Errorf("ellipsis or new-axis mask: %w", ErrUnsupported)
	}
	k := len(begin)
	starts, ends, axes, steps := make([]int64, k), make([]int64, k), make([]int64, k), make([]int64, k)
	var shrink []int64
	for i := range k {
		bit := int64(1) << i
		axes[i], steps[i] = int64(i), strides[i]
		if steps[i] == 0 {
			return fmt.Errorf("stride 0 on axis %d", i)
		}
		if masks["shrink_axis_mask"]&bit != 0 {
			// One element at begin (-1: the last); TF ignores the begin
			// and end masks of a shrunk axis.
			if steps[i] < 0 {
				return fmt.Errorf("shrink on axis %d with a negative stride: %w", i, ErrUnsupported)
			}
			starts[i], ends[i], steps[i] = begin[i], begin[i]+1, 1
			if begin[i] == -1 {
				ends[i] = math.MaxInt64
			}
			shrink = append(shrink, int64(i))
			continue
		}
		starts[i], ends[i] = begin[i], end[i]
		if masks["begin_mask"]&bit != 0 {
			starts[i] = 0
			if steps[i] < 0 {
				starts[i] = math.MaxInt64
			}
		}
		if masks["end_mask"]&bit != 0 {
			ends[i] = math.MaxInt64
			if steps[i] < 0 {
				ends[i] = math.MinInt64
			}
		}
	}
	target := n.Name
	if len(shrink) > 0 {
		target = c.tmp(n, "slice")
	}
	c.add(n.Name, "Slice", []string{x, c.intVector(n, "starts", starts), c.intVector(n, "ends", ends),
		c.intVector(n, "axes", axes), c.intVector(n, "steps", steps)}, []string{target})
	c.types[target] = c.types[x]
	if len(shrink) > 0 {
		c.add(n.Name, "Squeeze", []string{target, c.intVector(n, "shrink", shrink)}, []string{n.Name})
	}
	c.types[n.Name] = c.types[x]
	return nil
}

// slice is TF's Slice: (x, begin, size), size -1 meaning to the end.
func slice(c *converter, n *NodeDef, in []string) error {
	x, err := c.input(in[0])
	if err != nil {
		return err
	}
	begin, err := c.constInts(in[1], "begin")
	if err != nil {
		return err
	}
	size, err := c.constInts(in[2], "size")
	if err != nil {
		return err
	}
	if len(begin) != len(size) {
		return fmt.Errorf("begin and size differ in length")
	}
	ends, axes := make([]int64, len(begin)), make([]int64, len(begin))
	for i := range begin {
		axes[i] = int64(i)
		ends[i] = begin[i] + size[i]
		if size[i] == -1 {
			ends[i] = math.MaxInt64
		}
	}
	c.add(n.Name, "Slice", []string{x, c.intVector(n, "starts", begin), c.intVector(n, "ends", ends), c.intVector(n, "axes", axes)}, []string{n.Name})
	c.types[n.Name] = c.types[x]
	return nil
}

func gather(c *converter, n *NodeDef, in []string) error {
	if bd, err := n.attrInt("batch_dims", 0); err != nil || bd != 0 {
		return fmt.Errorf("batch_dims %d: %w", bd, ErrUnsupported)
	}
	xs, err := c.inputs(in[:2])
	if err != nil {
		return err
	}
	axis, err := c.constInts(in[2], "axis")
	if err != nil {
		return err
	}
	if len(axis) != 1 {
		return fmt.Errorf("axis %s has %d values, want one", in[2], len(axis))
	}
	c.add(n.Name, "Gather", xs, []string{n.Name}, onnxgraph.Int("axis", axis[0]))
	c.types[n.Name] = c.types[xs[0]]
	return nil
}

func topK(c *converter, n *NodeDef, in []string) error {
	x, err := c.input(in[0])
	if err != nil {
		return err
	}
	k, err := c.input(in[1])
	if err != nil {
		return err
	}
	// TF's k is a scalar, ONNX's a one-element vector.
	k1 := c.tmp(n, "k")
	c.add(n.Name, "Reshape", []string{k, c.intVector(n, "one", []int64{1})}, []string{k1})
	c.add(n.Name, "TopK", []string{x, k1}, []string{n.Name, out(n.Name, 1)},
		onnxgraph.Int("axis", -1), onnxgraph.Int("largest", 1), onnxgraph.Int("sorted", 1))
	c.types[n.Name] = c.types[x]
	c.types[out(n.Name, 1)] = onnxgraph.Int64
	return nil
}

func shape(c *converter, n *NodeDef, in []string) error {
	x, err := c.input(in[0])
	if err != nil {
		return err
	}
	c.add(n.Name, "Shape", []string{x}, []string{n.Name})
	c.types[n.Name] = onnxgraph.Int64
	return nil
}

func fill(c *converter, n *NodeDef, in []string) error {
	xs, err := c.inputs(in)
	if err != nil {
		return err
	}
	c.add(n.Name, "Expand", []string{xs[1], xs[0]}, []string{n.Name})
	c.types[n.Name] = c.types[xs[1]]
	return nil
}

// sparseToDense is folded into a constant: in graph models its inputs are
// constants (the shape arithmetic TF's converter leaves behind).
// TF's forms: indices a scalar or a vector for a 1-D output, or [count,
// rank]; values a scalar (for every index) or one per index.
func sparseToDense(c *converter, n *NodeDef, in []string) error {
	for _, r := range in[:4] {
		if !c.isConst(r) {
			return fmt.Errorf("input %q is computed at run time; only constant inputs are folded: %w", r, ErrUnsupported)
		}
	}
	var ws [4]*Weight
	for i, role := range []string{"sparse_indices", "output_shape", "sparse_values", "default_value"} {
		w, err := c.weight(in[i], role)
		if err != nil {
			return err
		}
		ws[i] = w
	}
	idx, shapeW, vals, def := ws[0], ws[1], ws[2], ws[3]
	if idx.Ints == nil || shapeW.Ints == nil {
		return fmt.Errorf("indices and output shape must be integers")
	}
	if (vals.Floats != nil) != (def.Floats != nil) {
		return fmt.Errorf("values and default differ in type")
	}
	if def.Len() != 1 {
		return fmt.Errorf("default value has %d elements, want 1", def.Len())
	}
	dims := shapeW.Ints
	rank := len(dims)
	total, err := checkedElements(dims)
	if err != nil || total > 1<<24 {
		return fmt.Errorf("output shape %v: too large to fold", dims)
	}
	var count int
	switch {
	case len(idx.Shape) == 0 && rank == 1:
		count = 1
	case len(idx.Shape) == 1 && rank == 1:
		count = int(idx.Shape[0])
	case len(idx.Shape) == 2 && int(idx.Shape[1]) == rank:
		count = int(idx.Shape[0])
	default:
		return fmt.Errorf("indices of shape %v for an output of rank %d", idx.Shape, rank)
	}
	if vals.Len() != 1 && vals.Len() != int64(count) {
		return fmt.Errorf("%d values for %d indices", vals.Len(), count)
	}
	offset := func(j int) (int64, error) {
		off := int64(0)
		for d := range rank {
			i := idx.Ints[j*rank+d]
			if i < 0 || i >= dims[d] {
				return 0, fmt.Errorf("index %d out of range for dimension %d", i, dims[d])
			}
			off = off*dims[d] + i
		}
		return off, nil
	}
	pick := func(j int) int {
		if vals.Len() == 1 {
			return 0
		}
		return j
	}
	if vals.Floats != nil {
		dense := make([]float32, total)
		for i := range dense {
			dense[i] = def.Floats[0]
		}
		for j := range count {
			off, err := offset(j)
			if err != nil {
				return err
			}
			dense[off] = vals.Floats[pick(j)]
		}
		c.initFloats(n.Name, dims, dense)
		return nil
	}
	dense := make([]int64, total)
	for i := range dense {
		dense[i] = def.Ints[0]
	}
	for j := range count {
		off, err := offset(j)
		if err != nil {
			return err
		}
		dense[off] = vals.Ints[pick(j)]
	}
	c.initInts(n.Name, dims, dense)
	return nil
}
