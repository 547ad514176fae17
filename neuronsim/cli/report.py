"""``neuronsim report SPEC -o walk.html``: a self-contained HTML walkthrough of one step.

The page (see :mod:`neuronsim.classroom.report_html`) needs no network access: CSS,
script, diagram and data are all inside the one file, written atomically.
``--layer L..`` and ``--neuron J..`` (textbook numbering, as in ``step`` and
``trace``) walk only part of a wide network; the diagram still shows all of it.
"""

import os

from ..classroom.report_html import sequence_walkthrough_html, walkthrough_html
from ..core.errors import NeuronsimError
from ..files.atomic import atomic_write_text
from ..render import draw
from ..render.tables import render_record
from .core import load, view_options
from .step import add_walk_options, build_walk, network_title


def run_report(args):
    net, step, computations, note = build_walk(args, format="html", command="report")
    options = view_options(args, net)
    layers, neurons = options["layers"], options["neurons"]
    if not any(c.layer is not None for c in computations):
        raise NeuronsimError(_nothing_selected(args, net))
    title = args.title or f"neuronsim walkthrough: {network_title(net, args.spec)}"
    if net.is_sequential:   # a sequence: its time steps, one computation at a time
        tables = render_record(step, format="html", digits=args.digits,
                                 convention=args.convention, layers=layers, neurons=neurons)
        # The diagram shows the weights the walk uses: ``net`` has been updated by the
        # step, so the file's network is loaded again and run forward on the same sequence.
        shown = load(args.spec, args.numbers)
        shown.forward_pass(step.inputs)
        page = sequence_walkthrough_html(step, computations, title=title, note=note,
                                         diagram=draw.svg(shown, convention=args.convention),
                                         tables=tables, digits=args.digits)
        atomic_write_text(args.output, page)
        print(f"wrote {args.output} ({page_size(os.path.getsize(args.output))}, "
              f"{len(computations)} computations over {step.steps} time steps; open it in a "
              "browser, step with the arrow keys)")
        return 0
    page = walkthrough_html(step, computations, title=title, note=note, digits=args.digits,
                            convention=args.convention, bias_as_weight=args.bias_as_weight,
                            layers=layers, neurons=neurons)
    atomic_write_text(args.output, page)
    size = page_size(os.path.getsize(args.output))
    print(f"wrote {args.output} ({size}, {len(computations)} computations; open it in a "
          "browser, step with the arrow keys)")
    return 0


def _nothing_selected(args, net):
    """The error for --layer/--neuron that leave no neuron to walk."""
    options = (f"--layer {' '.join(map(str, args.layer))} "
               f"--neuron {' '.join(map(str, args.neuron))}")
    widths = ", ".join(f"layer {number} has {net.layers[number - 2].size}"
                       for number in sorted(set(args.layer)))
    return f"{options}: no such neuron in these layers ({widths} neurons)"


def page_size(size):
    """A file size for people: 812 bytes, 59 KB, 4.7 MB (1 KB = 1024 bytes)."""
    if size < 1024:
        return f"{size} bytes"
    if size < 1024 * 1024:
        return f"{round(size / 1024)} KB"
    return f"{size / (1024 * 1024):.1f} MB"


def register(subparsers):
    parser = subparsers.add_parser(
        "report", help="write a self-contained HTML walkthrough of one backpropagation step",
        description="Writes one HTML file (no network access needed) with a diagram of the "
                    "network and the tables; Next/Back buttons and the arrow keys step through "
                    "the forward and backward passes, highlighting the current neuron and "
                    "showing its formula with numbers.  --layer and --neuron walk only some "
                    "neurons of a wide network (the diagram still shows all of it).")
    add_walk_options(parser)
    parser.add_argument("-o", "--output", required=True, metavar="FILE",
                        help="the HTML file to write (written atomically)")
    parser.add_argument("--title", help="page title (default: the network's name)")
    parser.set_defaults(run=run_report)
