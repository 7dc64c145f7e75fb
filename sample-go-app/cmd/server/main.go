// Command server is sample-go-app: a small HTTP service (standard library
// only) used as the example project of the BuildKit-aware build orchestrator.
//
// Usage:
//
//	server                 serve on :$PORT (default 8080) until SIGTERM/SIGINT
//	server --version       print "sample-go-app <version> (commit <commit>)"
//	server -healthcheck    GET http://127.0.0.1:$PORT/health, exit 0 if healthy, else 1
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"example.com/sample-go-app/internal/healthcheck"
	"example.com/sample-go-app/internal/httpapi"
)

// Set at build time: go build -ldflags "-X main.version=… -X main.gitCommit=…".
var (
	version   = "dev"
	gitCommit = "unknown"
)

const (
	appName            = "sample-go-app"
	defaultPort        = "8080"
	healthcheckTimeout = 2 * time.Second
	// Well under the 2 s budget between SIGTERM and exit; docker stop's
	// default grace period (10 s) is never reached.
	shutdownTimeout   = 1500 * time.Millisecond
	readHeaderTimeout = 5 * time.Second
	idleTimeout       = 60 * time.Second
)

func main() {
	// Exec-form ENTRYPOINT makes this process PID 1, so SIGTERM from
	// `docker stop` arrives here directly.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

func versionLine() string {
	return fmt.Sprintf("%s %s (commit %s)", appName, version, gitCommit)
}

// run is main without the process globals, so tests can drive it.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	fs := flag.NewFlagSet(appName, flag.ContinueOnError)
	fs.SetOutput(stderr)
	showVersion := fs.Bool("version", false, "print the version and exit")
	probe := fs.Bool("healthcheck", false, "GET http://127.0.0.1:$PORT/health (2 s timeout); exit 0 if healthy, 1 if not")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "%s: unexpected arguments: %q\n", appName, fs.Args())
		return 2
	}
	if *showVersion {
		fmt.Fprintln(stdout, versionLine())
		return 0
	}

	port, err := portFromEnv(getenv)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", appName, err)
		return 2
	}

	if *probe {
		url := "http://" + net.JoinHostPort("127.0.0.1", port) + "/health"
		if err := healthcheck.Check(ctx, url, healthcheckTimeout); err != nil {
			fmt.Fprintf(stderr, "unhealthy: %v\n", err)
			return 1
		}
		fmt.Fprintln(stdout, "healthy")
		return 0
	}

	logger := slog.New(slog.NewTextHandler(stdout, nil))
	ln, err := net.Listen("tcp", ":"+port)
	if err != nil {
		logger.Error("listen failed", "err", err)
		return 1
	}
	handler := httpapi.NewHandler(httpapi.Info{Version: version, Commit: gitCommit, Greeting: greeting})
	if err := serve(ctx, ln, handler, logger); err != nil {
		logger.Error("server failed", "err", err)
		return 1
	}
	return 0
}

// portFromEnv reads PORT (default 8080) and checks it is a TCP port number.
func portFromEnv(getenv func(string) string) (string, error) {
	port := getenv("PORT")
	if port == "" {
		return defaultPort, nil
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 {
		return "", fmt.Errorf("invalid PORT %q", port)
	}
	return port, nil
}

// serve answers on ln until ctx is done, then shuts down gracefully: stop
// accepting, let in-flight requests finish for at most shutdownTimeout, then
// close whatever is left.
func serve(ctx context.Context, ln net.Listener, handler http.Handler, logger *slog.Logger) error {
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleTimeout,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelError),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	logger.Info("listening", "addr", ln.Addr().String(), "version", version, "commit", gitCommit)

	select {
	case err := <-errc:
		return err // Serve never returns nil
	case <-ctx.Done():
	}

	logger.Info("shutting down", "timeout", shutdownTimeout.String())
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		logger.Warn("graceful shutdown incomplete, closing connections", "err", err)
		_ = srv.Close()
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	logger.Info("stopped")
	return nil
}
