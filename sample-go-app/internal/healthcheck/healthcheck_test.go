package healthcheck

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func server(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL + "/health"
}

func TestCheckHealthy(t *testing.T) {
	url := server(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/health" || r.Method != http.MethodGet {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte(`{"status":"ok","version":"v","commit":"c"}`))
	})
	if err := Check(context.Background(), url, 2*time.Second); err != nil {
		t.Fatalf("Check: %v", err)
	}
}

func TestCheckUnhealthy(t *testing.T) {
	cases := map[string]http.HandlerFunc{
		"status 500": func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusInternalServerError)
			w.Write([]byte(`{"status":"ok"}`))
		},
		"not json": func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok")) },
		"status field not ok": func(w http.ResponseWriter, _ *http.Request) {
			w.Write([]byte(`{"status":"degraded"}`))
		},
	}
	for name, h := range cases {
		t.Run(name, func(t *testing.T) {
			if err := Check(context.Background(), server(t, h), 2*time.Second); err == nil {
				t.Fatal("Check returned nil, want an error")
			}
		})
	}
}

func TestCheckTimeout(t *testing.T) {
	release := make(chan struct{})
	url := server(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	start := time.Now()
	if err := Check(context.Background(), url, 100*time.Millisecond); err == nil {
		t.Fatal("Check returned nil for a hanging server")
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Check took %v, want about the 100ms timeout", d)
	}
}

func TestCheckNothingListening(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	if err := Check(context.Background(), "http://"+addr+"/health", time.Second); err == nil {
		t.Fatal("Check returned nil with nothing listening")
	}
}
