"""``neuronsim crosscheck SPEC --against numpy|torch|module:function|file.npz``.

Runs the network file's samples (or ``--data FILE.npz`` with arrays X and Y)
through the per-neuron network and through the other implementation, prints
the table of :func:`neuronsim.crosscheck.compare.compare`, and exits 0 if everything
agrees, 1 on a mismatch or when nothing was compared, 2 on bad input or an
exception in the user's code (reported with their function, file and line).
"""

import importlib
import importlib.util
import os
import sys

from ..core.errors import NeuronsimError
from ..core.labels import CONVENTIONS
from ..crosscheck.compare import compare, is_recurrent, sequence_arrays
from ..crosscheck.usercode import UserCodeError, run_user_module
from ..files.reading import load_arrays
from . import budgets
from .core import load
from .explain import add_float_only_numbers_option, refuse_non_float


def load_function(text):
    """``module:function`` or ``path/to/file.py:function`` -> the function.

    A module name is looked up with the current folder first on the path, so
    ``mycode:backprop`` finds ./mycode.py.  A module that is not there is a bad
    argument (NeuronsimError); an exception raised while Python runs the
    module is the user's (:class:`~neuronsim.crosscheck.usercode.UserCodeError`).
    """
    module_name, _, function_name = text.rpartition(":")
    if not module_name or not function_name:
        raise NeuronsimError(f"--against {text!r}: expected numpy, torch, module:function "
                             "or a file ending in .npz")
    if module_name.endswith(".py"):
        spec = importlib.util.spec_from_file_location(
            os.path.splitext(os.path.basename(module_name))[0], module_name)
        if spec is None or not os.path.isfile(module_name):
            raise NeuronsimError(f"--against: no such file {module_name!r}")
        module = importlib.util.module_from_spec(spec)
        run_user_module(lambda: spec.loader.exec_module(module), module_name, module_name)
    else:
        if os.getcwd() not in sys.path:
            sys.path.insert(0, os.getcwd())
        try:
            module = run_user_module(lambda: importlib.import_module(module_name), module_name)
        except ImportError as exc:  # the module itself is not there
            raise NeuronsimError(f"--against {text!r}: cannot import {module_name!r} "
                                 f"({exc})") from None
    function = module
    for part in function_name.split("."):
        function = getattr(function, part, None)
        if function is None:
            raise NeuronsimError(f"--against {text!r}: {module_name!r} has no {function_name!r}")
    if not callable(function):
        raise NeuronsimError(f"--against {text!r}: {function_name!r} is not a function")
    return function


def against_argument(text):
    if text in ("numpy", "torch"):
        return text
    if text.endswith(".npz"):
        if not os.path.exists(text):
            raise NeuronsimError(f"--against: no such file {text!r}")
        return text
    return load_function(text)


def batch(net, args):
    """X, Y from --data (an .npz with arrays X and Y) or the file's samples."""
    if args.data:
        data = load_arrays(args.data, "npz")   # size-limited, no pickles, real numbers
        if "X" not in data or "Y" not in data:
            raise NeuronsimError(f"--data {args.data}: expected arrays named X and Y, "
                                 f"found {', '.join(data) or 'none'}")
        return data["X"], data["Y"]
    if not net.samples:
        raise NeuronsimError(f"{args.spec}: the file has no samples; give --data FILE.npz "
                             "with arrays X and Y")
    if is_recurrent(net):   # X (m, T, n_in); Y (m, T, n_out) with NaN rows, or (m, n_out)
        try:
            return sequence_arrays(net.samples)
        except NeuronsimError as exc:
            raise NeuronsimError(f"{args.spec}: {exc}; give --data FILE.npz") from None
    return ([s["input"] for s in net.samples], [s["target"] for s in net.samples])


def run_crosscheck(args):
    """Exit 0 when everything compared agrees, 1 on a mismatch or when nothing was
    compared, 2 on bad input or when the user's code raised an exception."""
    refuse_non_float(args)
    net = load(args.spec, budget=budgets.single_step("crosscheck"))
    try:
        against = against_argument(args.against)
        X, Y = batch(net, args)
        report = compare(net, X, Y, against=against, tolerance=args.tolerance, atol=args.atol,
                         convention=args.convention)
    except UserCodeError as exc:  # theirs, not a neuronsim input error: say so
        print(f"neuronsim crosscheck: error in your code: {exc}", file=sys.stderr)
        return 2
    except ImportError as exc:  # torch missing
        raise NeuronsimError(str(exc)) from None
    print(report)
    return 0 if report.ok else 1


def register(subparsers):
    parser = subparsers.add_parser(
        "crosscheck", help="compare vectorized backprop (numpy, torch, yours) with the "
                           "per-neuron reference",
        description="Compare every activation, the loss, every delta and the gradients dW, db "
                    "with the per-neuron simulator, layer by layer; name the first divergence "
                    "and the classic mistake that explains it.  Always float64, as numpy and "
                    "torch compute.  A network with recurrent layers (any stack) is compared "
                    "step by step (forward t = 1..T, the loss, backward from t = T, then dW, "
                    "dU, db, dE/da[0] per layer), against one torch.nn.RNN per recurrent layer "
                    "and nn.Linear per dense layer for torch; a function then gets "
                    "f(layers, X, Y), or f(W, U, b, dense, X, Y) for one recurrent first "
                    "layer (docs/checking.md).  Exit status 0: all agree, "
                    "1: a mismatch or nothing compared, 2: bad input or an exception in your "
                    "code.")
    parser.add_argument("spec", metavar="SPEC", help="network file (JSON, see docs/spec.md)")
    parser.add_argument("--against", required=True, metavar="WHAT",
                        help="numpy (built-in vectorized reference), torch (autograd), "
                             "module:function (your f(weights, biases, X, Y) returning a dict; "
                             "f(layers, X, Y) for a network with recurrent layers), "
                             "or FILE.npz (saved arrays)")
    parser.add_argument("--data", metavar="FILE.npz",
                        help="the batch: arrays X (m, n_in) and Y (m, n_out); for a recurrent "
                             "network X (m, T, n_in) and Y (m, T, n_out) (a NaN row: no "
                             "target) or (m, n_out) (last step); default: the file's samples")
    parser.add_argument("--tolerance", type=float, default=1e-9,
                        help="relative tolerance (default 1e-9)")
    parser.add_argument("--atol", type=float, default=1e-12,
                        help="absolute floor of the tolerance (default 1e-12)")
    parser.add_argument("--convention", choices=CONVENTIONS, default="nielsen",
                        help="weight superscripts in labels (default nielsen)")
    add_float_only_numbers_option(parser, "crosscheck",
                                  "the vectorized implementations compare in float64")
    parser.set_defaults(run=run_crosscheck)
