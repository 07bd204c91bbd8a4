#!/usr/bin/env python3
"""How fast is gophernetes-runtime as an OCI runtime, next to runc and crun, on one bundle?

The bundle is bench/run.py's: `runc spec` with /bin/true, no terminal, a read-only busybox
root, a cgroup under the bench's own parent. Each runtime gets its own copy (its own
cgroupsPath) and its own --root, and is timed doing what an engine asks of it:

  lifecycle   `create ID`, `start ID`, `delete --force ID` (three processes, as containerd's
              shim runs them; by delete /bin/true has usually exited): each verb and the sum
  run         `run ID` of /bin/true in the foreground: create, start, wait, delete in one

  runc                 runc
  crun                 crun, in a mount namespace of the bench's own where
                       /sys/fs/cgroup/unified is a private empty tmpfs (bench/run.py's: crun
                       refuses the hybrid layout, MACHINE.md)
  gophernetes-runtime  `python -m gophernetes.cli.oci_runtime` under this interpreter (this
                       repository's code); also under Debian's /usr/bin/python3, the lab VM's,
                       when it has click

Every round runs every (runtime, mode) pair once, in a new random order (seeded; the seed is
printed). The table shows the median wall time per verb, the median of the per-round ratios
to runc's time with min and max (paired: a busy moment slows both runs of a round), the
median CPU time (user+sys of the runtime's process tree: after `create` the container's init
is no descendant any more, as in production) and the mean 1-minute load average.

The bench process is a child subreaper (PR_SET_CHILD_SUBREAPER), as containerd's shim is: the
container inits the runtimes orphan come to it and are reaped after each lifecycle. Every
state folder lives in one temporary folder; a check compares cgroups (also those hidden
under the unified mount), mounts and network namespaces before and after.
Run as root:  python3 bench/oci.py [--rounds 20] [--markdown FILE]
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    MARK,
    REPO,
    Sample,
    build_busybox_rootfs,
    interruptible,
    leftovers,
    markdown_table,
    ms,
    paired_ratios,
    remove_cgroup_tree,
    shuffled_rounds,
    system_snapshot,
    unmount_under,
    write_section,
)
from run import crun_mount_namespace, measure_in, runc_bundle  # noqa: E402

VERBS = ("create", "start", "delete")
PR_SET_CHILD_SUBREAPER = 36


class Runtime:
    """One runtime's command line (its own --root), bundle and mount namespace."""

    def __init__(self, name: str, command: list[str], state: Path, bundle: Path, mount_ns: int | None,
                 env: dict | None = None) -> None:
        self.name, self.command, self.state, self.bundle = name, command, state, bundle
        self.mount_ns, self.env = mount_ns, env
        self.id = f"{MARK}-{name.split()[0]}"

    def __call__(self, *args: str) -> Sample:
        return measure_in(self.mount_ns, [*self.command, "--root", str(self.state), *args], self.env)

    def lifecycle(self) -> dict[str, Sample]:
        """create, start, delete --force: one Sample each."""
        samples = {"create": self("create", "--bundle", str(self.bundle), self.id), "start": self("start", self.id)}
        samples["delete"] = self("delete", "--force", self.id)
        reap_orphans()
        return samples

    def run(self) -> Sample:
        sample = self("run", "--bundle", str(self.bundle), self.id)
        reap_orphans()
        return sample

    def cleanup(self) -> None:
        """Whatever an interrupted round left: the container, whatever its state."""
        with contextlib.suppress(RuntimeError):
            self("delete", "--force", self.id)
        reap_orphans()


def become_subreaper() -> None:
    """Orphaned descendants (the container inits a runtime leaves running) are reparented to
    this process instead of PID 1, which on this machine is no init that reaps (man 2 prctl)."""
    if ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


def reap_orphans() -> None:
    """Reap every child that has exited (container inits handed to us), without waiting."""
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass


def runtimes(work: Path, rootfs: Path, parent: str, crun_ns: int | None) -> list[Runtime]:
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = str(REPO)
    ours = ["-m", "gophernetes.cli.oci_runtime"]
    chosen = [Runtime("runc", ["runc"], work / "runc-state", runc_bundle(work / "runc", rootfs, f"/{parent}/runc"),
                      None),
              Runtime("gophernetes-runtime", [sys.executable, *ours], work / "gophernetes-state",
                      runc_bundle(work / "gophernetes", rootfs, f"/{parent}/gophernetes"), None, env)]
    if shutil.which("crun"):
        chosen.append(Runtime("crun", ["crun"], work / "crun-state",
                              runc_bundle(work / "crun", rootfs, f"/{parent}/crun"), crun_ns))
    if subprocess.run(["/usr/bin/python3", "-c", "import click"], capture_output=True).returncode == 0:
        chosen.append(Runtime("gophernetes-runtime (Debian python3)", ["/usr/bin/python3", *ours],
                              work / "gophernetes-debian-state",
                              runc_bundle(work / "gophernetes-debian", rootfs, f"/{parent}/gophernetes-debian"),
                              None, env))
    return chosen


