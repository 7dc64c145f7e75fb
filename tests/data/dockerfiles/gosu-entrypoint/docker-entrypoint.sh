#!/bin/sh
set -e
chown -R db /var/lib/db
exec gosu db "$@"
