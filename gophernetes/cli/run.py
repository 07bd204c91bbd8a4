"""`gophernetes run` and its hidden twin `gophernetes child`."""

from __future__ import annotations

import os
import sys

import click

from gophernetes.engine import RunRequest
from gophernetes.errors import UsageError


def complete_run_arguments(ctx, param, incomplete):
    """TAB on run's first argument offers images (imported only then: `run` stays lean)."""
    from gophernetes.cli.completion import complete_run_arguments as complete

    return complete(ctx, param, incomplete)


def complete_net_mode(ctx, param, incomplete):
    from gophernetes.cli.completion import complete_net_mode as complete

    return complete(ctx, param, incomplete)


def complete_volume_option(ctx, param, incomplete):
    from gophernetes.cli.completion import complete_volume_option as complete

    return complete(ctx, param, incomplete)


SOURCES = ("docker", "local")


@click.command(context_settings={"allow_interspersed_args": False, "ignore_unknown_options": False})
@click.option("--rootfs", metavar="DIR", help="Use this directory as the root filesystem instead of an image "
              "(it is never written to: writes land in an overlay).")
@click.option("--image", "default_image", metavar="IMAGE", envvar="GOPHERNETES_IMAGE",
              help="The image for the `run /abs/command` form (default busybox). Env: GOPHERNETES_IMAGE.")
@click.option("--name", help="A name for the container.")
@click.option("-h", "--hostname", default="", help="Container hostname (default: the short container ID).")
@click.option("-e", "--env", multiple=True, metavar="KEY=VALUE", help="Set an environment variable.")
@click.option("--env-file", "env_files", multiple=True, metavar="FILE",
              help="Read environment variables from FILE (KEY=VALUE a line, or KEY to pass the caller's; "
                   "# comments). -e wins over the file.")
@click.option("-w", "--workdir", default="", metavar="DIR", help="Working directory inside the container.")
@click.option("-u", "--user", default="", metavar="USER[:GROUP]", help="Run as this user (name or uid).")
@click.option("--entrypoint", default=None, help="Override the image's entrypoint.")
@click.option("--net", "--network", "net", default="bridge", show_default=True, metavar="MODE",
              shell_complete=complete_net_mode,
              help="none (loopback only), host (the host's network), bridge or a network name.")
@click.option("--add-host", "add_hosts", multiple=True, metavar="NAME:IP",
              help="Add a line to the container's /etc/hosts (then its own file, not the network's shared one).")
@click.option("--dns", multiple=True, metavar="IP", help="A name server for the container's /etc/resolv.conf.")
@click.option("-p", "--publish", multiple=True, metavar="HOST:CONTAINER[/udp]",
              help="Publish a container port on the host (bridge networks).")
@click.option("--pid", "pid_mode", type=click.Choice(["host"]), help="Share the host's PID namespace.")
@click.option("--ipc", "ipc_mode", type=click.Choice(["host"]), help="Share the host's IPC namespace.")
@click.option("--uts", "uts_mode", type=click.Choice(["host"]), help="Share the host's UTS namespace (hostname).")
@click.option("--cgroupns", "cgroupns_mode", type=click.Choice(["host", "private"]), default="private",
              help="Share the host's cgroup namespace, or not (default private).")
@click.option("--userns", "userns_mode", type=click.Choice(["host", "auto"]), default="host", show_default=True,
              help="auto: root inside is an unprivileged uid range of the host (from /etc/subuid).")
@click.option("--chroot", "use_chroot", is_flag=True,
              help="Enter the root filesystem with chroot instead of pivot_root (weaker; see lab 02).")
@click.option("--privileged", is_flag=True, help="Keep all capabilities, mask and protect nothing.")
@click.option("--cap-add", multiple=True, metavar="CAP", help="Add a capability (e.g. NET_ADMIN, or ALL).")
@click.option("--cap-drop", multiple=True, metavar="CAP", help="Drop a capability (e.g. NET_RAW, or ALL).")
@click.option("--read-only", is_flag=True, help="Mount the container's root filesystem read-only (/dev, /dev/shm, "
              "and any --tmpfs, -v or --mount stay as they are: give --tmpfs /tmp for what must be writable).")