def measure_rounds(chosen: list[Runtime], rounds: int, rng: random.Random) -> dict[str, dict[str, list[Sample]]]:
    """name -> {"create"/"start"/"delete"/"run" -> samples}, rounds shuffled (the first unmeasured)."""
    samples: dict[str, dict[str, list[Sample]]] = {r.name: {verb: [] for verb in (*VERBS, "run")} for r in chosen}
    jobs = [(runtime, mode) for runtime in chosen for mode in ("lifecycle", "run")]
    for number, order in enumerate(shuffled_rounds(list(range(len(jobs))), rounds + 1, rng)):
        for index in order:
            runtime, mode = jobs[index]
            measured = runtime.lifecycle() if mode == "lifecycle" else {"run": runtime.run()}
            if number > 0:  # round 0 warms up: page cache, .pyc files
                for verb, sample in measured.items():
                    samples[runtime.name][verb].append(sample)
    return samples


def table(samples: dict[str, dict[str, list[Sample]]]) -> str:
    def total(name: str) -> list[float]:
        return [sum(parts) for parts in zip(*(
            [s.seconds for s in samples[name][verb]] for verb in VERBS), strict=True)]

    lifecycle = paired_ratios({name: total(name) for name in samples}, "runc")
    run = paired_ratios({name: [s.seconds for s in verbs["run"]] for name, verbs in samples.items()}, "runc")
    rows = []
    for name in sorted(samples, key=lambda n: lifecycle[n].median):
        verbs = samples[name]
        cpu = [sum(parts) for parts in zip(*([s.cpu for s in verbs[verb]] for verb in VERBS), strict=True)]
        loads = [s.load for runs in verbs.values() for s in runs]
        rows.append([name, *(ms(statistics.median(s.seconds for s in verbs[verb])) for verb in VERBS),
                     ms(statistics.median(total(name))), f"{lifecycle[name].median:.2f}",
                     f"{lifecycle[name].low:.2f}–{lifecycle[name].high:.2f}", ms(statistics.median(cpu)),
                     ms(statistics.median(s.seconds for s in verbs["run"])), f"{run[name].median:.2f}",
                     f"{run[name].low:.2f}–{run[name].high:.2f}",
                     ms(statistics.median(s.cpu for s in verbs["run"])), f"{statistics.mean(loads):.2f}"])
    return markdown_table(["runtime", "create ms", "start ms", "delete ms", "create+start+delete ms", "× runc",
                           "× runc min–max", "CPU ms", "`run` ms", "`run` × runc", "`run` × runc min–max",
                           "`run` CPU ms", "load"], rows)


def summary(samples: dict[str, dict[str, list[Sample]]]) -> str:
    totals = {name: [sum(parts) for parts in zip(*([s.seconds for s in verbs[v]] for v in VERBS), strict=True)]
              for name, verbs in samples.items()}
    ratio = paired_ratios(totals, "runc")["gophernetes-runtime"].median
    crun = f", crun {paired_ratios(totals, 'runc')['crun'].median:.2f}×" if "crun" in totals else ""
    return (f"{ratio:.2f}× runc ({ms(statistics.median(totals['gophernetes-runtime']))} ms; "
            f"runc {ms(statistics.median(totals['runc']))} ms{crun})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--markdown", help="also append the result section to this file")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/oci.py makes real containers: run it as root")
    if not (shutil.which("runc") and os.path.exists("/usr/bin/time")):
        sys.exit("bench/oci.py needs runc (the reference, and `runc spec`) and GNU time (apt-get install runc time)")
    interruptible()
    become_subreaper()
    seed = args.seed if args.seed is not None else random.randrange(1 << 16)
    parent = f"{MARK}-oci"
    before = system_snapshot()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix=f"{MARK}-oci-") as tmp:
        work = Path(tmp)
        chosen: list[Runtime] = []
        try:
            rootfs = work / "rootfs"
            build_busybox_rootfs(rootfs)
            with crun_mount_namespace() as crun_ns:
                chosen = runtimes(work, rootfs, parent, crun_ns)
                try:
                    samples = measure_rounds(chosen, args.rounds, random.Random(seed))
                finally:
                    for runtime in chosen:
                        runtime.cleanup()
        finally:
            unmount_under(work)
            remove_cgroup_tree(parent)
        state_left = [str(p.relative_to(work)) for r in chosen if r.state.exists() for p in r.state.iterdir()]
    ours, others = leftovers(before, system_snapshot())
    ours += [f"state {path}" for path in state_left]
    load_after = os.getloadavg()
    notes = (f"One bundle (/bin/true, read-only busybox root), {args.rounds} shuffled rounds after one warm-up "
             f"(seed {seed}), {os.cpu_count()} CPUs; load average {load_before[0]:.2f} before, "
             f"{load_after[0]:.2f} after. gophernetes-runtime is `{sys.executable} -m gophernetes.cli.oci_runtime` "
             f"({sys.version.split()[0]}). CPU = user+sys of the runtime's process tree, create+start+delete "
             f"summed. Left behind: {', '.join(ours) if ours else 'nothing'}"
             f"{f' ({others} new items of other users of the machine ignored)' if others else ''}.")
    write_section(args.markdown, "OCI runtime: create+start+delete and `run` of one bundle", f"{notes}\n\n"
                  f"{table(samples)}", {"OCI runtime create+start+delete": summary(samples)})
    if ours:
        sys.exit(1)


if __name__ == "__main__":
    main()
