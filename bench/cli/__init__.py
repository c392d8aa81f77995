"""The command line (``python -m bench``): parse and dispatch."""

from bench.cli.main import main

__all__ = ["main"]
