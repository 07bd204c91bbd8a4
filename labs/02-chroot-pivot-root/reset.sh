#!/usr/bin/env bash
# Lab 02 back to its start: stop the LAB=02 processes, remove the containers, unmount
# what is left below /srv/lab02 (a /proc mounted in the chroot), remove /srv/lab02.
set -u
. "$(dirname "$0")/../lib.sh"
kill_lab_processes 02
gophernetes rm -f lab02 lab02-chroot >/dev/null 2>&1
unmount_all /srv/lab02 && rm -rf /srv/lab02
exit 0
