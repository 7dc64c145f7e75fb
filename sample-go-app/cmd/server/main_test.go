package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"example.com/sample-go-app/internal/httpapi"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func runArgs(t *testing.T, getenv func(string) string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb, getenv)
	return code, out.String(), errb.String()
}

func TestVersionFlag(t *testing.T) {
	oldV, oldC := version, gitCommit
	version, gitCommit = "1.2.3", "abc1234"
	t.Cleanup(func() { version, gitCommit = oldV, oldC })

	for _, flag := range []string{"--version", "-version"} {
		code, out, _ := runArgs(t, env(nil), flag)
		if code != 0 {
			t.Errorf("%s: exit %d, want 0", flag, code)
		}
		if want := "sample-go-app 1.2.3 (commit abc1234)\n"; out != want {
			t.Errorf("%s: output %q, want %q", flag, out, want)
		}
	}
}

func TestDefaultsWithoutLdflags(t *testing.T) {
	if version != "dev" || gitCommit != "unknown" {
		t.Errorf("version=%q gitCommit=%q, want dev/unknown", version, gitCommit)
	}
}

func TestBadArguments(t *testing.T) {
	if code, _, _ := runArgs(t, env(nil), "--no-such-flag"); code != 2 {
		t.Errorf("unknown flag: exit %d, want 2", code)
	}
	if code, _, _ := runArgs(t, env(nil), "serve"); code != 2 {
		t.Errorf("stray argument: exit %d, want 2", code)
	}
	if code, _, _ := runArgs(t, env(map[string]string{"PORT": "http"}), "-healthcheck"); code != 2 {
		t.Errorf("invalid PORT: exit %d, want 2", code)
	}
}

func TestPortFromEnv(t *testing.T) {
	if p, err := portFromEnv(env(nil)); err != nil || p != "8080" {
		t.Errorf("default: %q, %v", p, err)
	}
	if p, err := portFromEnv(env(map[string]string{"PORT": "9090"})); err != nil || p != "9090" {
		t.Errorf("PORT=9090: %q, %v", p, err)
	}
	for _, bad := range []string{"x", "-1", "70000"} {
		if _, err := portFromEnv(env(map[string]string{"PORT": bad})); err == nil {
			t.Errorf("PORT=%q accepted", bad)
		}
	}
}

// portOf returns the port of an httptest server bound to 127.0.0.1.
func portOf(t *testing.T, srv *httptest.Server) string {
	t.Helper()
	_, port, err := net.SplitHostPort(srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	return port
}

func TestHealthcheckModeHealthy(t *testing.T) {
	srv := httptest.NewServer(httpapi.NewHandler(httpapi.Info{Version: "v", Commit: "c", Greeting: greeting}))
	defer srv.Close()
	code, out, errs := runArgs(t, env(map[string]string{"PORT": portOf(t, srv)}), "-healthcheck")
	if code != 0 {
		t.Fatalf("exit %d, want 0 (stderr %q)", code, errs)
	}
	if out != "healthy\n" {
		t.Errorf("stdout %q", out)
	}
}

func TestHealthcheckModeUnhealthy(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	code, _, errs := runArgs(t, env(map[string]string{"PORT": portOf(t, srv)}), "-healthcheck")
	if code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	if !strings.Contains(errs, "unhealthy") {
		t.Errorf("stderr %q, want it to mention unhealthy", errs)
	}
}

func TestHealthcheckModeNothingListening(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	port := portOf(t, srv)
	srv.Close()
	if code, _, _ := runArgs(t, env(map[string]string{"PORT": port}), "-healthcheck"); code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
}

// TestServeGracefulShutdown starts the real server loop, checks both routes
// over TCP, then cancels the context (what SIGTERM does in main) and expects
// serve to return promptly.
func TestServeGracefulShutdown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil)) // read only after serve returns
	handler := httpapi.NewHandler(httpapi.Info{Version: version, Commit: gitCommit, Greeting: greeting})
	done := make(chan error, 1)
	go func() { done <- serve(ctx, ln, handler, logger) }()

	base := "http://" + ln.Addr().String()
	for path, want := range map[string]string{"/": greeting, "/health": `"status":"ok"`} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), want) {
			t.Errorf("GET %s: %d %q, want 200 containing %q", path, resp.StatusCode, body, want)
		}
	}

	start := time.Now()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve returned %v, want nil", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("serve did not return within 2s of cancellation")
	}
	if d := time.Since(start); d > shutdownTimeout+500*time.Millisecond {
		t.Errorf("shutdown took %v", d)
	}
	if _, err := http.Get(base + "/health"); err == nil {
		t.Error("server still answering after shutdown")
	}
	for _, msg := range []string{"listening", "shutting down", "stopped"} {
		if !strings.Contains(logs.String(), msg) {
			t.Errorf("log lacks %q:\n%s", msg, logs.String())
		}
	}
}
