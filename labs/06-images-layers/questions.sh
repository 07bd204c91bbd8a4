#!/usr/bin/env bash
# Lab 06: Images and layers — manifests, blobs, digests, whiteouts, overlayfs, the commands its Questions ask you to try (on the solved lab)
# GENERATED from README.md by `python -m gophernetes.labs write-solutions`: every
# ```sh question=N block, in order. Do not edit: change the README and regenerate.
set -euo pipefail

# --- question 1
cd /srv/lab06
sha256sum manifest.json
jq -r '.config.digest, .layers[0].digest' manifest.json
sha256sum config.json layer.tar.gz

# --- question 2
cd /srv/lab06
gunzip -c layer.tar.gz | sha256sum
gunzip -c layer.tar.gz | gzip -1 | sha256sum
gunzip -c layer.tar.gz | gzip -1 | gunzip -c | sha256sum
jq -r '.rootfs.diff_ids[0]' config.json

# --- question 3
tar -C /srv/lab06/upper -cf - . | tar -tvf -

# --- question 4
STORE=/var/lib/gophernetes/images
if [ -n "${GOPHERNETES_ROOT:-}" ]; then STORE=$GOPHERNETES_ROOT/lib/images; fi   # --root moves it
gophernetes images
ls $STORE/layers/
