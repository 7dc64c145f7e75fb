#!/usr/bin/env bash
# Installs cosign (from trixie, like the engine) and writes the development key pair the demo
# signs with. Idempotent and offline after the first run: an installed cosign and an existing
# key pair are kept. engine/up.sh runs this; it writes $ENGINE_DIR/cosign/env, which up.sh
# copies into .engine/env.
#
# The key pair is for the demo only: its password is generated here and kept beside it (0600)
# in the machine-wide state directory, never in the repository. Real releases use their own
# key (signing.key / key-env in builds.yaml) or keyless signing in CI (see docs/SECURITY.md).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

KEY_DIR=$ENGINE_DIR/cosign

# Debian's build reports `gitVersion: devel`: ask for the flag offline signing needs instead.
cosign_ok() {
	command -v cosign >/dev/null && cosign sign --help 2>/dev/null | grep -q -- '--tlog-upload'
}

install_cosign() {
	cosign_ok && return 0
	need_root "installing cosign"
	say "installing cosign/trixie"
	# The same low pin as the engine packages: only what is asked for by name comes from trixie.
	add_debian_suite trixie || true
	[[ -e /etc/apt/preferences.d/orchestrator-trixie ]] ||
		die "no apt pin for trixie; run engine/up.sh (it writes /etc/apt/preferences.d/orchestrator-trixie)"
	local plan
	apt_quiet update
	plan=$(apt-get -s install --no-install-recommends cosign/trixie 2>&1) ||
		die "apt cannot install cosign/trixie: ${plan##*$'\n'}"
	if grep -q '^Inst libc6 ' <<<"$plan"; then
		die "installing cosign/trixie would upgrade libc6; refusing (check the apt pins for trixie)"
	fi
	apt_quiet install --no-install-recommends cosign/trixie
	cosign_ok || die "cosign with --tlog-upload (2.x) is still missing after the install (see $LOG_DIR/apt.log)"
}

write_key_pair() {
	if [[ ! -s $KEY_DIR/dev.key || ! -s $KEY_DIR/dev.pub || ! -s $KEY_DIR/dev.password ]]; then
		need_root "writing the development key pair"
		mkdir -p "$KEY_DIR"
		chmod 700 "$KEY_DIR"
		rm -f "$KEY_DIR/dev.key" "$KEY_DIR/dev.pub"
		(umask 077 && head -c 24 /dev/urandom | base64 | tr -d '/+=' >"$KEY_DIR/dev.password")
		# cosign writes cosign.key/cosign.pub into the current directory.
		(cd "$KEY_DIR" && COSIGN_PASSWORD=$(<dev.password) cosign generate-key-pair \
			>>"$LOG_DIR/cosign.log" 2>&1) || die "cosign generate-key-pair failed (see $LOG_DIR/cosign.log)"
		mv "$KEY_DIR/cosign.key" "$KEY_DIR/dev.key"
		mv "$KEY_DIR/cosign.pub" "$KEY_DIR/dev.pub"
		chmod 600 "$KEY_DIR/dev.key"
		chmod 644 "$KEY_DIR/dev.pub"
		say "wrote the development key pair $KEY_DIR/dev.key, dev.pub"
	fi
	local content
	content=$(
		printf 'export ORCH_COSIGN_KEY=%q\n' "$KEY_DIR/dev.key"
		printf 'export ORCH_COSIGN_PUB=%q\n' "$KEY_DIR/dev.pub"
		printf 'export ORCH_COSIGN_PASSWORD=%q\n' "$(<"$KEY_DIR/dev.password")"
	)
	if [[ ! -f $KEY_DIR/env || $(<"$KEY_DIR/env") != "$content" ]]; then
		(umask 077 && printf '%s\n' "$content" >"$KEY_DIR/env")
	fi
}

main() {
	mkdir -p "$LOG_DIR"
	install_cosign
	write_key_pair
	say "cosign $(dpkg-query -W -f='${Version}' cosign 2>/dev/null || echo '?') ready, dev key $KEY_DIR/dev.pub"
}

main "$@"
