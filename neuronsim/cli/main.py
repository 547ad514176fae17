"""The ``neuronsim`` command line.

Each command lives in its own module with ``register(subparsers)``, which
adds the command's parser and sets ``run=function(args) -> exit status``.
``COMMAND_MODULES`` lists them in the order ``neuronsim --help`` shows.

Errors in the user's input (a bad network file, a wrong vector length, an
unknown name) print one line ``neuronsim: error: ...`` and exit with
status 2, never a traceback.
"""

import argparse
import importlib
import sys

from .. import __version__
from ..core.errors import NeuronsimError

COMMAND_MODULES = (
    "neuronsim.cli.demo",
    "neuronsim.cli.core",
    "neuronsim.cli.explain", "neuronsim.cli.worksheet",
    "neuronsim.cli.step",
    "neuronsim.cli.report",
    "neuronsim.cli.crosscheck",
    "neuronsim.cli.gradcheck",
    "neuronsim.cli.rnn",
    "neuronsim.cli.draw",
    "neuronsim.cli.digits",
)


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line (and exit status 2), like every error."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser():
    parser = _Parser(
        prog="neuronsim",
        description="A reference simulator for backpropagation, one Python object per neuron. "
                    "Trace labels use textbook numbering (input layer = layer 1, neurons from 1); "
                    "the Python API is 0-based.")
    parser.add_argument("--version", action="version", version=f"neuronsim {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND",
                                       parser_class=_Parser)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv=None):
    """Run the command line; returns the exit status (0 ok, 1 check failed, 2 bad input)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return 2
    try:
        return args.run(args) or 0
    except NeuronsimError as exc:
        print(f"neuronsim: error: {exc}", file=sys.stderr)
        return 2
    except (ValueError, OSError) as exc:
        # Unknown names, impossible options, unwritable output files: still the
        # user's input, still one line.
        print(f"neuronsim: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("neuronsim: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
