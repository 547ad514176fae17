"""``neuronsim explain`` (one derivative's chain rule) and ``neuronsim early-update``
(the early-update mistake next to the true step).

Also the options every hand-derivation command shares: ``--numbers``, the
sample (``--input``/``--target``) and ``--learning-rate``.
"""

import math
import sys

from ..core.errors import NeuronsimError
from ..core.labels import CONVENTIONS
from ..files.number_text import is_fraction_text, read_float, read_number, shown
from . import budgets
from .loading import load_network_argument

NUMBERS_HELP = ("arithmetic: float (float64, the default), fraction (exact, for linear/relu/"
                "leaky_relu with squared-error losses) or precise[:DIGITS] (mpmath, 50 digits "
                "unless given); see docs/number-modes.md")


def add_numbers_option(parser):
    parser.add_argument("--numbers", default="float", metavar="fraction|float|precise[:DIGITS]",
                        help=NUMBERS_HELP)


def add_float_only_numbers_option(parser, command, why):
    """``--numbers`` for a command that is float64 by nature: only ``float`` is
    accepted, anything else is refused in one line saying why."""
    parser.add_argument("--numbers", default="float", metavar="float",
                        help=f"float only: {command} computes in float64 ({why})")
    parser.set_defaults(float_only=(command, why))


def refuse_non_float(args):
    command, why = args.float_only
    if args.numbers != "float":
        raise NeuronsimError(f"--numbers {args.numbers}: {command} computes in float64 only "
                             f"({why}); exact and precise numbers work in trace, step, "
                             "explain and worksheet")


def add_sample_options(parser, learning_rate=True, default="the file's first sample"):
    """--input, --target (read by :func:`sample_from_args`) and --learning-rate."""
    parser.add_argument("--input", nargs="+", metavar="X",
                        help=f"input vector (default: {default}); decimals or fractions such "
                             "as 1/2 (exact with --numbers fraction)")
    parser.add_argument("--target", nargs="+", metavar="T", help="target vector, read the same way")
    if learning_rate:
        parser.add_argument("--learning-rate", metavar="ETA",
                            help="a finite number > 0 (default: the file's learning_rate)")


def add_convention_option(parser):
    parser.add_argument("--convention", choices=CONVENTIONS, default="nielsen",
                        help="weight superscript for labels read and printed: nielsen "
                             "(default; w_jk^(l) feeds layer l) or ng (w_jk^(l) feeds layer l+1)")


def sample_from_args(net, args):
    """(x, t) as given on the command line, or (None, None) for the file's sample.

    Every command that takes ``--input``/``--target`` reads them here: each
    number by :func:`parse_number`, and the lengths must fit the network.
    """
    if args.input is None and args.target is None:
        return None, None
    if args.input is None or args.target is None:
        raise NeuronsimError("give both --input and --target")
    if net.is_sequential:
        return sequence_from_args(net, args)
    return (parse_vector(args.input, net, "--input", net.sizes[0]),
            parse_vector(args.target, net, "--target", net.sizes[-1]))


def sequence_from_args(net, args):
    """A sequence for a network with a recurrent layer: ``--input`` gives x[1],
    x[2], ... one after another (T × inputs numbers); ``--target`` gives one
    target per step (T × outputs numbers) or the last step's only (outputs
    numbers: many-to-one)."""
    n_in, n_out = net.n_inputs, net.n_outputs
    if len(args.input) % n_in:
        raise NeuronsimError(f"--input: a sequence of vectors of {n_in} numbers, one after "
                             f"another: expected a multiple of {n_in} numbers, got "
                             f"{len(args.input)}")
    xs = parse_vector(args.input, net, "--input", len(args.input))
    steps = len(xs) // n_in
    xs = [xs[t * n_in:(t + 1) * n_in] for t in range(steps)]
    if len(args.target) not in (n_out, steps * n_out):
        raise NeuronsimError(f"--target: expected {n_out} numbers (the target of the last "
                             f"step) or {steps * n_out} (one target of {n_out} per step), got "
                             f"{len(args.target)}")
    ts = parse_vector(args.target, net, "--target", len(args.target))
    if len(ts) == n_out:
        return xs, ts
    return xs, [ts[t * n_out:(t + 1) * n_out] for t in range(steps)]


