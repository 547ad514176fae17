"""``neuronsim rnn-trace``, ``rnn-train``, ``rnn-gradient-flow`` and the ``rnn`` demo."""

import itertools
import os
import sys

from ..core.errors import NeuronsimError
from ..core.labels import CONVENTIONS
from ..core.network import Network
from ..files.atomic import atomic_write_text
from ..files.bundled import example_path
from ..render.numfmt import format_number
from ..render.tables import FORMATS, html_document, latex_document
from ..trace.recurrent import (
    SECTIONS,
    RecurrentTracer,
    gradient_flow,
    plot_gradient_flow,
    render_gradient_flow,
    render_sequences,
)
from .core import finish_training, trace_steps, train_with_table
from .explain import check_learning_rate, parse_number

# bundled recurrent examples by name (the key of neuronsim.files.bundled.EXAMPLES and
# the file's own name); a file of that name in the working directory wins
RNN_EXAMPLES = {"rnn": "rnn", "rnn-parity": "rnn"}
MAX_FLOW_LENGTH = 1000


def _load(spec):
    """A recurrent network from a file path or a bundled example name (rnn, rnn-parity)."""
    if not os.path.exists(spec) and spec in RNN_EXAMPLES:
        spec = example_path(RNN_EXAMPLES[spec])
    net = Network.from_spec(spec)
    if not net.is_sequential:
        raise NeuronsimError(f"{spec}: a feed-forward network (no recurrent layer): use "
                             "neuronsim trace / train")
    return net


def _add_view_options(parser):
    parser.add_argument("--format", choices=list(FORMATS), default="plain",
                        help="plain text (default), GitHub Markdown, LaTeX or HTML")
    parser.add_argument("--digits", type=int, default=9, metavar="N",
                        help="significant digits shown (default 9)")
    parser.add_argument("--convention", choices=CONVENTIONS, default="nielsen",
                        help="weight superscript: nielsen (default) or ng")
    parser.add_argument("--times", type=int, nargs="+", metavar="T",
                        help="show the forward and backward tables of these time steps only "
                             "(counted from 1)")
    parser.add_argument("--sections", nargs="+", choices=SECTIONS, default=list(SECTIONS),
                        help="which tables to show (default: all)")
    parser.add_argument("-o", "--output", metavar="FILE",
                        help="write to FILE (atomically) instead of stdout")


def _view(args):
    if not 1 <= args.digits <= 17:
        raise NeuronsimError(f"--digits: expected 1 to 17, got {args.digits}")
    return dict(format=args.format, digits=args.digits, convention=args.convention,
                times=getattr(args, "times", None), sections=tuple(args.sections))


def _emit(args, text):
    if getattr(args, "output", None):
        if args.format == "html":
            text = html_document(text, title="neuronsim: backpropagation through time")
        elif args.format == "latex":
            text = latex_document(text)
        atomic_write_text(args.output, text)
        print(f"wrote {args.output}")
    else:
        sys.stdout.write(text)


def _truncation(args, net):
    if getattr(args, "full", False):
        return None
    if getattr(args, "truncation", None) is not None:
        if args.truncation < 1:
            raise NeuronsimError(f"--truncation: expected k >= 1, got {args.truncation}")
        return args.truncation
    return net.truncation


def _rate(args, net, source):
    """--learning-rate (a decimal or a fraction such as 1/2), else the file's."""
    if args.learning_rate is not None:
        rate = parse_number(args.learning_rate, net.numbers.convert, "--learning-rate")
        return check_learning_rate(rate, net.numbers, args.learning_rate)
    if net.learning_rate is None:
        raise NeuronsimError(f"{source}: no learning_rate in the file; give --learning-rate")
    return check_learning_rate(net.learning_rate, net.numbers)


def _samples(net, source):
    if not net.samples:
        raise NeuronsimError(f"{source}: the file has no samples (sequences)")
    return [(s["input"], s["target"]) for s in net.samples]


def trace_sequences(net, pairs, count, rate):
    """Trace ``count`` training steps (one sequence each, cycling through ``pairs``)."""
    return trace_steps(net, pairs, count, rate, RecurrentTracer())


