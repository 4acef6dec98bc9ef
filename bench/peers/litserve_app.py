"""The handler served by LitServe.

Run: BENCH_HANDLER=echo python litserve_app.py PORT
``LITSERVE_WORKERS`` (workers_per_device), ``LITSERVE_FAST_QUEUE`` (1: ZeroMQ queue) and
``LITSERVE_API_SERVERS`` (uvicorn processes) tune it; unset, LitServe runs at its defaults.
"""

import os
import sys

import handlers
import litserve as ls


class BenchAPI(ls.LitAPI):
    """Loads the handler once per worker and calls it for each request (no batching)."""

    def setup(self, device):
        self.handler = handlers.load()

    def decode_request(self, request):
        return request["inputs"]

    def predict(self, payload):
        return self.handler(payload)

    def encode_response(self, output):
        return {"output": output}


def main():
    """Start the server on the port given as the first argument."""
    options = {"accelerator": "cpu"}
    if os.environ.get("LITSERVE_WORKERS"):
        options["workers_per_device"] = int(os.environ["LITSERVE_WORKERS"])
    if os.environ.get("LITSERVE_FAST_QUEUE") == "1":
        options["fast_queue"] = True
    if os.environ.get("LITSERVE_TIMEOUT_OFF") == "1":
        options["timeout"] = False
    run_options = {"port": int(sys.argv[1]), "host": "127.0.0.1", "generate_client_file": False}
    if os.environ.get("LITSERVE_API_SERVERS"):
        run_options["num_api_servers"] = int(os.environ["LITSERVE_API_SERVERS"])
    if os.environ.get("LITSERVE_QUIET") == "1":
        run_options["log_level"] = "warning"
    ls.LitServer(BenchAPI(), **options).run(**run_options)


if __name__ == "__main__":
    main()
