"""``neuronsim report SPEC -o walk.html``: a self-contained HTML walkthrough of one step.

The page (see :mod:`neuronsim.report_html`) needs no network access: CSS,
script, diagram and data are all inside the one file, written atomically.
"""

from ..files import atomic_write_text
from ..report_html import walkthrough_html
from .step import add_walk_options, build_walk, network_title


def run_report(args):
    net, step, computations, note = build_walk(args, format="html")
    title = args.title or f"neuronsim walkthrough: {network_title(net, args.spec)}"
    page = walkthrough_html(step, computations, title=title, note=note, digits=args.digits,
                            convention=args.convention, bias_as_weight=args.bias_as_weight)
    atomic_write_text(args.output, page)
    print(f"wrote {args.output} ({len(computations)} computations; open it in a browser, "
          "step with the arrow keys)")
    return 0


def register(subparsers):
    parser = subparsers.add_parser(
        "report", help="write a self-contained HTML walkthrough of one backpropagation step",
        description="Writes one HTML file (no network access needed) with a diagram of the "
                    "network and the tables; Next/Back buttons and the arrow keys step through "
                    "the forward and backward passes, highlighting the current neuron and "
                    "showing its formula with numbers.")
    add_walk_options(parser, filters=False)
    parser.add_argument("-o", "--output", required=True, metavar="FILE",
                        help="the HTML file to write (written atomically)")
    parser.add_argument("--title", help="page title (default: the network's name)")
    parser.set_defaults(run=run_report)
