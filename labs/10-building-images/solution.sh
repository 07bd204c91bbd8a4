#!/usr/bin/env bash
# Lab 10: Building images — a Containerfile by hand, layers as tar diffs, the config, a registry
# GENERATED from README.md by `python -m gophernetes.labs write-solutions`: every
# ```sh step=N block, in order. Do not edit: change the README and regenerate.
set -euo pipefail

# --- step 1
REGISTRY=${REGISTRY:-127.0.0.1:5000}
mkdir -p /srv/lab10/context
cd /srv/lab10/context
printf '#!/bin/sh\necho "$GREETING from lab 10"\n' > hello.sh
chmod +x hello.sh
cat > Containerfile <<'EOF'
FROM busybox
RUN mkdir /app && head -c 300000 /dev/urandom > /app/big.bin && echo draft > /app/notes.txt
RUN rm /app/big.bin
COPY hello.sh /app/hello.sh
ENV GREETING=hello
CMD ["/app/hello.sh"]
EOF
gophernetes build -t $REGISTRY/lab10/hello:1 .
gophernetes image history $REGISTRY/lab10/hello:1

# --- step 2
REGISTRY=${REGISTRY:-127.0.0.1:5000}
cd /srv/lab10
gophernetes save --format oci-archive -o hello-oci.tar $REGISTRY/lab10/hello:1
mkdir -p oci
tar -xf hello-oci.tar -C oci
MANIFEST=oci/blobs/sha256/$(jq -r '.manifests[0].digest' oci/index.json | cut -d: -f2)
jq -r '.layers[] | "\(.digest[7:19])  \(.size)  \(.mediaType)"' $MANIFEST
for LAYER in $(jq -r '.layers[1:][].digest[7:]' $MANIFEST); do
  echo "== layer ${LAYER:0:12}"
  tar -tvf oci/blobs/sha256/$LAYER
done

# --- step 3
cd /srv/lab10
MANIFEST=oci/blobs/sha256/$(jq -r '.manifests[0].digest' oci/index.json | cut -d: -f2)
CONFIG=$(jq -r '.config.digest[7:]' $MANIFEST)
cp oci/blobs/sha256/$CONFIG config.json
jq '{Env: .config.Env, Cmd: .config.Cmd, diff_ids: [.rootfs.diff_ids[][7:19]], history: [.history[] | {created_by, empty_layer}]}' config.json
LAST=$(jq -r '.layers[-1].digest[7:]' $MANIFEST)
gunzip -c oci/blobs/sha256/$LAST | sha256sum

# --- step 4
REGISTRY=${REGISTRY:-127.0.0.1:5000}
cd /srv/lab10
gophernetes push $REGISTRY/lab10/hello:1
curl -s http://$REGISTRY/v2/_catalog
curl -s http://$REGISTRY/v2/lab10/hello/tags/list
curl -s -D headers.txt -o manifest.json \
  -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
  http://$REGISTRY/v2/lab10/hello/manifests/1
grep -i docker-content-digest headers.txt
sha256sum manifest.json
jq -r '.layers[].digest[7:19]' manifest.json

# --- step 5
REGISTRY=${REGISTRY:-127.0.0.1:5000}
cd /srv/lab10
DIGEST=sha256:$(sha256sum manifest.json | cut -d' ' -f1)
gophernetes rm -f lab10 2>/dev/null || true   # a container of an earlier try holds the image
gophernetes rmi $REGISTRY/lab10/hello:1
gophernetes pull $REGISTRY/lab10/hello@$DIGEST
gophernetes run -d --name lab10 --net none $REGISTRY/lab10/hello@$DIGEST
gophernetes wait lab10
gophernetes logs lab10
