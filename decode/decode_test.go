package decode

import (
	"bytes"
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/mediavec/mediavec/internal/clips"
)

func needFFmpeg(t *testing.T) {
	t.Helper()
	if !clips.Available() {
		t.Fatal("the ffmpeg CLI is needed to make test clips: run scripts/setup")
	}
}

func TestFileSamplesFramesAndAudio(t *testing.T) {
	t.Parallel()
	needFFmpeg(t)
	p := clips.MakeT(t, t.TempDir(), clips.Spec{Name: "a", Video: "testsrc2", Audio: "sine=frequency=440", Seconds: 8})

	m, err := File(t.Context(), p, Config{})
	if err != nil {
		t.Fatal(err)
	}
	if m.Info.Duration < 7900*time.Millisecond || m.Info.Duration > 8200*time.Millisecond {
		t.Errorf("duration %s, want about 8s", m.Info.Duration)
	}
	if m.Info.VideoCodec != "h264" || m.Info.AudioCodec != "aac" || m.Info.Width != 320 || m.Info.Height != 240 {
		t.Errorf("info %+v", m.Info)
	}
	if len(m.Frames) != 8 {
		t.Fatalf("%d frames at 1 fps from 8s, want 8", len(m.Frames))
	}
	for i, f := range m.Frames {
		if f.T != time.Duration(i)*time.Second {
			t.Errorf("frame %d at %s, want %ds", i, f.T, i)
		}
		if len(f.Images) != 1 || len(f.Images[0].Data) != 64*64 {
			t.Errorf("frame %d has %d images", i, len(f.Images))
		}
	}

	// Audio: 16 kHz mono float, the 440 Hz tone at ffmpeg's default
	// amplitude of 1/8.
	a := m.Audio
	if a.SampleRate != 16000 {
		t.Fatalf("sample rate %d", a.SampleRate)
	}
	if n := len(a.Samples); n < 8*16000-1024 || n > 8*16000+2048 {
		t.Fatalf("%d samples, want about %d", n, 8*16000)
	}
	mid := a.Samples[16000 : 7*16000]
	crossings := 0
	var sq float64
	for i := 1; i < len(mid); i++ {
		if (mid[i-1] < 0) != (mid[i] < 0) {
			crossings++
		}
		sq += float64(mid[i]) * float64(mid[i])
	}
	freq := float64(crossings) / 2 / 6
	if math.Abs(freq-440) > 3 {
		t.Errorf("dominant frequency %.1f Hz, want 440", freq)
	}
	rms := math.Sqrt(sq / float64(len(mid)))
	if want := 0.125 / math.Sqrt2; math.Abs(rms-want) > 0.01 {
		t.Errorf("rms %.4f, want %.4f", rms, want)
	}
}

// The sampled frame is the frame the ffmpeg CLI gives for the same time,
// scaled the same way.
func TestFrameMatchesFFmpegCLI(t *testing.T) {
	t.Parallel()
	needFFmpeg(t)
	p := clips.MakeT(t, t.TempDir(), clips.Spec{Name: "b", Video: "testsrc2", Seconds: 4})
	m, err := File(t.Context(), p, Config{})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-ss", "2", "-i", p,
		"-frames:v", "1", "-vf", "scale=64:64:flags=area,format=gray", "-f", "rawvideo", "-")
	want, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	got := m.Frames[2].Images[0].Data
	if len(want) != len(got) {
		t.Fatalf("ffmpeg gave %d bytes, decode %d", len(want), len(got))
	}
	var diff float64
	for i := range got {
		diff += math.Abs(float64(got[i]) - float64(want[i]))
	}
	if mad := diff / float64(len(got)); mad > 2 {
		t.Errorf("mean absolute difference to the ffmpeg CLI frame is %.2f grey levels", mad)
	}
}

func TestFileStreams(t *testing.T) {
	t.Parallel()
	needFFmpeg(t)
	dir := t.TempDir()
	audioOnly := clips.MakeT(t, dir, clips.Spec{Name: "audio", Audio: "sine=frequency=300", Seconds: 3, Ext: "m4a"})
	videoOnly := clips.MakeT(t, dir, clips.Spec{Name: "video", Video: "testsrc", Seconds: 3})

	m, err := File(t.Context(), audioOnly, Config{})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Frames) != 0 || len(m.Audio.Samples) < 2*16000 {
		t.Errorf("audio-only: %d frames, %d samples", len(m.Frames), len(m.Audio.Samples))
	}
	m, err = File(t.Context(), videoOnly, Config{})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Frames) != 3 || len(m.Audio.Samples) != 0 {
		t.Errorf("video-only: %d frames, %d samples", len(m.Frames), len(m.Audio.Samples))
	}
	m, err = File(t.Context(), videoOnly, Config{Sampling: Policy{Kind: PolicyFPS, FPS: 2}})
	if err != nil {
		t.Fatal(err)
	}
	// At 25 fps there is no frame at exactly 0.5s: the first after it is
	// taken.
	if len(m.Frames) != 6 || m.Frames[1].T < 500*time.Millisecond || m.Frames[1].T >= 540*time.Millisecond {
		t.Errorf("at 2 fps: %d frames, second at %s", len(m.Frames), m.Frames[1].T)
	}
}

