package index_test

import (
	"testing"

	"github.com/mediavec/mediavec/index"
	"github.com/mediavec/mediavec/index/indextest"
)

func TestEmbeddedConformance(t *testing.T) {
	t.Parallel()
	indextest.Run(t, func(t *testing.T) index.Index {
		e, err := index.OpenEmbedded(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return e
	})
}
