"""Jobs: long work of the server extension (builds, deploys, model-file copies).

``models`` holds the typed records and states, ``store`` keeps them (SQLite for the records, one
append-only JSONL file of events per job), ``runner`` runs them (a ``hub ... --json`` subprocess
or an in-process task) and announces new events and state changes to subscribers.
"""
