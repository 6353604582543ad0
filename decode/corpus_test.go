package decode

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// ffmpeg runs the ffmpeg CLI to make a fixture.
func ffmpeg(t testing.TB, args ...string) {
	t.Helper()
	cmd := exec.Command("ffmpeg", append([]string{"-hide_banner", "-loglevel", "error", "-y"}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg %v: %v: %s", args, err, out)
	}
}

// fixture makes a clip once per test with the given ffmpeg arguments (the
// output path is appended).
func fixture(t testing.TB, name string, args ...string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	ffmpeg(t, append(args, p)...)
	return p
}

func meanByte(b []byte) float64 {
	var s float64
	for _, x := range b {
		s += float64(x)
	}
	return s / float64(len(b))
}

// patternClip has frame N at luma 16+2N (in video range), so a sampled
// frame's mean grey tells which frame it is. -qp 0 keeps it exact.
func patternClip(t testing.TB, extra ...string) string {
	args := []string{"-f", "lavfi", "-i", "color=c=black:size=64x64:rate=25", "-t", "4",
		"-vf", "geq=lum='16+2*N':cb=128:cr=128"}
	args = append(args, extra...)
	args = append(args, "-c:v", "libx264", "-qp", "0", "-pix_fmt", "yuv420p")
	return fixture(t, "pattern.mp4", args...)
}

// frameOf inverts the pattern: gray = (Y-16)·255/219 with Y = 16+2N.
func frameOf(gray float64) float64 { return gray * 219 / 255 / 2 }

// The frame sampled at t=N s is the one shown at N s, within one frame,
// for constant and variable frame rate and for rotated video.
func TestTimestampsAreExact(t *testing.T) {
	t.Parallel()
	needFFmpeg(t)
	cfr := patternClip(t)
	// VFR: 25 fps for 2 s, then 10 fps.
	vfr := patternClip(t, "-vf", "geq=lum='16+2*N':cb=128:cr=128,setpts='if(lt(N,50),N/25,2+(N-50)/10)/TB'", "-fps_mode", "vfr")
	rotated := filepath.Join(t.TempDir(), "rot.mp4")
	ffmpeg(t, "-i", cfr, "-c", "copy", "-metadata:s:v:0", "rotate=90", rotated)

	tests := []struct {
		name  string
		path  string
		frame func(sec float64) float64 // which frame is on screen at sec
	}{
		{"constant 25 fps", cfr, func(s float64) float64 { return 25 * s }},
		{"variable frame rate", vfr, func(s float64) float64 {
			if s < 2 {
				return 25 * s
			}
			return 50 + 10*(s-2)
		}},
		{"rotated", rotated, func(s float64) float64 { return 25 * s }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := File(t.Context(), tt.path, Config{NoAudio: true})
			if err != nil {
				t.Fatal(err)
			}
			if len(m.Frames) < 3 {
				t.Fatalf("%d frames", len(m.Frames))
			}
			for i, f := range m.Frames {
				want := tt.frame(float64(i))
				got := frameOf(meanByte(f.Images[0].Data))
				if math.Abs(got-want) > 1.01 {
					t.Errorf("frame sampled at %ds (t=%s) is frame %.1f, want %.0f", i, f.T, got, want)
				}
				if f.T < time.Duration(i)*time.Second || f.T > time.Duration(i)*time.Second+100*time.Millisecond {
					t.Errorf("sample %d at %s", i, f.T)
				}
			}
		})
	}
}

