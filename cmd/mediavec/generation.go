package main

import (
	"context"
	"flag"
	"fmt"
	"slices"
	"time"

	"github.com/mediavec/mediavec/index"
	"github.com/mediavec/mediavec/queue"
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
		// The old generation must get every vector it holds, or replacing
		// a video there would drop the ones this build does not compute,
		// and a rollback would land on a degraded index.
		for name, dim := range schema.Dense {
			if segSchema.Dense[name] != dim {
				return nil, fmt.Errorf("%w: dual write into generation %d needs its vector %s (%d-d), which this build does not compute alike: ship the old encoder beside the new one in the rollout build", errUsage, alsoWrite, name, dim)
			}
		}
		for _, name := range schema.Sparse {
			if !slices.Contains(segSchema.Sparse, name) {
				return nil, fmt.Errorf("%w: dual write into generation %d needs its sparse vector %s, which this build does not compute", errUsage, alsoWrite, name)
			}
		}
		old.Schema = schema
		targets = append(targets, old)
	}
	return targets, nil
}

// qdrantOptions are the flags that choose a Qdrant endpoint.
type qdrantOptions struct {
	addr, keyFile *string
	tls           *bool
}

func qdrantFlags(fs *flag.FlagSet, addrHelp string) qdrantOptions {
	return qdrantOptions{
		addr:    fs.String("qdrant", "", addrHelp),
		keyFile: fs.String("qdrant-api-key-file", "", "file holding the Qdrant API key (env MEDIAVEC_QDRANT_API_KEY sets it directly)"),
		tls:     fs.Bool("qdrant-tls", false, "connect to Qdrant over TLS"),
	}
}

// config is the backend configuration, or nil when --qdrant is not given.
func (o qdrantOptions) config() (*index.QdrantConfig, error) {
	if *o.addr == "" {
		return nil, nil
	}
	key, err := secret(*o.keyFile, "MEDIAVEC_QDRANT_API_KEY", "qdrant api key")
	if err != nil {
		return nil, err
	}
	return &index.QdrantConfig{Addr: *o.addr, APIKey: key, TLS: *o.tls}, nil
}

// topologyFlags adds the JetStream topology flags every fleet process
// shares (each start applies them, so all processes must agree) and
// returns a function that reads them.
func topologyFlags(fs *flag.FlagSet, replicasHelp string) func() queue.Topology {
	replicas := fs.Int("replicas", 1, replicasHelp)
	ackWait := fs.Duration("ack-wait", 30*time.Second, "how long a job may go without an ack or heartbeat before redelivery")
	maxAttempts := fs.Int("max-attempts", 5, "deliveries a job gets before it is dead-lettered as exhausted")
	dlqRetention := fs.Duration("dlq-retention", 30*24*time.Hour, "how long dead letters are kept; the same on every process")
	eventRetention := fs.Duration("event-retention", 7*24*time.Hour, "how long events are kept for downstream consumers; the same on every process")
	statusTTL := fs.Duration("status-ttl", 0, "how long video statuses and content hashes are kept after their last update (0: for ever); the same on every process")
	return func() queue.Topology {
		return queue.Topology{Replicas: *replicas, AckWait: *ackWait, MaxAttempts: *maxAttempts,
			DLQRetention: *dlqRetention, EventRetention: *eventRetention, StatusTTL: *statusTTL}
	}
}
