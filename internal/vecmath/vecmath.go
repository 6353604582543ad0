// Package vecmath holds the few vector operations that several packages
// need alike — the encoders, the analyzer and the index — so that a vector
// normalised in one is normalised the same way in the others.
package vecmath

import (
	"math"

	"github.com/viterin/vek/vek32"
)

// Normalized returns v scaled to unit length, as a new slice; a zero
// vector comes back as a zero copy. The norm is summed in float64, so long
// vectors of small values lose no precision.
func Normalized(v []float32) []float32 {
	out := make([]float32, len(v))
	copy(out, v)
	Normalize(out)
	return out
}

// Normalize scales v to unit length in place; a zero vector is left as
// it is.
func Normalize(v []float32) {
	if n := Norm(v); n != 0 {
		inv := float32(1 / n)
		for i := range v {
			v[i] *= inv
		}
	}
}

// Norm is the Euclidean length of v, summed in float64.
func Norm(v []float32) float64 {
	var n float64
	for _, x := range v {
		n += float64(x) * float64(x)
	}
	return math.Sqrt(n)
}

// MeanNormalized is the unit-length mean of the unit-length vectors: each
// vector counts once whatever its norm (a zero vector not at all). It
// returns nil for no vectors.
func MeanNormalized(vecs [][]float32) []float32 {
	if len(vecs) == 0 {
		return nil
	}
	out := make([]float32, len(vecs[0]))
	for _, v := range vecs {
		n := Norm(v)
		if n == 0 {
			continue
		}
		inv := float32(1 / n)
		for i, x := range v {
			out[i] += x * inv
		}
	}
	Normalize(out)
	return out
}

// Finite reports whether every component of v is a finite number.
func Finite(v []float32) bool {
	for _, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return false
		}
	}
	return true
}

// Dot is the dot product of two vectors of the same length (AVX2 where
// the CPU has it); a length mismatch is 0, never a panic.
func Dot(a, b []float32) float32 {
	if len(a) != len(b) || len(a) == 0 {
		return 0
	}
	return vek32.Dot(a, b)
}
