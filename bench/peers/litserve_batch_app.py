"""LitServe with batching (``max_batch_size``) or streaming (``stream=True``), for batch_bench.py.

Run: BENCH_MODE=batch|stream BENCH_MODEL_DIR=... python litserve_batch_app.py PORT
batch: the iris model of train_model.py (or, with BENCH_MODEL=torch, the MLP of torch_mlp.py),
``LitAPI(max_batch_size=32, batch_timeout=0.005)``,
2 workers; stream: yields ``BENCH_STREAM_ITEMS`` items ``BENCH_STREAM_GAP_MS`` apart (the first
at once), the same generator as ours in batch_bench.py.
"""

import os
import sys
import time

import litserve as ls


class BatchedIris(ls.LitAPI):
    """Requests ``{"inputs": [[f1, f2, ...], ...]}`` predicted together."""

    def setup(self, device):
        import handlers

        model = os.environ.get("BENCH_MODEL", "sklearn")
        self.predict_rows = handlers.load(model, os.environ["BENCH_MODEL_DIR"])

    def decode_request(self, request):
        return request["inputs"]

    def batch(self, inputs):
        return inputs  # a list of the requests' rows

    def predict(self, batch):
        counts = [len(rows) for rows in batch]
        flat = self.predict_rows([row for rows in batch for row in rows])
        out, at = [], 0
        for n in counts:
            out.append(flat[at : at + n])
            at += n
        return out

    def unbatch(self, output):
        return output

    def encode_response(self, output):
        return {"output": output}


class Streamed(ls.LitAPI):
    def setup(self, device):
        self.items = int(os.environ.get("BENCH_STREAM_ITEMS", "8"))
        self.gap = float(os.environ.get("BENCH_STREAM_GAP_MS", "20")) / 1000

    def decode_request(self, request):
        return request["inputs"]

    def predict(self, x):
        for i in range(self.items):
            if i:
                time.sleep(self.gap)
            yield {"token": i}

    def encode_response(self, outputs):
        for out in outputs:
            yield {"output": out}


def main():
    port = int(sys.argv[1])
    if os.environ.get("BENCH_MODE") == "stream":
        server = ls.LitServer(Streamed(stream=True), accelerator="cpu", timeout=False)
    else:
        api = BatchedIris(max_batch_size=32, batch_timeout=0.005)
        server = ls.LitServer(api, accelerator="cpu", workers_per_device=2, timeout=False)
    server.run(port=port, host="127.0.0.1", generate_client_file=False, log_level="warning")


if __name__ == "__main__":
    main()
