"""A pairbench plugin: ``toy-hashing`` (a backend) and ``toy-centroid`` (a classifier), registered through the
entry points of this package's ``pyproject.toml``."""