func TestFileRejectsBadInput(t *testing.T) {
	t.Parallel()
	needFFmpeg(t)
	dir := t.TempDir()
	good := clips.MakeT(t, dir, clips.Spec{Name: "good", Video: "testsrc2", Audio: "sine", Seconds: 3})
	goodBytes, _ := os.ReadFile(good)
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	random := make([]byte, 64<<10)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range random {
		random[i] = byte(rng.UintN(256))
	}
	// A valid video outside the source that a playlist or concat list
	// tries to pull in: if it were read, decode would succeed with its
	// frames instead of failing.
	secretDir := t.TempDir()
	secret := filepath.Join(secretDir, "secret.mp4")
	if err := os.WriteFile(secret, goodBytes, 0o644); err != nil {
		t.Fatal(err)
	}
	hls := write("playlist.m3u8", []byte("#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\nfile://"+secret+"\n#EXT-X-ENDLIST\n"))
	concat := write("list.ffconcat", []byte("ffconcat version 1.0\nfile '"+secret+"'\n"))
	past, cancel := context.WithDeadline(t.Context(), time.Now().Add(-time.Second))
	defer cancel()

	tests := []struct {
		name string
		path string
		cfg  Config
		ctx  context.Context
		want Kind
	}{
		{"missing file", filepath.Join(dir, "nope.mp4"), Config{}, nil, KindInvalid},
		{"zero bytes", write("empty.mp4", nil), Config{}, nil, KindInvalid},
		{"random bytes", write("random.mp4", random), Config{}, nil, KindInvalid},
		{"truncated at 1 KiB", write("t1k.mp4", goodBytes[:1024]), Config{}, nil, KindInvalid},
		{"truncated at a third", write("t3.mp4", goodBytes[:len(goodBytes)/3]), Config{}, nil, KindInvalid},
		{"text with a video extension", write("notes.mp4", []byte("hello, this is not a video\n")), Config{}, nil, KindInvalid},
		{"HLS playlist", hls, Config{}, nil, KindInvalid},
		{"concat list", concat, Config{}, nil, KindInvalid},
		{"a folder", dir, Config{}, nil, KindInvalid},
		{"outside the roots", good, Config{Roots: []string{secretDir}}, nil, KindForbidden},
		{"over the byte limit", good, Config{MaxBytes: 1000}, nil, KindLimit},
		{"over the duration limit", good, Config{MaxDuration: time.Second}, nil, KindLimit},
		{"over the pixel limit", good, Config{MaxPixels: 320 * 200}, nil, KindLimit},
		{"past its wall time", good, Config{}, past, KindLimit},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := tt.ctx
			if ctx == nil {
				ctx = t.Context()
			}
			m, err := File(ctx, tt.path, tt.cfg)
			var de *Error
			if !errors.As(err, &de) {
				t.Fatalf("got %v (media %v), want a *decode.Error", err, m != nil)
			}
			if de.Kind != tt.want {
				t.Fatalf("kind %s, want %s: %v", de.Kind, tt.want, err)
			}
			t.Log(err)
			if !Permanent(err) {
				t.Errorf("%v should be permanent", err)
			}
		})
	}
	if _, err := File(t.Context(), good, Config{Roots: []string{dir}}); err != nil {
		t.Errorf("a file under its root: %v", err)
	}
	// A symbolic link inside a root that points outside it does not lead
	// out.
	link := filepath.Join(dir, "link.mp4")
	if err := os.Symlink(secret, link); err != nil {
		t.Fatal(err)
	}
	var de *Error
	if _, err := File(t.Context(), link, Config{Roots: []string{dir}}); !errors.As(err, &de) || de.Kind != KindForbidden {
		t.Errorf("a link out of the root: %v", err)
	}
}

func TestTransientIsNotPermanent(t *testing.T) {
	t.Parallel()
	err := &Error{Kind: KindTransient, Source: "x", Op: "read", Err: errors.New("io")}
	if Permanent(err) || Permanent(errors.New("other")) {
		t.Error("transient or foreign errors must not be permanent")
	}
	if !bytes.Contains([]byte(err.Error()), []byte("decode x: read: transient: io")) {
		t.Errorf("message %q", err.Error())
	}
}
