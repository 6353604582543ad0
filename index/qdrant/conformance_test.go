package qdrant_test

import (
	"os"
	"testing"

	"github.com/mediavec/mediavec/index"
	"github.com/mediavec/mediavec/index/indextest"
	"github.com/mediavec/mediavec/index/qdrant"
	"github.com/mediavec/mediavec/index/qdranttest"
)

// TestQdrantConformance runs the shared suite against the in-process
// qdranttest server always, and against a real Qdrant when QDRANT_ADDR
// (host:gRPC port, with QDRANT_API_KEY if it needs one) is set.
func TestQdrantConformance(t *testing.T) {
	t.Parallel()
	t.Run("qdranttest", func(t *testing.T) {
		t.Parallel()
		indextest.Run(t, func(t *testing.T) index.Index {
			q, err := qdrant.Open(t.Context(), qdrant.Config{Addr: qdranttest.Start(t)})
			if err != nil {
				t.Fatal(err)
			}
			return q
		})
	})
	t.Run("real", func(t *testing.T) {
		addr := os.Getenv("QDRANT_ADDR")
		if addr == "" {
			t.Skip("QDRANT_ADDR is not set")
		}
		t.Parallel()
		indextest.Run(t, func(t *testing.T) index.Index {
			q, err := qdrant.Open(t.Context(), qdrant.Config{
				Addr:                   addr,
				APIKey:                 os.Getenv("QDRANT_API_KEY"),
				SkipCompatibilityCheck: true,
			})
			if err != nil {
				t.Fatal(err)
			}
			return q
		})
	})
}
