package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mediavec/mediavec/internal/app"
	"github.com/mediavec/mediavec/internal/clips"
)

// snapshotFiles reads every file under dir.
func snapshotFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		out[p] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// A crash that tears the index's last write leaves the video's status
// saying "indexed" while the index lost it. `index collections` lists the
// damaged index without touching a byte; the next start cuts the torn
// record, marks the video failed with the cause, and queues a repair job
// that indexes it again.
func TestTornIndexWriteIsRepaired(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	clip := clips.MakeT(t, dir, clips.Spec{Name: "torn", Video: "testsrc2", Seconds: 3})

	s, err := app.Start(ctx, testStackConfig(t, data, 1))
	if err != nil {
		t.Fatal(err)
	}
	if out, code := cli(t, ctx, "submit", "--nats", s.NATSURL(), clip); code != 0 || strings.TrimSpace(out) != "torn" {
		t.Fatalf("submit: %d %q", code, out)
	}
	waitState(t, ctx, s.HTTPURL(), "torn", "indexed")
	s.Close()

	// Tear the last record of the segments log, as a crash mid-write does.
	logs, _ := filepath.Glob(filepath.Join(data, "index", "collections", "segments_*.log"))
	if len(logs) != 1 {
		t.Fatalf("segment logs %v", logs)
	}
	st, _ := os.Stat(logs[0])
	if err := os.Truncate(logs[0], st.Size()-100); err != nil {
		t.Fatal(err)
	}

	before := snapshotFiles(t, filepath.Join(data, "index"))
	if out, code := cli(t, ctx, "index", "collections", "--data", data); code != 0 || !strings.Contains(out, "segments_") {
		t.Fatalf("index collections: %d\n%s", code, out)
	}
	after := snapshotFiles(t, filepath.Join(data, "index"))
	if len(after) != len(before) {
		t.Errorf("index collections changed the files: %d, was %d", len(after), len(before))
	}
	for p, b := range before {
		if !bytes.Equal(after[p], b) {
			t.Errorf("index collections changed %s (%d bytes, was %d)", filepath.Base(p), len(after[p]), len(b))
		}
	}

	// Without workers: the status tells the truth and the repair waits.
	s, err = app.Start(ctx, testStackConfig(t, data, 0))
	if err != nil {
		t.Fatal(err)
	}
	line := waitState(t, ctx, s.HTTPURL(), "torn", "failed")
	if !strings.Contains(line, "index:") || !strings.Contains(line, "torn") {
		t.Errorf("status %q, want failed: index: … torn", line)
	}
	s.Close()

	// With a worker: the repair job indexes it again.
	s, err = app.Start(ctx, testStackConfig(t, data, 1))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	waitState(t, ctx, s.HTTPURL(), "torn", "indexed")
	if resp := searchJSON(t, ctx, s.HTTPURL(), clip, "--min-score", "0"); len(resp.Results) == 0 || resp.Results[0].VideoID != "torn" {
		t.Errorf("the repaired video is not found by its own clip: %+v", resp.Results)
	}
}
