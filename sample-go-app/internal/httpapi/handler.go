// Package httpapi holds the HTTP handlers of sample-go-app.
package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// Info is what the handlers report about the running binary.
type Info struct {
	Version  string
	Commit   string
	Greeting string
}

// Health is the JSON body of GET /health.
type Health struct {
	Status  string `json:"status"`
	Version string `json:"version"`
	Commit  string `json:"commit"`
}

// NewHandler returns the service's routes:
//
//	GET /        200 text/plain greeting line
//	GET /health  200 application/json {"status":"ok","version":…,"commit":…}
//
// GET patterns also answer HEAD; other methods on these paths get 405,
// other paths 404 (Go 1.22+ ServeMux patterns).
func NewHandler(info Info) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, info.Greeting)
	})
	health, err := json.Marshal(Health{Status: "ok", Version: info.Version, Commit: info.Commit})
	if err != nil { // cannot happen for a struct of strings
		panic(err)
	}
	health = append(health, '\n')
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write(health)
	})
	return mux
}
