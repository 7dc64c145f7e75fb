#!/usr/bin/env bash
# Makes the base images the project's Dockerfiles start FROM, offline: nothing can
# be pulled from Docker Hub here, so each image is assembled from Debian packages,
# imported per platform and joined into one multi-arch index in the local registry.
# An image whose index is already in the registry is skipped. Needs the engine up
# (engine/up.sh calls this) and arm64 emulation enabled.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Each base image is an index of linux/<arch> for these; run_check knows both.
ARCHES=(amd64 arm64)
DEB_DIR=$CACHE_DIR/debs
BASE_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

# "repo:tag" of an image in our registry, from its full name.
repo_of() { local ref=${1#"$IMG_REGISTRY"/}; printf '%s\n' "${ref%:*}"; }
tag_of() { printf '%s\n' "${1##*:}"; }

# HEAD of the manifest; true only for an index (OCI) or manifest list (Docker), so a
# single-platform image left under the same tag is rebuilt rather than trusted.
manifest_headers() {
	curl -fsSI --max-time 10 \
		-H 'Accept: application/vnd.oci.image.index.v1+json' \
		-H 'Accept: application/vnd.docker.distribution.manifest.list.v2+json' \
		"$REGISTRY_URL/v2/$(repo_of "$1")/manifests/$(tag_of "$1")"
}

registry_has_index() {
	local headers
	headers=$(manifest_headers "$1" 2>/dev/null) || return 1
	grep -Eiq '^content-type: .*(image\.index|manifest\.list)' <<<"$headers"
}

registry_digest() {
	local headers
	headers=$(manifest_headers "$1") || return 1
	sed -n 's/^docker-content-digest: \([^[:space:]]*\).*/\1/Ip' <<<"$headers"
}

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
	unpack "$root" "golang-$series-go:$arch/bookworm-backports" "golang-$series-src/bookworm-backports" tzdata
	# Where Dockerfiles written for the upstream golang image expect Go.
	mkdir -p "$root/usr/local" "$root/etc/ssl/certs" "$root/go/src" "$root/go/bin"
	ln -sfn "/usr/lib/go-$series" "$root/usr/local/go"
	chmod -R 1777 "$root/go"
	cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/"
	printf 'hosts: files dns\n' >"$root/etc/nsswitch.conf"
}

# import_image ARCH ROOT TAG CHANGE...: one single-platform image, pushed.
import_image() {
	local arch=$1 root=$2 tag=$3
	shift 3
	local -a changes=()
	local change
	for change in "$@"; do
		changes+=(--change "$change")
	done
	tar --numeric-owner -C "$root" -c . |
		docker import --platform "linux/$arch" "${changes[@]}" - "$tag" >/dev/null
	docker push "$tag" >>"$LOG_DIR/base-images.log" 2>&1 ||
		die "docker push $tag failed (see $LOG_DIR/base-images.log)"
}

# build_image IMAGE ROOTFS_FUNCTION CHANGE...: per-arch tags IMAGE-linux-ARCH,
# then the index under IMAGE itself, last, so its presence means "complete".
build_image() {
	local image=$1 make_rootfs=$2 arch root
	shift 2
	local -a tags=()
	for arch in "${ARCHES[@]}"; do
		root=$WORK_DIR/${image##*/}-$arch
		rm -rf "$root"
		mkdir -p "$root"
		"$make_rootfs" "$arch" "$root"
		tags+=("$image-linux-$arch")
		import_image "$arch" "$root" "$image-linux-$arch" "$@"
	done
	docker buildx imagetools create --builder default -t "$image" "${tags[@]}" \
		>>"$LOG_DIR/base-images.log" 2>&1 ||
		die "imagetools create $image failed (see $LOG_DIR/base-images.log)"
}

# run_check IMAGE ARCH EXPECTED CMD...: the image runs on that platform (arm64
# through QEMU) and prints EXPECTED. --pull always: test what the registry holds.
run_check() {
	local image=$1 arch=$2 expected=$3 out
	shift 3
	out=$(docker run --rm --pull always --platform "linux/$arch" "$image" "$@" 2>&1) ||
		die "$image does not run on linux/$arch: $out"
	[[ $out == *"$expected"* ]] || die "$image on linux/$arch printed '$out', expected '$expected'"
}

deb_label() {
	local deb
	deb=$(cached_deb "$1")
	printf 'LABEL org.opencontainers.image.version=%s' "$(dpkg-deb -f "$deb" Version)"
}

make_busybox() {
	local image=$IMG_BUSYBOX_IMAGE
	say "building $image (${ARCHES[*]})"
	fetch_debs "${ARCHES[@]/#/busybox-static:}"
	build_image "$image" busybox_rootfs \
		"ENV PATH=$BASE_PATH" 'CMD ["sh"]' "$(deb_label busybox-static:amd64)"
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
	fetch_debs "${specs[@]}"
	# GOTOOLCHAIN=local: a go.mod asking for a newer Go must fail, not download one.
	# GOPROXY=off: nothing is reachable, so fail at once instead of after DNS timeouts.
	# No GOFLAGS=-mod=mod: it would let builds rewrite go.mod/go.sum and hide a stale
	# go.sum, and it overrides the vendor/ autodetection.
	# CGO_ENABLED=0: the image has no C compiler.
	build_image "$image" go_rootfs \
		"ENV PATH=/go/bin:/usr/local/go/bin:$BASE_PATH" 'ENV GOPATH=/go' \
		'ENV GOTOOLCHAIN=local' 'ENV GOPROXY=off' 'ENV CGO_ENABLED=0' \
		'WORKDIR /go' 'CMD ["sh"]' "$(deb_label "golang-$series-go:amd64")"
	run_check "$image" amd64 "go$series" go version
	run_check "$image" arm64 "linux/arm64" go version
	say "pushed $image@$(registry_digest "$image")"
}

main() {
	load_images_env
	[[ $IMG_GO_IMAGE == "$IMG_REGISTRY"/* && $IMG_BUSYBOX_IMAGE == "$IMG_REGISTRY"/* ]] ||
		die "engine/images.env: GO_IMAGE and BUSYBOX_IMAGE must be in REGISTRY ($IMG_REGISTRY)"
	registry_answers || die "no registry on $REGISTRY_URL; run: bash engine/up.sh"
	if ! registry_has_index "$IMG_BUSYBOX_IMAGE" || ! registry_has_index "$IMG_GO_IMAGE"; then
		engine_version >/dev/null || die "no engine on $DOCKER_HOST; run: bash engine/up.sh"
		mkdir -p "$CACHE_DIR" "$LOG_DIR"
		WORK_DIR=$(mktemp -d "$CACHE_DIR/build.XXXXXX")
		trap 'rm -rf "$WORK_DIR"' EXIT
		registry_has_index "$IMG_BUSYBOX_IMAGE" || make_busybox
		registry_has_index "$IMG_GO_IMAGE" || make_go
	fi
	say "base images present"
}

main "$@"
