package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mediavec/mediavec/internal/app"
	"github.com/mediavec/mediavec/internal/clips"
	"github.com/mediavec/mediavec/internal/testmedia"
)

func TestEveryCommandHasHelp(t *testing.T) {
	for _, c := range commands() {
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), []string{c.name, "--help"}, &stdout, &stderr); code != 0 {
			t.Errorf("%s --help: exit %d", c.name, code)
		}
		if !strings.Contains(stderr.String(), "Usage: mediavec "+c.name) {
			t.Errorf("%s --help printed %q", c.name, stderr.String())
		}
	}
	var stdout bytes.Buffer
	if code := run(context.Background(), []string{"--help"}, &stdout, &stdout); code != 0 || !strings.Contains(stdout.String(), "submit") {
		t.Errorf("mediavec --help: %d %q", code, stdout.String())
	}
	if code := run(context.Background(), []string{"frobnicate"}, &stdout, &stdout); code != 2 {
		t.Errorf("unknown command: exit %d, want 2", code)
	}
}

func TestUsageErrorsExitTwo(t *testing.T) {
	for _, args := range [][]string{
		{"submit"},
		{"search"},
		{"search", "--video", "a.mp4", "--like", "b"},
		{"status"},
		{"probe"},
		{"up", "--workers", "many"},
	} {
		var out bytes.Buffer
		if code := run(context.Background(), args, &out, &out); code != 2 {
			t.Errorf("%v: exit %d, want 2: %s", args, code, out.String())
		}
	}
}

// Flags win over MEDIAVEC_* environment variables, which win over the
// config file.
func TestFlagEnvConfigPrecedence(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "mediavec.yaml")
	if err := os.WriteFile(cfg, []byte("workers: 7\nhttp: 127.0.0.1:9000\ndata: /from/file\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("MEDIAVEC_HTTP", "127.0.0.1:9100")
	parse := func(args ...string) (int, string, string) {
		fs := newFlags("up", "up", &bytes.Buffer{})
		workers := fs.Int("workers", 2, "")
		http := fs.String("http", "127.0.0.1:8080", "")
		data := fs.String("data", ".mediavec", "")
		if err := parseFlags(fs, args); err != nil {
			t.Fatal(err)
		}
		return *workers, *http, *data
	}
	w, h, d := parse("--config", cfg, "--data", "/from/flag")
	if w != 7 || h != "127.0.0.1:9100" || d != "/from/flag" {
		t.Errorf("got workers=%d http=%s data=%s; want 7 (file), 127.0.0.1:9100 (env), /from/flag (flag)", w, h, d)
	}
	t.Setenv("MEDIAVEC_CONFIG", cfg)
	if w, _, _ := parse(); w != 7 {
		t.Errorf("MEDIAVEC_CONFIG not read: workers=%d", w)
	}

	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("wrokers: 3\n"), 0o644)
	var stderr bytes.Buffer
	fs := newFlags("up", "up", &stderr)
	workers := fs.Int("workers", 2, "")
	if err := parseFlags(fs, []string{"--config", bad}); err != nil || *workers != 2 || !strings.Contains(stderr.String(), `config key "wrokers" is not a flag`) {
		t.Errorf("misspelt key: %v, workers=%d, said %q", err, *workers, stderr.String())
	}
	t.Setenv("MEDIAVEC_CONFIG", "")
	fs = newFlags("up", "up", &bytes.Buffer{})
	fs.Int("workers", 2, "")
	t.Setenv("MEDIAVEC_WORKERS", "lots")
	if err := parseFlags(fs, nil); err == nil || !strings.Contains(err.Error(), "MEDIAVEC_WORKERS") {
		t.Errorf("bad env value: %v", err)
	}
}

func TestStartFailsClearlyWithoutModels(t *testing.T) {
	cfg := testStackConfig(t, t.TempDir(), 0)
	cfg.ModelsDir = t.TempDir()
	_, err := app.Start(t.Context(), cfg)
	if err == nil || !strings.Contains(err.Error(), "audio_speech_v1") || !strings.Contains(err.Error(), "scripts/setup") {
		t.Fatalf("start with an empty models folder: %v", err)
	}
}

func TestDataFolderIsLocked(t *testing.T) {
	dir := t.TempDir()
	s, err := app.Start(t.Context(), testStackConfig(t, dir, 0))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := app.Start(t.Context(), testStackConfig(t, dir, 0)); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("second up on the same data folder: %v", err)
	}
}

