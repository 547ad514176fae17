"""``neuronsim gradcheck SPEC``: back_prop's gradients against central differences.

Uses the network file's samples as one batch; prints the table of
:func:`neuronsim.crosscheck.gradcheck.gradcheck` and exits 0 if every checked parameter
agrees, 1 if one fails, 2 on bad input.
"""

from ..core.errors import NeuronsimError
from ..core.labels import CONVENTIONS
from ..crosscheck.gradcheck import gradcheck
from . import budgets
from .core import load
from .explain import add_float_only_numbers_option, refuse_non_float


def run_gradcheck(args):
    refuse_non_float(args)
    net = load(args.spec,   # every layer kind
               budget=budgets.for_gradcheck("gradcheck"))
    if not net.samples:
        raise NeuronsimError(f"{args.spec}: the file has no samples to check the gradient on")
    if args.top is not None and args.top < 1:
        raise NeuronsimError(f"--top: expected at least 1, got {args.top}")
    report = gradcheck(net, eps=args.eps, tolerance=args.tolerance, atol=args.atol,
                       convention=args.convention)
    print(report.to_text(limit=args.top))
    return 0 if report.ok else 1


def register(subparsers):
    parser = subparsers.add_parser(
        "gradcheck", help="check every weight and bias gradient against finite differences",
        description="Central differences (E(θ+ε) - E(θ-ε)) / 2ε in float64 for every weight and "
                    "bias, on the file's samples as one batch; worst entries first.  Parameters "
                    "whose ±ε moves a ReLU input across 0 are reported as kinks, not compared.  "
                    "Always float64: finite differences need floats.  "
                    "Exit status 0: all agree, 1: a mismatch, 2: bad input.")
    parser.add_argument("spec", metavar="SPEC", help="network file (JSON, see docs/spec.md)")
    parser.add_argument("--eps", type=float, default=1e-6, help="the step ε (default 1e-6)")
    parser.add_argument("--tolerance", type=float, default=1e-6,
                        help="relative tolerance (default 1e-6)")
    parser.add_argument("--atol", type=float, default=1e-8,
                        help="absolute floor of the tolerance (default 1e-8)")
    parser.add_argument("--top", type=int, default=20, metavar="N",
                        help="show the N worst parameters (default 20)")
    parser.add_argument("--convention", choices=CONVENTIONS, default="nielsen",
                        help="weight superscripts in labels (default nielsen)")
    add_float_only_numbers_option(parser, "gradcheck", "finite differences of float64 losses")
    parser.set_defaults(run=run_gradcheck)
