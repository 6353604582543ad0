package tfjs

import (
	"fmt"
	"math"
	"slices"

	"github.com/mediavec/mediavec/internal/onnxgraph"
)

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

// sparseToDense is folded into a constant when its inputs are constants
// (the shape arithmetic TF's converter leaves behind), and otherwise
// scattered at run time (sparseToDenseDynamic: a sparse batch of token ids
// becoming a padded matrix). TF's forms: indices a scalar or a vector for a
// 1-D output, or [count, rank]; values a scalar (for every index) or one
// per index.
func sparseToDense(c *converter, n *NodeDef, in []string) error {
	for _, r := range in[:4] {
		if !c.isConst(r) {
			return sparseToDenseDynamic(c, n, in)
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
