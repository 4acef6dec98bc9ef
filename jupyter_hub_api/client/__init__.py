"""The platform's HTTP client: the CLI's (synchronous) and the server extension's (asyncio).

``api.connect()`` finds (and if needed starts) the platform; ``api.AsyncPlatformClient`` makes
the same calls from asyncio code; ``deploy.deploy_build()`` sends a build, reporting to an event
sink (``events.py``); ``embedded`` starts, probes and stops the embedded platform process.
Nothing here imports the CLI or the server extension (``tests/test_layering.py``).
"""
