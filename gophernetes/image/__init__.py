"""Container images: from a name like `alpine:3.19` to read-only directories on disk.

An OCI image is a small tree of JSON documents addressed by their sha256 digests:

    index (optional)      one manifest per platform: linux/amd64, linux/arm64, ...
      -> manifest         the config blob and the ordered list of layer blobs
           -> config      what to run (Entrypoint, Cmd, Env, ...) and rootfs.diff_ids
           -> layers      tar archives (often gzipped), each a change set on the one below

The modules follow a pull from start to end:

    reference.py   parse `registry:port/name:tag@sha256:...` with docker's defaults
    manifest.py    the JSON documents above, their media types, platform selection
    auth.py        credentials: `gophernetes login` and ~/.docker/config.json
    registry.py    the distribution API v2 over HTTP(S): tokens, retries, digests
    layers.py      unpack a layer tar safely, turning whiteouts into overlayfs' form
    store.py       the content-addressed store on disk and the name -> image index
    pull.py        registry -> store, layers fetched in parallel, nothing half-made
    archive.py     `pull local PATH`: docker save archives and OCI layouts
    push.py        store -> registry: HEAD, mount or upload each blob, the manifest last
    save.py        store -> a docker-archive or oci-archive tar (`load` is archive.py)
    containerfile.py  `build`: a Containerfile's instructions, words and variables
    context.py     `build`: COPY and ADD, files of the context as layer entries
    diff.py        `build`: an overlay upper folder as a layer tar (whiteouts, opaque dirs)
    build.py       `build`: the steps, the cache, the image named last
    describe.py    `image inspect` and `image history`: config, layers, history
    busybox.py     the offline default image, built from the host's busybox
    progress.py    what a long pull prints on stderr
"""
