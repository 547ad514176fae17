"""The ``neuronsim`` command line.

Each command lives in its own module with ``register(subparsers)``, which
adds the command's parser and sets ``run=function(args) -> exit status``.
``COMMANDS`` maps each command to its module, in the order ``neuronsim
--help`` shows them.  Only the module of the command being run is imported
(with what it needs); ``neuronsim --help`` and an unknown command import
them all.  That keeps start-up short: ``neuronsim trace`` never loads numpy.

Errors in the user's input (a bad network file, a wrong vector length, an
unknown name) print one line ``neuronsim: error: ...`` and exit with
status 2, never a traceback.
"""

import argparse
import importlib
import os
import re
import sys

from .. import __version__
from ..core.errors import NeuronsimError
from ..files.number_text import read_float
from ..render.escape import terminal_output, terminal_text

COMMANDS = {
    "demo": "neuronsim.cli.demo",
    "trace": "neuronsim.cli.core", "train": "neuronsim.cli.core",
    "explain": "neuronsim.cli.explain", "early-update": "neuronsim.cli.explain",
    "worksheet": "neuronsim.cli.worksheet", "check": "neuronsim.cli.worksheet",
    "step": "neuronsim.cli.step",
    "report": "neuronsim.cli.report",
    "crosscheck": "neuronsim.cli.crosscheck",
    "gradcheck": "neuronsim.cli.gradcheck",
    "gradient-flow": "neuronsim.cli.rnn", "rnn-trace": "neuronsim.cli.rnn",
    "rnn-train": "neuronsim.cli.rnn", "rnn-gradient-flow": "neuronsim.cli.rnn",
    "draw": "neuronsim.cli.draw",
    "digits": "neuronsim.cli.digits",
    "serve": "neuronsim.cli.serve",
}
COMMAND_MODULES = tuple(dict.fromkeys(COMMANDS.values()))   # each module once, in order


# A negative number, as an argument (``--input -1e6 1``, ``--target -1/2``), is a value,
# not an option: argparse's own pattern knows only -1 and -.5.
# "-inf" and "-nan" too, so that they reach the check that refuses them by name.
NEGATIVE_NUMBER = re.compile(r"^-((\d+\.?\d*|\.\d+)([eE][+-]?\d+)?(/\d+)?|inf|infinity|nan)$",
                             re.IGNORECASE)


class _Parser(argparse.ArgumentParser):
    """argparse, with the checks every option of every command shares:

    - a usage mistake is one line (and exit status 2), like every error;
    - a negative number is read as a value (``--input -1e6 1``);
    - an option of type float takes finite numbers only (nan and inf are
      refused, naming the option), read with bounded length and exponent;
    - a file name (-o/--output, --save, metavar FILE) may not be empty.
    """

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = NEGATIVE_NUMBER

    def add_argument(self, *names, **kwargs):
        if kwargs.get("type") is float:
            kwargs["type"] = finite_float
        elif kwargs.get("type") is None and (kwargs.get("metavar") == "FILE"
                                             or kwargs.get("dest") in ("output", "save")
                                             or "--output" in names or "--save" in names):
            kwargs["type"] = file_name
        return super().add_argument(*names, **kwargs)

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {terminal_text(message)} "
                     f"(see '{self.prog} --help')\n")


class _HelpFormatter(argparse.HelpFormatter):
    """argparse's help layout, as wide as argparse makes it (the terminal's width
    less 2), the width found without importing shutil: argparse imports shutil
    (with bz2, lzma and fnmatch) only for ``shutil.get_terminal_size``, a few
    milliseconds of every command's start-up, since argparse asks for the width
    at every add_argument."""

    def __init__(self, prog, indent_increment=2, max_help_position=24, width=None,
                 **options):
        if width is None:
            width = terminal_columns() - 2
        super().__init__(prog, indent_increment, max_help_position, width, **options)


def terminal_columns():
    """The terminal's width in columns, found as ``shutil.get_terminal_size()``
    finds it: $COLUMNS if it is a positive whole number, else the width of the
    terminal of ``sys.__stdout__``, else 80 (not a terminal, or a width of 0)."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns > 0:
        return columns
    try:
        columns = os.get_terminal_size(sys.__stdout__.fileno()).columns
    except (AttributeError, ValueError, OSError):   # no stdout, closed, not a terminal
        columns = 0
    return columns or 80


def finite_float(text):
    """An option's float: finite, with bounded length and exponent."""
    try:
        return read_float(text, "")
    except NeuronsimError as exc:
        raise argparse.ArgumentTypeError(str(exc).lstrip(": ")) from None


finite_float.__name__ = "number"


def file_name(text):
    """An option's file name: not empty."""
    if not text.strip():
        raise argparse.ArgumentTypeError(f"expected a file name, got {text!r}")
    return text


def command_of(argv):
    """The command an argument list names (its first word that is not an
    option), or None."""
    for word in argv:
        if not word.startswith("-"):
            return word
    return None


def build_parser(argv=None):
    """The parser for ``argv``: only the named command's module is imported;
    with no command (``--help``) or an unknown one, every module."""
    parser = _Parser(
        prog="neuronsim",
        description="A reference simulator for backpropagation, one Python object per neuron. "
                    "Trace labels use textbook numbering (input layer = layer 1, neurons from 1); "
                    "the Python API is 0-based.")
    parser.add_argument("--version", action="version", version=f"neuronsim {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND",
                                       parser_class=_Parser)
    module = COMMANDS.get(command_of(argv or []))
    for name in (module,) if module else COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv=None):
    """Run the command line; returns the exit status (0 ok, 1 check failed, 2 bad input)."""
    if argv is None:
        argv = sys.argv[1:]
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return 2
    saved, sys.stdout = sys.stdout, VisibleControls(sys.stdout)
    try:
        return args.run(args) or 0
    except (NeuronsimError, ValueError, OSError) as exc:
        # Input errors; and unknown names, impossible options, unwritable output
        # files: still the user's input, still one line (control characters and
        # newlines from the user's text shown as visible escapes).
        print(f"neuronsim: error: {terminal_text(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("neuronsim: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    finally:
        sys.stdout = saved


class VisibleControls:
    """Standard output as a command writes it: every control character and
    escape sequence in the text (a network's name, a student's answer) is
    shown as a visible escape such as ``\\x1b``; lines and tabs stay.
    ``raw`` is the stream itself (the interactive stepper draws its screens
    with escape sequences of its own)."""

    def __init__(self, stream):
        self.raw = stream

    def write(self, text):
        return self.raw.write(terminal_output(text))

    def __getattr__(self, name):     # flush, isatty, fileno, encoding, ...
        return getattr(self.raw, name)


if __name__ == "__main__":
    sys.exit(main())
