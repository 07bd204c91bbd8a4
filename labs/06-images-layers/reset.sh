#!/usr/bin/env bash
# Lab 06 back to its start: unmount the overlay, remove /srv/lab06 and the pulled image.
set -u
REGISTRY=${REGISTRY:-127.0.0.1:5000}
umount /srv/lab06/merged 2>/dev/null
rm -rf /srv/lab06
gophernetes rmi "$REGISTRY/busybox:latest" >/dev/null 2>&1
exit 0
