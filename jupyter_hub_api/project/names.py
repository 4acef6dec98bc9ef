"""The rules for project (API) names: they become URL path segments and engine object names.

Two rules, one for each direction:

- a **new** name (``hub init``, the wizard, a new user) follows :data:`NAME_RULE`: lower-case
  letters, digits and ``-``, the form that is safe everywhere (URLs, image tags, DNS labels);
- a name that a project **already has** (``hub_config.json``, a build record being deployed)
  may also use capitals and ``_``, as projects written for the hosted service did
  (``Digit_Recognizer``). It is used as it is in the API's URL, so the hosted guide's client code
  works unchanged; where something needs the strict form (a Docker image tag), it takes
  :func:`safe_name`.
"""

from __future__ import annotations

import re

from ..errors import UsageError

NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,62}$")
NAME_RULE = "lower-case letters, digits and '-', 1–63 characters, starting with a letter"

API_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$")
API_NAME_RULE = "letters, digits, '-' and '_', 1–63 characters, starting with a letter or digit"


def check_name(name: str, field: str | None = None) -> str:
    """Return ``name`` when it is a valid *new* project name, else raise a :class:`UsageError`.

    The error suggests a valid spelling when one is obvious (``My_Model`` → ``my-model``).
    """
    if isinstance(name, str) and NAME_RE.match(name):
        return name
    raise _bad_name(name, NAME_RULE, field)


def check_api_name(name: str, field: str | None = None) -> str:
    """Return ``name`` when an existing project may have it (the wider, hosted-compatible rule)."""
    if isinstance(name, str) and API_NAME_RE.match(name):
        return name
    raise _bad_name(name, API_NAME_RULE, field)


def safe_name(name: str) -> str:
    """The strict form of an API name (``Digit_Recognizer`` → ``digit-recognizer``)."""
    return suggest_name(name) or "api"


def suggest_name(name: str) -> str | None:
    """A valid name close to ``name``, or ``None`` when nothing sensible is left."""
    cleaned = re.sub(r"[^a-z0-9-]+", "-", name.strip().lower()).strip("-")
    cleaned = re.sub(r"-{2,}", "-", cleaned).lstrip("0123456789-")[:63].rstrip("-")
    return cleaned if cleaned and NAME_RE.match(cleaned) else None


def _bad_name(name: object, rule: str, field: str | None) -> UsageError:
    suggestion = suggest_name(name) if isinstance(name, str) else None
    hint = f"Use {rule}"
    hint += f", e.g. {suggestion!r}." if suggestion and suggestion != name else "."
    return UsageError(
        f"{name!r} is not a valid project name.", type="bad_name", hint=hint, field=field
    )
