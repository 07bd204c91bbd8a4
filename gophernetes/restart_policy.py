"""`run --restart=no|on-failure[:N]|always`: when the supervisor starts a container again.

The supervisor (engines/native/supervisor.py) is the container's parent, so it is the one that
learns its exit status; with a policy it starts the same bundle again instead of
leaving, as docker's daemon (and containerd's restart monitor) do:

    no              never (the default)
    on-failure[:N]  when it exited with a status other than 0, at most N times
    always          whatever the status — but never after `stop` (or `kill`, `restart`)

Between attempts it waits 100 ms, doubling up to 5 s, so a container that cannot start
does not spin the CPU.
"""

from __future__ import annotations

from dataclasses import dataclass

from gophernetes.errors import UsageError

NO, ON_FAILURE, ALWAYS = "no", "on-failure", "always"
FIRST_DELAY, MAX_DELAY = 0.1, 5.0


@dataclass(frozen=True)
class RestartPolicy:
    name: str = NO
    maximum: int = 0          # on-failure:N; 0 = no limit

    def __str__(self) -> str:
        return f"{self.name}:{self.maximum}" if self.maximum else self.name

    def should_restart(self, exit_code: int, restarts: int, stopped_by_user: bool) -> bool:
        """Whether a container that just exited with `exit_code`, after `restarts` restarts, goes again."""
        if stopped_by_user or self.name == NO:
            return False
        if self.name == ALWAYS:
            return True
        return exit_code != 0 and (self.maximum == 0 or restarts < self.maximum)

    @staticmethod
    def delay(restarts: int) -> float:
        """Seconds to wait before restart number `restarts` + 1."""
        return min(FIRST_DELAY * 2 ** restarts, MAX_DELAY)


def parse(text: str) -> RestartPolicy:
    """"no", "always", "on-failure", "on-failure:3" -> a RestartPolicy, or a one-line refusal."""
    name, colon, count = text.partition(":")
    if name in (NO, ALWAYS) and not colon:
        return RestartPolicy(name)
    if name == ON_FAILURE:
        if not colon:
            return RestartPolicy(ON_FAILURE)
        if count.isdigit() and int(count) > 0:
            return RestartPolicy(ON_FAILURE, int(count))
        raise UsageError(f"--restart {text}: the number of retries must be a positive integer, e.g. on-failure:3")
    if name == "unless-stopped":
        raise UsageError("--restart unless-stopped: gophernetes has no daemon to bring containers back after "
                         "a reboot; use always (never restarted after stop)")
    raise UsageError(f"--restart {text}: use no, on-failure[:N] or always")
