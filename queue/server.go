package queue

import (
	"cmp"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// EmbeddedConfig configures the in-process NATS server of `mediavec up`.
type EmbeddedConfig struct {
	// StoreDir is where JetStream keeps its streams. Required.
	StoreDir string
	// Host to listen on for NATS clients. Defaults to DefaultHost.
	Host string
	// Port to listen on. Defaults to DefaultPort; -1 picks a free port.
	Port int
	// Token, when set, is the token every client must present (NATS
	// token authentication); ClientURL then carries it.
	Token string
}

// The defaults of EmbeddedConfig: NATS's own port, on this machine only.
const (
	DefaultHost = "127.0.0.1"
	DefaultPort = 4222
)

// Validate checks the configuration, naming the first bad field.
func (c EmbeddedConfig) Validate() error {
	switch {
	case c.StoreDir == "":
		return errors.New("embedded nats: StoreDir is required")
	case c.Port < -1 || c.Port > 65535:
		return fmt.Errorf("embedded nats: Port %d is not -1 (any) or 0..65535", c.Port)
	}
	return nil
}

// Embedded is a running in-process NATS server with JetStream.
type Embedded struct {
	srv   *server.Server
	token string
}

// StartEmbedded starts the server and waits until it accepts clients.
func StartEmbedded(cfg EmbeddedConfig) (*Embedded, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.Host = cmp.Or(cfg.Host, DefaultHost)
	cfg.Port = cmp.Or(cfg.Port, DefaultPort)
	opts := &server.Options{
		ServerName: "mediavec",
		Host:       cfg.Host,
		Port:       cfg.Port,
		JetStream:  true,
		StoreDir:   cfg.StoreDir,
		NoSigs:     true,
		NoLog:      true,
		// Work-queue messages must survive a crash of the process: sync
		// the store on every write rather than every two minutes.
		SyncAlways: true,
		// Without it, any process on the machine could submit jobs,
		// forge statuses, purge the DLQ and read every event.
		Authorization: cfg.Token,
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("embedded nats: %w", err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(15 * time.Second) {
		srv.Shutdown()
		return nil, fmt.Errorf("embedded nats: not ready on %s:%d within 15s (is the port in use?)", cfg.Host, cfg.Port)
	}
	return &Embedded{srv: srv, token: cfg.Token}, nil
}

// ClientURL is the URL clients connect to, with the token when there is
// one (nats://TOKEN@host:port).
func (e *Embedded) ClientURL() string {
	u := e.srv.ClientURL()
	if e.token == "" {
		return u
	}
	return strings.Replace(u, "nats://", "nats://"+url.User(e.token).String()+"@", 1)
}

// Shutdown stops the server and waits for it to finish.
func (e *Embedded) Shutdown() {
	e.srv.Shutdown()
	e.srv.WaitForShutdown()
}