# ------------------------------------------------------------------ rnn-trace
def run_trace(args):
    net = _load(args.spec)
    pairs = _samples(net, args.spec)
    if not 1 <= args.sample <= len(pairs):
        raise NeuronsimError(f"--sample {args.sample}: the file has samples 1 to {len(pairs)}")
    if args.steps < 1:
        raise NeuronsimError(f"--steps: expected at least 1, got {args.steps}")
    net.truncation = _truncation(args, net)
    rate = _rate(args, net, args.spec)
    pairs = pairs[args.sample - 1:] + pairs[:args.sample - 1]
    tracer = trace_sequences(net, pairs, args.steps, rate)
    _emit(args, render_sequences(tracer.sequences, **_view(args)))
    return 0


# ------------------------------------------------------------------ rnn-train
def run_train(args):
    net = _load(args.spec)
    pairs = _samples(net, args.spec)
    net.truncation = _truncation(args, net)
    rate = _rate(args, net, args.spec)
    history, table, _ = train_with_table(net, pairs, rate, args)
    bptt = "full BPTT" if net.truncation is None else f"truncated BPTT (k = {net.truncation})"
    header = (f"training {args.spec}: {len(pairs)} sequences, {bptt}, learning rate "
              f"{format_number(rate)}, loss {net.step_loss} over steps, {net.reduction} over "
              "sequences")
    sys.stdout.write(finish_training(net, args, header, history, table))
    return 0


# ------------------------------------------------------------------ rnn-gradient-flow
def run_gradient_flow(args):
    if not 1 <= args.length <= MAX_FLOW_LENGTH:
        raise NeuronsimError(f"--length: expected 1 to {MAX_FLOW_LENGTH}, got {args.length}")
    if not 1 <= args.digits <= 17:
        raise NeuronsimError(f"--digits: expected 1 to 17, got {args.digits}")
    flow = gradient_flow(args.length, args.recurrent_weight, args.input_weight, args.bias)
    text = render_gradient_flow(flow, args.format, args.digits, args.recurrent_weight)
    if args.plot:
        plot_gradient_flow(flow, args.plot)
        text += f"plot saved to {args.plot}\n"
    sys.stdout.write(text)
    return 0


# ------------------------------------------------------------------ demo
def parity_sequences(length):
    """Every 0/1 sequence of ``length`` with its running parity as the per-step target."""
    pairs = []
    for bits in itertools.product([0, 1], repeat=length):
        targets, parity = [], 0
        for bit in bits:
            parity ^= bit
            targets.append([parity])
        pairs.append(([[bit] for bit in bits], targets))
    return pairs


def parity_accuracy(net, length):
    """(right, total): sequences of ``length`` whose every step is on the right side of 0.5."""
    right = 0
    pairs = parity_sequences(length)
    for xs, ts in pairs:
        outputs = net.forward_pass(xs)
        right += all((y[0] > 0.5) == (t[0] == 1) for y, t in zip(outputs, ts))
    return right, len(pairs)


def run_rnn_demo(net, args, epochs=100, every=10):
    """``neuronsim demo rnn``: one traced step, then training with the loss falling."""
    pairs = _samples(net, "rnn")
    rate = net.learning_rate
    options = dict(format=args.format, digits=args.digits, convention=args.convention,
                   sections=tuple(args.sections))
    traced = [pair for pair in pairs if [x[0] for x in pair[0]] == [1, 0, 1, 1]]
    tracer = trace_sequences(net, traced, 1, rate)
    intro = ("neuronsim demo rnn: a recurrent network learns the running parity of a 0/1 "
             "sequence (output 1 at step t if the number of 1s so far is odd).\n"
             f"{net!r}: 1 input, {net.layers[0].size} tanh recurrent neurons, a sigmoid output "
             "at every step, binary cross-entropy summed over the steps, full BPTT.\n\n"
             "First, one training step on the sequence 1, 0, 1, 1, every number shown:\n\n")
    text = intro + render_sequences(tracer.sequences, **options)
    rows = []

    def report(epoch, loss):
        if epoch == 1 or epoch % every == 0:
            rows.append(f"{epoch:5d}   {format_number(loss, args.digits)}")

    net.train(pairs, epochs=epochs, learning_rate=rate, seed=0, on_epoch=report)
    lines = ["", f"Then training online on all {len(pairs)} sequences of length 4, learning "
             f"rate {format_number(rate)}:", "", "epoch   mean loss"] + rows + [""]
    for length in (4, 6, 8):
        right, total = parity_accuracy(net, length)
        lines.append(f"sequences of length {length}: {right} of {total} right at every step")
    xs, ts = parity_sequences(6)[45]
    outputs = net.forward_pass(xs)
    lines += ["", "input    " + "  ".join(f"{x[0]:>5d}" for x in xs),
              "parity   " + "  ".join(f"{t[0]:>5d}" for t in ts),
              "output   " + "  ".join(f"{float(y[0]):5.3f}" for y in outputs)]
    _emit(args, text + "\n".join(lines) + "\n")
    return 0


