"""The platform's HTTP client, used by the CLI (and through it by the server extension).

``api.connect()`` finds (and if needed starts) the platform; ``deploy.deploy_build()`` sends a
build; ``embedded`` starts, probes and stops the embedded platform process.
"""
