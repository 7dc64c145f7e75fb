#!/usr/bin/env bash
# Stops what engine/up.sh started, and nothing else: by the recorded pids, never by
# process name, so a Docker the user runs is left alone. State (images, registry
# data, build cache, downloaded packages) stays for the next up.sh.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

gone() { ! kill -0 "$1" 2>/dev/null; }

# stop NAME PIDFILE PROGRAM SECONDS: SIGTERM, a bounded wait, SIGKILL as a last resort.
stop() {
	local name=$1 pidfile=$2 program=$3 timeout=$4 pid
	if ! pid=$(live_pid "$pidfile" "$program"); then
		rm -f "$pidfile"
		return 0
	fi
	say "stopping $name (pid $pid)"
	kill -TERM "$pid"
	if ! wait_until "$timeout" - gone "$pid"; then
		say "warning: $name (pid $pid) still running after $timeout s; killing it"
		kill -KILL "$pid" 2>/dev/null || true
		wait_until 10 - gone "$pid" || die "$name (pid $pid) survived SIGKILL"
	fi
	rm -f "$pidfile"
}

main() {
	need_root "stopping the engine"
	# dockerd first: it stops its containers (up to their stop timeouts) and needs
	# containerd to do so.
	stop dockerd "$DOCKERD_PIDFILE" dockerd 90
	stop containerd "$CONTAINERD_PIDFILE" containerd 30
	stop registry "$REGISTRY_PIDFILE" docker-registry 30
	# Only a bridge up.sh created, and only once dockerd is gone (its containers'
	# veths hang off it).
	if [[ -r $BRIDGE_RECORD ]]; then
		ip link delete "$(<"$BRIDGE_RECORD")" 2>/dev/null || true
		rm -f "$BRIDGE_RECORD"
	fi
	say "stopped"
}

main "$@"
