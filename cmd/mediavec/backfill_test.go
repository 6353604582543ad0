package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/mediavec/mediavec/queue"
)

// backfill queues a folder on the backfill lane; run again it skips what is
// queued or indexed (resume), and --reprocess queues everything anew.
func TestBackfillResumes(t *testing.T) {
	ctx := t.Context()
	srv, err := queue.StartEmbedded(queue.EmbeddedConfig{StoreDir: t.TempDir(), Host: "127.0.0.1", Port: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	nc, js, err := connectJetStream(ctx, plainNATS(srv.ClientURL()), "test")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	lanes, err := queue.Ensure(ctx, js, queue.Topology{})
	if err != nil {
		t.Fatal(err)
	}
	statuses, _ := queue.OpenStatuses(ctx, js)

	dir := t.TempDir()
	for _, n := range []string{"a.mp4", "b.mov", "c.webm", "notes.txt"} {
		os.WriteFile(filepath.Join(dir, n), []byte("x"), 0o644)
	}
	// pending waits briefly for the consumer's count, which follows the
	// stream a moment behind, to reach want, and returns it.
	var want uint64
	pending := func() uint64 {
		var n uint64
		for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			info, err := lanes.Backfill.Info(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if n = info.NumPending; n == want || time.Now().After(deadline) {
				return n
			}
		}
	}
	out, code := cli(t, ctx, "backfill", "--nats", srv.ClientURL(), "--from", dir, "--quiet")
	want = 3
	if code != 0 || !strings.Contains(out, "3 queued") || pending() != 3 {
		t.Fatalf("first backfill: exit %d, %q, %d pending", code, out, pending())
	}
	// A worker took a and indexed it; b and c still wait.
	batch, _ := lanes.Backfill.Fetch(1, jetstream.FetchMaxWait(time.Second))
	for m := range batch.Messages() {
		m.Ack()
	}
	statuses.Put(ctx, queue.Status{VideoID: "a", State: queue.StateIndexed})
	out, code = cli(t, ctx, "backfill", "--nats", srv.ClientURL(), "--from", dir, "--quiet")
	want = 2
	if code != 0 || !strings.Contains(out, "0 queued") || !strings.Contains(out, "3 skipped") || pending() != 2 {
		t.Fatalf("resumed backfill: exit %d, %q, %d pending", code, out, pending())
	}
	out, code = cli(t, ctx, "backfill", "--nats", srv.ClientURL(), "--from", dir, "--quiet", "--reprocess", "--rate", "50")
	want = 5
	if code != 0 || !strings.Contains(out, "3 queued") || pending() != 5 {
		t.Fatalf("backfill --reprocess: exit %d, %q, %d pending", code, out, pending())
	}

	// A JSON-lines file of jobs; a bad line is refused with its number.
	jsonl := filepath.Join(dir, "jobs.jsonl")
	os.WriteFile(jsonl, []byte(`{"video_id": "d", "source": "https://cdn.example.com/d.mp4", "text": {"title": "D"}}
# a comment
{"video_id": "e", "source": "/srv/e.mp4"}
`), 0o644)
	if out, code := cli(t, ctx, "backfill", "--nats", srv.ClientURL(), "--from", jsonl, "--quiet"); code != 0 || !strings.Contains(out, "2 queued") {
		t.Fatalf("jsonl backfill: exit %d, %q", code, out)
	}
	os.WriteFile(jsonl, []byte("{\"video_id\": \"f\"}\n"), 0o644)
	if _, code := cli(t, ctx, "backfill", "--nats", srv.ClientURL(), "--from", jsonl, "--quiet"); code != 2 {
		t.Errorf("a job without a source: exit %d, want 2", code)
	}
}