# ------------------------------------------------------------------ parsers
def register(subparsers):
    trace = subparsers.add_parser(
        "rnn-trace", help="trace backpropagation through time for a recurrent network file",
        description="Per-time-step forward tables, backward tables for t = T down to 1 "
                    "(δ[t] as the output path at t plus the recurrent path from t+1, with "
                    "numbers), each weight's contribution per step, and the update.")
    trace.add_argument("spec", metavar="SPEC",
                       help="recurrent network file (docs/spec.md) or a bundled example "
                            "name: rnn (also rnn-parity)")
    trace.add_argument("--sample", type=int, default=1, metavar="N",
                       help="the file's sample (sequence) to start with, counted from 1")
    trace.add_argument("--steps", type=int, default=1, metavar="N",
                       help="training steps (sequences) to trace (default 1)")
    trace.add_argument("--truncation", type=int, metavar="K",
                       help="truncated BPTT, k steps back (default: the file's)")
    trace.add_argument("--full", action="store_true", help="full BPTT whatever the file says")
    trace.add_argument("--learning-rate", metavar="ETA",
                       help="a finite number > 0, e.g. 0.5 or 1/2 (default: the file's)")
    _add_view_options(trace)
    trace.set_defaults(run=run_trace)

    train = subparsers.add_parser("rnn-train", help="train a recurrent network file (BPTT)")
    train.add_argument("--quiet", action="store_true",
                       help="no progress bar (it is drawn on stderr only when that is a terminal)")
    train.add_argument("spec", metavar="SPEC",
                       help="recurrent network file (docs/spec.md) or a bundled example "
                            "name: rnn (also rnn-parity)")
    train.add_argument("--epochs", type=int, default=100, metavar="N",
                       help="passes over the sequences (default 100)")
    train.add_argument("--learning-rate", metavar="ETA",
                       help="a finite number > 0, e.g. 0.5 or 1/2 (default: the file's)")
    train.add_argument("--batch-size", default="1", metavar="N",
                       help="sequences per update: 1 (default), N, or 'full'")
    train.add_argument("--truncation", type=int, metavar="K",
                       help="truncated BPTT, k steps back (default: the file's)")
    train.add_argument("--full", action="store_true", help="full BPTT whatever the file says")
    train.add_argument("--seed", type=int, default=0, help="shuffling seed (default 0)")
    train.add_argument("--no-shuffle", action="store_true")
    train.add_argument("--stop-loss", type=float, metavar="E")
    train.add_argument("--every", type=int, metavar="K",
                       help="print the loss every K epochs, K >= 1 (default: a tenth of "
                            "--epochs)")
    train.add_argument("--digits", type=int, default=6, metavar="N",
                       help="significant digits of the losses, 1 to 17 (default 6)")
    train.add_argument("--save", metavar="FILE", help="save the trained network (atomically)")
    train.set_defaults(run=run_train)

    flow = subparsers.add_parser(
        "rnn-gradient-flow", help="vanishing and exploding gradients: |δ[t]| by t",
        description="One recurrent neuron per activation (tanh, sigmoid, linear) on one "
                    "sequence with a target at the last step; prints |δ[t]| for t = T..1.")
    flow.add_argument("--length", type=int, default=20, metavar="T",
                      help=f"sequence length, 1 to {MAX_FLOW_LENGTH} (default 20)")
    flow.add_argument("--recurrent-weight", type=float, default=1.5, metavar="U")
    flow.add_argument("--input-weight", type=float, default=1.0, metavar="W")
    flow.add_argument("--bias", type=float, default=0.0, metavar="B")
    flow.add_argument("--format", choices=list(FORMATS), default="plain")
    flow.add_argument("--digits", type=int, default=4)
    flow.add_argument("--plot", metavar="FILE", help="also save a plot (needs matplotlib)")
    flow.set_defaults(run=run_gradient_flow)
