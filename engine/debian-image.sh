#!/usr/bin/env bash
# Makes debian:bookworm (minbase, amd64 + arm64) offline except for Debian's mirror: mmdebstrap
# bootstraps each architecture's root (arm64 through qemu binfmt), ociimage.py writes both as
# one reproducible OCI index, skopeo pushes it to the local registry with its digests kept.
# Skipped when the registry already has it (made by the current recipe). Called by
# base-images.sh; `debian-image.sh digest` prints the digest it would push, pushing nothing.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=oci.sh
source "$(dirname "${BASH_SOURCE[0]}")/oci.sh"

ARCHES=(amd64 arm64)
# What mmdebstrap leaves that belongs to the machine that ran it, not to the image: the host's
# resolver and name (the container runtime provides both) and device nodes (so does /dev).
DROP=(etc/hostname etc/resolv.conf 'dev/*')

# mmdebstrap 1.3.5 from bookworm (not trixie's: the pin keeps trixie at priority 100);
# arch-test lets it check that qemu runs arm64; gpgv verifies the Release files.
ensure_tools() {
	command -v mmdebstrap >/dev/null && command -v arch-test >/dev/null &&
		command -v gpgv >/dev/null && return 0
	need_root "installing mmdebstrap"
	mkdir -p "$LOG_DIR"
	say "installing mmdebstrap arch-test gpgv"
	# The lists may be stale when up.sh had nothing to install: update once and retry.
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
		mmdebstrap arch-test gpgv >>"$LOG_DIR/apt.log" 2>&1 || {
		apt_quiet update
		apt_quiet install --no-install-recommends mmdebstrap arch-test gpgv
	}
}

# rootfs ARCH TARBALL: minbase of the suite. SOURCE_DATE_EPOCH makes mmdebstrap's own output
# reproducible (file times, no logs, fixed shadow dates); ociimage.py normalises the rest.
rootfs() {
	local arch=$1 out=$2
	local -a mirror=()
	[[ -n ${ORCH_DEBIAN_MIRROR:-} ]] && mirror=("$ORCH_DEBIAN_MIRROR")
	[[ -c /dev/null ]] || die "/dev/null is not a character device; mmdebstrap needs it"
	SOURCE_DATE_EPOCH=$IMG_BASE_EPOCH mmdebstrap --quiet --mode=root --variant=minbase \
		--architectures="$arch" "$IMG_DEBIAN_SUITE" "$out" "${mirror[@]}" \
		>>"$LOG_DIR/base-images.log" 2>&1 ||
		die "mmdebstrap $IMG_DEBIAN_SUITE for $arch failed (see $LOG_DIR/base-images.log)"
}

main() {
	load_images_env
	local image=$IMG_DEBIAN_IMAGE digest_only=${1:-} arch layout
	[[ $image == "$IMG_REGISTRY"/* ]] ||
		die "engine/images.env: DEBIAN_IMAGE must be in REGISTRY ($IMG_REGISTRY)"
	if [[ -z $digest_only ]] && registry_current "$image"; then
		return 0
	fi
	[[ -z $digest_only || $digest_only == digest ]] || die "usage: debian-image.sh [digest]"
	ensure_tools
	mkdir -p "$CACHE_DIR" "$LOG_DIR"
	WORK_DIR=$(mktemp -d "$CACHE_DIR/build.XXXXXX")
	trap 'rm -rf "$WORK_DIR"' EXIT
	say "building $image (${ARCHES[*]}) with mmdebstrap"
	local -a options=(--env=PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
		'--cmd=["bash"]' "--label=org.opencontainers.image.version=$IMG_DEBIAN_SUITE")
	for arch in "${ARCHES[@]}"; do
		rootfs "$arch" "$WORK_DIR/$arch.tar"
		options+=(--platform "linux/$arch=$WORK_DIR/$arch.tar")
	done
	options+=("${DROP[@]/#/--drop=}")
	layout=$WORK_DIR/debian.oci
	write_layout "$layout" "$image" "${options[@]}"
	if [[ -n $digest_only ]]; then
		python3 "$ENGINE_SRC/ociimage.py" "$layout" --digest
		return 0
	fi
	push_layout "$layout" "$image"
	run_check "$image" amd64 x86_64 uname -m
	run_check "$image" arm64 aarch64 uname -m
	say "pushed $image@$(registry_digest "$image")"
}

main "$@"
