"""One exception tree for everything digest reports to a user."""

from __future__ import annotations

__all__ = [
    "DigestError",
    "SourceError",
    "ConfigError",
    "TemplateError",
    "SubscriberError",
    "StateError",
    "IssueError",
    "PlanError",
    "NothingNewError",
    "DeliveryError",
    "describe_os_error",
]


def describe_os_error(exc: OSError) -> str:
    """A short reason for a failed open or read, for a one-line error."""
    if isinstance(exc, FileNotFoundError):
        return "no such file"
    if isinstance(exc, PermissionError):
        return "permission denied"
    if isinstance(exc, IsADirectoryError):
        return "is a folder, not a file"
    return f"cannot read: {exc.strerror or exc}"


class DigestError(Exception):
    """Base of every error digest raises on purpose; the CLI prints it as one line."""

    exit_code = 2

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None) -> None:
        self.message = message
        self.path = path
        self.line = line
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = ""
        if self.path is not None:
            where = f"{self.path}:{self.line}: " if self.line else f"{self.path}: "
        # One line, always: a message built from untrusted input must not fold.
        return " ".join(f"{where}{self.message}".split())


class SourceError(DigestError):
    """A source file (page dump, HTML page, feed) could not be read or parsed."""


class ConfigError(DigestError):
    """`digest.toml` or a command-line setting is wrong."""


class TemplateError(DigestError):
    """A Jinja or MJML template failed to render."""


class SubscriberError(DigestError):
    """A subscriber list could not be read."""


class StateError(DigestError):
    """The workspace database, its secret or an output file could not be written."""

    #: True when trying again may work (a database server restarting, a dropped connection).
    retryable = False


class IssueError(DigestError):
    """An issue folder is missing, incomplete or damaged (bad input: build it again)."""


class PlanError(DigestError):
    """An issue plan (plan.toml) has a mistake: an unknown key, a bad value, a lead that is not there."""


class NothingNewError(DigestError):
    """No article is new since the last issue sent: nothing to build (not a failure of the input)."""

    #: `digest build` exits 4 so a script can tell "nothing new" from a bad source (2).
    exit_code = 4


class DeliveryError(DigestError):
    """Sending could not start or could not go on (not a per-recipient failure)."""

    exit_code = 3

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None,
                 retryable: bool = True) -> None:
        super().__init__(message, path=path, line=line)
        # False when trying again cannot help (a bad certificate, a refused login).
        self.retryable = retryable
