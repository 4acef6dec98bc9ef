"""The Jupyter Server extension: a thin HTTP layer under ``/hub-api/`` over the ``hub`` CLI."""
