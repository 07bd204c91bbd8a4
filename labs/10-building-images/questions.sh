#!/usr/bin/env bash
# Lab 10: Building images — a Containerfile by hand, layers as tar diffs, the config, a registry, the commands its Questions ask you to try (on the solved lab)
# GENERATED from README.md by `python -m gophernetes.labs write-solutions`: every
# ```sh question=N block, in order. Do not edit: change the README and regenerate.
set -euo pipefail

# --- question 1
REGISTRY=${REGISTRY:-127.0.0.1:5000}
cd /srv/lab10/context
cat > Containerfile.small <<'EOF'
FROM busybox
RUN mkdir /app && head -c 300000 /dev/urandom > /app/big.bin && wc -c /app/big.bin && rm /app/big.bin && echo draft > /app/notes.txt
COPY hello.sh /app/hello.sh
ENV GREETING=hello
CMD ["/app/hello.sh"]
EOF
gophernetes build -t $REGISTRY/lab10/hello:small -f Containerfile.small .
gophernetes image history $REGISTRY/lab10/hello:small

# --- question 2
REGISTRY=${REGISTRY:-127.0.0.1:5000}
cd /srv/lab10/context
sed -i 's/from lab 10/from lab 10!/' hello.sh
gophernetes build -t $REGISTRY/lab10/hello:2 .
sed -i 's/from lab 10!/from lab 10/' hello.sh

# --- question 3
cd /srv/lab10
MANIFEST=oci/blobs/sha256/$(jq -r '.manifests[0].digest' oci/index.json | cut -d: -f2)
tar -tvf oci/blobs/sha256/$(jq -r '.layers[-1].digest[7:]' $MANIFEST)

# --- question 4
REGISTRY=${REGISTRY:-127.0.0.1:5000}
curl -s http://$REGISTRY/v2/lab10/hello/tags/list
