"""The runtime: executes OCI bundles (config.json per the runtime-spec + a root), as runc does.

Its OCI part (oci_config, bundle, oci_mounts, init, launcher's start/wait, lifecycle, exec,
process) knows nothing of images, names or networks and imports linux/ (and errors) only.

The lifecycle API (runtime/lifecycle.py), what a runc-compatible CLI stands on; `state_dir`
is the caller's (runc's --root), one folder per container in it:

    from gophernetes.runtime import lifecycle
    lifecycle.create(state_dir, id, bundle, stdio=None, no_pivot=False) -> state dict
        namespaces, cgroup (linux.cgroupsPath, linux.resources), root and mounts made; the
        init waits on STATE_DIR/ID/exec.fifo. Raises GophernetesError (exit_code 125,
        one line; oci_config.ConfigError for a bad config.json), leaving nothing behind.
    lifecycle.start(state_dir, id)            the init execs process.args
    lifecycle.state(state_dir, id) -> {"ociVersion", "id", "status", "pid", "bundle", "annotations"}
        status: creating | created | running | stopped (read from the kernel: a dead init is stopped)
    lifecycle.kill(state_dir, id, signal=SIGTERM)
    lifecycle.delete(state_dir, id, force=False)   cgroup and state removed (force: kill first)
    lifecycle.list_ids(state_dir) -> [id, ...]

Errors: NotFound (no such container), Conflict (wrong status), UsageError (bad id).

The modules:
    oci_config   config.json as a typed model: load + validate (one-line errors), to_json
    bundle       Container: an ID, a bundle folder, its config, and the caller's choices
    launcher     the parent side: cgroup, fork the two stages, "go", wait (`run`'s fused path)
    init         the container's side: root, mounts, pivot_root, caps, user, seccomp, exec
    oci_mounts   config.json's mounts and devices, inside the new root
    lifecycle    create / start / state / kill / delete over a state directory
    exec         one more process in a running container
    process      the process protocol: error pipe, reports, exit statuses, exec fifo
    rootfs, userns_root, subids, terminal: the root's overlay, --userns auto's layers, ptys
    logs, units, stats, top, copy, waiting, envfile: what both engines read or write around a
                 container (its log file, sizes, cgroup counters, /proc, a root to copy into)

The native engine's records and keepers (records, the `run` that keeps a record in step,
the supervisor and its lean monitor, cleanup) live in engines/native/, as containerd keeps its shim apart from
runc: they know names and networks, this package does not.
"""