func TestRotationIsApplied(t *testing.T) {
	t.Parallel()
	needFFmpeg(t)
	// Stored 320×240 with the left half white: shown rotated 90° clockwise,
	// the white half is on top and the picture is 240×320.
	stored := fixture(t, "halves.mp4", "-f", "lavfi", "-i", "color=c=black:size=320x240:rate=25", "-t", "1",
		"-vf", "geq=lum='if(lt(X,160),235,16)':cb=128:cr=128", "-c:v", "libx264", "-qp", "0", "-pix_fmt", "yuv420p")
	rotated := filepath.Join(t.TempDir(), "rot.mp4")
	ffmpeg(t, "-i", stored, "-c", "copy", "-metadata:s:v:0", "rotate=90", rotated)

	m, err := File(t.Context(), rotated, Config{Frames: []FrameSpec{{Width: 30, Height: 40, Format: Gray}}})
	if err != nil {
		t.Fatal(err)
	}
	if m.Info.Rotation != 90 || m.Info.Width != 240 || m.Info.Height != 320 {
		t.Fatalf("rotation %d, displayed %dx%d; want 90, 240x320", m.Info.Rotation, m.Info.Width, m.Info.Height)
	}
	img := m.Frames[0].Images[0].Data
	if len(img) != 30*40 {
		t.Fatalf("%d bytes, want 30x40", len(img))
	}
	top, bottom := meanByte(img[:30*15]), meanByte(img[30*25:])
	if top < 200 || bottom > 50 {
		t.Errorf("top half mean %.0f, bottom %.0f: want the white half on top", top, bottom)
	}
}

func TestSamplingPolicies(t *testing.T) {
	t.Parallel()
	needFFmpeg(t)
	gop25 := fixture(t, "gop25.mp4", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-t", "3",
		"-c:v", "libx264", "-g", "25", "-keyint_min", "25", "-sc_threshold", "0")
	// Three shots of 2 s each.
	shots := fixture(t, "shots.mp4", "-f", "lavfi", "-t", "2", "-i", "testsrc2=size=320x240:rate=25",
		"-f", "lavfi", "-t", "2", "-i", "smptehdbars=size=320x240:rate=25",
		"-f", "lavfi", "-t", "2", "-i", "mandelbrot=size=320x240:rate=25",
		"-filter_complex", "[0][1][2]concat=n=3:v=1:a=0", "-c:v", "libx264")

	times := func(m *Media) []float64 {
		var out []float64
		for _, f := range m.Frames {
			out = append(out, math.Round(f.T.Seconds()*100)/100)
		}
		return out
	}
	tests := []struct {
		name   string
		path   string
		policy string
		cfg    Config
		want   []float64 // sample times, within 0.05 s
	}{
		{"fps=2", gop25, "fps=2", Config{}, []float64{0, 0.52, 1, 1.52, 2, 2.52}},
		{"keyframes", gop25, "keyframes", Config{}, []float64{0, 1, 2}},
		{"scenes", shots, "scenes", Config{}, []float64{0, 2, 4}},
		{"scenes with a max interval", shots, "scenes", Config{Sampling: Policy{MaxInterval: time.Second}}, []float64{0, 1, 2, 3, 4, 5}},
		{"a cap on frames", gop25, "fps=25", Config{MaxFrames: 4}, []float64{0, 0.04, 0.08, 0.12}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ParsePolicy(tt.policy)
			if err != nil {
				t.Fatal(err)
			}
			cfg := tt.cfg
			p.MaxInterval = cfg.Sampling.MaxInterval
			cfg.Sampling = p
			m, err := File(t.Context(), tt.path, cfg)
			if err != nil {
				t.Fatal(err)
			}
			got := times(m)
			if len(got) != len(tt.want) {
				t.Fatalf("sampled at %v, want %v", got, tt.want)
			}
			for i := range got {
				if math.Abs(got[i]-tt.want[i]) > 0.05 {
					t.Fatalf("sampled at %v, want %v", got, tt.want)
				}
			}
			if tt.policy == "keyframes" {
				for _, f := range m.Frames {
					if !f.Key {
						t.Errorf("frame at %s is not a keyframe", f.T)
					}
				}
			}
		})
	}
	for _, bad := range []string{"fps=0", "fps=x", "keyframes=2", "scenes=1.5", "everything"} {
		if _, err := ParsePolicy(bad); err == nil {
			t.Errorf("ParsePolicy(%q) accepted", bad)
		}
	}
}

