package vecmath

import (
	"math"
	"testing"
)

func TestNormalized(t *testing.T) {
	v := []float32{3, 4}
	got := Normalized(v)
	if got[0] != 0.6 || got[1] != 0.8 {
		t.Errorf("Normalized(3,4) = %v, want [0.6 0.8]", got)
	}
	if v[0] != 3 {
		t.Error("Normalized changed its argument")
	}
	if z := Normalized([]float32{0, 0}); z[0] != 0 || z[1] != 0 {
		t.Errorf("a zero vector normalises to %v", z)
	}
	// Tiny components: a float32 sum of squares would underflow to zero.
	tiny := Normalized([]float32{1e-30, 1e-30})
	if math.Abs(Norm(tiny)-1) > 1e-6 {
		t.Errorf("tiny vector normalised to norm %v", Norm(tiny))
	}
}

func TestMeanNormalized(t *testing.T) {
	// Each vector counts once whatever its length, and a zero one not at all.
	got := MeanNormalized([][]float32{{10, 0}, {0, 1}, {0, 0}})
	want := float32(1 / math.Sqrt2)
	if math.Abs(float64(got[0]-want)) > 1e-6 || math.Abs(float64(got[1]-want)) > 1e-6 {
		t.Errorf("MeanNormalized = %v, want [%v %v]", got, want, want)
	}
	if MeanNormalized(nil) != nil {
		t.Error("no vectors should pool to nil")
	}
}

func TestFinite(t *testing.T) {
	for _, c := range []struct {
		v    []float32
		want bool
	}{
		{[]float32{1, -2}, true},
		{[]float32{float32(math.NaN())}, false},
		{[]float32{float32(math.Inf(-1))}, false},
		{nil, true},
	} {
		if got := Finite(c.v); got != c.want {
			t.Errorf("Finite(%v) = %v", c.v, got)
		}
	}
}
