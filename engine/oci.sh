# shellcheck shell=bash disable=SC2034 # the variables are used by the scripts that source this
# Shared by engine/base-images.sh and engine/debian-image.sh (after lib.sh); sourced, never run.
# Base images are written as reproducible OCI layouts (ociimage.py) and pushed with skopeo,
# which keeps their digests: the same Debian packages give the same digest on every machine.

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

# The index annotation that says "made by this recipe": an index without it (a `docker import`
# of an older engine/, or a recipe since changed) is rebuilt. Bump it when a rootfs changes.
RECIPE_KEY=dev.orchestrator.base-recipe
RECIPE=2

# write_layout LAYOUT IMAGE OPTION...: the OCI layout of IMAGE, made by ociimage.py.
write_layout() {
	local layout=$1 image=$2
	shift 2
	rm -rf "$layout"
	python3 "$ENGINE_SRC/ociimage.py" "$layout" --ref "$(tag_of "$image")" \
		--epoch "$IMG_BASE_EPOCH" --annotation "$RECIPE_KEY=$RECIPE" "$@" >/dev/null ||
		die "could not write the OCI layout of $image"
}

# skopeo copies the manifests as they are (no re-compression, no conversion), so the
# registry serves exactly the digests ociimage.py computed.
push_layout() {
	local layout=$1 image=$2
	skopeo copy --quiet --all --preserve-digests --dest-tls-verify=false \
		"oci:$layout:$(tag_of "$image")" "docker://$image" >>"$LOG_DIR/base-images.log" 2>&1 ||
		die "skopeo copy to $image failed (see $LOG_DIR/base-images.log)"
}

# True when the registry holds IMAGE as an index made by the current recipe.
registry_current() {
	registry_has_index "$1" || return 1
	curl -fsS --max-time 10 -H 'Accept: application/vnd.oci.image.index.v1+json' \
		"$REGISTRY_URL/v2/$(repo_of "$1")/manifests/$(tag_of "$1")" 2>/dev/null |
		grep -q "\"$RECIPE_KEY\":\"$RECIPE\""
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

