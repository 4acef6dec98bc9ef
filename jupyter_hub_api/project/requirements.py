"""Read ``src/requirements.txt`` the way pip reads it, and normalise it.

pip's requirements-file grammar is followed line for line (``pip/_internal/req/req_file.py``):
backslash continuations, ``#`` comments, a line split into the requirement and its options at
the first word that starts with ``-``, per-requirement ``--hash``/``--config-settings``, and
every option pip allows on a line of its own. Requirements themselves are parsed with
``packaging`` (PEP 508: extras, specifiers, markers, ``name @ url``); a bare URL such as
``git+https://…`` is kept as it is. (``pip-requirements-parser`` would parse the same, but it
is a frozen copy of pip 22's code that misses options pip added since, and it follows ``-r``
anywhere on disk or the network; what we need on top of the grammar — confinement, inlining,
a normal form — is ours either way.)

The normalised text is what keys a Python environment and what a build record carries to a
platform that rebuilds the environment elsewhere, so it must say everything by itself:

- ``-r other.txt`` is read (relative to the file that names it, never outside the project)
  and its lines are put in place of the option, so the key covers the included file's content;
- requirements are sorted and written in canonical form (``Scikit_Learn`` → ``scikit-learn``),
  so two files that say the same thing share one environment;
- options that change where packages come from or which are chosen are kept, in order.

- a local wheel or source archive (a path, relative to the file, or a ``file:`` URL) is written
  as a ``file:`` URL with its ``--hash``, so the key covers its content and the installer checks
  it.

What cannot be carried that way is refused with the line and what to do: editable or local
folder installs and constraint files (their content lives outside the text).
"""

from __future__ import annotations

import argparse
import hashlib
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

from packaging.markers import InvalidMarker, Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from ..errors import UsageError

REQUIREMENTS_FILE = "src/requirements.txt"

# What the hosted service's base image had, so every API environment has them unless
# hub_config.json says "base_packages": false.
BASE_PACKAGES = ("numpy", "pillow")

_COMMENT_RE = re.compile(r"(^|\s+)#.*$")  # pip's COMMENT_RE
_URL_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_ARCHIVE_RE = re.compile(r"\.(whl|zip|tar\.gz|tgz|tar\.bz2|tar\.xz|tar)$", re.I)
_LOCAL_RE = re.compile(r"^(\.|/|~)|[\\/]|\.(whl|zip|tar\.gz|tgz|tar\.bz2|tar\.xz|tar)$", re.I)
_FIX = "Write one package per line, e.g. `scikit-learn>=1.4`, `torch==2.3.1` or `name @ https://…`."


@dataclass(frozen=True)
class _Option:
    flags: tuple[str, ...]
    value: bool  # takes a value
    per_requirement: bool = False


# Every option pip accepts in a requirements file (pip 26: SUPPORTED_OPTIONS and
# SUPPORTED_OPTIONS_REQ), with the spelling we write in the normal form first.
_OPTIONS = (
    _Option(("--index-url", "-i"), True),
    _Option(("--extra-index-url",), True),
    _Option(("--no-index",), False),
    _Option(("--constraint", "-c"), True),
    _Option(("--requirement", "-r"), True),
    _Option(("--editable", "-e"), True),
    _Option(("--find-links", "-f"), True),
    _Option(("--no-binary",), True),
    _Option(("--only-binary",), True),
    _Option(("--prefer-binary",), False),
    _Option(("--require-hashes",), False),
    _Option(("--no-require-hashes",), False),
    _Option(("--pre",), False),
    _Option(("--all-releases",), True),
    _Option(("--only-final",), True),
    _Option(("--trusted-host",), True),
    _Option(("--use-feature",), True),
    _Option(("--hash",), True, per_requirement=True),
    _Option(("--config-settings", "-C"), True, per_requirement=True),
)


class _Parser(argparse.ArgumentParser):
    """pip's option grammar (long options may be abbreviated, ``--x=v``, ``-xv``), raising."""

    def error(self, message):  # argparse would exit the process
        raise ValueError(message)


def _parser() -> _Parser:
    parser = _Parser(add_help=False, allow_abbrev=True, prog="requirements.txt")
    for opt in _OPTIONS:
        dest = _dest(opt)
        if opt.value:
            parser.add_argument(*opt.flags, dest=dest, action="append", default=None)
        else:
            parser.add_argument(*opt.flags, dest=dest, action="store_true")
    return parser


def _dest(opt: _Option) -> str:
    return opt.flags[0].lstrip("-").replace("-", "_")


_LINE_PARSER = _parser()


def project_requirements(project_dir: Path | str, config: dict | None = None) -> str:
    """The normalised requirements of the project at ``project_dir``.

    ``src/requirements.txt`` (absent: none) with the files it includes, plus
    :data:`BASE_PACKAGES` unless ``config`` has ``"base_packages": false``. Raises
    :class:`UsageError` naming the file and line of a problem.
    """
    root = Path(project_dir).resolve()
    path = root / REQUIREMENTS_FILE
    text = _read(path, REQUIREMENTS_FILE) if path.is_file() else ""
    normalised = normalise_requirements(text, REQUIREMENTS_FILE, base=path.parent, root=root)
    if config is None or config.get("base_packages", True):
        normalised = with_base_packages(normalised)
    return normalised


