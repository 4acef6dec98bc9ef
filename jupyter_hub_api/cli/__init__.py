"""The ``hub`` command line: every command of the product, for people and for machines."""
