package index

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
)

func TestSchemaValidate(t *testing.T) {
	for _, c := range []struct {
		name   string
		schema Schema
		err    string // "" for valid
	}{
		{"dense", Schema{Dense: map[string]int{"a": 3}}, ""},
		{"sparse", Schema{Sparse: []string{"t"}}, ""},
		{"largest", Schema{Dense: map[string]int{"a": MaxDim}}, ""},
		{"empty", Schema{}, "at least one vector"},
		{"zero dimension", Schema{Dense: map[string]int{"a": 0}}, "dimension 0"},
		{"over the cap", Schema{Dense: map[string]int{"a": MaxDim + 1}}, "dimension 65537"},
		{"both kinds", Schema{Dense: map[string]int{"a": 3}, Sparse: []string{"a"}}, "both dense and sparse"},
	} {
		err := c.schema.Validate()
		if (err == nil) != (c.err == "") || err != nil && !strings.Contains(err.Error(), c.err) {
			t.Errorf("%s: %v, want %q", c.name, err, c.err)
		}
	}
}

func TestSchemaEqual(t *testing.T) {
	a := Schema{Dense: map[string]int{"x": 3, "y": 4}, Sparse: []string{"s", "t"}}
	for _, c := range []struct {
		b    Schema
		want bool
	}{
		{Schema{Dense: map[string]int{"y": 4, "x": 3}, Sparse: []string{"t", "s"}}, true},
		{Schema{Dense: map[string]int{"x": 3, "y": 5}, Sparse: []string{"s", "t"}}, false},
		{Schema{Dense: map[string]int{"x": 3, "z": 4}, Sparse: []string{"s", "t"}}, false},
		{Schema{Dense: map[string]int{"x": 3, "y": 4}, Sparse: []string{"s", "u"}}, false},
		{Schema{Dense: map[string]int{"x": 3}, Sparse: []string{"s", "t"}}, false},
	} {
		if got := a.Equal(c.b); got != c.want {
			t.Errorf("%s equal %s: %v, want %v", a, c.b, got, c.want)
		}
	}
}

func TestSchemaCheckPoint(t *testing.T) {
	s := Schema{Dense: map[string]int{"a": 2}, Sparse: []string{"t"}}
	id := SegmentID("v", "a", 0)
	ok := Point{ID: id, Vectors: map[string][]float32{"a": {1, 0}}, Sparse: map[string]SparseVector{"t": {Indices: []uint32{3}, Values: []float32{1}}}}
	if err := s.CheckPoint("c", ok); err != nil {
		t.Fatalf("a good point: %v", err)
	}
	for _, c := range []struct {
		name string
		p    Point
		want error
	}{
		{"bad id", Point{ID: "x", Vectors: ok.Vectors}, ErrBadPoint},
		{"no vector", Point{ID: id}, ErrBadPoint},
		{"unknown dense", Point{ID: id, Vectors: map[string][]float32{"b": {1, 0}}}, ErrBadVector},
		{"wrong dimension", Point{ID: id, Vectors: map[string][]float32{"a": {1}}}, ErrBadVector},
		{"NaN", Point{ID: id, Vectors: map[string][]float32{"a": {float32(math.NaN()), 0}}}, ErrBadVector},
		{"unknown sparse", Point{ID: id, Sparse: map[string]SparseVector{"u": {}}}, ErrBadVector},
		{"repeated term", Point{ID: id, Sparse: map[string]SparseVector{"t": {Indices: []uint32{1, 1}, Values: []float32{1, 1}}}}, ErrBadVector},
		{"infinite weight", Point{ID: id, Sparse: map[string]SparseVector{"t": {Indices: []uint32{1}, Values: []float32{float32(math.Inf(1))}}}}, ErrBadVector},
	} {
		if err := s.CheckPoint("c", c.p); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
}

func TestPermanentErrors(t *testing.T) {
	type permanent interface{ Permanent() bool }
	for _, err := range []error{ErrBadVector, ErrBadPoint, ErrBadQuery, ErrSchema} {
		var p permanent
		if !errors.As(err, &p) || !p.Permanent() {
			t.Errorf("%v is not marked permanent", err)
		}
	}
	for _, err := range []error{ErrClosed, ErrNoCollection} {
		var p permanent
		if errors.As(err, &p) {
			t.Errorf("%v is marked permanent; retrying may help", err)
		}
	}
}

func TestValidateName(t *testing.T) {
	for _, ok := range []string{"segments", "segments_g2", "a.b-c", "9"} {
		if err := ValidateName(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "_x", "a/b", "a b", strings.Repeat("x", 129)} {
		if ValidateName(bad) == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestSparseSorted(t *testing.T) {
	got := SparseVector{Indices: []uint32{9, 2, 5}, Values: []float32{0.9, 0.2, 0.5}}.Sorted()
	if !slices.Equal(got.Indices, []uint32{2, 5, 9}) || !slices.Equal(got.Values, []float32{0.2, 0.5, 0.9}) {
		t.Errorf("sorted %v", got)
	}
}
