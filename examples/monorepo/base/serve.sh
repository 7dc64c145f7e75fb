#!/bin/sh
# The shared entrypoint: serve the service's /www on 8080 in the foreground.
set -eu
exec httpd -f -p "${PORT:-8080}" -h /www