def parse_vector(texts, net, option, length):
    """``length`` numbers from the command line in the network's numbers."""
    if len(texts) != length:
        raise NeuronsimError(f"{option}: expected {length} numbers, got {len(texts)}")
    return [parse_number(text, net.numbers.convert, option) for text in texts]


def learning_rate_from_args(net, args):
    """``--learning-rate`` in the network's numbers (None if not given)."""
    if getattr(args, "learning_rate", None) is None:
        return None
    rate = parse_number(args.learning_rate, net.numbers.convert, "--learning-rate")
    return check_learning_rate(rate, net.numbers, args.learning_rate)


def check_learning_rate(rate, numbers=None, shown=None):
    """``rate`` if it is a finite number greater than 0 (nan and inf are refused);
    ``numbers``: the network's number system, which knows what finite means."""
    finite = numbers.is_finite(rate) if numbers is not None else math.isfinite(rate)
    if not (finite and rate > 0):
        raise NeuronsimError("--learning-rate: must be a finite number greater than 0, got "
                             f"{rate if shown is None else shown}")
    return rate


def parse_number(text, convert, option):
    """A number from the command line in the network's numbers.

    Decimals are read as a network file reads them (as floats: 0.1 is 1/10
    in fraction mode, its float64 value in precise mode); "1/2" is exact.
    The text is read by neuronsim.files.number_text: bounded in length and
    exponent, finite (nan, inf and 1e999 are refused, naming ``option``).
    """
    if is_fraction_text(text):
        value = read_number(text, option)
    else:
        value = read_float(text, option)
    try:
        return convert(value)
    except (ValueError, ZeroDivisionError, OverflowError, TypeError):
        raise NeuronsimError(f"{option}: expected a number or a fraction such as 1/2, "
                             f"got {shown(text)}") from None


def check_digits(digits):
    if not 1 <= digits <= 60:
        raise NeuronsimError(f"--digits: expected 1 to 60, got {digits}")
    return digits


def run_explain(args):
    # Imported here, not at the top: trace, train and step import this module for its
    # argument helpers, and should not load the hand-derivation modules at start-up.
    from ..hand.explain import explain, render_explanation
    from ..hand.explain_update import explain_update, render_update_explanation

    net = load_network_argument(args.spec, args.numbers, budgets.single_step("explain"))
    x, t = sample_from_args(net, args)
    if args.update:
        explanation = explain_update(net, args.label, x, t, learning_rate_from_args(net, args),
                                     convention=args.convention)
        sys.stdout.write(render_update_explanation(explanation, args.format,
                                                   check_digits(args.digits),
                                                   bias_as_weight=args.bias_as_weight))
        return 0
    if args.learning_rate is not None:
        raise NeuronsimError("--learning-rate: only with --update (a derivative needs no rate)")
    explanation = explain(net, args.label, x, t, convention=args.convention)
    sys.stdout.write(render_explanation(explanation, args.format, check_digits(args.digits),
                                        bias_as_weight=args.bias_as_weight))
    return 0


def run_early_update(args):
    from ..hand.mistakes import compare_early_update, render_comparison

    net = load_network_argument(args.spec, args.numbers, budgets.for_comparison("early-update"))
    x, t = sample_from_args(net, args)
    comparison = compare_early_update(net, x, t, learning_rate_from_args(net, args))
    sys.stdout.write(render_comparison(comparison, args.format, check_digits(args.digits),
                                       args.convention))
    return 0


