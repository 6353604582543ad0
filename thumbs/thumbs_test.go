package thumbs

import (
	"os"
	"testing"
)

func TestReplaceAndPath(t *testing.T) {
	t.Parallel()
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	const id = "../odd/id with spaces"
	if err := s.Replace(id, map[int64][]byte{0: []byte("a"), 1000: []byte("b"), 2000: []byte("c")}); err != nil {
		t.Fatal(err)
	}
	if err := s.Replace(id, map[int64][]byte{0: []byte("new")}); err != nil {
		t.Fatal(err)
	}
	p, ok := s.Path(id, 0)
	if b, _ := os.ReadFile(p); !ok || string(b) != "new" {
		t.Errorf("thumbnail 0: %q %v", b, ok)
	}
	if _, ok := s.Path(id, 2000); ok {
		t.Error("a re-processed video must not keep its old thumbnails")
	}
	if _, ok := s.Path("other", 0); ok {
		t.Error("another video has no thumbnails")
	}
	if err := s.Delete(id); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Path(id, 0); ok {
		t.Error("deleted thumbnails remain")
	}
}