func TestProbePrintsSamplesAsJSON(t *testing.T) {
	if !clips.Available() {
		t.Fatal("the ffmpeg CLI is needed: run scripts/setup")
	}
	p := clips.MakeT(t, t.TempDir(), clips.Spec{Name: "p", Video: "testsrc2", Audio: "sine", Seconds: 3, Title: "Probe me"})
	out, code := cli(t, t.Context(), "probe", "--sampling", "fps=2", "--frames", "32x32:rgb24", p)
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	var got struct {
		Sampling string `json:"sampling"`
		Frames   []struct {
			T float64 `json:"t"`
		} `json:"sampled_frames"`
		Streams []struct{ Type string }         `json:"streams"`
		Text    []struct{ Text, Source string } `json:"text"`
		Audio   float64                         `json:"audio_seconds"`
		// Seconds, not nanoseconds, and only once.
		Duration float64 `json:"duration"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if strings.Contains(out, "duration_seconds") || got.Duration < 2.9 || got.Duration > 3.1 {
		t.Errorf("duration %v, want 3 seconds (and no other duration field):\n%s", got.Duration, out)
	}
	if got.Sampling != "fps=2" || len(got.Frames) != 6 || len(got.Streams) != 2 || got.Audio < 2.9 {
		t.Errorf("probe output %+v", got)
	}
	if len(got.Text) != 1 || got.Text[0].Text != "Probe me" || got.Text[0].Source != "metadata:title" {
		t.Errorf("text cues %+v", got.Text)
	}
	if _, code := cli(t, t.Context(), "probe", "--frames", "big", p); code != 2 {
		t.Errorf("a bad --frames: exit %d, want 2", code)
	}
}

// Flags are read wherever they stand, as a person types them; "--" ends
// them.
func TestFlagsAnywhere(t *testing.T) {
	for _, tc := range []struct {
		args      []string
		title     string
		wait      bool
		positions []string
	}{
		{[]string{"uploads/v-1029.mp4", "--title", "Cat on a skateboard"}, "Cat on a skateboard", false, []string{"uploads/v-1029.mp4"}},
		{[]string{"--title", "Cat", "a.mp4", "b.mp4"}, "Cat", false, []string{"a.mp4", "b.mp4"}},
		{[]string{"a.mp4", "--wait", "b.mp4", "--title=T"}, "T", true, []string{"a.mp4", "b.mp4"}},
		{[]string{"a.mp4", "--", "--title", "x"}, "", false, []string{"a.mp4", "--title", "x"}},
		{[]string{"-", "--title", "stdin"}, "stdin", false, []string{"-"}},
	} {
		fs := newFlags("test", "test", io.Discard)
		title := fs.String("title", "", "")
		wait := fs.Bool("wait", false, "")
		if err := parseFlags(fs, tc.args); err != nil {
			t.Errorf("%q: %v", tc.args, err)
			continue
		}
		if *title != tc.title || *wait != tc.wait || !slices.Equal(fs.Args(), tc.positions) {
			t.Errorf("%q: title %q wait %v args %q, want %q %v %q", tc.args, *title, *wait, fs.Args(), tc.title, tc.wait, tc.positions)
		}
	}
	fs := newFlags("test", "test", io.Discard)
	if err := parseFlags(fs, []string{"a.mp4", "--nope"}); err == nil || !errors.Is(err, errUsage) {
		t.Errorf("an unknown flag after an argument: %v, want a usage error", err)
	}
}

// NATS URLs in messages and logs show neither a password nor a token.
func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"nats://127.0.0.1:4222":                         "nats://127.0.0.1:4222",
		"nats://alice:s3cret@nats-1:4222":               "nats://alice:xxxxx@nats-1:4222",
		"nats://0123abcd@127.0.0.1:4222":                "nats://xxxxx@127.0.0.1:4222",
		"nats://tok@a:4222,nats://bob:pw@b:4222,c:4222": "nats://xxxxx@a:4222,nats://bob:xxxxx@b:4222,c:4222",
	} {
		if got := redactURL(in); got != want {
			t.Errorf("redactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

// `probe --ocr` prints what the worker's OCR reads, with the time it
// holds: here a scanned page from opencv-doc, still for 3 s.
func TestProbeOCR(t *testing.T) {
	clip := testmedia.StillClip(t, t.TempDir(), filepath.Join(testmedia.OpenCV, "imageTextN.png"), "")
	out, code := cli(t, t.Context(), "probe", clip, "--ocr")
	var read struct {
		Start, End, Confidence float64
		Text                   string
	}
	if code != 0 || json.Unmarshal([]byte(strings.SplitN(out, "\n", 2)[0]), &read) != nil {
		t.Fatalf("probe --ocr: exit %d: %s", code, out)
	}
	if read.Start != 0 || read.End != 3 || !strings.Contains(read.Text, "conference papers") || read.Confidence < 0.5 {
		t.Errorf("probe --ocr read %q over %v–%v s at confidence %v, want the page over 0–3 s, surely", read.Text, read.Start, read.End, read.Confidence)
	}
	// A language whose model is not installed fails at start, naming the
	// Debian package to install.
	var stdout, stderr bytes.Buffer
	if code := run(t.Context(), []string{"probe", clip, "--ocr", "--ocr-langs", "eng+zzz"}, &stdout, &stderr); code == 0 || !strings.Contains(stderr.String(), "tesseract-ocr-zzz") {
		t.Errorf("probe --ocr-langs eng+zzz: exit %d: %s", code, stderr.String())
	}
}
