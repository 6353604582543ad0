package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/mediavec/mediavec/internal/app"
)

// runHealth checks a running process's health endpoint: the container
// image's HEALTHCHECK (the image has no curl).
func runHealth(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("health", "health [--url URL]", stderr)
	url := fs.String("url", "http://"+app.DefaultMetricsAddr+"/healthz", "health endpoint: a worker's metrics address, or an api's http://127.0.0.1:8080/healthz")
	timeout := fs.Duration("timeout", 3*time.Second, "give up after this long")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, *url, nil)
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("unhealthy: %w", err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("unhealthy: %s answered %s", *url, res.Status)
	}
	fmt.Fprintln(stdout, "healthy")
	return nil
}
