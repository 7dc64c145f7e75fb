#!/bin/sh
# watch.sh - live reload for the development image (POSIX sh, busybox ok).
#
# Polls the source tree once per interval; when the checksum of every .go file
# (and go.mod/go.sum) changes, rebuilds the server into /tmp and restarts it.
# A failed build keeps the previous server running. No network, no extra tools:
# only find, sort, md5sum and the Go toolchain.
#
#   watch.sh [package]        default package: ./cmd/server
#
# Environment: SRC_DIR (default /src), WATCH_INTERVAL (seconds, default 1),
# VERSION / GIT_COMMIT (stamped into the dev build, default dev / unknown).
set -u

pkg=${1:-./cmd/server}
src=${SRC_DIR:-/src}
interval=${WATCH_INTERVAL:-1}
bin=/tmp/app
pid=

log() { echo "[watch] $*"; }

cd "$src" || { log "cannot cd to $src (mount the source: docker run -v \"\$PWD:$src\" ...)"; exit 1; }
if [ ! -f go.mod ]; then
	log "no go.mod in $src: mount the module root there"
	exit 1
fi

checksum() {
	# Names and contents of all sources; one md5 line for the whole tree.
	find . \( -name '*.go' -o -name go.mod -o -name go.sum \) -type f 2>/dev/null |
		sort | xargs -r md5sum 2>/dev/null | md5sum
}

stop_server() {
	if [ -n "$pid" ]; then
		kill -TERM "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		pid=
	fi
}

build() {
	log "building $pkg"
	# -buildvcs=false: the image has no git; a mounted .git must not fail the build.
	if go build -buildvcs=false -o "$bin.new" \
		-ldflags "-X main.version=${VERSION:-dev} -X main.gitCommit=${GIT_COMMIT:-unknown}" "$pkg"; then
		mv -f "$bin.new" "$bin"
		return 0
	fi
	log "build failed; keeping the previous server (if any)"
	return 1
}

start_server() {
	stop_server
	"$bin" &
	pid=$!
	log "server started (pid $pid)"
}

# We are PID 1 in the container: forward SIGTERM/SIGINT to the server and
# exit promptly so `docker stop` does not wait for its SIGKILL timeout.
trap 'log "stopping"; stop_server; exit 0' TERM INT

last=$(checksum)
if build; then start_server; fi

while :; do
	# Sleep in the background and `wait`, so a trapped signal is handled at once.
	sleep "$interval" &
	wait $!
	now=$(checksum)
	if [ "$now" != "$last" ]; then
		last=$now
		log "change detected"
		if build; then start_server; fi
	fi
done
