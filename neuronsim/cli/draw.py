"""``neuronsim draw SPEC -o net.svg``: the network diagram as SVG or PNG.

The values shown are those of one sample: the file's first (or
``--sample K``), or ``--input``/``--target``.  With an input the forward
pass runs (a and z exist); with a target back_prop runs too (δ and the
gradients exist).  No weight is changed.
"""

import sys

from ..core.errors import NeuronsimError
from ..core.labels import CONVENTIONS
from ..render import draw
from . import budgets
from .core import load
from .explain import add_numbers_option, parse_vector


def _sample(net, args):
    """(x, t) to show, either possibly None."""
    if args.input is not None and net.is_sequential:
        raise NeuronsimError(f"--input: {args.spec} is a recurrent network, which reads "
                             "sequences: draw one of the file's samples (--sample K)")
    if args.input is not None:
        x = parse_vector(args.input, net, "--input", net.sizes[0])
        if args.target is None:
            return x, None
        return x, parse_vector(args.target, net, "--target", net.sizes[-1])
    if args.target is not None:
        raise NeuronsimError("--target needs --input")
    if not net.samples:
        return None, None
    if not 1 <= args.sample <= len(net.samples):
        raise NeuronsimError(f"--sample {args.sample}: the file has samples 1 to "
                             f"{len(net.samples)}")
    sample = net.samples[args.sample - 1]
    return sample["input"], sample["target"]


def run_draw(args):
    net = load(args.spec, args.numbers,   # any network
               budget=budgets.for_drawing("draw"))
    x, t = _sample(net, args)
    needs_target = args.show == "delta" or args.edges == "gradient"
    if needs_target and t is None:
        what = "--show delta" if args.show == "delta" else "--edges gradient"
        why = ("--input given without --target" if args.input is not None
               else "the file has no samples")
        raise NeuronsimError(f"{what} needs a target: {why}; give --input and --target")
    if not 1 <= args.digits <= 17:
        raise NeuronsimError(f"--digits: expected 1 to 17, got {args.digits}")
    if x is not None:
        net.forward_pass(x)
        if t is not None:
            net.back_prop(t)
    options = dict(show=args.show, edges=args.edges, convention=args.convention,
                   digits=args.digits, width=args.width)
    if args.output:
        draw.save(net, args.output, **options)
        print(f"wrote {args.output}")
    else:
        sys.stdout.write(draw.svg(net, **options))
    return 0


def register(subparsers):
    parser = subparsers.add_parser(
        "draw", help="draw the network: neurons with a, z or δ, edges by weight or gradient",
        description="Draw a network file as a diagram: neurons in columns (textbook numbering, "
                    "inputs = layer 1) labelled with a, z or δ of one sample; edges coloured "
                    "by sign (blue +, orange −) and as wide as their magnitude.  A recurrent "
                    "layer's neurons carry a loop (their weights u_ji from a[t-1]) and show "
                    "the values of the last time step.  SVG needs "
                    "nothing; PNG needs matplotlib (pip install \"neuronsim[plot]\").")
    parser.add_argument("spec", metavar="SPEC",
                        help="network file (JSON, docs/spec.md) or a bundled example name")
    parser.add_argument("-o", "--output", metavar="FILE",
                        help="net.svg or net.png (default: SVG on standard output)")
    parser.add_argument("--show", choices=draw.SHOWS, default="a",
                        help="the value in each neuron: a (default), z or delta")
    parser.add_argument("--edges", choices=draw.EDGES, default="weight",
                        help="edges by weight (default) or by this sample's gradient dE/dw")
    parser.add_argument("--sample", type=int, default=1, metavar="K",
                        help="which of the file's samples to show, counted from 1 (default 1)")
    parser.add_argument("--input", nargs="+", metavar="X",
                        help="input vector (instead of the file's samples); decimals or "
                             "fractions such as 1/2")
    parser.add_argument("--target", nargs="+", metavar="T",
                        help="target vector (for --show delta and --edges gradient)")
    parser.add_argument("--convention", choices=CONVENTIONS, default="nielsen",
                        help="weight superscript: nielsen (default) or ng")
    parser.add_argument("--digits", type=int, default=3, metavar="N",
                        help="significant digits of the values shown (default 3)")
    parser.add_argument("--width", type=float, metavar="PIXELS",
                        help=f"the picture's width, {draw.MIN_WIDTH} to {draw.MAX_WIDTH} "
                             "pixels (default: room for the labels); labels that do not fit "
                             "are left out (the caption says so), never overlapped")
    add_numbers_option(parser)
    parser.set_defaults(run=run_draw)
