package embedded_test

import (
	"testing"

	"github.com/mediavec/mediavec/index"
	"github.com/mediavec/mediavec/index/embedded"
	"github.com/mediavec/mediavec/index/indextest"
)

func TestEmbeddedConformance(t *testing.T) {
	t.Parallel()
	indextest.Run(t, func(t *testing.T) index.Index {
		e, err := embedded.Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return e
	})
}