def with_base_packages(normalised: str) -> str:
    """``normalised`` plus those of :data:`BASE_PACKAGES` it does not name already."""
    named = set(requirement_names(normalised))
    extra = "".join(f"{name}\n" for name in BASE_PACKAGES if name not in named)
    return normalise_requirements(normalised + extra) if extra else normalised


def normalise_requirements(
    text: str,
    source: str = REQUIREMENTS_FILE,
    *,
    base: Path | None = None,
    root: Path | None = None,
) -> str:
    """Return the canonical form of a requirements text: options first, then sorted lines.

    ``base`` is the folder of the file the text came from (``-r`` paths are relative to it)
    and ``root`` the folder no included file may be outside of; without them a ``-r`` line is
    refused. Raises :class:`UsageError` naming the line when something is not pip's syntax or
    cannot be carried by the text.
    """
    options: list[str] = []
    reqs: set[str] = set()
    _collect(text, source, base, root, options, reqs, seen=())
    kept = list(dict.fromkeys(options))
    return "".join(line + "\n" for line in kept + sorted(reqs))


def requirement_names(normalised: str) -> list[str]:
    """The canonical package names of a normalised text (options and bare URLs skipped)."""
    names = []
    for line in normalised.splitlines():
        if line and not line.startswith("-") and not _URL_RE.match(line):
            names.append(canonicalize_name(Requirement(_split_args(line)[0]).name))
    return names


def local_paths(normalised: str) -> list[str]:
    """The lines of a normalised text that name something on this machine's disk.

    ``file:`` URLs (``git+file:`` too) and ``--find-links`` folders: fine for the machine the
    build ran on, never for a platform that another user deploys to (they would make it read
    its own files).
    """
    found = []
    for line in normalised.splitlines():
        words = shlex.split(line) if line.startswith("-") else [line]
        if words[0] == "--find-links" and not _URL_RE.match(words[1]):
            found.append(line)
        elif re.search(r"(^|[\s+])file:", line.split(" --hash=")[0]):
            found.append(line)
    return found


def logical_lines(text: str):
    """``(number, line)`` as pip sees them: continuations joined, comments and blanks gone."""
    for number, line in _join_lines(enumerate(text.splitlines(), start=1)):
        line = _COMMENT_RE.sub("", line).strip()
        if line:
            yield number, line


# -- parsing ----------------------------------------------------------------------------


def _collect(text, source, base, root, options, reqs, seen) -> None:
    for number, line in logical_lines(text):
        where = f"{source} line {number}"
        args, option_text = _split_args(line)
        try:
            parsed = _LINE_PARSER.parse_args(shlex.split(option_text))
        except ValueError as err:
            raise _error(where, f"{line!r} is not valid ({_short(err)})") from None
        if args:
            reqs.add(_requirement(args, parsed, where, base))
            continue
        if parsed.editable:
            raise _error(
                where,
                f"{line!r} is an editable install, which a built environment cannot hold",
                "Put that code in src/ (it is on sys.path), or name the package as a "
                "requirement, e.g. `name @ git+https://…`.",
            )
        if parsed.constraint:
            raise _error(
                where,
                f"{line!r} names a constraints file, which is not supported",
                "Write its version pins into the requirements file itself.",
            )
        for included in parsed.requirement or ():
            path, label = _included(included, where, base, root, seen)
            _collect(_read(path, label), label, path.parent, root, options, reqs, (*seen, path))
        options.extend(_option_lines(parsed, base))


def _requirement(args: str, parsed: argparse.Namespace, where: str, base: Path | None) -> str:
    """The canonical text of one requirement with its own options (``--hash``...)."""
    hashes = set(parsed.hash or ())
    try:
        req = Requirement(args)
    except InvalidRequirement as err:
        url, marker = _bare_url(args, where)
        if url is None:
            if not _LOCAL_RE.search(args.split(";", 1)[0].strip()):
                raise _error(
                    where, f"{args!r} is not a valid requirement ({_short(err)})"
                ) from None
            url = _local_file(args.split(";", 1)[0].strip(), args, where, base).as_uri()
        text = url + marker
    else:
        text = _canonical(req)
        url = req.url
    if url and url.lower().startswith("file:") and not hashes:
        # A local archive: its content, not only its path, decides the environment.
        hashes.add(f"sha256:{_sha256(_local_file(url, args, where, base))}")
    for value in sorted(hashes):
        text += f" --hash={value}"
    for value in parsed.config_settings or ():
        text += f" --config-settings={_quote(value)}"
    return text


def _bare_url(args: str, where: str) -> tuple[str | None, str]:
    """A bare URL requirement (``git+https://host/repo.git ; marker``) as ``(url, " ; marker")``."""
    url, _, marker = args.partition("; ")
    url = url.strip()
    if not _URL_RE.match(url) or " " in url:
        return None, ""
    if not marker.strip():
        return url, ""
    try:
        return url, f" ; {Marker(marker.strip())}"
    except InvalidMarker as err:
        raise _error(where, f"{marker.strip()!r} is not a valid marker ({_short(err)})") from None


