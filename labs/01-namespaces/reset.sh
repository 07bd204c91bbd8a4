#!/usr/bin/env bash
# Lab 01 back to its start: stop the LAB=01 processes, remove the container, drop the UTS
# namespace (every bind mount of it: running step 1 twice stacks two).
set -u
. "$(dirname "$0")/../lib.sh"
kill_lab_processes 01
gophernetes rm -f lab01 >/dev/null 2>&1
unmount_all /run/lab01 && rm -rf /run/lab01
exit 0
