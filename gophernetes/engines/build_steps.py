"""How `build` runs a RUN step through an engine's own verbs: a container, its changes, gone.

The image code (gophernetes/image/build.py) knows nothing of engines; it is handed
`step_runner(engine)`, which does what a user could type:

    gophernetes run -d --rootfs ROOT --net none --name build-XXXX sh -c 'CMD'
    gophernetes logs --live build-XXXX      (the step's output, shown as it comes)
    gophernetes inspect build-XXXX          (its exit code, and its folder: upper/ is the change set)
    gophernetes rm -f build-XXXX

The container is removed also when the step fails or the build is interrupted.
"""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from gophernetes.engine import Engine, RunRequest
from gophernetes.errors import GophernetesError

EXITED = "exited"


def step_runner(engine: Engine, echo: Callable[[str], None]):
    """A build.StepRunner that runs each RUN in a detached container of `engine`."""

    @contextlib.contextmanager
    def run(root: Path, argv: list[str], env: list[str], workdir: str, user: str,
            network: str) -> Iterator[tuple[int, Path]]:
        name = f"build-{secrets.token_hex(6)}"
        request = RunRequest(image=None, rootfs=str(root), command=list(argv), env=list(env), working_dir=workdir,
                             user=user, net=network, name=name)
        engine.run_detached(request)
        try:
            for line in engine.logs(name, follow=True):
                echo(line.rstrip("\n"))
            info = engine.inspect(name)
            deadline = time.monotonic() + 10
            while info.status != EXITED and time.monotonic() < deadline:  # the log ends just before the exit
                time.sleep(0.05)
                info = engine.inspect(name)
            folder = info.details.get("folder")
            if info.status != EXITED or not folder:
                raise GophernetesError(f"the RUN container {name} did not finish")
            yield int(info.exit_code or 0), Path(folder) / "upper"
        finally:
            engine.remove(name, force=True)

    return run
