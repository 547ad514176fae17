"""The ``neuronsim`` command line: ``main`` (neuronsim.cli.main) and one module per
command family."""

from .main import main

__all__ = ["main"]
