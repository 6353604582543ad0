package encoders

import (
	"context"
	"time"
)

// CLIPModel is a loaded CLIP-family model behind two batchers, one per
// tower, so the frames of concurrent jobs (and the texts of concurrent
// queries) share session calls.
type CLIPModel struct {
	*CLIP
	images *Batcher[Image, []float32]
	texts  *Batcher[string, []float32]
}

// CLIPBatch is the most images or texts in one CLIP session call.
const CLIPBatch = 32

// NewCLIPModel puts batchers in front of c.
func NewCLIPModel(c *CLIP, maxBatch int) *CLIPModel {
	if maxBatch <= 0 {
		maxBatch = CLIPBatch
	}
	return &CLIPModel{
		CLIP:   c,
		images: NewBatcher(maxBatch, 2*time.Millisecond, c.EmbedImages),
		texts:  NewBatcher(maxBatch, time.Millisecond, c.EmbedTexts),
	}
}

// Images embeds images with the image tower, L2-normalised.
func (m *CLIPModel) Images(ctx context.Context, imgs []Image) ([][]float32, error) {
	return m.images.Do(ctx, imgs)
}

// Texts embeds texts with the text tower, in the images' space.
func (m *CLIPModel) Texts(ctx context.Context, texts []string) ([][]float32, error) {
	return m.texts.Do(ctx, texts)
}

// Close stops the batchers and releases the sessions.
func (m *CLIPModel) Close() error {
	m.images.Close()
	m.texts.Close()
	return m.CLIP.Close()
}
