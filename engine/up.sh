#!/usr/bin/env bash
# Brings up the orchestrator's own engine: Docker Engine 26 (+ buildx, containerd
# image store) on a private socket, a local registry, arm64 emulation and the
# offline base images; then writes .engine/env for this clone. Idempotent: what is
# already installed or running is reused, so a second run takes seconds.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Bookworm's docker.io is 20.10: no buildx, no containerd image store. These four
# from trixie run on bookworm's libc; runc stays bookworm's (trixie's needs a newer libc).
TRIXIE_PACKAGES=(docker.io/trixie docker-cli/trixie docker-buildx/trixie containerd/trixie)
BOOKWORM_PACKAGES=(docker-registry qemu-user-static binfmt-support skopeo iproute2 curl ca-certificates openssh-client)
# Our own bridge: docker0 belongs to any Docker the user runs.
# The second engine (ORCH_ENGINE_NAME=b) gets a bridge and subnet of its own.
if [[ -n $ENGINE_NAME ]]; then
	BRIDGE=${ORCH_BRIDGE:-orch-$ENGINE_NAME}
	BRIDGE_ADDR=${ORCH_BRIDGE_ADDR:-172.31.252.1/24}
else
	BRIDGE=${ORCH_BRIDGE:-orch0}
	BRIDGE_ADDR=${ORCH_BRIDGE_ADDR:-172.31.251.1/24}
fi
BINFMT_DIR=/proc/sys/fs/binfmt_misc
POLICY_RC_D=/usr/sbin/policy-rc.d
POLICY_RC_D_SAVED=/usr/sbin/policy-rc.d.orchestrator-saved
POLICY_RC_D_MARK='written by the orchestrator engine/up.sh'

# One up.sh at a time per machine: two would race to start the same daemons.
take_lock() {
	[[ $(id -u) -eq 0 ]] || return 0 # nothing can be started without root anyway
	mkdir -p "$RUN_DIR"
	exec 9>"$RUN_DIR/up.lock"
	flock -w 900 9 || die "another engine/up.sh has held $RUN_DIR/up.lock for 15 minutes"
}

pkg_installed() {
	[[ $(dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null) == ii* ]]
}

# Decided by what the binaries say, not by a marker file: a machine may carry an
# older docker.io, or a package may have been removed since the last run.
docker_engine_installed() {
	local version program
	version=$(dockerd --version 2>/dev/null) || return 1 # "Docker version 26.1.5+dfsg1, build …"
	[[ $version =~ ^Docker\ version\ ([0-9]+)\. ]] && ((BASH_REMATCH[1] >= 26)) || return 1
	for program in containerd ctr runc; do
		command -v "$program" >/dev/null || return 1
	done
	docker buildx version >/dev/null 2>&1
}

# A leftover of an up.sh killed mid-install would block every service start for good.
restore_policy_rc_d() {
	if [[ -e $POLICY_RC_D ]] && grep -qs "$POLICY_RC_D_MARK" "$POLICY_RC_D"; then
		rm -f "$POLICY_RC_D"
	fi
	if [[ -e $POLICY_RC_D_SAVED && ! -e $POLICY_RC_D ]]; then
		mv "$POLICY_RC_D_SAVED" "$POLICY_RC_D"
	fi
}

# Package scripts would start docker.io's and docker-registry's own services on the
# default socket and port; policy-rc.d exit 101 forbids that, only while installing.
install_without_starting_services() (
	trap restore_policy_rc_d EXIT
	trap 'exit 130' INT TERM
	restore_policy_rc_d
	if [[ -e $POLICY_RC_D ]]; then
		mv "$POLICY_RC_D" "$POLICY_RC_D_SAVED"
	fi
	printf '#!/bin/sh\n# %s while it installs packages\nexit 101\n' "$POLICY_RC_D_MARK" >"$POLICY_RC_D"
	chmod 755 "$POLICY_RC_D"
	apt_quiet install --no-install-recommends "$@"
)

pin_trixie_low() {
	cat >/etc/apt/preferences.d/orchestrator-trixie <<'PIN'
# Added by the orchestrator's engine/up.sh: trixie only for packages asked for by
# name (docker.io/trixie …), never as an upgrade of bookworm's own packages.
Package: *
Pin: release n=trixie
Pin-Priority: 100
PIN
}

# The plan is captured before grep reads it: with pipefail, `apt-get | grep -q` can
# fail on SIGPIPE exactly when grep finds a match early.
refuse_libc_upgrade() {
	local plan
	plan=$(apt-get -s install --no-install-recommends "$@" 2>&1) ||
		die "apt cannot install $*: ${plan##*$'\n'}"
	if grep -q '^Inst libc6 ' <<<"$plan"; then
		die "installing $* would upgrade libc6; refusing (check the apt pins for trixie)"
	fi
}

