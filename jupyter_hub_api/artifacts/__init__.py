"""Builds: the content-addressed blob store, cached Python environments and build records.

- :mod:`.blobstore` keeps every model and source file once, named by its sha256.
- :mod:`.environments` makes (or reuses) the Python environment an API runs in.
- :mod:`.records` writes and reads the immutable build records and lays a build out on disk.
- :mod:`.builder` runs a whole ``hub build`` (the CLI command is only its front end).
"""
