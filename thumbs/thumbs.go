// Package thumbs keeps the small JPEG thumbnails of sampled frames that the
// search page shows beside each matched moment: one file per frame under
// DIR/{video}/{milliseconds}.jpg, named by the
// frame's time, which is the t_start of its frame segment, written by the worker, read by the API. A
// folder is enough for one machine; a fleet points every process at one
// shared folder (a volume or a bucket mount).
package thumbs

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// Store is a folder of thumbnails.
type Store struct{ dir string }

// Open returns the store in dir, creating it.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("open thumbnails %s: %w", dir, err)
	}
	return &Store{dir: dir}, nil
}

// videoDir names a video's folder by a hash of its id: ids come from
// callers and may hold any character, a path separator included.
func (s *Store) videoDir(videoID string) string {
	sum := sha256.Sum256([]byte(videoID))
	return filepath.Join(s.dir, hex.EncodeToString(sum[:12]))
}

// Replace writes a video's thumbnails, removing those it had before, so a
// re-processed video shows its new frames. The new set is written to a
// temporary folder that is renamed into place.
func (s *Store) Replace(videoID string, jpegs map[int64][]byte) error {
	final := s.videoDir(videoID)
	tmp, err := os.MkdirTemp(s.dir, ".new-*")
	if err != nil {
		return fmt.Errorf("thumbnails of %s: %w", videoID, err)
	}
	defer os.RemoveAll(tmp)
	for ms, b := range jpegs {
		if err := os.WriteFile(filepath.Join(tmp, strconv.FormatInt(ms, 10)+".jpg"), b, 0o644); err != nil {
			return fmt.Errorf("thumbnails of %s: %w", videoID, err)
		}
	}
	old := final + ".old"
	_ = os.RemoveAll(old)
	if err := os.Rename(final, old); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("thumbnails of %s: %w", videoID, err)
	}
	if err := os.Rename(tmp, final); err != nil {
		return fmt.Errorf("thumbnails of %s: %w", videoID, err)
	}
	return os.RemoveAll(old)
}

// Path returns the file of a video's thumbnail at ms milliseconds, and
// whether it exists.
func (s *Store) Path(videoID string, ms int64) (string, bool) {
	if ms < 0 {
		return "", false
	}
	p := filepath.Join(s.videoDir(videoID), strconv.FormatInt(ms, 10)+".jpg")
	_, err := os.Stat(p)
	return p, err == nil
}

// Delete removes a video's thumbnails.
func (s *Store) Delete(videoID string) error {
	return os.RemoveAll(s.videoDir(videoID))
}
