"""Projects: scaffolding (``hub init``), ``hub_config.json`` and checks of a project folder.

- :mod:`.names` — the rule for project names.
- :mod:`.config` — load and validate ``hub_config.json`` against the shipped JSON Schema.
- :mod:`.handler_check` — find the one ``@hub_handler`` in ``src/main.py`` without importing it.
- :mod:`.requirements` — parse and normalise ``src/requirements.txt``.
- :mod:`.scaffold` — write a new project from ``templates/<name>/``.
- :mod:`.files` — walk a folder's files safely (symlinks followed, loops refused).
- :mod:`.locate` — find the project folder a command runs in.
"""