// One decode feeds several encoders, each with its size and layout.
func TestFrameSpecs(t *testing.T) {
	t.Parallel()
	needFFmpeg(t)
	red := fixture(t, "red.mp4", "-f", "lavfi", "-i", "color=c=red:size=320x240:rate=25", "-t", "2", "-c:v", "libx264", "-qp", "0")
	m, err := File(t.Context(), red, Config{Frames: []FrameSpec{{Width: 64, Height: 64, Format: Gray}, {Width: 224, Height: 224, Format: RGB24}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Frames) != 2 {
		t.Fatalf("%d frames", len(m.Frames))
	}
	for _, f := range m.Frames {
		if len(f.Images) != 2 || len(f.Images[0].Data) != 64*64 || len(f.Images[1].Data) != 224*224*3 {
			t.Fatalf("images %d, sizes %d %d", len(f.Images), len(f.Images[0].Data), len(f.Images[1].Data))
		}
		px := f.Images[1].Data[3*(112*224+112):]
		if px[0] < 240 || px[1] > 15 || px[2] > 15 {
			t.Errorf("centre pixel RGB %v, want red", px[:3])
		}
	}
	if _, err := File(t.Context(), red, Config{Frames: []FrameSpec{{Width: 0, Height: 10}}}); err == nil {
		t.Error("a zero-width spec must be refused")
	}

	// Height 0 keeps the aspect ratio; Every 2 converts every other frame.
	m, err = File(t.Context(), red, Config{Sampling: Policy{Kind: PolicyFPS, FPS: 2.5}, Frames: []FrameSpec{{Width: 64, Height: 64}, {Width: 160, Format: RGB24, Every: 2}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Frames) != 5 {
		t.Fatalf("%d frames at 2.5 fps over 2 s, want 5", len(m.Frames))
	}
	for i, f := range m.Frames {
		im := f.Images[1]
		want := 0
		if i%2 == 0 {
			want = 160 * 120 * 3
		}
		if len(im.Data) != want || im.Spec.Height != 120 {
			t.Errorf("frame %d: %d bytes at height %d, want %d at 120", i, len(im.Data), im.Spec.Height, want)
		}
	}
}

func TestTextTracks(t *testing.T) {
	t.Parallel()
	needFFmpeg(t)
	srt := filepath.Join(t.TempDir(), "s.srt")
	os.WriteFile(srt, []byte("1\n00:00:01,000 --> 00:00:02,500\n<i>Hello</i> world\n\n2\n00:00:03,000 --> 00:00:04,000\nSecond {\\b1}cue{\\b0}\n"), 0o644)
	in := []string{"-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25", "-i", srt, "-t", "5"}
	tests := []struct {
		name, file string
		args       []string
	}{
		{"mov_text in mp4", "a.mp4", []string{"-c:v", "libx264", "-c:s", "mov_text", "-metadata", "title=My title", "-metadata", "comment=shot on a phone"}},
		{"subrip in mkv", "a.mkv", []string{"-c:v", "libx264", "-c:s", "srt", "-metadata:s:s:0", "language=eng"}},
		{"ass in mkv", "b.mkv", []string{"-c:v", "libx264", "-c:s", "ass"}},
		{"webvtt in webm", "a.webm", []string{"-c:v", "libvpx", "-b:v", "100k", "-c:s", "webvtt"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := fixture(t, tt.file, append(append([]string{}, in...), tt.args...)...)
			m, err := File(t.Context(), p, Config{})
			if err != nil {
				t.Fatal(err)
			}
			var subs []Cue
			for _, c := range m.Text {
				if strings.HasPrefix(c.Source, "subtitle:") {
					subs = append(subs, c)
				}
			}
			if len(subs) != 2 {
				t.Fatalf("subtitle cues %+v, want 2", m.Text)
			}
			want := []Cue{{Start: time.Second, End: 2500 * time.Millisecond, Text: "Hello world"}, {Start: 3 * time.Second, End: 4 * time.Second, Text: "Second cue"}}
			for i, c := range subs {
				if c.Text != want[i].Text || absDur(c.Start-want[i].Start) > 20*time.Millisecond || absDur(c.End-want[i].End) > 20*time.Millisecond {
					t.Errorf("cue %d = %+v, want %+v", i, c, want[i])
				}
			}
			if tt.file == "a.mkv" && !strings.HasSuffix(subs[0].Source, ":eng") {
				t.Errorf("language not kept: %s", subs[0].Source)
			}
			if tt.file == "a.mp4" {
				meta := map[string]string{}
				for _, c := range m.Text {
					meta[c.Source] = c.Text
				}
				if meta["metadata:title"] != "My title" || meta["metadata:comment"] != "shot on a phone" {
					t.Errorf("metadata cues %v", meta)
				}
			}
		})
	}
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// gifBomb is a tiny GIF whose header declares a w×h picture.
func gifBomb(w, h uint16) []byte {
	b := []byte("GIF89a")
	b = binary.LittleEndian.AppendUint16(b, w)
	b = binary.LittleEndian.AppendUint16(b, h)
	b = append(b, 0x00, 0x00, 0x00) // no global colour table
	b = append(b, 0x2c, 0, 0, 0, 0) // image descriptor at 0,0 …
	b = binary.LittleEndian.AppendUint16(b, w)
	b = binary.LittleEndian.AppendUint16(b, h)
	b = append(b, 0x00)
	return append(b, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b) // LZW data, trailer
}

func TestHostileAndUnusualInputs(t *testing.T) {
	t.Parallel()
	needFFmpeg(t)
	dir := t.TempDir()
	src := []string{"-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-f", "lavfi", "-i", "sine=frequency=440", "-t", "4"}
	plain := fixture(t, "plain.mp4", append(append([]string{}, src...), "-c:v", "libx264", "-c:a", "aac")...)
	fast := fixture(t, "fast.mp4", append(append([]string{}, src...), "-c:v", "libx264", "-c:a", "aac", "-movflags", "+faststart")...)
	plainBytes, _ := os.ReadFile(plain)
	fastBytes, _ := os.ReadFile(fast)
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, b, 0o644)
		return p
	}
	tenBit := fixture(t, "ten.mp4", append(append([]string{}, src[:4]...), "-t", "2", "-c:v", "libx264", "-pix_fmt", "yuv420p10le")...)
	interlaced := fixture(t, "inter.mp4", append(append([]string{}, src[:4]...), "-t", "2", "-c:v", "libx264", "-flags", "+ildct+ilme", "-x264-params", "tff=1")...)
	mpeg2 := fixture(t, "inter.mpg", append(append([]string{}, src[:4]...), "-t", "2", "-c:v", "mpeg2video", "-flags", "+ildct+ilme", "-top", "1")...)

	type check func(t *testing.T, m *Media, err error)
	fails := func(k Kind) check {
		return func(t *testing.T, m *Media, err error) {
			var de *Error
			if !errors.As(err, &de) || de.Kind != k {
				t.Fatalf("got %v, want a %s error", err, k)
			}
		}
	}
	frames := func(n int, audio bool) check {
		return func(t *testing.T, m *Media, err error) {
			if err != nil {
				t.Fatal(err)
			}
			if len(m.Frames) != n || (len(m.Audio.Samples) > 0) != audio {
				t.Fatalf("%d frames, %d samples; want %d frames, audio %v", len(m.Frames), len(m.Audio.Samples), n, audio)
			}
		}
	}
	// A truncated file either fails cleanly or gives what it holds.
	partial := func(t *testing.T, m *Media, err error) {
		var de *Error
		if err != nil {
			if !errors.As(err, &de) || !Permanent(err) {
				t.Fatalf("got %v, want a permanent *decode.Error", err)
			}
			return
		}
		if len(m.Frames) > 4 {
			t.Fatalf("%d frames from a truncated 4 s clip", len(m.Frames))
		}
	}
	tests := []struct {
		name  string
		path  string
		check check
	}{
		{"mp4 cut at 10%", write("c10.mp4", plainBytes[:len(plainBytes)/10]), fails(KindInvalid)},
		{"mp4 cut at 50%", write("c50.mp4", plainBytes[:len(plainBytes)/2]), fails(KindInvalid)},
		{"mp4 cut at 99%", write("c99.mp4", plainBytes[:len(plainBytes)*99/100]), fails(KindInvalid)},
		{"faststart mp4 cut at 30%", write("f30.mp4", fastBytes[:len(fastBytes)*3/10]), partial},
		{"faststart mp4 cut at 70%", write("f70.mp4", fastBytes[:len(fastBytes)*7/10]), partial},
		{"mp4 named .avi", write("wrong.avi", plainBytes), frames(4, true)},
		// Both are refused from the header, before FFmpeg allocates a picture.
		{"header declaring 30000x30000", write("bomb.gif", gifBomb(30000, 30000)), fails(KindLimit)},
		{"header declaring 16000x16000", write("bomb16.gif", gifBomb(16000, 16000)), fails(KindLimit)},
		{"10-bit", tenBit, frames(2, false)},
		{"interlaced h264", interlaced, frames(2, false)},
		{"interlaced mpeg-2", mpeg2, frames(2, false)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			start := time.Now()
			m, err := File(ctx, tt.path, Config{})
			tt.check(t, m, err)
			if time.Since(start) > 10*time.Second {
				t.Errorf("took %s", time.Since(start))
			}
		})
	}
}

func TestReaderSources(t *testing.T) {
	t.Parallel()
	needFFmpeg(t)
	// Larger than the IOContext buffer, so a pipe really cannot seek back.
	plain := fixture(t, "plain.mp4", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-t", "3", "-c:v", "libx264", "-b:v", "3M")
	fast := fixture(t, "fast.mp4", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-t", "3", "-c:v", "libx264", "-b:v", "3M", "-movflags", "+faststart")
	pb, _ := os.ReadFile(plain)
	fb, _ := os.ReadFile(fast)

	m, err := Reader(t.Context(), bytes.NewReader(pb), "seekable", Config{})
	if err != nil || len(m.Frames) != 3 || m.Info.Size != int64(len(pb)) {
		t.Fatalf("seekable reader: %v", err)
	}
	// A pipe cannot seek: a faststart mp4 streams, one with its index at
	// the end cannot be read.
	m, err = Reader(t.Context(), onlyReader{bytes.NewReader(fb)}, "pipe", Config{})
	if err != nil || len(m.Frames) != 3 {
		t.Fatalf("streamed faststart mp4: %v", err)
	}
	if _, err := Reader(t.Context(), onlyReader{bytes.NewReader(pb)}, "pipe", Config{}); !Permanent(err) {
		t.Fatalf("streamed mp4 with a trailing index: %v", err)
	}
	if _, err := Reader(t.Context(), onlyReader{bytes.NewReader(fb)}, "pipe", Config{MaxBytes: 10000}); err == nil || !strings.Contains(err.Error(), "limit") {
		t.Fatalf("a stream over the byte limit: %v", err)
	}
}

type onlyReader struct{ r *bytes.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

func TestHTTPSources(t *testing.T) {
	t.Parallel()
	needFFmpeg(t)
	clip := fixture(t, "c.mp4", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-t", "3", "-c:v", "libx264")
	body, _ := os.ReadFile(clip)
	big, _ := os.ReadFile(fixture(t, "big.mp4", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-t", "3", "-c:v", "libx264", "-b:v", "3M"))
	fastBody, _ := os.ReadFile(fixture(t, "fast.mp4", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-t", "3", "-c:v", "libx264", "-b:v", "3M", "-movflags", "+faststart"))
	mux := http.NewServeMux()
	mux.HandleFunc("/clip.mp4", func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "clip.mp4", time.Time{}, bytes.NewReader(body))
	})
	mux.HandleFunc("/gone", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "gone", http.StatusNotFound) })
	mux.HandleFunc("/busy", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "busy", http.StatusServiceUnavailable) })
	mux.HandleFunc("/stall", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100000")
		w.Write(body[:1000])
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	})
	// A server that ignores Range: a file with its index at the end cannot
	// be read from it, and that is the file's fault, not a passing one.
	mux.HandleFunc("/norange.mp4", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(big)))
		w.Write(big)
	})
	// A connection that breaks off mid-body is not a short video.
	mux.HandleFunc("/cut.mp4", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(fastBody)))
		w.Write(fastBody[:len(fastBody)/2])
		w.(http.Flusher).Flush()
		conn, _, _ := w.(http.Hijacker).Hijack()
		conn.Close()
	})
	// A slow-loris server: a few bytes every half second, always inside
	// the read timeout; only the whole job's deadline stops it.
	mux.HandleFunc("/trickle.mp4", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(fastBody)))
		for i := 0; i < len(fastBody); i += 64 {
			if _, err := w.Write(fastBody[i:min(i+64, len(fastBody))]); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
				return
			case <-time.After(500 * time.Millisecond):
			}
		}
	})
	mux.HandleFunc("/redirect-inside", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/clip.mp4", http.StatusFound)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	local := Config{HTTP: HTTPPolicy{AllowPrivate: true, ReadTimeout: time.Second}}

	m, err := Open(t.Context(), srv.URL+"/clip.mp4", local)
	if err != nil || len(m.Frames) != 3 {
		t.Fatalf("http source: %v", err)
	}
	tests := []struct {
		name string
		url  string
		cfg  Config
		want Kind
	}{
		{"loopback refused by default", srv.URL + "/clip.mp4", Config{}, KindForbidden},
		{"redirect is checked too", srv.URL + "/redirect-inside", Config{}, KindForbidden},
		{"host not allowed", srv.URL + "/clip.mp4", Config{HTTP: HTTPPolicy{AllowPrivate: true, AllowHosts: []string{"cdn.example.com"}}}, KindForbidden},
		{"404 is the input's fault", srv.URL + "/gone", local, KindInvalid},
		{"503 may pass", srv.URL + "/busy", local, KindTransient},
		{"over the byte limit", srv.URL + "/clip.mp4", Config{MaxBytes: 1000, HTTP: local.HTTP}, KindLimit},
		{"a stalled server times out", srv.URL + "/stall", local, KindTransient},
		{"no Range and the index at the end", srv.URL + "/norange.mp4", local, KindInvalid},
		{"a connection cut mid-body", srv.URL + "/cut.mp4", local, KindTransient},
		{"credentials in the URL", strings.Replace(srv.URL, "http://", "http://u:p@", 1) + "/clip.mp4", local, KindForbidden},
		{"other schemes", "ftp://example.com/a.mp4", local, KindForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			_, err := Open(t.Context(), tt.url, tt.cfg)
			var de *Error
			if !errors.As(err, &de) || de.Kind != tt.want {
				t.Fatalf("got %v, want a %s error", err, tt.want)
			}
			if time.Since(start) > 5*time.Second {
				t.Errorf("took %s", time.Since(start))
			}
		})
	}
	t.Run("a trickling server meets the job deadline", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
		defer cancel()
		start := time.Now()
		_, err := Open(ctx, srv.URL+"/trickle.mp4", local)
		var de *Error
		if !errors.As(err, &de) || de.Kind != KindLimit {
			t.Fatalf("got %v, want a limit error", err)
		}
		if took := time.Since(start); took > 4*time.Second {
			t.Errorf("took %s with a 2 s deadline", took)
		}
	})
}

