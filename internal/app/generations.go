package app

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/mediavec/mediavec/analyze"
	"github.com/mediavec/mediavec/index"
	"github.com/mediavec/mediavec/worker"
)

// ErrConfig marks a configuration that cannot work, found only once the
// index is reached (a dual write into a generation this build cannot fill).
var ErrConfig = errors.New("configuration")

// setupGenerations ensures generation gen of the collections with the
// schemas of spaces (pointing the aliases at it if they do not exist yet)
// and returns where a worker writes: gen, and also the older generation
// alsoWrite during a rollout (0: none), which gets the vectors its own
// schema holds.
func setupGenerations(ctx context.Context, ix index.Index, spaces []analyze.SpaceInfo, gen, alsoWrite int) ([]worker.Target, error) {
	segSchema, vidSchema := worker.Schemas(spaces)
	if err := index.EnsureGeneration(ctx, ix, gen, segSchema, vidSchema); err != nil {
		return nil, fmt.Errorf("%w (start with --generation %d to build a new one)", err, gen+1)
	}
	targets := []worker.Target{worker.GenerationTarget(gen, index.Schema{})}
	if alsoWrite > 0 {
		old := worker.GenerationTarget(alsoWrite, index.Schema{})
		schema, err := ix.Schema(ctx, old.Segments)
		if err != nil {
			return nil, fmt.Errorf("dual write into generation %d: %w", alsoWrite, err)
		}
		// The old generation must get every vector it holds, or replacing
		// a video there would drop the ones this build does not compute,
		// and a rollback would land on a degraded index.
		for name, dim := range schema.Dense {
			if segSchema.Dense[name] != dim {
				return nil, fmt.Errorf("%w: dual write into generation %d needs its vector %s (%d-d), which this build does not compute alike: ship the old encoder beside the new one in the rollout build", ErrConfig, alsoWrite, name, dim)
			}
		}
		for _, name := range schema.Sparse {
			if !slices.Contains(segSchema.Sparse, name) {
				return nil, fmt.Errorf("%w: dual write into generation %d needs its sparse vector %s, which this build does not compute", ErrConfig, alsoWrite, name)
			}
		}
		old.Schema = schema
		targets = append(targets, old)
	}
	return targets, nil
}
