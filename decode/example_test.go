package decode_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/mediavec/mediavec/decode"
	"github.com/mediavec/mediavec/internal/clips"
)

// Open a video, sample one frame a second as a 64×64 grey image and a
// 320-wide RGB one (one decode makes both), and take its audio as 16 kHz
// mono samples.
func ExampleOpen() {
	dir, _ := os.MkdirTemp("", "decode-example-*")
	defer os.RemoveAll(dir)
	path, err := clips.Make(dir, clips.Spec{Name: "talk", Video: "testsrc2", Audio: "sine=frequency=440", Seconds: 3, Width: 640, Height: 360})
	if err != nil {
		log.Fatal(err)
	}
	m, err := decode.Open(context.Background(), path, decode.Config{
		Sampling: decode.Policy{Kind: decode.PolicyFPS, FPS: 1},
		Frames: []decode.FrameSpec{
			{Width: 64, Height: 64, Format: decode.Gray},
			{Width: 320, Format: decode.RGB24}, // height from the aspect ratio
		},
	})
	if err != nil {
		log.Fatal(err) // a *decode.Error: its Kind says whether a retry can help
	}
	fmt.Println(m.Info.Width, "x", m.Info.Height, m.Info.VideoCodec)
	for _, f := range m.Frames {
		rgb := f.Images[1].Spec
		fmt.Printf("frame at %s: %d grey bytes, %dx%d RGB\n", f.T, len(f.Images[0].Data), rgb.Width, rgb.Height)
	}
	fmt.Printf("%.1f s of audio at %d Hz\n", float64(len(m.Audio.Samples))/float64(m.Audio.SampleRate), m.Audio.SampleRate)
	// Output:
	// 640 x 360 h264
	// frame at 0s: 4096 grey bytes, 320x180 RGB
	// frame at 1s: 4096 grey bytes, 320x180 RGB
	// frame at 2s: 4096 grey bytes, 320x180 RGB
	// 3.0 s of audio at 16000 Hz
}
