package index

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"

	"github.com/mediavec/mediavec/internal/vecmath"
)

// The rules every backend applies alike, so that a collection, a point or a
// query valid on one is valid on the other, and a vector scores the same
// on both.

// Schema is the vectors a collection holds.
type Schema struct {
	// Dense maps a vector name to its dimension; distance is cosine.
	Dense map[string]int `json:"dense,omitempty"`
	// Sparse lists sparse vector names; they are scored by dot product
	// with inverse document frequency applied to the query's weights.
	Sparse []string `json:"sparse,omitempty"`
}

// Validate checks a schema for creating a collection: at least one vector,
// dense dimensions from 1 to MaxDim, no name both dense and sparse.
func (s Schema) Validate() error {
	if len(s.Dense) == 0 && len(s.Sparse) == 0 {
		return errors.New("a schema needs at least one vector")
	}
	for name, dim := range s.Dense {
		if dim < 1 || dim > MaxDim {
			return fmt.Errorf("dense vector %q: dimension %d (1 to %d)", name, dim, MaxDim)
		}
		if slices.Contains(s.Sparse, name) {
			return fmt.Errorf("vector %q is both dense and sparse", name)
		}
	}
	return nil
}

// Equal reports whether two schemas hold the same vectors (the order of
// sparse names does not count).
func (s Schema) Equal(o Schema) bool {
	if len(s.Dense) != len(o.Dense) || len(s.Sparse) != len(o.Sparse) {
		return false
	}
	if !maps.Equal(s.Dense, o.Dense) {
		return false
	}
	for _, name := range s.Sparse {
		if !slices.Contains(o.Sparse, name) {
			return false
		}
	}
	return true
}

func (s Schema) String() string {
	b, _ := json.Marshal(s)
	return string(b)
}

// CheckPoint checks a point against the schema of collection before it is
// written: a valid id, at least one vector, every vector one the schema
// names with its dimension, finite values, well-formed sparse vectors.
func (s Schema) CheckPoint(collection string, p Point) error {
	if err := ValidateID(p.ID); err != nil {
		return err
	}
	if len(p.Vectors) == 0 && len(p.Sparse) == 0 {
		return fmt.Errorf("%w: point %s has no vector", ErrBadPoint, p.ID)
	}
	for name, v := range p.Vectors {
		dim, ok := s.Dense[name]
		if !ok {
			return fmt.Errorf("point %s: %w: collection %s has no dense vector %q", p.ID, ErrBadVector, collection, name)
		}
		if len(v) != dim {
			return fmt.Errorf("point %s: %w: vector %q has %d dimensions, collection %s has %d", p.ID, ErrBadVector, name, len(v), collection, dim)
		}
		if !vecmath.Finite(v) {
			return fmt.Errorf("point %s: %w: vector %q is not finite", p.ID, ErrBadVector, name)
		}
	}
	for name, sv := range p.Sparse {
		if !slices.Contains(s.Sparse, name) {
			return fmt.Errorf("point %s: %w: collection %s has no sparse vector %q", p.ID, ErrBadVector, collection, name)
		}
		if err := sv.Validate(); err != nil {
			return fmt.Errorf("point %s: %w: sparse %q: %v", p.ID, ErrBadVector, name, err)
		}
	}
	return nil
}

// Validate checks a sparse vector: as many values as indices, no index
// twice, finite values.
func (sv SparseVector) Validate() error {
	if len(sv.Indices) != len(sv.Values) {
		return fmt.Errorf("%d indices and %d values", len(sv.Indices), len(sv.Values))
	}
	seen := make(map[uint32]struct{}, len(sv.Indices))
	for _, i := range sv.Indices {
		if _, dup := seen[i]; dup {
			return fmt.Errorf("index %d twice", i)
		}
		seen[i] = struct{}{}
	}
	if !vecmath.Finite(sv.Values) {
		return errors.New("a value is not finite")
	}
	return nil
}

// Sorted returns sv with its indices in ascending order, as Qdrant stores
// and returns them; sv itself when it already is (or is malformed).
func (sv SparseVector) Sorted() SparseVector {
	if len(sv.Indices) != len(sv.Values) || slices.IsSorted(sv.Indices) {
		return sv
	}
	order := make([]int, len(sv.Indices))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(sv.Indices[a], sv.Indices[b]) })
	out := SparseVector{Indices: make([]uint32, len(order)), Values: make([]float32, len(order))}
	for i, j := range order {
		out.Indices[i], out.Values[i] = sv.Indices[j], sv.Values[j]
	}
	return out
}

var nameRule = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$`)

// ValidateName checks a collection or alias name: letters, digits, '_',
// '-' and '.', starting with a letter or digit, at most 128 bytes — what
// both backends accept.
func ValidateName(name string) error {
	if !nameRule.MatchString(name) {
		return fmt.Errorf("%q: a name is letters, digits, '_', '-' and '.'", name)
	}
	return nil
}

// Normalized is v at unit length, as cosine distance stores and compares
// dense vectors (a copy; a zero vector stays zero).
func Normalized(v []float32) []float32 { return vecmath.Normalized(v) }

// IDF is the inverse document frequency of a term found in df of n
// documents, as BM25 and Qdrant's IDF modifier compute it:
// ln(1 + (n − df + 0.5)/(df + 0.5)).
func IDF(n, df float64) float64 {
	return math.Log(1 + (n-df+0.5)/(df+0.5))
}
