"""The handler served by BentoML.

Run: BENCH_HANDLER=echo bentoml serve bentoml_service:BenchService --port 8000
``BENTOML_BENCH_WORKERS`` and ``BENTOML_BENCH_THREADS`` tune it; unset, BentoML runs at its
defaults (one worker, one thread for sync APIs).
"""

import os
import typing as t

import bentoml
import handlers

_config = {}
if os.environ.get("BENTOML_BENCH_WORKERS"):
    _config["workers"] = int(os.environ["BENTOML_BENCH_WORKERS"])
if os.environ.get("BENTOML_BENCH_THREADS"):
    _config["threads"] = int(os.environ["BENTOML_BENCH_THREADS"])


@bentoml.service(**_config)
class BenchService:
    """Loads the handler once per worker; ``POST /predict`` with ``{"inputs": ...}``."""

    def __init__(self):
        self.handler = handlers.load()

    @bentoml.api
    def predict(self, inputs: t.Any) -> t.Any:
        return {"output": self.handler(inputs)}
