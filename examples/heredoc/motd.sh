#!/bin/sh
# Prints the message of the day and where the image was built; --check is the HEALTHCHECK.
set -eu
if [ "${1:-}" = "--check" ]; then
	exit 0
fi
cat /etc/motd /etc/motd.built
