#!/usr/bin/env bash
# Lab 06 back to its start: unmount the overlay (each one: step 4 run twice stacks two),
# remove /srv/lab06 and the pulled image.
set -u
. "$(dirname "$0")/../lib.sh"
REGISTRY=${REGISTRY:-127.0.0.1:5000}
unmount_all /srv/lab06 && rm -rf /srv/lab06
gophernetes rmi "$REGISTRY/busybox:latest" >/dev/null 2>&1
exit 0
