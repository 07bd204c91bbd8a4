#!/usr/bin/env bash
# Lab 03 back to its start: stop the LAB=03 namespace, remove the containers, unmount
# everything below /srv/lab03 (innermost first, stacked ones too), remove it.
set -u
. "$(dirname "$0")/../lib.sh"
kill_lab_processes 03
gophernetes rm -f lab03 lab03-priv >/dev/null 2>&1
unmount_all /srv/lab03 && rm -rf /srv/lab03
exit 0
