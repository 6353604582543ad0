package tfjs

import (
	"fmt"

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
		"Where":         where, "ScatterNd": scatterNd, "GatherNd": gatherNd, "Range": rangeOp,
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
	"ScatterNd": 3, "GatherNd": 2, "Range": 3,
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
