package embedded_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/mediavec/mediavec/index"
	"github.com/mediavec/mediavec/index/embedded"
)

// Store two videos' frame vectors and find, per video, the frame closest
// to a query: what search does for every query frame.
func Example() {
	dir, _ := os.MkdirTemp("", "index-example-*")
	defer os.RemoveAll(dir)
	ix, err := embedded.Open(dir)
	if err != nil {
		log.Fatal(err)
	}
	defer ix.Close()
	ctx := context.Background()
	if err := ix.Ensure(ctx, "segments", index.Schema{Dense: map[string]int{"frame": 3}}); err != nil {
		log.Fatal(err)
	}
	frame := func(video string, ordinal int, v ...float32) index.Point {
		return index.Point{
			ID:      index.SegmentID(video, "frame", ordinal),
			Vectors: map[string][]float32{"frame": v},
			Payload: index.Payload{VideoID: video, Space: "frame", TStart: float64(ordinal)},
		}
	}
	// Returns once the points are on disk.
	if err := ix.Upsert(ctx, "segments", []index.Point{
		frame("beach", 0, 1, 0, 0), frame("beach", 1, 0.9, 0.1, 0),
		frame("city", 0, 0, 1, 0), frame("city", 1, 0, 0.8, 0.6),
	}); err != nil {
		log.Fatal(err)
	}
	groups, err := ix.QueryGroups(ctx, index.Query{Collection: "segments", Using: "frame", Dense: []float32{1, 0.2, 0}, Limit: 2}, 1)
	if err != nil {
		log.Fatal(err)
	}
	for _, g := range groups {
		h := g.Hits[0]
		fmt.Printf("%s: best frame at %gs, cosine %.3f\n", g.VideoID, h.Payload.TStart, h.Score)
	}
	// Output:
	// beach: best frame at 1s, cosine 0.996
	// city: best frame at 0s, cosine 0.196
}