def register(subparsers):
    from ..hand.common import FORMATS as HAND_FORMATS   # (kept off `trace`'s start-up)

    parser = subparsers.add_parser(
        "explain", help="the chain-rule derivation of one dE/dw, dE/db or delta",
        description="Prints the chain rule for one weight, bias or delta: the product of "
                    "local derivatives along each path to the loss, the sum over paths, the "
                    "same in numbers, and the value the simulator computes.  Labels: "
                    "w_22^(2), b_1^(3) or w_10^(3) (a bias as the weight w_j0), δ_1^(2) "
                    "(textbook numbering, read in --convention), W2[1,1] or b3[0] (0-based "
                    "indices), layers[0].neurons[1].weights[1] (docs/explain.md).  With "
                    "recurrent layers the derivation runs through time: u_12^(2) (a recurrent "
                    "weight, U2[0,1]), δ_1^(2)[3] (a delta at step 3), a_1^(2)[0] (an initial "
                    "state); --input gives x[1], x[2], ... one after another and --target one "
                    "target per step or the last step's.  LSTM and GRU layers, gate by gate: "
                    "w_f,12^(2), u_i,21^(2), b_xo,1^(2) and b_ho,1^(2) (a gate's two biases), "
                    "δ_f,1^(2)[3], h_1^(2)[3] (dE/dh), c_1^(2)[3] (dE/dc), h_1^(2)[0].  "
                    "--update: the parameter's update "
                    "step instead, line by line (g with its penalty share and clipping, then "
                    "the optimizer's state m, v, m̂, v̂ or its momentum buffer, and the new "
                    "value), each number checked against the simulator's own update.")
    parser.add_argument("spec", metavar="SPEC",
                        help="network file (JSON, docs/spec.md) or a bundled example name")
    parser.add_argument("label", metavar="LABEL",
                        help="e.g. 'w_22^(2)', 'b_1^(3)', 'w_10^(3)', 'δ_1^(2)'; recurrent: "
                             "'u_12^(2)', 'δ_1^(2)[3]', 'a_1^(2)[0]'; LSTM/GRU: 'w_f,12^(2)', "
                             "'b_xo,1^(2)', 'δ_f,1^(2)[3]', 'c_1^(2)[3]'")
    add_convention_option(parser)
    parser.add_argument("--bias-as-weight", action="store_true",
                        help="show each bias as w_j0 on a constant input a_0 = 1")
    parser.add_argument("--format", choices=HAND_FORMATS, default="plain")
    parser.add_argument("--digits", type=int, default=9, metavar="N",
                        help="significant digits shown (default 9; fractions are exact)")
    parser.add_argument("--update", action="store_true",
                        help="explain the parameter's update step by the file's "
                             "optimizer, penalty and clipping (w, b; with recurrent layers "
                             "also u and a learned a[0])")
    add_numbers_option(parser)
    add_sample_options(parser)
    parser.set_defaults(run=run_explain)

    parser = subparsers.add_parser(
        "early-update",
        help="DEMONSTRATES A MISTAKE: updating each layer during the backward pass",
        description="Shows the early-update mistake next to the true step, neuron by neuron: "
                    "the mistaken step updates each layer as soon as its deltas exist, so "
                    "the layer before gets deltas computed with already-changed weights.  "
                    "With recurrent layers, through time: backpropagation through time "
                    "updates every layer as soon as its delta at step t exists, so the layer "
                    "below at step t goes through the changed W and step t-1 through the "
                    "changed recurrent weights U (always full BPTT, for both steps).  An "
                    "LSTM or GRU layer is updated all at once, every gate together, as soon "
                    "as its gates' deltas at step t exist; its rows name each gate's delta "
                    "and parameters as explain reads them (δ_f,1^(2)[3], w_f,12^(2), "
                    "b_xo,1^(2)).  The simulator itself never does this.")
    parser.add_argument("spec", metavar="SPEC",
                        help="network file (JSON, docs/spec.md) or a bundled example name")
    add_convention_option(parser)
    parser.add_argument("--format", choices=HAND_FORMATS, default="plain")
    parser.add_argument("--digits", type=int, default=9, metavar="N")
    add_numbers_option(parser)
    add_sample_options(parser)
    parser.set_defaults(run=run_early_update)