func TestAddressPolicy(t *testing.T) {
	t.Parallel()
	var p HTTPPolicy
	for _, addr := range []string{"127.0.0.1:80", "10.1.2.3:80", "172.16.0.1:80", "192.168.1.1:443", "169.254.169.254:80",
		"100.64.0.1:80", "0.0.0.0:80", "0.1.2.3:80", "198.18.0.1:80", "255.255.255.255:80", "[::1]:80", "[fe80::1]:80",
		"[fc00::1]:80", "[::ffff:127.0.0.1]:80", "224.0.0.1:80",
		"[64:ff9b::a00:1]:80",   // NAT64 of 10.0.0.1
		"[2002:a9fe:a9fe::]:80", // 6to4 of 169.254.169.254
	} {
		if err := p.checkAddr(addr); err == nil {
			t.Errorf("%s allowed", addr)
		}
	}
	for _, addr := range []string{"8.8.8.8:443", "[2001:4860:4860::8888]:443", "93.184.216.34:80", "[64:ff9b::808:808]:443"} {
		if err := p.checkAddr(addr); err != nil {
			t.Errorf("%s refused: %v", addr, err)
		}
	}
	if err := (HTTPPolicy{AllowPrivate: true}).checkAddr("10.0.0.1:80"); err != nil {
		t.Errorf("AllowPrivate: %v", err)
	}
	hosts := HTTPPolicy{AllowHosts: []string{".cdn.example.com", "media.example.org"}, DenyHosts: []string{"bad.cdn.example.com"}}
	for host, ok := range map[string]bool{"a.cdn.example.com": true, "media.example.org": true, "bad.cdn.example.com": false, "example.org": false, "cdn.example.com.evil.net": false} {
		if err := hosts.checkHost(host); (err == nil) != ok {
			t.Errorf("host %s: %v, want allowed=%v", host, err, ok)
		}
	}
}

