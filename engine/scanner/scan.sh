#!/bin/sh
# BuildKit's SBOM generator protocol (moby/buildkit docs/attestations/sbom-protocol.md): scan the
# root filesystem in $BUILDKIT_SCAN_SOURCE and each one under $BUILDKIT_SCAN_SOURCE_EXTRAS, write
# one in-toto statement per filesystem to $BUILDKIT_SCAN_DESTINATION/<name>.spdx.json. BuildKit
# fills in the subject. Runs offline: syft is told not to look for updates.
set -eu
: "${BUILDKIT_SCAN_DESTINATION:?BuildKit sets BUILDKIT_SCAN_DESTINATION}"
: "${BUILDKIT_SCAN_SOURCE:?BuildKit sets BUILDKIT_SCAN_SOURCE}"

scan() {
	out="$BUILDKIT_SCAN_DESTINATION/$(basename "$1").spdx.json"
	{
		printf '{"_type":"https://in-toto.io/Statement/v0.1","predicateType":"https://spdx.dev/Document","predicate":'
		syft scan --quiet --source-name "$(basename "$1")" -o spdx-json "dir:$1"
		printf '}\n'
	} >"$out.tmp"
	mv "$out.tmp" "$out"
}

scan "$BUILDKIT_SCAN_SOURCE"
extras=${BUILDKIT_SCAN_SOURCE_EXTRAS:-}
if [ -n "$extras" ] && [ -d "$extras" ]; then
	for fs in "$extras"/*; do
		[ -d "$fs" ] && scan "$fs"
	done
fi
