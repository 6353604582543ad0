package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/mediavec/mediavec/internal/app"
)

// A model rollout on one machine: generation 2 is written beside
// generation 1 (dual write) while old videos are re-processed into it; the
// aliases switch to it, can switch back, and the old generation is dropped.
func TestGenerationRollout(t *testing.T) {
	ctx := t.Context()
	f := makeFixtures(t)
	data := filepath.Join(t.TempDir(), "data")

	s, err := app.Start(ctx, testStackConfig(t, data, 1))
	if err != nil {
		t.Fatal(err)
	}
	if _, code := cli(t, ctx, "submit", "--nats", s.NATSURL(), f.good[0]); code != 0 {
		t.Fatal("submit clip1")
	}
	waitState(t, ctx, s.HTTPURL(), "clip1", "indexed")
	s.Close()

	cfg := testStackConfig(t, data, 1)
	cfg.Generation, cfg.AlsoWrite = 2, 1
	s, err = app.Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, code := cli(t, ctx, "submit", "--nats", s.NATSURL(), f.good[1]); code != 0 {
		t.Fatal("submit clip2")
	}
	waitState(t, ctx, s.HTTPURL(), "clip2", "indexed")
	// The backfill of what generation 1 had.
	if _, code := cli(t, ctx, "submit", "--nats", s.NATSURL(), "--backfill", "--reprocess", f.good[0]); code != 0 {
		t.Fatal("re-submit clip1")
	}
	waitState(t, ctx, s.HTTPURL(), "clip1", "queued")
	waitState(t, ctx, s.HTTPURL(), "clip1", "indexed")
	s.Close()

	out, code := cli(t, ctx, "index", "collections", "--data", data)
	if code != 0 {
		t.Fatal("index collections")
	}
	counts := map[string]string{}
	for _, line := range strings.Split(out, "\n")[1:] {
		if f := strings.Fields(line); len(f) >= 3 {
			counts[f[0]] = f[1] + " " + f[2]
		}
	}
	// Both generations hold both videos (1 video point each); the aliases
	// are still on generation 1.
	if counts["videos_g1"] != "videos 2" || counts["videos_g2"] != "- 2" {
		t.Fatalf("before the switch: %v\n%s", counts, out)
	}
	for _, a := range []string{"segments", "videos"} {
		if _, code := cli(t, ctx, "index", "switch", "--data", data, a, a+"_g2"); code != 0 {
			t.Fatalf("switch %s", a)
		}
	}
	if _, code := cli(t, ctx, "index", "drop", "--data", data, "videos_g2"); code == 0 {
		t.Error("dropping the generation the alias points at must fail")
	}
	// Rollback and forward again, then drop generation 1.
	for _, target := range []string{"_g1", "_g2"} {
		for _, a := range []string{"segments", "videos"} {
			if _, code := cli(t, ctx, "index", "switch", "--data", data, a, a+target); code != 0 {
				t.Fatalf("switch %s to %s", a, target)
			}
		}
	}
	for _, c := range []string{"segments_g1", "videos_g1"} {
		if _, code := cli(t, ctx, "index", "drop", "--data", data, c); code != 0 {
			t.Fatalf("drop %s", c)
		}
	}
	s, err = app.Start(ctx, cfg2(t, data))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	resp := searchJSON(t, ctx, s.HTTPURL(), f.good[1])
	if len(resp.Results) == 0 || resp.Results[0].VideoID != "clip2" {
		t.Errorf("search on generation 2: %+v", resp.Results)
	}
	if _, code := cli(t, ctx, "index", "collections", "--data", data); code == 0 {
		t.Error("the index command must refuse a data folder a running up holds")
	}
}

func cfg2(t *testing.T, data string) app.Config {
	c := testStackConfig(t, data, 0)
	c.Generation = 2
	return c
}