func TestAudioWindows(t *testing.T) {
	t.Parallel()
	a := Audio{SampleRate: 1000, Samples: make([]float32, 4500)}
	w := a.Windows(2*time.Second, time.Second)
	if len(w) != 4 {
		t.Fatalf("%d windows over 4.5 s (2 s, hop 1 s), want 4", len(w))
	}
	if w[0].Start != 0 || w[0].End != 2*time.Second || len(w[0].Samples) != 2000 {
		t.Errorf("first window %s–%s, %d samples", w[0].Start, w[0].End, len(w[0].Samples))
	}
	if last := w[3]; last.Start != 3*time.Second || last.End != 4500*time.Millisecond {
		t.Errorf("last window %s–%s", last.Start, last.End)
	}
	if len((Audio{SampleRate: 1000}).Windows(time.Second, time.Second)) != 0 {
		t.Error("no audio must give no windows")
	}
}

// The content hash is the SHA-256 of the whole file, whether FFmpeg read it
// in order (faststart), jumped to an index at the end, or stopped early;
// from a reader that cannot seek it is there only if the read reached the
// end.
func TestContentHash(t *testing.T) {
	t.Parallel()
	needFFmpeg(t)
	moovLast := fixture(t, "hash-moov-last.mp4", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-t", "3", "-c:v", "libx264", "-pix_fmt", "yuv420p")
	faststart := fixture(t, "hash-faststart.mp4", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-t", "3", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-movflags", "+faststart")
	for _, p := range []string{moovLast, faststart} {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		want := hex.EncodeToString(sum[:])
		for _, cfg := range []Config{{ContentHash: true}, {ContentHash: true, MaxFrames: 1}} {
			m, err := File(t.Context(), p, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if m.ContentSHA256 != want {
				t.Errorf("%s (max frames %d): hash %q, want %q", filepath.Base(p), cfg.MaxFrames, m.ContentSHA256, want)
			}
		}
		if m, _ := File(t.Context(), p, Config{}); m.ContentSHA256 != "" {
			t.Error("a hash nobody asked for")
		}
		// Through a reader that cannot seek: whole only when read to the end.
		m, err := Reader(t.Context(), io.MultiReader(bytes.NewReader(b)), "pipe", Config{ContentHash: true})
		if err == nil && m.ContentSHA256 != "" && m.ContentSHA256 != want {
			t.Errorf("%s through a pipe: hash %q, want %q or none", filepath.Base(p), m.ContentSHA256, want)
		}
	}
}
