package httpapi

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

var testInfo = Info{Version: "1.2.3", Commit: "abc1234", Greeting: "hello test"}

func do(t *testing.T, method, path string) *http.Response {
	t.Helper()
	rec := httptest.NewRecorder()
	NewHandler(testInfo).ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	return rec.Result()
}

func TestRoot(t *testing.T) {
	resp := do(t, http.MethodGet, "/")
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status = %d, want 200", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("Content-Type = %q, want text/plain", ct)
	}
	if got, want := string(body), testInfo.Greeting+"\n"; got != want {
		t.Errorf("body = %q, want %q", got, want)
	}
}

func TestHealth(t *testing.T) {
	resp := do(t, http.MethodGet, "/health")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status = %d, want 200", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	raw, _ := io.ReadAll(resp.Body)
	if got, want := string(raw), `{"status":"ok","version":"1.2.3","commit":"abc1234"}`+"\n"; got != want {
		t.Errorf("body = %q, want %q", got, want)
	}
	var h Health
	if err := json.Unmarshal(raw, &h); err != nil {
		t.Fatal(err)
	}
	if h != (Health{Status: "ok", Version: "1.2.3", Commit: "abc1234"}) {
		t.Errorf("decoded %+v", h)
	}
}

func TestHeadAllowed(t *testing.T) {
	for _, path := range []string{"/", "/health"} {
		if resp := do(t, http.MethodHead, path); resp.StatusCode != http.StatusOK {
			t.Errorf("HEAD %s: status = %d, want 200", path, resp.StatusCode)
		}
	}
}

func TestNotFoundAndMethodNotAllowed(t *testing.T) {
	cases := []struct {
		method, path string
		want         int
	}{
		{http.MethodGet, "/nope", http.StatusNotFound},
		{http.MethodGet, "/health/extra", http.StatusNotFound},
		{http.MethodPost, "/health", http.StatusMethodNotAllowed},
		{http.MethodDelete, "/", http.StatusMethodNotAllowed},
	}
	for _, c := range cases {
		if resp := do(t, c.method, c.path); resp.StatusCode != c.want {
			t.Errorf("%s %s: status = %d, want %d", c.method, c.path, resp.StatusCode, c.want)
		}
	}
}
