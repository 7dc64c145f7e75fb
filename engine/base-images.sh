#!/usr/bin/env bash
# Makes the base images the project's Dockerfiles start FROM, offline: nothing can
# be pulled from Docker Hub here, so each image is assembled from Debian packages into
# one reproducible multi-arch OCI index (ociimage.py) and pushed to the local registry.
# An image whose index (of the current recipe) is already in the registry is skipped. Needs the engine up
# (engine/up.sh calls this) and arm64 emulation enabled.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=oci.sh
source "$(dirname "${BASH_SOURCE[0]}")/oci.sh"

# Each base image is an index of linux/<arch> for these; run_check knows both.
ARCHES=(amd64 arm64)
DEB_DIR=$CACHE_DIR/debs
BASE_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

# Path of the cached .deb for an apt spec like name:arch/release (arch and
# release optional; without an arch, any, which is how Architecture: all ends up).
cached_deb() {
	local spec=${1%/*} name arch
	name=${spec%%:*}
	arch='*'
	[[ $spec == *:* ]] && arch=${spec#*:}
	local -a found
	mapfile -t found < <(compgen -G "$DEB_DIR/${name}_*_${arch}.deb")
	((${#found[@]})) && printf '%s\n' "${found[0]}"
}

# golang-1.23 is in bookworm-backports; the arm64 halves need arm64 package lists.
prepare_apt() {
	local changed=false
	if add_debian_suite bookworm-backports; then
		changed=true
	fi
	if ! grep -qx arm64 < <(dpkg --print-foreign-architectures); then
		dpkg --add-architecture arm64
		changed=true
	fi
	if [[ $changed == true ]]; then
		apt_quiet update
	fi
}

# Downloads (never installs) the packages that are not cached yet. The first try
# uses the current lists; a failure usually means stale lists, so update once.
fetch_debs() {
	local -a missing=()
	local spec
	for spec in "$@"; do
		cached_deb "$spec" >/dev/null || missing+=("$spec")
	done
	((${#missing[@]})) || return 0
	need_root "downloading packages for the base images"
	say "downloading ${missing[*]}"
	prepare_apt
	mkdir -p "$DEB_DIR"
	# apt's _apt user could not write into the root-owned cache directory.
	if ! (cd "$DEB_DIR" && apt-get download -o APT::Sandbox::User=root "${missing[@]}" >>"$LOG_DIR/apt.log" 2>&1); then
		apt_quiet update
		(cd "$DEB_DIR" && apt_quiet download -o APT::Sandbox::User=root "${missing[@]}")
	fi
}

unpack() {
	local root=$1 spec deb
	shift
	for spec in "$@"; do
		deb=$(cached_deb "$spec") || die "no cached package for $spec in $DEB_DIR"
		dpkg -x "$deb" "$root"
	done
}

# What `busybox --install -s` would do, run by the image's own busybox (under
# QEMU for arm64), so the applet list always matches the binary.
busybox_rootfs() {
	local arch=$1 root=$2 applet
	unpack "$root" "busybox-static:$arch"
	while read -r applet; do
		[[ -e $root/$applet || -L $root/$applet ]] && continue
		mkdir -p "$root/${applet%/*}"
		ln -s /bin/busybox "$root/$applet"
	done < <("$root/bin/busybox" --list-full)
	mkdir -p "$root/etc" "$root/root" "$root/tmp"
	chmod 1777 "$root/tmp"
	chmod 700 "$root/root"
	printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$root/etc/passwd"
	printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
}

go_rootfs() {
	local arch=$1 root=$2 series=$IMG_GO_DEBIAN_SERIES
	busybox_rootfs "$arch" "$root"
	unpack "$root" "golang-$series-go:$arch/bookworm-backports" "golang-$series-src/bookworm-backports" \
		tzdata ca-certificates
	# Where Dockerfiles written for the upstream golang image expect Go.
	mkdir -p "$root/usr/local" "$root/etc/ssl/certs" "$root/go/src" "$root/go/bin"
	ln -sfn "/usr/lib/go-$series" "$root/usr/local/go"
	chmod -R 1777 "$root/go"
	# The bundle update-ca-certificates would make, from the package (not the host's
	# bundle, which differs per machine): every Mozilla certificate, in name order.
	local cert
	for cert in "$root"/usr/share/ca-certificates/mozilla/*.crt; do
		sed -e '$a\' "$cert"
	done >"$root/etc/ssl/certs/ca-certificates.crt"
	printf 'hosts: files dns\n' >"$root/etc/nsswitch.conf"
}

# build_image IMAGE ROOTFS_FUNCTION OCIIMAGE_OPTION...: one root folder per arch, written by
# ociimage.py as a reproducible OCI layout (same packages -> same digest on every machine),
# pushed with its digests kept. The index is the only tag, so its presence means "complete".
build_image() {
	local image=$1 make_rootfs=$2 arch root layout
	shift 2
	local -a platforms=()
	local name=${image##*/}
	layout=$WORK_DIR/${name//:/-}.oci # skopeo reads oci:PATH:TAG, so no colon in PATH
	for arch in "${ARCHES[@]}"; do
		root=$WORK_DIR/${image##*/}-$arch
		rm -rf "$root"
		mkdir -p "$root"
		"$make_rootfs" "$arch" "$root"
		platforms+=(--platform "linux/$arch=$root")
	done
	write_layout "$layout" "$image" "$@" "${platforms[@]}"
	if [[ -n $DIGEST_ONLY ]]; then
		python3 "$ENGINE_SRC/ociimage.py" "$layout" --digest
		exit 0
	fi
	push_layout "$layout" "$image"
}

deb_label() {
	local deb
	deb=$(cached_deb "$1")
	printf -- '--label=org.opencontainers.image.version=%s' "$(dpkg-deb -f "$deb" Version)"
}

make_busybox() {
	local image=$IMG_BUSYBOX_IMAGE
	say "building $image (${ARCHES[*]})"
	fetch_debs "${ARCHES[@]/#/busybox-static:}"
	build_image "$image" busybox_rootfs \
		"--env=PATH=$BASE_PATH" '--cmd=["sh"]' "$(deb_label busybox-static:amd64)"
	run_check "$image" amd64 x86_64 uname -m
	run_check "$image" arm64 aarch64 uname -m
	say "pushed $image@$(registry_digest "$image")"
}

make_go() {
	local image=$IMG_GO_IMAGE series=$IMG_GO_DEBIAN_SERIES arch
	local -a specs=("golang-$series-src/bookworm-backports" tzdata)
	say "building $image (${ARCHES[*]})"
	for arch in "${ARCHES[@]}"; do
		specs+=("busybox-static:$arch" "golang-$series-go:$arch/bookworm-backports")
	done
	fetch_debs "${specs[@]}" ca-certificates
	# GOTOOLCHAIN=local: a go.mod asking for a newer Go must fail, not download one.
	# GOPROXY=off: nothing is reachable, so fail at once instead of after DNS timeouts.
	# No GOFLAGS=-mod=mod: it would let builds rewrite go.mod/go.sum and hide a stale
	# go.sum, and it overrides the vendor/ autodetection.
	# CGO_ENABLED=0: the image has no C compiler.
	build_image "$image" go_rootfs \
		"--env=PATH=/go/bin:/usr/local/go/bin:$BASE_PATH" --env=GOPATH=/go \
		--env=GOTOOLCHAIN=local --env=GOPROXY=off --env=CGO_ENABLED=0 \
		--workdir=/go '--cmd=["sh"]' "$(deb_label "golang-$series-go:amd64")"
	run_check "$image" amd64 "go$series" go version
	run_check "$image" arm64 "linux/arm64" go version
	say "pushed $image@$(registry_digest "$image")"
}

work_dir() {
	mkdir -p "$CACHE_DIR" "$LOG_DIR"
	WORK_DIR=$(mktemp -d "$CACHE_DIR/build.XXXXXX")
	trap 'rm -rf "$WORK_DIR"' EXIT
}

# `base-images.sh digest busybox|golang`: write the image's layout from the cached packages
# and print its index digest, pushing nothing: on a machine with the same packages it is the
# digest the registry serves (what tests/integration/test_base_images.py checks).
DIGEST_ONLY=

main() {
	load_images_env
	[[ $IMG_GO_IMAGE == "$IMG_REGISTRY"/* && $IMG_BUSYBOX_IMAGE == "$IMG_REGISTRY"/* ]] ||
		die "engine/images.env: GO_IMAGE and BUSYBOX_IMAGE must be in REGISTRY ($IMG_REGISTRY)"
	if [[ ${1:-} == digest ]]; then
		DIGEST_ONLY=1
		work_dir
		case ${2:-} in
		busybox) make_busybox ;;
		golang) make_go ;;
		*) die "usage: base-images.sh digest busybox|golang" ;;
		esac
	fi
	registry_answers || die "no registry on $REGISTRY_URL; run: bash engine/up.sh"
	if ! registry_current "$IMG_BUSYBOX_IMAGE" || ! registry_current "$IMG_GO_IMAGE"; then
		engine_version >/dev/null || die "no engine on $DOCKER_HOST; run: bash engine/up.sh"
		work_dir
		registry_current "$IMG_BUSYBOX_IMAGE" || make_busybox
		registry_current "$IMG_GO_IMAGE" || make_go
	fi
	bash "$ENGINE_SRC/debian-image.sh"
	say "base images present"
}

main "$@"
