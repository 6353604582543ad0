package embedded

import "math"

// Every slab also keeps each vector scalar-quantised to int8, with the
// bound of its quantisation error, so that a large slab is scanned in a
// quarter of the memory traffic without giving up exactness: the int8
// scores give an upper bound on every row's true score, the rows that could
// still make the result are rescored in float32, and the rest are ruled out
// by the bound (see Embedded.scanQuantized).

// quantized is v scaled so its largest |component| maps to 127: v ≈
// codes·scale, and eps = ‖v − codes·scale‖ exactly. codes has pdim
// entries, zero past len(v).
func quantize(v []float32, pdim int) (codes []int8, scale, eps float32) {
	codes = make([]int8, pdim)
	var m float32
	for _, x := range v {
		m = max(m, float32(math.Abs(float64(x))))
	}
	if m == 0 {
		return codes, 0, 0
	}
	scale = m / 127
	var e float64
	for i, x := range v {
		c := int8(math.Round(float64(x / scale)))
		codes[i] = c
		d := float64(x) - float64(c)*float64(scale)
		e += d * d
	}
	return codes, scale, float32(math.Sqrt(e))
}

// paddedDim is dim rounded up to the int8 kernel's 32-lane step.
func paddedDim(dim int) int { return (dim + 31) / 32 * 32 }

func dotsInt8Go(q, codes []int8, pdim int, out []int32) {
	for r := range out {
		row := codes[r*pdim : (r+1)*pdim]
		var s int32
		for i, x := range q {
			s += int32(x) * int32(row[i])
		}
		out[r] = s
	}
}
