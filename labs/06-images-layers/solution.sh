#!/usr/bin/env bash
# Lab 06: Images and layers — manifests, blobs, digests, whiteouts, overlayfs
# GENERATED from README.md by `python -m gophernetes.labs write-solutions`: every
# ```sh step=N block, in order. Do not edit: change the README and regenerate.
set -euo pipefail

# --- step 1
REGISTRY=${REGISTRY:-127.0.0.1:5000}
mkdir -p /srv/lab06
cd /srv/lab06
curl -s http://$REGISTRY/v2/_catalog
curl -s -D headers.txt -o manifest.json \
  -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
  -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
  http://$REGISTRY/v2/busybox/manifests/latest
jq . manifest.json
grep -i docker-content-digest headers.txt
sha256sum manifest.json

# --- step 2
REGISTRY=${REGISTRY:-127.0.0.1:5000}
cd /srv/lab06
CONFIG=$(jq -r .config.digest manifest.json)
LAYER=$(jq -r '.layers[0].digest' manifest.json)
curl -s -o config.json http://$REGISTRY/v2/busybox/blobs/$CONFIG
curl -s -o layer.tar.gz http://$REGISTRY/v2/busybox/blobs/$LAYER
echo "$LAYER"
sha256sum layer.tar.gz
jq '{architecture, os, cmd: .config.Cmd, diff_ids: .rootfs.diff_ids}' config.json

# --- step 3
cd /srv/lab06
mkdir -p rootfs
tar -xzf layer.tar.gz -C rootfs
ls rootfs
gunzip -c layer.tar.gz | sha256sum

# --- step 4
cd /srv/lab06
mkdir -p upper work merged
mount -t overlay lab06 -o lowerdir=/srv/lab06/rootfs,upperdir=/srv/lab06/upper,workdir=/srv/lab06/work /srv/lab06/merged
rm merged/bin/ls
echo "written in the container" > merged/hello
ls merged/bin/ls || echo "gone from merged"
ls -l rootfs/bin/ls
ls -l upper upper/bin

# --- step 5
REGISTRY=${REGISTRY:-127.0.0.1:5000}
gophernetes pull --insecure $REGISTRY/busybox:latest
gophernetes images --format json | jq --arg repo "$REGISTRY/busybox" '.[] | select(.repository == $repo) | {digest, id}'
STORE=/var/lib/gophernetes/images
if [ -n "${GOPHERNETES_ROOT:-}" ]; then STORE=$GOPHERNETES_ROOT/lib/images; fi   # --root moves it
ls $STORE/blobs/sha256/
