#!/usr/bin/env bash
# Lab 05 back to its start: the gophernetes containers and network are removed from
# inside lab05, where their veths and rules live (an empty lab05 is made for that if it
# is gone: gophernetes must never clean up in the host's own network), then the
# namespaces are deleted with everything in them.
set -u
[ -e /run/netns/lab05 ] || ip netns add lab05
nsenter --net=/run/netns/lab05 gophernetes rm -f lab05-web lab05-client lab05-public >/dev/null 2>&1
nsenter --net=/run/netns/lab05 gophernetes network delete lab05net >/dev/null 2>&1
for ns in lab05-c1 lab05-c2 lab05-world lab05; do
  if [ -e /run/netns/$ns ]; then ip netns delete $ns; fi
done
exit 0
