// Package healthcheck implements the binary's -healthcheck mode: the
// production image is FROM scratch (no shell, wget or curl), so the
// container's HEALTHCHECK runs the server binary itself as the probe.
package healthcheck

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// Check GETs url and returns nil only for a 200 answer whose JSON body has
// "status":"ok", all within timeout.
func Check(ctx context.Context, url string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	// A private transport: no proxy from the environment, no keep-alive.
	client := &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %s", url, resp.Status)
	}
	var body struct {
		Status string `json:"status"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&body); err != nil {
		return fmt.Errorf("GET %s: decoding body: %w", url, err)
	}
	if body.Status != "ok" {
		return fmt.Errorf("GET %s: status field %q, want \"ok\"", url, body.Status)
	}
	return nil
}
