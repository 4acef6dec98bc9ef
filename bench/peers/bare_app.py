"""The practical limit: a bare Starlette app on uvicorn that calls the handler in-process.

Run: BENCH_HANDLER=echo uvicorn bare_app:app --port 8000
BARE_INLINE=1 calls the handler on the event loop: cheaper for a fast handler, but one that
blocks (the sleep) would stall every other request, so the default is Starlette's thread pool.
"""

import os

import handlers
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

handler = handlers.load()
INLINE = os.environ.get("BARE_INLINE") == "1"


async def predict(request: Request):
    """Decode the body, run the handler (thread pool, or inline), answer JSON."""
    body = await request.json()
    if INLINE:
        output = handler(body["inputs"])
    else:
        output = await run_in_threadpool(handler, body["inputs"])
    return JSONResponse({"output": output})


async def health(request: Request):
    """Ready as soon as the module (and so the model) is loaded."""
    return PlainTextResponse("ok")


app = Starlette(routes=[Route("/predict", predict, methods=["POST"]), Route("/health", health)])
