package app

import (
	"strings"
	"testing"
	"time"

	"github.com/mediavec/mediavec/analyze"
	"github.com/mediavec/mediavec/decode"
	"github.com/mediavec/mediavec/encoders"
	"github.com/mediavec/mediavec/index/qdrant"
	"github.com/mediavec/mediavec/queue"
	"github.com/mediavec/mediavec/worker"
)

// Validate names the bad field, also across configurations.
func TestConfigValidate(t *testing.T) {
	t.Parallel()
	if err := (Config{}).Validate(); err != nil {
		t.Fatalf("the zero Config: %v", err)
	}
	for _, c := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"negative workers", Config{Workers: -1}, "Workers"},
		{"same generation twice", Config{Generation: 2, AlsoWrite: 2}, "AlsoWrite"},
		{"bad listen address", Config{HTTPAddr: "8080"}, "HTTPAddr"},
		{"bad provider", Config{Session: encoders.SessionConfig{Provider: "gpu"}}, "Session"},
		{"bad sampling", Config{Analyze: analyze.Config{Decode: decode.Config{Sampling: decode.Policy{Kind: "everything"}}}}, "Sampling"},
		{"label score", Config{Analyze: analyze.Config{LabelMinScore: 2}}, "LabelMinScore"},
		{"replicas", Config{Topology: queue.Topology{Replicas: 7}}, "Replicas"},
		{"qdrant address", Config{Qdrant: &qdrant.Config{Addr: "qdrant"}}, "Addr"},
		// A heartbeat JetStream does not see within AckWait hands a running
		// job to another worker.
		{"heartbeat past ack wait", Config{Workers: 1, Worker: worker.Config{Heartbeat: 40 * time.Second}}, "shorter than the consumers' AckWait"},
		// A worker whose jobs outlive the topology's timeout could be
		// dead-lettered twice.
		{"job timeout past the topology's", Config{Workers: 1, Worker: worker.Config{JobTimeout: time.Hour}}, "dead-letter dedup window"},
		{"heartbeat past a short ack wait", Config{Workers: 1, Worker: worker.Config{Heartbeat: 10 * time.Second}, Topology: queue.Topology{AckWait: 5 * time.Second}}, "AckWait"},
	} {
		err := c.cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error naming %s", c.name, err, c.want)
		}
	}
}

// The defaults the assembly decides follow the configuration: a heartbeat
// a third of AckWait, the worker's job timeout the topology's (which sizes
// the dead-letter window every process applies).
func TestConfigDefaults(t *testing.T) {
	t.Parallel()
	c := Config{Workers: 3, Topology: queue.Topology{AckWait: 9 * time.Second, JobTimeout: time.Hour}}.withDefaults()
	if c.Worker.Heartbeat != 3*time.Second || c.Worker.Concurrency != 3 {
		t.Errorf("heartbeat %s, concurrency %d", c.Worker.Heartbeat, c.Worker.Concurrency)
	}
	if c.Worker.JobTimeout != time.Hour {
		t.Errorf("the worker's job timeout %s is not the topology's hour", c.Worker.JobTimeout)
	}
	if c.DataDir != DefaultDataDir || c.Generation != DefaultGeneration || c.Analyze.Decode.Threads < 1 {
		t.Errorf("defaults %+v", c)
	}
	if err := c.Worker.ValidateFor(c.Topology); err != nil {
		t.Errorf("the defaults do not validate: %v", err)
	}
}
