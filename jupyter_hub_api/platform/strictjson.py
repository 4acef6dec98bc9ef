"""Request bodies are RFC 8259 JSON: one decoder for the gateway and the control plane.

Python's ``json`` accepts more than the RFC: ``NaN``, ``Infinity`` and ``-Infinity``, numbers
too large for a double (``1e400`` becomes ``inf``), and UTF-16/32 bodies; and nesting deeper
than the interpreter's recursion limit raises RecursionError instead of a decoding error. None
of those can be answered as JSON by a handler, so :func:`loads` refuses them all with a
ValueError whose text says what was wrong.

Checking every float in Python would triple the cost of a body of many floats (a model's input),
so the check runs only on a body that could hold a number beyond a double: one with an exponent
of three digits or more, or 309 digits in a row. That test is a byte translation and three
substring searches, a few microseconds for 10 kB; other bodies keep the C scanner's fast path.
(Integers are never a problem: Python's limit on the digits of an int applies to them.)
"""

from __future__ import annotations

import json
import math


class NotJSON(ValueError):
    """The body is not RFC 8259 JSON; the text says why, in a few words."""


def _refuse_constant(name: str):
    raise NotJSON(f"{name} is not a JSON value; send numbers as finite decimals")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise NotJSON(f"the number {text[:40]} is too large for a double")
    return value


_FAST = json.JSONDecoder(parse_constant=_refuse_constant)
_CHECKED = json.JSONDecoder(parse_constant=_refuse_constant, parse_float=_finite_float)
# Digits to "0", exponent letters to "e": then "e000", "e+000" or 309 zeros find every number
# that could overflow a double (and, harmlessly, some that cannot, e.g. text like "e123").
_SHAPES = bytes.maketrans(b"0123456789E", b"0000000000e")
_LONG_RUN = b"0" * 309
_BOM = b"\xef\xbb\xbf"


def _may_overflow(body: bytes) -> bool:
    shapes = body.translate(_SHAPES)
    return b"e000" in shapes or b"e+000" in shapes or _LONG_RUN in shapes


def loads(body: bytes):
    """The JSON value of ``body`` (UTF-8), or NotJSON saying in a few words what is wrong."""
    if body[:3] == _BOM:  # a byte order mark may be ignored (RFC 8259 8.1)
        body = body[3:]
    try:
        text = body.decode()  # (C's UTF-8 decoder; "utf-8-sig" is a Python codec)
    except UnicodeDecodeError:
        raise NotJSON("it is not UTF-8 text") from None
    try:
        return (_CHECKED if _may_overflow(body) else _FAST).decode(text)
    except NotJSON:
        raise
    except RecursionError:
        raise NotJSON("it is nested too deeply") from None
    except ValueError as err:
        raise NotJSON(str(err).split("\n")[0][:120]) from None
