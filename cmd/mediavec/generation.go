package main

import (
	"context"
	"fmt"

	"github.com/mediavec/mediavec/index"
	"github.com/mediavec/mediavec/worker"
)

// setupGenerations ensures generation gen of the collections with the
// schemas of spaces (pointing the aliases at it if they do not exist yet)
// and returns where a worker writes: gen, and also the older generation
// alsoWrite during a rollout (0: none), which gets the vectors its own
// schema holds.
func setupGenerations(ctx context.Context, ix index.Index, segSchema, vidSchema index.Schema, gen, alsoWrite int) ([]worker.Target, error) {
	if gen < 1 {
		return nil, fmt.Errorf("%w: --generation counts from 1", errUsage)
	}
	if err := index.EnsureGeneration(ctx, ix, gen, segSchema, vidSchema); err != nil {
		return nil, fmt.Errorf("%w (start with --generation %d to build a new one)", err, gen+1)
	}
	targets := []worker.Target{worker.GenerationTarget(gen, index.Schema{})}
	if alsoWrite > 0 {
		if alsoWrite == gen {
			return nil, fmt.Errorf("%w: --also-write-generation must differ from --generation", errUsage)
		}
		old := worker.GenerationTarget(alsoWrite, index.Schema{})
		schema, err := ix.Schema(ctx, old.Segments)
		if err != nil {
			return nil, fmt.Errorf("dual write into generation %d: %w", alsoWrite, err)
		}
		old.Schema = schema
		targets = append(targets, old)
	}
	return targets, nil
}
