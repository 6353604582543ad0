package main

import (
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/mediavec/mediavec/internal/app"
)

// natsOptions are the flags that connect to an existing NATS server or
// cluster.
type natsOptions struct {
	url, creds, nkey, ca, cert, key, tokenFile *string
}

func natsConnFlags(fs *flag.FlagSet) natsOptions {
	return natsOptions{
		url:       natsFlag(fs),
		creds:     fs.String("nats-creds", "", "NATS credentials file (JWT and seed)"),
		nkey:      fs.String("nats-nkey", "", "NATS nkey seed file"),
		ca:        fs.String("nats-tls-ca", "", "CA bundle that signs the NATS servers' certificates (turns TLS on)"),
		cert:      fs.String("nats-tls-cert", "", "client certificate for NATS mutual TLS"),
		key:       fs.String("nats-tls-key", "", "client key for NATS mutual TLS"),
		tokenFile: fs.String("nats-token-file", "", "file holding the NATS token (env MEDIAVEC_NATS_TOKEN sets it directly; default: the token a `mediavec up` of this user left for its address)"),
	}
}

// connect dials NATS with the options given, reconnecting for ever: a
// NATS restart or a cluster failover pauses the worker, never ends it.
func (o natsOptions) connect(name string, log *slog.Logger) (*nats.Conn, error) {
	return o.dial(name,
		nats.MaxReconnects(-1), nats.ReconnectWait(500*time.Millisecond),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) { log.Warn("nats disconnected", "err", err) }),
		nats.ReconnectHandler(func(c *nats.Conn) { log.Info("nats reconnected", "url", redactURL(c.ConnectedUrl())) }))
}

// dial connects with the credentials, nkey and TLS options given.
func (o natsOptions) dial(name string, extra ...nats.Option) (*nats.Conn, error) {
	opts := append([]nats.Option{nats.Name(name)}, extra...)
	token, err := o.token()
	if err != nil {
		return nil, err
	}
	if token != "" {
		opts = append(opts, nats.Token(token))
	}
	if *o.creds != "" {
		opts = append(opts, nats.UserCredentials(*o.creds))
	}
	if *o.nkey != "" {
		opt, err := nats.NkeyOptionFromSeed(*o.nkey)
		if err != nil {
			return nil, fmt.Errorf("%w: nats nkey: %v", errUsage, err)
		}
		opts = append(opts, opt)
	}
	if *o.ca != "" || *o.cert != "" {
		cfg := &tls.Config{MinVersion: tls.VersionTLS12}
		if *o.ca != "" {
			pem, err := os.ReadFile(*o.ca)
			if err != nil {
				return nil, fmt.Errorf("%w: nats tls ca: %v", errUsage, err)
			}
			cfg.RootCAs = x509.NewCertPool()
			if !cfg.RootCAs.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("%w: nats tls ca %s holds no certificate", errUsage, *o.ca)
			}
		}
		if *o.cert != "" {
			pair, err := tls.LoadX509KeyPair(*o.cert, *o.key)
			if err != nil {
				return nil, fmt.Errorf("%w: nats tls client certificate: %v", errUsage, err)
			}
			cfg.Certificates = []tls.Certificate{pair}
		}
		opts = append(opts, nats.Secure(cfg))
	}
	nc, err := nats.Connect(*o.url, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to nats at %s: %w", redactURL(*o.url), err)
	}
	return nc, nil
}

// token is the NATS token to present: from --nats-token-file, from
// MEDIAVEC_NATS_TOKEN, or — for a URL without credentials when no other
// authentication is given — the one `mediavec up` left for that address
// (app.NATSTokenFile).
func (o natsOptions) token() (string, error) {
	if *o.tokenFile != "" || os.Getenv("MEDIAVEC_NATS_TOKEN") != "" {
		return secret(*o.tokenFile, "MEDIAVEC_NATS_TOKEN", "nats token")
	}
	if *o.creds != "" || *o.nkey != "" {
		return "", nil
	}
	first, _, _ := strings.Cut(*o.url, ",")
	if !strings.Contains(first, "://") {
		first = "nats://" + first // nats.go takes host:port alone too
	}
	u, err := url.Parse(first)
	if err != nil || u.User != nil || u.Host == "" {
		return "", nil
	}
	path, err := app.NATSTokenFile(u.Host)
	if err != nil {
		return "", nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", nil // none left: the server may need no token
	}
	return strings.TrimSpace(string(b)), nil
}

// redactURL hides the password of every user:password@ in a (comma
// separated) NATS URL, and a token (nats://TOKEN@host), for messages and
// logs.
func redactURL(u string) string {
	u = regexp.MustCompile(`//([^:/@,]+):[^@/,]*@`).ReplaceAllString(u, "//$1:xxxxx@")
	return regexp.MustCompile(`//[^:/@,]+@`).ReplaceAllString(u, "//xxxxx@")
}

func hostname() string {
	h, err := os.Hostname()
	if err != nil {
		return "worker"
	}
	return fmt.Sprintf("%s-%d", h, os.Getpid())
}

// plainNATS is the options of a URL without credentials or TLS.
func plainNATS(url string) natsOptions {
	empty := func() *string { s := ""; return &s }
	return natsOptions{url: &url, creds: empty(), nkey: empty(), ca: empty(), cert: empty(), key: empty(), tokenFile: empty()}
}
