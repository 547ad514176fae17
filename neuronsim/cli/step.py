"""``neuronsim step SPEC``: step through one backpropagation step in the terminal.

Keys: n / space / Enter (or →) next, b (or ←) back, j jump to the backward
pass, q quit.  When stdin or stdout is not a terminal (a pipe, a file, a
test), the whole walk is printed at once and the command exits 0.

The options shared with ``neuronsim report`` (which sample, learning rate,
labels) live here too: :func:`add_walk_options` and :func:`traced_step`.
"""

import os
import sys

from ..classroom.stepper import Stepper, run, whole_walk
from ..core.errors import NeuronsimError
from ..core.labels import CONVENTIONS
from ..render.escape import terminal_text
from ..render.tables import SECTIONS, notes
from ..trace.tracer import Tracer
from ..trace.walk import walk, walk_sequence
from . import budgets
from .core import (
    LAYER_HELP,
    MAX_SEQUENCE_TRACE_CELLS,
    learning_rate,
    load,
    sample_list,
    shown_rows,
    starting_at,
    trace_steps,
    view_options,
    zero_based,
)
from .explain import add_numbers_option, add_sample_options


def add_walk_options(parser, filters=True):
    """Options of ``step`` and ``report``: the network file, the sample, the labels."""
    parser.add_argument("spec", metavar="SPEC",
                        help="network file (JSON, see docs/spec.md), any stack of layers, or a "
                             "bundled example's name; a recurrent network is walked through "
                             "its time steps")
    parser.add_argument("--sample", type=int, default=1, metavar="K",
                        help="which of the file's samples to use, counted from 1 (default 1)")
    add_sample_options(parser, default="the file's sample --sample K")
    parser.add_argument("--digits", type=int, default=9, metavar="N",
                        help="significant digits shown (default 9)")
    parser.add_argument("--convention", choices=CONVENTIONS, default="nielsen",
                        help="weight superscript: nielsen (default; w_jk^(l) feeds layer l) "
                             "or ng (w_jk^(l) feeds layer l+1)")
    parser.add_argument("--bias-as-weight", action="store_true",
                        help="show each bias as w_j0 on a constant input a_0 = 1")
    if filters:
        parser.add_argument("--layer", type=int, nargs="+", metavar="L",
                            help=LAYER_HELP.format(verb="walk"))
        parser.add_argument("--neuron", type=int, nargs="+", metavar="J",
                            help="walk only these neurons, counted from 1")
    add_numbers_option(parser)
    # view_options (shared with ``trace``) also reads these two.
    parser.set_defaults(format="plain", sections=list(SECTIONS), layer=None, neuron=None)


def traced_sequence(net, args):
    """One traced step of a network with a recurrent layer on the file's sequence
    --sample K; (net, SequenceRecord, options)."""
    for option, given in (("--input/--target", args.input is not None or args.target is not None),
                          ("--bias-as-weight", args.bias_as_weight)):
        if given:
            raise NeuronsimError(f"{option}: not for a recurrent network ({args.spec} reads "
                                 "sequences: the file's samples, --sample K picks one)")
    if not net.samples:
        raise NeuronsimError(f"{args.spec}: the file has no samples (sequences)")
    chosen = starting_at([(s["input"], s["target"]) for s in net.samples], args.sample)[0]
    options = view_options(args, net)
    layers, neurons = options["layers"], options["neurons"]
    shown = shown_rows(net, layers, neurons)
    if len(chosen[0]) * shown > MAX_SEQUENCE_TRACE_CELLS:
        raise NeuronsimError(
            f"this walk has {len(chosen[0]) * shown:,} neuron-steps (time steps x neurons); at "
            f"most {MAX_SEQUENCE_TRACE_CELLS:,} (--layer L or --neuron J walk fewer)")
    rate = learning_rate(net, args, args.spec)
    tracer = trace_steps(net, [chosen], 1, rate, Tracer(),
                         command=getattr(args, "command", "step"))
    return net, tracer.sequences[0], options


