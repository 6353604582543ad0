package app

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/mediavec/mediavec/internal/fsutil"
)

// natsTokenFile is where `mediavec up` keeps its embedded NATS server's
// token, in the data folder, readable by its user alone.
const natsTokenFile = "nats.token"

// newNATSToken makes the token of this start of the embedded NATS server
// — 32 random bytes, hex — and writes it to DataDir/nats.token, a fresh
// 0600 file (written beside and renamed, so an old file's looser mode
// cannot carry over).
// A new token each start means one that leaked (a copy left by a killed
// process, sent by a client to whoever held the port while up was down)
// opens nothing later.
func newNATSToken(dataDir string) (string, error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	token := hex.EncodeToString(raw)
	if err := fsutil.WriteFileAtomic(filepath.Join(dataDir, natsTokenFile), []byte(token+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("nats token: %w", err)
	}
	return token, nil
}

// NATSTokenFile is where a `mediavec up` listening on hostport leaves its
// NATS token for the CLI of the same user (in the user's configuration
// folder, 0600 in a 0700 folder), so every command finds it without
// flags, whatever --data it was started with.
func NATSTokenFile(hostport string) (string, error) {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return "", err
	}
	// One name for this machine, however the server or the client wrote
	// it: 0.0.0.0, ::, localhost and ::1 all reach 127.0.0.1.
	if ip := net.ParseIP(host); host == "localhost" || ip != nil && (ip.IsLoopback() || ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", err
	}
	name := strings.NewReplacer(":", "_", "/", "_").Replace(host) + "_" + port + ".token"
	return filepath.Join(dir, "mediavec", "nats", name), nil
}

// publishNATSToken writes the token where NATSTokenFile says.
func publishNATSToken(hostport, token string) (string, error) {
	path, err := NATSTokenFile(hostport)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", err
	}
	return path, fsutil.WriteFileAtomic(path, []byte(token+"\n"), 0o600)
}
