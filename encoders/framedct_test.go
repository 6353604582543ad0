package encoders

import (
	"math"
	"os/exec"
	"testing"
)

// grayFrame renders one frame of a lavfi source through filters and returns
// it as the 64×64 grey image frame_dct_v1 reads, scaled by the ffmpeg CLI the
// way decode scales (area).
func grayFrame(t *testing.T, source, filters string) []byte {
	t.Helper()
	vf := "scale=64:64:flags=area,format=gray"
	if filters != "" {
		vf = filters + "," + vf
	}
	out, err := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", source,
		"-frames:v", "1", "-vf", vf, "-f", "rawvideo", "-").Output()
	if err != nil {
		t.Fatalf("ffmpeg %s %s: %v", source, filters, err)
	}
	if len(out) != 64*64 {
		t.Fatalf("ffmpeg gave %d bytes", len(out))
	}
	return out
}

// reencoded passes a frame through a low-bitrate H.264 encode and back.
func reencoded(t *testing.T, source string) []byte {
	t.Helper()
	dir := t.TempDir()
	mp4 := dir + "/r.mp4"
	if out, err := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", source,
		"-frames:v", "5", "-c:v", "libx264", "-b:v", "60k", "-pix_fmt", "yuv420p", mp4).CombinedOutput(); err != nil {
		t.Fatalf("encode: %v: %s", err, out)
	}
	out, err := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-i", mp4,
		"-frames:v", "1", "-vf", "scale=64:64:flags=area,format=gray", "-f", "rawvideo", "-").Output()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func cosine(a, b []float32) float64 {
	var d, na, nb float64
	for i := range a {
		d += float64(a[i]) * float64(b[i])
		na += float64(a[i]) * float64(a[i])
		nb += float64(b[i]) * float64(b[i])
	}
	return d / math.Sqrt(na*nb)
}

func TestFrameDCTRobustAndDiscriminative(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Fatal("the ffmpeg CLI is needed: run scripts/setup")
	}
	enc := NewFrameDCT()
	embed := func(gray []byte) []float32 {
		v, err := enc.Embed(gray)
		if err != nil {
			t.Fatal(err)
		}
		if len(v) != FrameDCTDim {
			t.Fatalf("dim %d, want %d", len(v), FrameDCTDim)
		}
		return v
	}
	const src = "testsrc2=size=640x480:rate=25"
	orig := embed(grayFrame(t, src, ""))
	if n := cosine(orig, orig); math.Abs(n-1) > 1e-5 {
		t.Fatalf("self-similarity %f", n)
	}

	variants := []struct {
		name string
		gray []byte
	}{
		{"half scale", grayFrame(t, src, "scale=320:240")},
		{"5% crop", grayFrame(t, src, "crop=iw*0.95:ih*0.95")},
		{"10% brighter", grayFrame(t, src, "eq=brightness=0.1")},
		{"10% darker", grayFrame(t, src, "eq=brightness=-0.1")},
		{"re-encoded at 60 kb/s", reencoded(t, src)},
	}
	for _, v := range variants {
		c := cosine(orig, embed(v.gray))
		t.Logf("%s: %.3f", v.name, c)
		if c < 0.9 {
			t.Errorf("%s: cosine %.3f to the original, want ≥ 0.9", v.name, c)
		}
	}
	for _, other := range []string{"smptehdbars=size=640x480", "mandelbrot=size=640x480", "cellauto=rule=110:size=640x480", "rgbtestsrc=size=640x480"} {
		c := cosine(orig, embed(grayFrame(t, other, "")))
		t.Logf("%s: %.3f", other, c)
		if c > 0.6 {
			t.Errorf("unrelated %s: cosine %.3f, want < 0.6", other, c)
		}
	}
}

func TestFrameDCTRejectsWrongSize(t *testing.T) {
	t.Parallel()
	if _, err := NewFrameDCT().Embed(make([]byte, 100)); err == nil {
		t.Fatal("want an error for 100 bytes")
	}
	v, err := NewFrameDCT().Embed(make([]byte, 64*64))
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range v {
		if x != 0 {
			t.Fatal("a flat frame must give the zero vector")
		}
	}
}
