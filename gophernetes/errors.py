"""The errors a user can see, each with the exit code docker would give.

Every failure that reaches the command line is a GophernetesError: its message is
printed as one line on stderr and its `exit_code` becomes the process's status.
"""


class GophernetesError(Exception):
    """Something went wrong in the runtime itself (docker's exit code 125)."""

    exit_code = 125


class UsageError(GophernetesError):
    """The user asked for something that cannot be done as asked (bad option value, ...)."""


class NotFound(GophernetesError):
    """A named thing (image, container, network, root filesystem) does not exist."""


class Conflict(GophernetesError):
    """The request clashes with what exists (a name in use, a network still in use, ...)."""


class PermissionDenied(GophernetesError):
    """The runtime lacks a privilege it needs (not root, no CAP_SYS_ADMIN, ...)."""


class CannotRun(GophernetesError):
    """The container's command exists but cannot be executed (docker's 126)."""

    exit_code = 126


class CommandNotFound(GophernetesError):
    """The container's command does not exist in its root filesystem (docker's 127)."""

    exit_code = 127