install_packages() {
	local -a missing=()
	local package
	docker_engine_installed || missing+=("${TRIXIE_PACKAGES[@]}")
	for package in "${BOOKWORM_PACKAGES[@]}"; do
		pkg_installed "$package" || missing+=("$package")
	done
	# busybox-static Conflicts: busybox; never remove a busybox the system relies on.
	pkg_installed busybox || pkg_installed busybox-static || missing+=(busybox-static)
	((${#missing[@]})) || return 0

	need_root "installing packages"
	say "installing packages: ${missing[*]}"
	if [[ ${missing[0]} == */trixie ]]; then
		add_debian_suite trixie || true
		pin_trixie_low
	fi
	apt_quiet update
	refuse_libc_upgrade "${missing[@]}"
	install_without_starting_services "${missing[@]}"
	docker_engine_installed || die "Docker Engine >= 26 with buildx is still missing after the install (see $LOG_DIR/apt.log)"
}

# dockerd's network flag. Without a bridge of our own, `docker run -p
# 127.0.0.1:PORT:…` could not reach a container.
network_flag() {
	if ensure_bridge 2>>"$LOG_DIR/dockerd.log"; then
		printf '%s\n' "--bridge=$BRIDGE"
	elif ! ip link show docker0 >/dev/null 2>&1; then
		# No user daemon owns docker0: let dockerd create it, on our subnet.
		say "warning: could not create bridge $BRIDGE; dockerd will create docker0 ($BRIDGE_ADDR)" >&2
		printf '%s\n' "--bip=$BRIDGE_ADDR"
	else
		die "cannot create bridge $BRIDGE and docker0 belongs to another daemon (see $LOG_DIR/dockerd.log)"
	fi
}

ensure_bridge() {
	if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
		ip link add "$BRIDGE" type bridge || return 1
		printf '%s\n' "$BRIDGE" >"$BRIDGE_RECORD" # for down.sh
	fi
	if [[ $(ip -4 addr show dev "$BRIDGE") != *"inet $BRIDGE_ADDR "* ]]; then
		ip addr add "$BRIDGE_ADDR" dev "$BRIDGE" || return 1
	fi
	ip link set "$BRIDGE" up
}

# await_start NAME PID LOG SECONDS CHECK...: waits for CHECK to pass; otherwise shows
# the log's tail and stops with one line saying whether NAME exited or hangs.
await_start() {
	local name=$1 pid=$2 log=$3 seconds=$4
	shift 4
	wait_until "$seconds" "$pid" "$@" && return 0
	show_log_tail "$log"
	if kill -0 "$pid" 2>/dev/null; then
		die "$name (pid $pid) did not answer within $seconds s (log: $log)"
	fi
	die "$name exited during start-up (log: $log)"
}

containerd_answers() {
	timeout 10 ctr --address "$CONTAINERD_SOCK" version
}

start_containerd() {
	local pid
	if pid=$(live_pid "$CONTAINERD_PIDFILE" containerd); then
		await_start containerd "$pid" "$LOG_DIR/containerd.log" 30 containerd_answers
		return 0
	fi
	render_config containerd.toml
	mkdir -p "$RUN_DIR/containerd" "$LOG_DIR"
	# setsid: the daemons must outlive the shell (and session) that started them;
	# 9>&- keeps them from holding up.sh's lock forever.
	setsid containerd --config "$CONF_DIR/containerd.toml" \
		</dev/null >>"$LOG_DIR/containerd.log" 2>&1 9>&- &
	pid=$!
	printf '%s\n' "$pid" >"$CONTAINERD_PIDFILE"
	await_start containerd "$pid" "$LOG_DIR/containerd.log" 30 containerd_answers
}

start_dockerd() {
	local pid version net
	if version=$(engine_version); then
		say "dockerd already running ($version)"
		return 0
	fi
	if pid=$(live_pid "$DOCKERD_PIDFILE" dockerd); then
		# Alive but silent: most likely still starting, e.g. from a concurrent up.sh.
		await_start dockerd "$pid" "$LOG_DIR/dockerd.log" 60 engine_version
		say "dockerd already running ($(engine_version))"
		return 0
	fi

	need_root "starting dockerd"
	((${#DOCKER_SOCK} < 100)) || die "socket path $DOCKER_SOCK is too long for a unix socket; use a shorter ORCH_ENGINE_DIR"
	mkdir -p "$RUN_DIR/exec" "$ENGINE_DIR/docker" "$LOG_DIR"
	start_containerd
	net=$(network_flag)
	render_config daemon.json
	# Not a live dockerd (checked above), but dockerd refuses to start while any
	# process has that pid, e.g. a killed dockerd not yet reaped.
	rm -f "$DOCKERD_PIDFILE"
	setsid dockerd --config-file "$CONF_DIR/daemon.json" \
		--data-root "$ENGINE_DIR/docker" --exec-root "$RUN_DIR/exec" \
		--pidfile "$DOCKERD_PIDFILE" -H "unix://$DOCKER_SOCK" \
		--containerd "$CONTAINERD_SOCK" "$net" \
		</dev/null >>"$LOG_DIR/dockerd.log" 2>&1 9>&- &
	pid=$!
	await_start dockerd "$pid" "$LOG_DIR/dockerd.log" 60 engine_version
	say "dockerd ready ($(engine_version))"
}

start_registry() {
	local pid
	if registry_answers; then
		say "registry ready on ${REGISTRY_URL#http://} (already running)"
		return 0
	fi
	if pid=$(live_pid "$REGISTRY_PIDFILE" docker-registry); then
		await_start registry "$pid" "$LOG_DIR/registry.log" 30 registry_answers
		say "registry ready on ${REGISTRY_URL#http://} (already running)"
		return 0
	fi

	need_root "starting the registry"
	render_config registry.yml
	mkdir -p "$ENGINE_DIR/registry" "$LOG_DIR"
	# env -i: distribution reads REGISTRY_* variables as config overrides.
	setsid env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
		docker-registry serve "$CONF_DIR/registry.yml" \
		</dev/null >>"$LOG_DIR/registry.log" 2>&1 9>&- &
	pid=$!
	printf '%s\n' "$pid" >"$REGISTRY_PIDFILE"
	await_start registry "$pid" "$LOG_DIR/registry.log" 30 registry_answers
	say "registry ready on ${REGISTRY_URL#http://}"
}

# The F flag makes the kernel open the interpreter once, at registration, so that
# arm64 binaries also run inside containers that have no qemu of their own.
arm64_enabled() {
	local entry=$BINFMT_DIR/qemu-aarch64
	[[ -r $entry && $(head -n 1 "$entry") == enabled ]] && grep -q '^flags: .*F' "$entry"
}

enable_arm64() {
	local entry=$BINFMT_DIR/qemu-aarch64
	if ! arm64_enabled; then
		need_root "enabling arm64 emulation"
		mountpoint -q "$BINFMT_DIR" || mount -t binfmt_misc binfmt_misc "$BINFMT_DIR"
		if [[ -e $entry ]] && ! grep -q '^flags: .*F' "$entry"; then
			# Registered by something else without F: useless in containers, replace it.
			echo -1 >"$entry"
		fi
		update-binfmts --enable qemu-aarch64 2>/dev/null ||
			{ update-binfmts --import qemu-aarch64 && update-binfmts --enable qemu-aarch64; }
		arm64_enabled || die "qemu-aarch64 is not enabled with the F flag in $BINFMT_DIR"
	fi
	say "arm64 emulation enabled"
}

# Rewritten only when its content changes, so a second up.sh touches nothing.
write_env() {
	local file=$ENV_FILE content bin=$REPO_ROOT/.engine/bin
	# The engine's own CLI (Debian's docker-cli, same release as dockerd) comes first on PATH:
	# these machines ship another docker CLI in /usr/local/bin, ahead of /usr/bin.
	mkdir -p "$bin"
	ln -sfn /usr/bin/docker "$bin/docker"
	content=$(
		printf '# Written by engine/up.sh; load with: . %s\n' "${file#"$REPO_ROOT"/}"
		printf 'export DOCKER_HOST=%q\n' "$DOCKER_HOST"
		# Each engine's own variable (lib.sh): sourcing env-b must not move the first engine.
		printf 'export ORCH_ENGINE_DIR%s=%q\n' "${ENGINE_NAME:+_${ENGINE_NAME^^}}" "$ENGINE_DIR"
		printf 'export ORCH_REGISTRY=%q\n' "$IMG_REGISTRY"
		printf 'case ":$PATH:" in *:%s:*) ;; *) export PATH=%q:"$PATH" ;; esac\n' "$bin" "$bin"
		cat "$ENGINE_DIR/cosign/env" 2>/dev/null || true # written by cosign.sh: the dev key
	)
	if [[ -f $file && $(<"$file") == "$content" ]]; then
		return 0
	fi
	mkdir -p "${file%/*}"
	(umask 077 && printf "%s\n" "$content" >"$file.tmp") # it holds the dev key password
	mv "$file.tmp" "$file"
	say "wrote $file"
}

main() {
	load_images_env
	take_lock
	install_packages
	start_dockerd
	start_registry
	enable_arm64
	bash "$ENGINE_SRC/base-images.sh"
	bash "$ENGINE_SRC/cosign.sh"  # cosign + the demo's development key pair
	bash "$ENGINE_SRC/scanner.sh" # the offline SBOM scanner image
	write_env
	say "up in ${SECONDS} s"
}

main "$@"
