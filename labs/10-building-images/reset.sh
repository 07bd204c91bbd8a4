#!/usr/bin/env bash
# Lab 10 back to its start: the container lab10, every image named $REGISTRY/lab10/hello
# (the tag and the digest name) and older builds of it left nameless (<none>), the tag in
# the registry (DELETE of its manifest; the blobs stay until the registry's garbage
# collection) and /srv/lab10.
set -u
REGISTRY=${REGISTRY:-127.0.0.1:5000}
gophernetes rm -f lab10 >/dev/null 2>&1
for image in $(gophernetes images --format json 2>/dev/null |
               jq -r --arg repo "$REGISTRY/lab10/hello" '.[] | select(.repository == $repo) | .name'); do
  gophernetes rmi "$image" >/dev/null 2>&1
done
# a build of step 1 run again moved the tag to a new image: the old one is dangling (<none>)
for image in $(gophernetes images --format json 2>/dev/null | jq -r '.[] | select(.repository == "<none>") | .id'); do
  if gophernetes image inspect "$image" 2>/dev/null |
       jq -e '.[0].History[].CreatedBy | select(. == "COPY hello.sh /app/hello.sh")' >/dev/null; then
    gophernetes rmi "$image" >/dev/null 2>&1
  fi
done
accept='Accept: application/vnd.oci.image.manifest.v1+json'
digest=$(curl -s --noproxy '*' -I -H "$accept" "http://$REGISTRY/v2/lab10/hello/manifests/1" 2>/dev/null |
         tr -d '\r' | awk 'tolower($1) == "docker-content-digest:" {print $2}')
if [ -n "$digest" ]; then
  curl -s --noproxy '*' -X DELETE -H "$accept" "http://$REGISTRY/v2/lab10/hello/manifests/$digest" >/dev/null 2>&1
fi
rm -rf /srv/lab10
exit 0