def traced_step(args, command="step"):
    """Load ``args.spec``, run one traced step on the chosen sample; (net, step, options)
    (a :class:`~neuronsim.trace.recurrent.SequenceRecord` for a recurrent network).

    The walk is budgeted (neuronsim.cli.budgets.for_walk) before the network
    is built; ``report`` also draws the whole network in its diagram.
    """
    budget = budgets.for_walk(command, layers=zero_based(args.layer, 2),
                              neurons=zero_based(args.neuron, 1), diagram=command == "report")
    net = load(args.spec, args.numbers, budget=budget)
    if net.is_sequential:
        return traced_sequence(net, args)
    samples = sample_list(net, args, args.spec)
    if args.input is not None:
        chosen = samples[0]
    elif 1 <= args.sample <= len(samples):
        chosen = samples[args.sample - 1]
    else:
        raise NeuronsimError(f"--sample {args.sample}: the file has samples 1 to {len(samples)}")
    rate = learning_rate(net, args, args.spec)
    options = view_options(args, net)
    tracer = trace_steps(net, [chosen], 1, rate, command=command)
    return net, tracer.steps[0], options


def network_title(net, spec):
    """The network's name (or file name), control characters made visible."""
    return terminal_text(net.name or os.path.splitext(os.path.basename(spec))[0])


def build_walk(args, format="plain", command="step"):
    """(net, step, computations, notation note) for ``args``."""
    net, step, options = traced_step(args, command)
    if net.is_sequential:
        computations = walk_sequence(step, format=format, digits=options["digits"],
                                     convention=options["convention"],
                                     layers=options["layers"], neurons=options["neurons"])
        note = "\n".join(notes(step, "plain", options["digits"], options["convention"]))
        return net, step, computations, note
    computations = walk(step, format=format, digits=options["digits"],
                        convention=options["convention"],
                        bias_as_weight=options["bias_as_weight"],
                        layers=options["layers"], neurons=options["neurons"])
    note = "\n".join(notes(step, "plain", options["digits"], options["convention"],
                           options["bias_as_weight"]))
    return net, step, computations, note


def run_step(args):
    net, step, computations, note = build_walk(args)
    stepper = Stepper(step, computations, digits=args.digits,
                      title=f"neuronsim step {network_title(net, args.spec)}")
    if args.all or not (sys.stdin.isatty() and sys.stdout.isatty()):
        sys.stdout.write(whole_walk(stepper, note))
        return 0
    return _interactive(stepper)


def _interactive(stepper):
    """Run the stepper on the terminal in cbreak mode (keys without Enter)."""
    import termios
    import tty

    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)

    screen = getattr(sys.stdout, "raw", sys.stdout)   # the stepper's own escape sequences

    def write(text):
        screen.write(text)
        screen.flush()

    try:
        tty.setcbreak(fd)
        return run(stepper, lambda: read_key(fd), write)
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
        sys.stdout.write("\n")


def read_key(fd, timeout=0.05):
    """One key from the terminal: a character, or an escape sequence such as → (ESC [ C)."""
    import select

    first = os.read(fd, 1)
    if first != b"\x1b":
        return first.decode("utf-8", "replace")
    sequence = first
    while len(sequence) < 3 and select.select([fd], [], [], timeout)[0]:
        sequence += os.read(fd, 1)
    return sequence.decode("utf-8", "replace")


def register(subparsers):
    parser = subparsers.add_parser(
        "step", help="step through one backpropagation step, one computation at a time",
        description="Shows one computation at a time (forward neuron by neuron, the loss, "
                    "backward neuron by neuron, gradients, update) with its formula in numbers "
                    "and the table so far.  Keys: n/space/Enter next, b back, j jump to the "
                    "backward pass, q quit.  When input or output is not a terminal, prints the "
                    "whole walk and exits.")
    add_walk_options(parser)
    parser.add_argument("--all", action="store_true",
                        help="print the whole walk at once, even on a terminal")
    parser.set_defaults(run=run_step)
