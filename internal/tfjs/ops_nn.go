package tfjs

import (
	"fmt"
	"math"

	"github.com/mediavec/mediavec/internal/onnxgraph"
)

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