@click.option("-v", "--volume", "volumes", multiple=True, metavar="SRC:DST[:ro]", shell_complete=complete_volume_option,
              help="Bind a host path (SRC absolute; it must exist: gophernetes does not create it, unlike docker, "
                   "so a typo is an error, not an empty root-owned folder) or a named volume (made if missing, "
                   "filled with the image's files at DST when new) at DST; -v DST alone: an anonymous volume. "
                   "Options (comma-separated): ro, rw, nocopy. --engine containerd: binds only.")
@click.option("--mount", "mounts", multiple=True, metavar="type=bind|volume|tmpfs,source=,target=,readonly",
              help="docker's long form: type (default volume), source, target, readonly, volume-nocopy, "
                   "tmpfs-size, tmpfs-mode.")
@click.option("--tmpfs", multiple=True, metavar="DST[:size=64m,mode=1777]",
              help="A tmpfs (memory) at DST, nosuid,nodev,noexec unless exec/suid/dev is given.")
@click.option("--restart", default="no", show_default=True, metavar="no|on-failure[:N]|always",
              help="With -d: the supervisor starts the container again when it exits (on-failure: with a "
                   "status other than 0, at most N times); never after stop. The count is in inspect. "
                   "Native engine only.")
@click.option("--security-opt", multiple=True, metavar="seccomp=unconfined|PROFILE.json",
              help="Security options: seccomp=unconfined (no filter) or seccomp=FILE (a profile in docker's JSON "
                   "format) instead of docker's default seccomp profile.")
@click.option("-m", "--memory", metavar="SIZE", help="Memory limit, e.g. 64m or 1g.")
@click.option("--memory-swap", metavar="SIZE", help="Memory + swap limit; -1 for unlimited swap.")
@click.option("--cpus", metavar="N", help="CPUs the container may use, e.g. 0.5 (CFS quota per period).")
@click.option("-c", "--cpu-shares", type=int, help="Relative CPU weight (default 1024).")
@click.option("--pids-limit", type=int, help="Maximum number of processes (-1: unlimited).")
@click.option("--blkio-weight", type=int, help="Relative block I/O weight, 10 to 1000, where the host has it.")
@click.option("-i", "--interactive", is_flag=True, help="Keep stdin open (a foreground run always passes it on).")
@click.option("-t", "--tty", is_flag=True, help="Tell the container it has a terminal (sets TERM).")
@click.option("--rm", is_flag=True, help="Remove the container when it exits (a foreground run always does).")
@click.option("-d", "--detach", is_flag=True, help="Run in the background under a supervisor; print the ID.")
@click.argument("args", nargs=-1, type=click.UNPROCESSED, shell_complete=complete_run_arguments)
@click.pass_obj
def run(obj, args, rootfs, default_image, name, hostname, env, env_files, workdir, user, entrypoint, net, add_hosts,
        dns, publish, pid_mode, ipc_mode, uts_mode, cgroupns_mode, userns_mode, use_chroot, privileged, cap_add,
        cap_drop, read_only, volumes, mounts, tmpfs, restart, security_opt, memory, memory_swap, cpus, cpu_shares,
        pids_limit, blkio_weight, interactive, tty, rm, detach):
    """Run a command in a new container, in the foreground.

    \b
    Forms:
      gophernetes run [OPTIONS] IMAGE [COMMAND [ARG...]]
      gophernetes run [OPTIONS] /bin/sh [ARG...]        an absolute path: run it in the default image
      gophernetes run [OPTIONS] --rootfs DIR COMMAND [ARG...]
      gophernetes run SOURCE IMAGE NAME                 the bash tool's form: pull IMAGE from
                                                        SOURCE (docker or local) and run it detached

    The exit status is the command's own; 125 when gophernetes failed, 126 when the
    command cannot be executed, 127 when it does not exist, 128+N when signal N killed it.

    \b
    Examples:
      sudo gophernetes run /bin/sh
      sudo gophernetes run --net none --hostname lab busybox hostname
      sudo gophernetes run --memory 64m --pids-limit 20 busybox sh
      sudo gophernetes run --rootfs ./rootfs --chroot /bin/sh
      sudo gophernetes run -d --name web busybox httpd -f -p 8080
      sudo gophernetes run --env-file app.env busybox env
      sudo gophernetes run -v /srv/site:/www:ro busybox ls /www
      sudo gophernetes run -v data:/data busybox sh -c 'date >> /data/log'
      sudo gophernetes run --mount type=tmpfs,target=/scratch,tmpfs-size=16m busybox df /scratch
      sudo gophernetes run --read-only --tmpfs /tmp busybox touch /tmp/ok
      sudo gophernetes run -d --restart on-failure:3 --name job busybox sh -c 'exit 1'
      sudo gophernetes run local ./alpine.tar alpine1
    """
    args = list(args)
    if len(args) == 3 and args[0] in SOURCES and not rootfs:
        # The bash tool's `run <source> <image> <name>`: pull, then run detached under that name.
        source, image_argument, name = args
        if source == "local":
            image = obj.engine().import_archive(image_argument)[0]
        else:
            image = obj.engine().pull(f"docker.io/{image_argument}").name
        args, detach = [image], True
    image, command = split_image_and_command(args, rootfs, default_image)
    if env_files:
        from gophernetes.runtime import envfile

        env = envfile.read(list(env_files), os.environ) + list(env)
    shared = [kind for kind, mode in (("pid", pid_mode), ("ipc", ipc_mode), ("uts", uts_mode),
                                       ("cgroup", cgroupns_mode)) if mode == "host"]
    request = RunRequest(
        image=image, command=command, rootfs=rootfs, name=name, hostname=hostname, env=list(env),
        working_dir=workdir, user=user, entrypoint=entrypoint, net=net, publish=list(publish),
        share_namespaces=shared, use_chroot=use_chroot, privileged=privileged, cap_add=list(cap_add),
        cap_drop=list(cap_drop), read_only=read_only, security_opt=list(security_opt), tty=tty, memory=memory,
        memory_swap=memory_swap, cpus=cpus, cpu_shares=cpu_shares, pids_limit=pids_limit, blkio_weight=blkio_weight,
        remove_on_exit=rm, userns=userns_mode, add_hosts=list(add_hosts), dns=list(dns), volumes=list(volumes),
        mounts=list(mounts), tmpfs=list(tmpfs), restart=restart,
    )
    if detach:
        click.echo(obj.engine().run_detached(request).id)
        return
    status = obj.engine().run(request)
    sys.exit(status)


