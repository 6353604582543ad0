package embedded

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/mediavec/mediavec/index"
)

// BenchmarkQuery measures top-10 queries over 100k 512-d points with the
// int8 bound-and-rescore scan and with the float32 scan alone. For the
// side-by-side table against a plain Go loop, and 1M points, run
// `mediavec bench index`.
func BenchmarkQuery(b *testing.B) {
	e, err := Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	ctx := b.Context()
	const dim, n = 512, 100_000
	if err := e.Ensure(ctx, "b", index.Schema{Dense: map[string]int{"v": dim}}); err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	vec := func() []float32 {
		v := make([]float32, dim)
		for i := range v {
			v[i] = float32(rng.NormFloat64())
		}
		return v
	}
	for i := 0; i < n; i += 5000 {
		pts := make([]index.Point, 5000)
		for j := range pts {
			pts[j] = index.Point{ID: fmt.Sprint(i + j + 1), Vectors: map[string][]float32{"v": vec()}, Payload: index.Payload{VideoID: fmt.Sprint((i + j) / 50)}}
		}
		if err := e.Upsert(ctx, "b", pts); err != nil {
			b.Fatal(err)
		}
	}
	queries := make([][]float32, 64)
	for i := range queries {
		queries[i] = vec()
	}
	for _, mode := range []struct {
		name    string
		noQuant bool
	}{{"int8+rescore", false}, {"float32", true}} {
		b.Run(mode.name, func(b *testing.B) {
			e.noQuant = mode.noQuant
			i := 0
			for b.Loop() {
				if _, err := e.Query(ctx, index.Query{Collection: "b", Using: "v", Dense: queries[i%len(queries)], Limit: 10}); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}
