package tfjs

import (
	"fmt"

	"github.com/mediavec/mediavec/internal/onnxgraph"
)

// The ops of sparse inputs and dynamic shapes that text models use: a
// batch of token ids arrives as (indices, values) and is scattered into a
// padded matrix, positions are kept or dropped with Where, and layers read
// and write rows with GatherNd and ScatterNd.

// where maps TF's one-input Where: the coordinates of the true elements,
// [count, rank] in row-major order. ONNX's NonZero gives [rank, count].
// With three inputs it is SelectV2.
func where(c *converter, n *NodeDef, in []string) error {
	if len(in) == 3 {
		return selectOp(c, n, in)
	}
	x, err := c.input(in[0])
	if err != nil {
		return err
	}
	nz := c.tmp(n, "nonzero")
	c.add(n.Name, "NonZero", []string{x}, []string{nz})
	c.add(n.Name, "Transpose", []string{nz}, []string{n.Name}, onnxgraph.Ints("perm", 1, 0))
	c.types[n.Name] = onnxgraph.Int64
	return nil
}

// scatterNd maps ScatterNd(indices, updates, shape): updates written into
// zeros of shape at indices, duplicates summed, as TF does.
func scatterNd(c *converter, n *NodeDef, in []string) error {
	xs, err := c.inputs(in[:3])
	if err != nil {
		return err
	}
	indices, updates, shape := xs[0], xs[1], xs[2]
	t := c.types[updates]
	zeros := c.tmp(n, "zeros")
	c.add(n.Name, "Expand", []string{c.zero(t), shape}, []string{zeros})
	c.types[zeros] = t
	c.add(n.Name, "ScatterND", []string{zeros, indices, updates}, []string{n.Name}, onnxgraph.Str("reduction", "add"))
	c.types[n.Name] = t
	return nil
}

// gatherNd maps GatherNd(params, indices): ONNX's GatherND without batch
// dimensions is the same operation.
func gatherNd(c *converter, n *NodeDef, in []string) error {
	if bd, err := n.attrInt("batch_dims", 0); err != nil || bd != 0 {
		return fmt.Errorf("batch_dims %d: %w", bd, ErrUnsupported)
	}
	xs, err := c.inputs(in[:2])
	if err != nil {
		return err
	}
	c.add(n.Name, "GatherND", xs, []string{n.Name})
	c.types[n.Name] = c.types[xs[0]]
	return nil
}

// rangeOp maps Range(start, limit, delta), scalars of one type.
func rangeOp(c *converter, n *NodeDef, in []string) error {
	xs, err := c.inputs(in[:3])
	if err != nil {
		return err
	}
	for i, x := range xs {
		// ONNX wants scalars; a constant written as a one-element vector
		// (TF accepts either) is reshaped.
		scalar := c.tmp(n, "scalar")
		c.add(n.Name, "Reshape", []string{x, c.intVector(n, "scalar_shape", []int64{})}, []string{scalar})
		c.types[scalar] = c.types[x]
		xs[i] = scalar
	}
	c.add(n.Name, "Range", xs, []string{n.Name})
	c.types[n.Name] = c.types[xs[0]]
	return nil
}

// sparseToDenseDynamic is SparseToDense on inputs computed at run time: the
// default value expanded to the output shape, the values scattered into it.
func sparseToDenseDynamic(c *converter, n *NodeDef, in []string) error {
	xs, err := c.inputs(in[:4])
	if err != nil {
		return err
	}
	indices, shape, values, def := xs[0], xs[1], xs[2], xs[3]
	t := c.types[values]
	if c.types[def] != t {
		return fmt.Errorf("values and default differ in type")
	}
	// The indices as [count, rank of the output]: a scalar or a vector of
	// indices (a 1-D output) becomes a column.
	rank := c.tmp(n, "rank")
	c.add(n.Name, "Shape", []string{shape}, []string{rank})
	c.types[rank] = onnxgraph.Int64
	idxShape := c.tmp(n, "index_shape")
	c.add(n.Name, "Concat", []string{c.intVector(n, "any", []int64{-1}), rank}, []string{idxShape}, onnxgraph.Int("axis", 0))
	c.types[idxShape] = onnxgraph.Int64
	idx := c.tmp(n, "indices")
	c.add(n.Name, "Reshape", []string{indices, idxShape}, []string{idx})
	c.types[idx] = onnxgraph.Int64
	// A scalar value is one for every index.
	count := c.tmp(n, "count")
	c.add(n.Name, "Shape", []string{idx}, []string{count}, onnxgraph.Int("end", 1))
	c.types[count] = onnxgraph.Int64
	vals := c.tmp(n, "values")
	c.add(n.Name, "Expand", []string{values, count}, []string{vals})
	c.types[vals] = t
	dense := c.tmp(n, "default")
	c.add(n.Name, "Expand", []string{def, shape}, []string{dense})
	c.types[dense] = t
	c.add(n.Name, "ScatterND", []string{dense, idx, vals}, []string{n.Name})
	c.types[n.Name] = t
	return nil
}

// zero is a shared scalar 0 of type t, as an initializer.
func (c *converter) zero(t onnxgraph.DataType) string {
	if t == onnxgraph.Int64 {
		return c.initInts("__const/i64_0", []int64{}, []int64{0})
	}
	return c.scalarFloat(0)
}
