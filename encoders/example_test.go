package encoders_test

import (
	"context"
	"fmt"
	"log"
	"math"

	"github.com/mediavec/mediavec/encoders"
)

// The built-in lexical space tokenises text the way people write it on
// short-video apps: hashtags, camelCase and digits-then-letters split, the
// joined form kept.
func ExampleTokens() {
	fmt.Println(encoders.Tokens("#CatVideos at 10pm, CAT café!"))
	// Output: [cat videos catvideos at 10 pm 10pm cat café cafe]
}

// Embed two seconds of audio in audio_speech_v1 with the shipped models
// (scripts/setup installs them): one 96-d vector per 76-frame window, a
// window every 80 ms.
func ExampleSpeech_Embed() {
	if err := encoders.InitRuntime(encoders.DefaultORTLib()); err != nil {
		log.Fatal(err)
	}
	speech, err := encoders.LoadSpeech(encoders.DefaultModelsDir(), encoders.SessionConfig{})
	if err != nil {
		log.Fatal(err)
	}
	defer speech.Close()
	samples := make([]float32, 2*encoders.SpeechRate)
	for i := range samples {
		samples[i] = float32(0.3 * math.Sin(2*math.Pi*300*float64(i)/encoders.SpeechRate))
	}
	embs, err := speech.Embed(context.Background(), samples)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(embs) > 10, len(embs[0].Vector), embs[1].Start-embs[0].Start)
	// Output: true 96 80ms
}
