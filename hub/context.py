"""What a handler's second argument tells it about the invocation it is serving."""

from __future__ import annotations

import time

__all__ = ["Context"]


class Context:
    """The invocation a handler is serving: ``inference_handler(inputs, context)``.

    ``invocation_id`` identifies the request (it is in the response and the logs), ``api`` is
    ``"<user>/<api-name>"``, ``model_dir`` the folder ``MODEL_DIR`` names.
    """

    # A plain class, not a dataclass: importing dataclasses would add to every cold start.
    __slots__ = ("invocation_id", "api", "model_dir", "timeout_seconds", "started_at")

    def __init__(
        self,
        invocation_id: str,
        api: str,
        model_dir: str | None,
        timeout_seconds: float | None = None,
    ) -> None:
        self.invocation_id = invocation_id
        self.api = api
        self.model_dir = model_dir
        self.timeout_seconds = timeout_seconds
        self.started_at = time.monotonic()

    def remaining_seconds(self) -> float | None:
        """Seconds left before the platform stops this invocation, or None without a timeout."""
        if self.timeout_seconds is None:
            return None
        return max(0.0, self.timeout_seconds - (time.monotonic() - self.started_at))

    def __repr__(self) -> str:
        return f"Context(invocation_id={self.invocation_id!r}, api={self.api!r})"
