"""``neuronsim worksheet`` (a blank table of one step) and ``neuronsim check`` (mark it)."""

import sys

from ..core.errors import NeuronsimError
from ..files.atomic import atomic_write_text
from ..hand.worksheet import (
    FORMATS,
    check_answers,
    read_answers,
    render_check,
    render_worksheet,
)
from . import budgets
from .core import load
from .explain import (
    add_convention_option,
    add_numbers_option,
    add_sample_options,
    check_digits,
    learning_rate_from_args,
    sample_from_args,
)


def run_worksheet(args):
    net = load(args.spec, args.numbers, budgets.for_worksheet("worksheet", args.update))
    x, t = sample_from_args(net, args)
    digits = None if args.digits is None else check_digits(args.digits)
    text = render_worksheet(net, args.format, x, t, learning_rate_from_args(net, args),
                            args.convention, filled=args.answers, digits=digits,
                            bias_as_weight=args.bias_as_weight, update=args.update)
    if args.output:
        atomic_write_text(args.output, text)
        print(f"wrote {args.output}")
    else:
        sys.stdout.write(text)
    return 0


def run_check(args):
    if args.tolerance is not None and not args.tolerance >= 0:
        raise NeuronsimError(f"--tolerance: must be at least 0, got {args.tolerance}")
    net = load(args.spec, args.numbers, budgets.for_worksheet("check"))
    x, t = sample_from_args(net, args)
    answers = read_answers(args.answers, args.convention, net, x, t)
    result = check_answers(net, answers, x, t, learning_rate_from_args(net, args),
                           args.tolerance, args.convention, args.bias_as_weight)
    sys.stdout.write(render_check(result, args.format, check_digits(args.digits)))
    return 0 if result.all_right else 1


def add_bias_as_weight_option(parser):
    parser.add_argument("--bias-as-weight", action="store_true",
                        help="label each bias b_j as the weight w_j0 on a constant input "
                             "a_0 = 1 (check reads both forms)")


def register(subparsers):
    parser = subparsers.add_parser(
        "worksheet", help="a blank table of every number of one step, to fill in by hand",
        description="Writes the cells of one online step in computation order: z and a of "
                    "each neuron, the loss, each delta, dE/dw and dE/db, the new weights; "
                    "with the given weights, sample and learning rate.  Fill in the value "
                    "column and mark it with 'neuronsim check'.  With recurrent layers, one "
                    "sequence step with cells per time step (z[t], a[t], E[t], δ[t] from T "
                    "down, gradients summed over the steps, dE/da[0] of a learned initial "
                    "state); at most 3000 cells (use a shorter sequence: --input x[1] x[2] ... "
                    "--target), full BPTT only (truncation k < T is refused).  LSTM and GRU "
                    "layers: each gate's z, a and δ, and c, h, dE/dh and dE/dc per unit and "
                    "step; every gate's w, u and two biases.")
    parser.add_argument("spec", metavar="SPEC",
                        help="network file (JSON, docs/spec.md) or a bundled example name")
    parser.add_argument("--format", choices=FORMATS, default="csv")
    parser.add_argument("--answers", action="store_true",
                        help="fill in the simulator's values (an answer key)")
    parser.add_argument("--digits", type=int, metavar="N",
                        help="significant digits of numbers (default: all in CSV, 9 otherwise)")
    parser.add_argument("-o", "--output", metavar="FILE", help="write to FILE (atomically)")
    parser.add_argument("--update", action="store_true",
                        help="the update cell by cell: N (clipping by norm), then per weight "
                             "and bias g, the optimizer's state (m, v, m̂, v̂; the momentum "
                             "buffer; ḡ; G) and the new value, for every layer kind (also u, "
                             "an LSTM or GRU gate's b_x and b_h, a learned a[0], h[0], c[0]); "
                             "check marks these cells when the sheet has them")
    add_convention_option(parser)
    add_bias_as_weight_option(parser)
    add_numbers_option(parser)
    add_sample_options(parser)
    parser.set_defaults(run=run_worksheet)

    parser = subparsers.add_parser(
        "check", help="mark a filled worksheet: first wrong cell, carried errors",
        description="Marks each cell of a filled worksheet CSV right or wrong (exactly with "
                    "--numbers fraction, else within a relative tolerance), names the first "
                    "wrong cell in computation order as the likely origin, and recomputes "
                    "later cells from your own earlier values to tell carried errors from "
                    "new mistakes.  Exit status 0 if every cell is right, 1 otherwise.")
    parser.add_argument("spec", metavar="SPEC",
                        help="network file (JSON, docs/spec.md) or a bundled example name")
    parser.add_argument("answers", metavar="ANSWERS.csv",
                        help="the filled worksheet (columns cell and value)")
    parser.add_argument("--tolerance", type=float, metavar="REL",
                        help="relative tolerance (default 1e-3; 0 = exact, the default with "
                             "--numbers fraction)")
    parser.add_argument("--format", choices=("plain", "markdown", "latex"), default="plain")
    parser.add_argument("--digits", type=int, default=9, metavar="N")
    add_convention_option(parser)
    add_bias_as_weight_option(parser)
    add_numbers_option(parser)
    add_sample_options(parser)
    parser.set_defaults(run=run_check)
