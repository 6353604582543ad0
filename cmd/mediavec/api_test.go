package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mediavec/mediavec/index/qdranttest"
	"github.com/mediavec/mediavec/queue"
)

// syncBuffer is a bytes.Buffer safe for one writer and one reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// `mediavec api` serves a fleet's API from an existing NATS and Qdrant:
// submissions queue jobs for the workers, statuses come back, metrics and
// probes answer without the token, and the rest needs it.
func TestAPICommand(t *testing.T) {
	srv, err := queue.StartEmbedded(queue.EmbeddedConfig{StoreDir: t.TempDir(), Host: "127.0.0.1", Port: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	qaddr := qdranttest.Start(t)
	t.Setenv("MEDIAVEC_API_TOKEN", "tok")
	ctx, cancel := context.WithCancel(t.Context())
	var stdout, stderr syncBuffer
	done := make(chan int)
	go func() {
		done <- run(ctx, []string{"api", "--nats", srv.ClientURL(), "--qdrant", qaddr, "--http", "127.0.0.1:0", "--thumbs", t.TempDir()}, &stdout, &stderr)
	}()
	defer func() { cancel(); <-done }()
	var base string
	for deadline := time.Now().Add(time.Minute); base == "" && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if m := regexp.MustCompile(`on (http://[0-9.:]+)`).FindStringSubmatch(stdout.String()); m != nil {
			base = m[1]
		}
	}
	if base == "" {
		t.Fatalf("api did not start: %s", stderr.String())
	}
	get := func(path, token string) (int, string) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	if code, body := get("/metrics", ""); code != 200 || !strings.Contains(body, "go_goroutines") {
		t.Errorf("/metrics: %d", code)
	}
	if code, _ := get("/readyz", ""); code != 200 {
		t.Errorf("/readyz: %d", code)
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/videos", strings.NewReader(`{"video_id": "v1", "source": "/srv/v1.mp4"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer tok")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusAccepted {
		t.Fatalf("submit: %d", res.StatusCode)
	}
	if code, body := get("/v1/videos/v1", "tok"); code != 200 || !strings.Contains(body, `"queued"`) {
		t.Errorf("status: %d %s", code, body)
	}
	if code, _ := get("/v1/videos/v1", ""); code != http.StatusUnauthorized {
		t.Errorf("status without the token: %d", code)
	}
}
