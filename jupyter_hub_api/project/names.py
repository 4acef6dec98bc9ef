"""The rule for project (API) names: they become URL path segments and engine object names."""

from __future__ import annotations

import re

from ..errors import UsageError

NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,62}$")
NAME_RULE = "lower-case letters, digits and '-', 1–63 characters, starting with a letter"


def check_name(name: str, field: str | None = None) -> str:
    """Return ``name`` when it is a valid project name, else raise a :class:`UsageError`.

    The error suggests a valid spelling when one is obvious (``My_Model`` → ``my-model``).
    """
    if isinstance(name, str) and NAME_RE.match(name):
        return name
    suggestion = suggest_name(name) if isinstance(name, str) else None
    hint = f"Use {NAME_RULE}"
    hint += f", e.g. {suggestion!r}." if suggestion and suggestion != name else "."
    raise UsageError(
        f"{name!r} is not a valid project name.", type="bad_name", hint=hint, field=field
    )


def suggest_name(name: str) -> str | None:
    """A valid name close to ``name``, or ``None`` when nothing sensible is left."""
    cleaned = re.sub(r"[^a-z0-9-]+", "-", name.strip().lower()).strip("-")
    cleaned = re.sub(r"-{2,}", "-", cleaned).lstrip("0123456789-")[:63].rstrip("-")
    return cleaned if cleaned and NAME_RE.match(cleaned) else None