def _local_file(location: str, args: str, where: str, base: Path | None) -> Path:
    """The wheel or source archive a ``file:`` URL or a path names (relative: to the file)."""
    if location.lower().startswith("file:"):
        path = Path(url2pathname(urlsplit(location).path))
    else:
        path = Path(location).expanduser()
        if not path.is_absolute():
            if base is None:
                raise _local(args, where)
            path = base / path
    if path.is_file() and _ARCHIVE_RE.search(path.name):
        return path.resolve()
    if path.exists():
        raise _local(args, where)
    raise _error(where, f"{args!r} names {path}, which does not exist", "Fix the path.")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _option_lines(parsed: argparse.Namespace, base: Path | None) -> list[str]:
    """The options of an option line, each as ``--long-name value`` (quoted where needed).

    A relative ``--find-links`` folder is made absolute against the file's folder, as pip
    does when it exists there (the normal form is installed from another folder).
    """
    lines = []
    for opt in _OPTIONS:
        if opt.per_requirement or opt.flags[0] in ("--requirement", "--constraint", "--editable"):
            continue
        value = getattr(parsed, _dest(opt))
        if opt.flags[0] == "--find-links" and value and base is not None:
            value = [str((base / v).resolve()) if _relative_folder(base, v) else v for v in value]
        if opt.value:
            lines += [f"{opt.flags[0]} {_quote(v)}" for v in value or ()]
        elif value:
            lines.append(opt.flags[0])
    return lines


def _relative_folder(base: Path, value: str) -> bool:
    return not _URL_RE.match(value) and not Path(value).is_absolute() and (base / value).exists()


def _included(name: str, where: str, base: Path | None, root: Path | None, seen) -> tuple:
    """The path and label of a ``-r`` file, confined to the project."""
    if _URL_RE.match(name):
        raise _error(
            where,
            f"'-r {name}' names a file on the network, which the build cannot keep",
            "Copy that file into the project and name it with a relative path.",
        )
    if base is None or root is None:
        raise _error(
            where,
            f"'-r {name}' includes another file, which only a requirements file in a project can",
            "List those packages here instead.",
        )
    path = (base / Path(name).expanduser()).resolve()
    if not path.is_relative_to(root):
        raise _error(
            where,
            f"'-r {name}' is outside the project folder",
            "Keep included requirements files inside the project.",
        )
    label = str(path.relative_to(root))
    if path in seen or path == (root / REQUIREMENTS_FILE):
        raise _error(where, f"'-r {name}' includes {label} again, in a loop", "Remove the loop.")
    if not path.is_file():
        raise _error(where, f"'-r {name}': {label} does not exist", "Fix the path.")
    return path, label


def _read(path: Path, label: str) -> str:
    try:
        return path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _error(label, "is not UTF-8 text", "Save it as UTF-8.") from None
    except OSError as err:
        raise _error(label, f"cannot be read ({err.strerror or err})", "Check the file.") from None


def _canonical(req: Requirement) -> str:
    name = canonicalize_name(req.name)
    extras = f"[{','.join(sorted(canonicalize_name(e) for e in req.extras))}]" if req.extras else ""
    if req.url:
        spec = f" @ {req.url}"
    else:
        spec = ",".join(sorted(str(s) for s in req.specifier))
    marker = f" ; {req.marker}" if req.marker else ""
    return f"{name}{extras}{spec}{marker}"


def _split_args(line: str) -> tuple[str, str]:
    """pip's ``break_args_options``: the requirement, and the options from the first ``-`` word."""
    tokens = line.split(" ")
    for i, token in enumerate(tokens):
        if token.startswith("-"):
            return " ".join(tokens[:i]).strip(), " ".join(tokens[i:])
    return line.strip(), ""


def _join_lines(lines):
    """pip's ``join_lines``: a line ending in ``\\`` continues on the next (not in a comment)."""
    first = None
    parts: list[str] = []
    for number, line in lines:
        if not line.endswith("\\") or _COMMENT_RE.match(line):
            if _COMMENT_RE.match(line):
                line = " " + line  # so the comment is still seen as one once joined
            if parts:
                parts.append(line)
                yield first, "".join(parts)
                parts = []
            else:
                yield number, line
        else:
            if not parts:
                first = number
            parts.append(line.strip("\\"))
    if parts:
        yield first, "".join(parts)


def _local(args: str, where: str) -> UsageError:
    return _error(
        where,
        f"{args!r} is a local folder (or an editable install), which a built environment "
        "cannot hold",
        "Put that code in src/ (it is on sys.path), build it into a wheel and name the wheel, "
        "or name a published package or a URL.",
    )


def _error(where: str, problem: str, hint: str = _FIX) -> UsageError:
    return UsageError(f"{where}: {problem}.", type="bad_requirements", hint=hint)


def _quote(value: str) -> str:
    """``value`` as one shell word, quoted only when it has to be (URLs stay readable)."""
    return shlex.quote(value) if re.search(r"[\s'\"\\]", value) else value


def _short(err: Exception) -> str:
    return str(err).splitlines()[0][:160]
