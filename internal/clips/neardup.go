package clips

import (
	"fmt"
	"strconv"
)

// NearDupSources are 20 clips of distinct content for the near-duplicate
// quality test: different generators, or the same one seeded, placed or
// flipped differently, so no two share their large-scale structure.
func NearDupSources(seconds float64) []Spec {
	vf := func(f string) []string { return []string{"-vf", f} }
	srcs := []Spec{
		{Video: "testsrc2"},
		{Video: "testsrc"},
		{Video: "smptehdbars"},
		{Video: "rgbtestsrc"},
		{Video: "mandelbrot=maxiter=256"},
		{Video: "mandelbrot=maxiter=256:start_x=-0.743643887:start_y=0.131825904:start_scale=0.02"},
		{Video: "mandelbrot=maxiter=256:start_x=-1.25:start_y=0.02:start_scale=0.2"},
		{Video: "life=mold=10:ratio=0.3:seed=7:death_color=#203050"},
		{Video: "cellauto=rule=110:seed=3"},
		{Video: "cellauto=rule=30:seed=9", Extra: vf("transpose=1,scale=320:240")},
		{Video: "gradients=seed=1:speed=0.02"},
		{Video: "gradients=seed=5:type=radial:speed=0.02"},
		{Video: "sierpinski=seed=1:type=carpet"},
		{Video: "sierpinski=seed=4:type=triangle"},
		{Video: "color=c=gray", Extra: vf("format=gray,geq=lum='128+100*sin(X/18+2*T)*cos(Y/14)',format=yuv420p")},
		{Video: "yuvtestsrc"},
		{Video: "pal75bars", Extra: vf("transpose=1,scale=320:240")},
		{Video: "color=c=navy", Extra: vf("drawbox=x=mod(50*t\\,260):y=40:w=60:h=160:c=yellow:t=fill")},
		{Video: "color=c=black", Extra: vf("drawgrid=w=64:h=48:t=6:c=white,rotate=0.2*t")},
		{Video: "smptebars", Extra: vf("hflip,boxblur=2")},
	}
	for i := range srcs {
		srcs[i].Name = "src" + strconv.Itoa(i+1)
		srcs[i].Seconds = seconds
	}
	return srcs
}

// CopyKinds are the edits a re-upload of someone else's video typically
// carries.
var CopyKinds = []string{"lowq", "half", "crop", "overlay", "trim2s", "speed1.1"}

// MakeCopy writes an edited copy of src (see CopyKinds) to dst.
func MakeCopy(src, dst, kind string) error {
	args := []string{"-hide_banner", "-loglevel", "error", "-y"}
	var in, vf []string
	enc := []string{"-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p"}
	switch kind {
	case "lowq":
		enc = append(enc, "-crf", "42")
	case "half":
		vf = append(vf, "scale=trunc(iw/4)*2:trunc(ih/4)*2")
	case "crop":
		vf = append(vf, "crop=trunc(iw*0.9/2)*2:trunc(ih*0.9/2)*2")
	case "overlay":
		vf = append(vf, "drawtext=fontfile="+Font+":text='@reposter 2026':fontsize=22:fontcolor=white:box=1:boxcolor=black@0.6:x=12:y=h-th-14")
	case "trim2s":
		in = append(in, "-ss", "2")
	case "speed1.1":
		vf = append(vf, "setpts=PTS/1.1")
	default:
		return fmt.Errorf("unknown copy kind %q", kind)
	}
	args = append(args, in...)
	args = append(args, "-i", src, "-an")
	if len(vf) > 0 {
		args = append(args, "-vf", vf[0])
	}
	args = append(args, enc...)
	args = append(args, dst)
	return run(args...)
}

// Font is the TrueType font drawtext overlays use (Debian's
// fonts-dejavu-core, installed by scripts/setup).
const Font = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