def split_image_and_command(args: list[str], rootfs: str | None, default_image: str | None):
    """IMAGE CMD..., /abs/cmd ... (default image), or --rootfs DIR CMD ..."""
    if rootfs:
        if not args:
            raise UsageError("--rootfs needs a command to run, e.g. gophernetes run --rootfs DIR /bin/sh")
        return None, args
    if not args:
        raise UsageError("run needs an image or a command: gophernetes run IMAGE [COMMAND] or "
                         "gophernetes run /bin/sh")
    if args[0].startswith("/"):
        return default_image, args
    return args[0], args[1:]


@click.command(context_settings={"allow_interspersed_args": False})
@click.option("--spec", "spec_file", type=click.Path(exists=True, dir_okay=False),
              help="An OCI bundle's config.json, as `run` writes it (its root is used as it is).")
@click.option("--rootfs", metavar="DIR", help="The root directory (used as it is, writable).")
@click.option("--hostname", default="gophernetes", show_default=True)
@click.option("--chroot", "use_chroot", is_flag=True, help="chroot instead of pivot_root.")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
def child(spec_file, rootfs, hostname, use_chroot, command):
    """The container's init side, run as PID 1 of a PID namespace someone else made.

    `gophernetes run` runs this same code in its forked child; called by hand, it does
    what the original Go tool's `child` did, so the namespaces can be made separately:

    \b
      unshare --pid --fork gophernetes child --rootfs ./rootfs --hostname lab /bin/sh

    It unshares the mount, UTS and IPC namespaces itself (a process can enter new ones
    of these directly), but a PID namespace only takes effect for children: that one
    must come from outside, so child refuses to run unless it is PID 1.
    """
    from gophernetes.engines.native.bundle import child_container
    from gophernetes.linux import syscalls
    from gophernetes.runtime.init import container_init

    if os.getpid() != 1:
        raise UsageError("child must be PID 1 of a new PID namespace: run it under unshare --pid --fork, "
                         "or use gophernetes run")
    if not spec_file and (not rootfs or not command):
        raise UsageError("child needs --rootfs DIR and a COMMAND (or --spec BUNDLE/config.json)")
    container = child_container(spec_file, rootfs, list(command), hostname, use_chroot)
    syscalls.unshare(syscalls.CLONE_NEWNS | syscalls.CLONE_NEWUTS | syscalls.CLONE_NEWIPC)
    container_init(container, None, -1, plain_root=True)
