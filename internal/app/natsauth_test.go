package app

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"
)

// Each start of the embedded NATS makes a new token, leaves it for the
// CLI under one name for every way of writing this machine's address,
// and takes it away again when the stack stops; a token of an earlier
// start opens nothing.
func TestNATSTokenLifecycle(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	data := t.TempDir()
	cfg := Config{DataDir: data, NATSListen: "0.0.0.0:0", Workers: 0, NoThumbs: true, PublishNATSToken: true}
	s, err := Start(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	first, _ := os.ReadFile(filepath.Join(data, natsTokenFile))
	left := s.NATSTokenPath()
	if b, err := os.ReadFile(left); err != nil || string(b) != string(first) {
		t.Fatalf("token left for the CLI at %s: %v", left, err)
	}
	port := left[strings.LastIndex(left, "_")+1 : len(left)-len(".token")]
	for _, addr := range []string{"127.0.0.1:" + port, "localhost:" + port, "[::1]:" + port} {
		if p, _ := NATSTokenFile(addr); p != left {
			t.Errorf("%s looks for the token at %s, up left it at %s", addr, p, left)
		}
	}
	if strings.Contains(s.NATSURLRedacted(), strings.TrimSpace(string(first))) {
		t.Errorf("the redacted URL shows the token: %s", s.NATSURLRedacted())
	}
	s.Close()
	if _, err := os.Stat(left); !os.IsNotExist(err) {
		t.Errorf("the token left for the CLI outlives the server: %v", err)
	}

	cfg.NATSListen = "127.0.0.1:0"
	s, err = Start(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	second, _ := os.ReadFile(filepath.Join(data, natsTokenFile))
	if string(second) == string(first) {
		t.Fatal("the token did not change between starts")
	}
	u := strings.Replace(s.NATSURLRedacted(), "nats://", "nats://"+strings.TrimSpace(string(first))+"@", 1)
	if nc, err := nats.Connect(u); err == nil {
		nc.Close()
		t.Error("the previous start's token was accepted")
	}
}
