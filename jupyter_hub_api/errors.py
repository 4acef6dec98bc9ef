"""The one error type of the Python side, raised in one place and shown the same way everywhere.

A :class:`HubError` carries what went wrong and what to do about it. The CLI prints it in one
sentence (or as an ``error`` event with ``--json``) and exits with its ``exit_code``; the server
extension turns it into ``{"message", "reason"}`` with its HTTP status; the platform turns it into
the wire envelope of ARCHITECTURE.md (wire format).
"""

from __future__ import annotations


class HubError(Exception):
    """A failure the user can act on.

    ``type`` is a short machine-readable name (``bad_name``, ``not_a_project``...), ``exit_code``
    follows ARCHITECTURE.md (CLI events) (2 bad usage or input, 1 failure of the work) and ``status`` is the HTTP
    status the servers answer with.
    """

    def __init__(
        self,
        message: str,
        *,
        type: str = "error",
        hint: str | None = None,
        exit_code: int = 2,
        status: int = 400,
        field: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.type = type
        self.hint = hint
        self.exit_code = exit_code
        self.status = status
        self.field = field

    def __str__(self) -> str:
        return f"{self.message} {self.hint}" if self.hint else self.message

    def to_dict(self) -> dict:
        """The error as a JSON-ready dict: ``type``, ``message`` and, when known, ``field``."""
        out = {"type": self.type, "message": str(self)}
        if self.field:
            out["field"] = self.field
        return out


class UsageError(HubError):
    """Bad usage or bad input (exit code 2)."""


class WorkError(HubError):
    """The work itself failed (exit code 1): a build step, an install, the platform."""

    def __init__(self, message: str, **kw) -> None:
        kw.setdefault("exit_code", 1)
        kw.setdefault("status", 500)
        super().__init__(message, **kw)
