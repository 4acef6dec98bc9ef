"""How the platform runs an API: the ``runtime`` settings and their defaults, in one place.

The field names are those of the ``runtime`` section of ``hub_config.json``. The defaults here
are the ones the schema declares (``project/hub_config.schema.json``; a test checks they are
equal), the ones ``hub init`` writes, the ones the platform config's ``engine`` section starts
from (it may change them for versions whose record does not set them), and the ones of an
engine's ``VersionSpec``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["RUNTIME_DEFAULTS", "Runtime"]


@dataclass(frozen=True)
class Runtime:
    """An API's runtime settings (``hub_config.json``'s ``runtime``)."""

    timeout_seconds: float = 60.0  # one call; past it: 504 and the worker is replaced
    # -- async: an asynchronous call's (Prefer: respond-async) limit instead of timeout_seconds --
    async_timeout_seconds: float = 900.0
    load_timeout_seconds: float = 600.0  # importing main.py (loading the model)
    min_workers: int = 0  # kept loaded even when idle (0 = scale to zero)
    max_workers: int = 2  # started under load; more requests wait in a FIFO queue
    idle_seconds: float = 300.0  # a worker idle this long stops (down to min_workers)
    max_body_bytes: int = 6 * 1024 * 1024  # 6 MiB, the hosted service's payload limit
    # Resident memory of one worker with what it starts; 0 = no limit. Not written by hub init
    # nor declared as the schema's default: absent, the platform's config decides.
    memory_mb: int = 4096
    cpus: float = 1.0  # reserved per worker where the engine schedules them (Ray)
    gpus: float = 0.0  # reserved per worker (Ray; 0 = none)
    env: Mapping[str, str] = field(default_factory=dict)  # extra environment variables
    # Further workers of a version are forked from a loaded one (copy-on-write: milliseconds,
    # the model's memory shared) unless this is false or the handler is not fork-safe.
    fork: bool = True
    # ``{"input": <JSON value>}``: one call made in each new worker before it serves (and so
    # before a deploy switches to the version), so the first real call finds it warm.
    warmup: Mapping[str, Any] | None = None

    #: Fields ``hub init`` leaves out of ``hub_config.json``: the platform's config decides.
    PLATFORM_DECIDES = ("memory_mb",)
    #: Fields with no default value: absent unless a project sets them.
    OPTIONAL = ("warmup",)

    def updated(self, values: Mapping[str, Any] | None) -> Runtime:
        """These settings with those of ``values`` (a possibly partial ``runtime`` section;
        unknown keys are ignored) in their place, converted to the fields' types."""
        if not values:
            return self
        changes: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            if f.name in values and values[f.name] is not None:
                value = values[f.name]
                if f.name == "env":
                    changes["env"] = {str(k): str(v) for k, v in dict(value).items()}
                elif f.name == "warmup":
                    changes["warmup"] = dict(value)
                else:
                    changes[f.name] = type(f.default)(value)
        return dataclasses.replace(self, **changes)

    def config_section(self) -> dict:
        """The ``runtime`` section ``hub init`` writes (plain JSON values)."""
        section = {
            name: int(value) if isinstance(value, float) and value.is_integer() else value
            for name, value in dataclasses.asdict(self).items()
            if name not in self.PLATFORM_DECIDES and name not in self.OPTIONAL
        }
        section["env"] = dict(self.env)
        return section

    def engine_options(self) -> dict:
        """The keyword arguments of an engine's ``VersionSpec`` these settings give."""
        options = dataclasses.asdict(self)
        del options["max_body_bytes"]  # the gateway's, not the engine's
        del options["async_timeout_seconds"]  # async: given per call (engine.invoke's timeout)
        options["env"] = dict(self.env)
        options["warmup"] = dict(self.warmup) if self.warmup is not None else None
        return options


RUNTIME_DEFAULTS = Runtime()
