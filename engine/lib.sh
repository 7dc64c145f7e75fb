# shellcheck shell=bash disable=SC2034 # the variables are used by the scripts that source this
# Shared by engine/up.sh, engine/down.sh and engine/base-images.sh; sourced, never run.
#
# The engine is machine-wide: every clone of the repository finds the same state
# directory, pid files and sockets, so a second clone reuses a running engine.

ENGINE_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$ENGINE_SRC/.." && pwd)

# ORCH_ENGINE_NAME=b selects a second, independent engine (its own containerd, dockerd, socket,
# data root and bridge) that shares the registry, the base images and arm64 emulation with the
# first: the fan-out tests build one platform on each. Its env file is .engine/env-b.
ENGINE_NAME=${ORCH_ENGINE_NAME:-}
[[ -z $ENGINE_NAME || $ENGINE_NAME =~ ^[a-z0-9]+$ ]] ||
	{ printf 'engine: error: ORCH_ENGINE_NAME=%s: expected lower-case letters and digits\n' "$ENGINE_NAME" >&2 && exit 1; }
ENGINE_SUFFIX=${ENGINE_NAME:+-$ENGINE_NAME}
# ORCH_ENGINE_DIR moves the first engine only: `. .engine/env` exports the first engine's, and a
# `make engine-b` run in that shell must not take it for its own (it wrote an env-b naming the
# first engine's socket). The second engine's directory is ORCH_ENGINE_DIR_B.
if [[ -z $ENGINE_NAME ]]; then
	ENGINE_DIR=${ORCH_ENGINE_DIR:-/var/lib/orchestrator-engine}
else
	dir_var=ORCH_ENGINE_DIR_${ENGINE_NAME^^}
	ENGINE_DIR=${!dir_var:-/var/lib/orchestrator-engine$ENGINE_SUFFIX}
	unset dir_var
fi
ENV_FILE=$REPO_ROOT/.engine/env$ENGINE_SUFFIX
RUN_DIR=$ENGINE_DIR/run
LOG_DIR=$ENGINE_DIR/log
CONF_DIR=$ENGINE_DIR/config
CACHE_DIR=$ENGINE_DIR/cache
DOCKER_SOCK=$RUN_DIR/docker.sock
CONTAINERD_SOCK=$RUN_DIR/containerd/containerd.sock
DOCKERD_PIDFILE=$RUN_DIR/dockerd.pid
CONTAINERD_PIDFILE=$RUN_DIR/containerd.pid
REGISTRY_PIDFILE=$RUN_DIR/registry.pid
BRIDGE_RECORD=$RUN_DIR/bridge.created
# The registry only ever listens on loopback: dockerd and BuildKit treat
# 127.0.0.0/8 as plain-HTTP registries without any daemon configuration.
REGISTRY_URL=http://127.0.0.1:5000

# Our own docker calls must never reach a daemon the user runs, whatever the
# caller's environment says; DOCKER_CONTEXT would conflict with DOCKER_HOST.
export DOCKER_HOST=unix://$DOCKER_SOCK
unset DOCKER_CONTEXT

say() { printf 'engine: %s\n' "$*"; }
die() {
	printf 'engine: error: %s\n' "$*" >&2
	exit 1
}

need_root() {
	[[ $(id -u) -eq 0 ]] || die "$1 needs root (run: sudo bash $0)"
}

# Reads engine/images.env into IMG_<KEY> variables. The file is also read by
# Python, so it stays plain KEY=value; anything else is a mistake worth stopping on.
load_images_env() {
	local key value
	while IFS='=' read -r key value; do
		[[ -z $key || $key == '#'* ]] && continue
		[[ $key =~ ^[A-Z][A-Z0-9_]*$ && -n $value ]] ||
			die "engine/images.env: bad line '$key=$value' (expected KEY=value)"
		printf -v "IMG_$key" '%s' "$value"
	done <"$ENGINE_SRC/images.env"
}

# The pid in a pid file, if that process is alive and runs the expected program.
# Checking the program guards against a recycled pid after a reboot or crash.
live_pid() {
	local pidfile=$1 program=$2 pid exe
	[[ -r $pidfile ]] || return 1
	pid=$(<"$pidfile")
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || return 1
	[[ ${exe##*/} == "$program" ]] || return 1
	printf '%s\n' "$pid"
}

# wait_until SECONDS PID CMD...: polls CMD until it succeeds (0), the process PID
# dies (1; pass - to skip that check) or SECONDS pass (1).
wait_until() {
	local deadline=$((SECONDS + $1)) pid=$2
	shift 2
	while ((SECONDS < deadline)); do
		"$@" >/dev/null 2>&1 && return 0
		if [[ $pid != - ]] && ! kill -0 "$pid" 2>/dev/null; then
			return 1
		fi
		sleep 0.5
	done
	"$@" >/dev/null 2>&1
}

engine_version() {
	timeout 10 docker version --format '{{.Server.Version}}' 2>/dev/null
}

registry_answers() {
	curl -fsS --max-time 5 -o /dev/null "$REGISTRY_URL/v2/" 2>/dev/null
}

# Renders a template from engine/ into the state directory: @ENGINE_DIR@ is the
# only placeholder. Copies, so that the engine never depends on the clone that
# started it still existing.
render_config() {
	local name=$1
	mkdir -p "$CONF_DIR"
	sed "s|@ENGINE_DIR@|$ENGINE_DIR|g" "$ENGINE_SRC/$name" >"$CONF_DIR/$name.tmp"
	mv "$CONF_DIR/$name.tmp" "$CONF_DIR/$name"
}

show_log_tail() {
	local log=$1
	[[ -r $log ]] || return 0
	printf 'engine: last lines of %s:\n' "$log" >&2
	tail -n 25 "$log" | sed 's/^/  | /' >&2
}

# apt-get without prompts or service starts' noise; the output goes to a log that
# is shown only when apt fails.
apt_quiet() {
	mkdir -p "$LOG_DIR"
	if ! DEBIAN_FRONTEND=noninteractive apt-get -y -o Dpkg::Use-Pty=0 \
		-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
		"$@" >>"$LOG_DIR/apt.log" 2>&1; then
		show_log_tail "$LOG_DIR/apt.log"
		die "apt-get $1 failed (full log: $LOG_DIR/apt.log)"
	fi
}

# True when a configured apt source already names SUITE (e.g. trixie), so that we
# never add a duplicate of the system's own sources (apt warns on every run).
apt_has_suite() {
	local pattern="^(Suites:|deb[[:space:]]).*[[:space:]]$1([[:space:]]|\$)"
	grep -Eqs "$pattern" /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
		/etc/apt/sources.list.d/*.sources
}

# Adds a Debian suite as a deb822 source; returns 1 when it was already there.
add_debian_suite() {
	local suite=$1 file=/etc/apt/sources.list.d/orchestrator-$1.sources
	apt_has_suite "$suite" && return 1
	cat >"$file" <<SOURCES
# Added by the orchestrator's engine/ scripts.
Types: deb
URIs: ${ORCH_DEBIAN_MIRROR:-http://deb.debian.org/debian}
Suites: $suite
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
}
