"""Network files (JSON, docs/spec.md): reading and checking them, saving atomically,
and the bundled examples."""

from .bundled import EXAMPLES, example_path, load_example

__all__ = ["EXAMPLES", "example_path", "load_example"]
