"""The practical limit: a bare Starlette app on uvicorn that calls the handler in-process.

Run: BENCH_HANDLER=echo uvicorn bare_app:app --port 8000
"""

import handlers
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

handler = handlers.load()


async def predict(request: Request):
    """Decode the body, run the handler in the thread pool (it may block), answer JSON."""
    body = await request.json()
    output = await run_in_threadpool(handler, body["inputs"])
    return JSONResponse({"output": output})


async def health(request: Request):
    """Ready as soon as the module (and so the model) is loaded."""
    return PlainTextResponse("ok")


app = Starlette(routes=[Route("/predict", predict, methods=["POST"]), Route("/health", health)])
