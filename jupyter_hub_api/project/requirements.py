"""Parse and normalise ``src/requirements.txt`` with ``packaging``.

The normalised text is what keys a Python environment, so two files that say the same thing
(other order, other spacing, ``Scikit_Learn`` vs ``scikit-learn``, comments) share one
environment. A few installer options are kept as they are because they change what gets
installed; anything else that is not a requirement is refused with the line that holds it.
"""

from __future__ import annotations

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from ..errors import UsageError

# Options that change where packages come from: kept verbatim (they are part of the env key).
_KEPT_OPTIONS = ("--index-url", "--extra-index-url", "--find-links", "-f", "-i", "--pre")


def normalise_requirements(text: str, source: str = "src/requirements.txt") -> str:
    """Return the canonical form of a requirements file: options first, then sorted lines.

    Raises :class:`UsageError` naming the line when something does not parse.
    """
    options: list[str] = []
    reqs: dict[str, str] = {}
    for number, raw in enumerate(_logical_lines(text), start=1):
        line = raw.split(" #", 1)[0].strip() if not raw.lstrip().startswith("#") else ""
        if not line:
            continue
        if line.startswith("-"):
            option = line.split(None, 1)[0].split("=", 1)[0]
            if option in _KEPT_OPTIONS:
                options.append(" ".join(line.split()))
                continue
            raise UsageError(
                f"{source} line {number}: the option {option!r} is not supported.",
                type="bad_requirements",
                hint="List one package per line (e.g. scikit-learn>=1.4); nested files and "
                "editable installs are not supported.",
            )
        try:
            req = Requirement(line)
        except InvalidRequirement as err:
            raise UsageError(
                f"{source} line {number}: {line!r} is not a valid requirement ({_short(err)}).",
                type="bad_requirements",
                hint="Write one package per line, e.g. `scikit-learn>=1.4` or `torch==2.3.1`.",
            ) from None
        text_req = _canonical(req)
        reqs[text_req] = text_req
    lines = options + sorted(reqs.values())
    return "".join(line + "\n" for line in lines)


def requirement_names(normalised: str) -> list[str]:
    """The canonical package names of a normalised requirements text (options skipped)."""
    return [
        canonicalize_name(Requirement(line).name)
        for line in normalised.splitlines()
        if line and not line.startswith("-")
    ]


def _canonical(req: Requirement) -> str:
    name = canonicalize_name(req.name)
    extras = f"[{','.join(sorted(canonicalize_name(e) for e in req.extras))}]" if req.extras else ""
    if req.url:
        spec = f" @ {req.url}"
    else:
        spec = ",".join(sorted(str(s) for s in req.specifier))
    marker = f" ; {req.marker}" if req.marker else ""
    if req.url and marker:
        marker = " " + marker.lstrip()
    return f"{name}{extras}{spec}{marker}"


def _logical_lines(text: str):
    """Lines with pip's backslash continuations joined."""
    buf = ""
    for line in text.splitlines():
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        yield buf + line
        buf = ""
    if buf:
        yield buf


def _short(err: Exception) -> str:
    return str(err).splitlines()[0][:160]
