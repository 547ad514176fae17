"""``neuronsim gradient-flow`` (vanishing and exploding gradients), the ``rnn`` demo,
and the aliases ``rnn-trace`` / ``rnn-train`` / ``rnn-gradient-flow`` kept for earlier
scripts: ``trace`` and ``train`` take every network file, recurrent ones included."""

import itertools
import math
import sys
import textwrap

from ..core.errors import NeuronsimError
from ..core.summation import sum_in_order
from ..render.numfmt import format_number
from ..render.writer import FORMATS, _Writer
from ..render.gradient_flow import (
    flow_header,
    flow_ratio_line,
    gradient_flow,
    plot_gradient_flow,
    render_gradient_flow,
)
from ..render.tables import render_records
from ..trace.tracer import Tracer
from . import budgets
from .core import (
    add_trace_arguments,
    add_train_arguments,
    emit,
    load,
    starting_at,
    trace_steps,
)

MAX_FLOW_LENGTH = 1000


def _samples(net, source):
    if not net.samples:
        raise NeuronsimError(f"{source}: the file has no samples (sequences)")
    return [(s["input"], s["target"]) for s in net.samples]


def trace_sequences(net, pairs, count, rate):
    """Trace ``count`` training steps (one sequence each, cycling through ``pairs``)."""
    return trace_steps(net, pairs, count, rate, Tracer())


# ------------------------------------------------------------------ gradient-flow
def is_gated(net):
    """True if ``net`` has an LSTM or GRU layer."""
    return any(layer.kind in ("lstm", "gru") for layer in net.layers)


def network_gradient_flow(net, xs, target, quantity="delta"):
    """The size of the error signal of each recurrent layer of ``net`` for
    t = T..1, with ``target`` at the last step only (full BPTT), so every
    value comes from E_T alone and its size shows how far the error travels
    back.  ``quantity`` "delta": |δ^(l)[t]| (Elman layers only: an LSTM or GRU
    has one δ per gate); "output_grad": |dE/dh^(l)[t]|, the gradient of the
    layer's output at step t (any recurrent kind: an Elman layer's dE/da[t],
    an LSTM's or GRU's dE/dh[t]).  Norms are Euclidean, over the layer's units.
    Returns {"steps": [T, ..., 1], "layer l": [...], ...} (textbook layer numbers)."""
    if quantity == "delta" and is_gated(net):
        quantity = "output_grad"
    net.forward_pass(xs)
    net.back_prop([None] * (len(xs) - 1) + [target], truncation=None)
    steps = list(range(len(xs), 0, -1))
    flow = {"steps": steps}
    for l, layer in enumerate(net.layers):
        if layer.is_recurrent:
            flow[f"layer {l + 2}"] = [
                math.sqrt(sum_in_order(float(getattr(step[l][j], quantity)) ** 2
                              for j in range(layer.size)))
                for step in (net.history[t - 1] for t in steps)]
    return flow


def compare_gradient_flow(nets, xs, target):
    """|dE/dh[t]| of every recurrent layer of each of ``nets`` ({name: net}) on the
    same sequence and target: {"steps": [...], "name: layer l (kind)": [...], ...}."""
    flow = {}
    for name, net in nets.items():
        own = network_gradient_flow(net, xs, target, "output_grad")
        flow["steps"] = own.pop("steps")
        for key, values in own.items():
            kind = net.layers[int(key.split()[1]) - 2].kind
            flow[f"{name}: {key} ({'Elman' if kind == 'recurrent' else kind.upper()})"] = values
    return flow


def render_network_flow(flow, spec, format, digits, quantity="delta"):
    """The table of :func:`network_gradient_flow` and the ratio of its first and
    last rows per layer.  ``quantity`` as there ("output_grad": |dE/dh[t]|)."""
    w = _Writer(format, digits, "nielsen", False)
    names = [k for k in flow if k != "steps"]
    rows = [[str(t)] + [w.num(flow[name][i]) for name in names]
            for i, t in enumerate(flow["steps"])]
    if quantity == "delta":
        headers = [flow_header(w, name) for name in names]
        intro = (f"{spec}: |δ[t]| of each recurrent layer (the length of its vector of "
                 "δ_j[t]), with a target at the last step only, full BPTT; going back one step "
                 "multiplies δ by Uᵀ·diag(g'(z[t])) (and adds what comes from the layer above).")
        symbol = "δ"
    else:
        headers = [f"|dE/dh[t]| {name}" for name in names]
        if w.fmt == "markdown":
            headers = [header.replace("|", "\\|") for header in headers]
        intro = (f"{spec}: |dE/dh[t]| of each recurrent layer (the length of the gradient of "
                 "its output h[t]), with a target at the last step only, full BPTT. An Elman "
                 "layer sends it back through Uᵀ·diag(g'(z[t])) at every step; an LSTM also "
                 "through its cell, dE/dc[t−1] = f[t] ⊙ dE/dc[t] + ..., which keeps it while "
                 "the forget gate is near 1; a GRU through h[t−1]'s share z ⊙ dE/dh[t].")
        symbol = "dE/dh"
    text = w.table(rows, ["t"] + headers)
    lines = [intro, "", text, ""]
    for name in names:
        lines.append(flow_ratio_line(w, name, symbol, flow[name][0], flow[name][-1]))
    return "\n".join(lines) + "\n"


def _flow_network(spec):
    net = load(spec, budget=budgets.single_step("gradient-flow"))
    if not net.is_sequential:
        raise NeuronsimError(f"{spec}: a feed-forward network (no recurrent layer): no "
                             "gradient flows through time")
    return net


def _refuse_long_flow(net, xs, spec):
    """Refuse a flow whose forward and backward passes over ``xs`` (the sequence actually
    run, after --length) would be over the work budget of one command."""
    size = budgets.NetworkSize.of_network(net)
    size.time_steps = len(xs)
    budgets.refuse_over("gradient-flow", budgets.step_work(size), budgets.WORK,
                        f"work units ({spec} over {len(xs)} time steps)",
                        "a smaller --length or a smaller network")


def run_gradient_flow(args):
    if not 1 <= args.digits <= 17:
        raise NeuronsimError(f"--digits: expected 1 to 17, got {args.digits}")
    one_neuron = any(getattr(args, name) is not None
                     for name in ("recurrent_weight", "input_weight", "bias"))
    if args.spec is None and (one_neuron or args.one_neuron_default) and not args.against:
        return _one_neuron_flow(args)
    if one_neuron:
        raise NeuronsimError("--recurrent-weight, --input-weight and --bias build the "
                             "one-neuron example: give them without SPEC")
    spec = args.spec or "rnn"
    net = _flow_network(spec)
    pairs = starting_at(_samples(net, spec), args.sample)
    xs, targets = pairs[0]
    if not isinstance(targets[0], (list, tuple)) and targets[0] is not None:
        targets = [None] * (len(xs) - 1) + [targets]
    target = [t for t in targets if t is not None][-1]
    if args.length is not None:
        if not 1 <= args.length <= MAX_FLOW_LENGTH:
            raise NeuronsimError(f"--length: expected 1 to {MAX_FLOW_LENGTH}, got {args.length}")
        xs = [xs[t % len(xs)] for t in range(args.length)]
    _refuse_long_flow(net, xs, spec)
    if args.against:
        other = _flow_network(args.against)
        _refuse_long_flow(other, xs, args.against)
        if (other.n_inputs, other.n_outputs) != (net.n_inputs, net.n_outputs):
            raise NeuronsimError(
                f"--against {args.against}: {other.n_inputs} inputs and {other.n_outputs} "
                f"outputs, but {spec} has {net.n_inputs} and {net.n_outputs}: the two "
                "networks must read the same sequences")
        names = (spec, args.against) if spec != args.against else ("1", "2")
        flow = compare_gradient_flow(dict(zip(names, (net, other))), xs, target)
        quantity = "output_grad"
        title = f"{spec} against {args.against} on {spec}'s sample {args.sample}"
    else:
        quantity = "output_grad" if is_gated(net) else "delta"
        flow = network_gradient_flow(net, xs, target, quantity)
        title = spec
    text = render_network_flow(flow, title, args.format, args.digits, quantity)
    if args.length is not None:
        text += (f"(the sample's inputs repeated to T = {args.length} steps; the target at "
                 "step T is the sample's last target)\n")
    if args.plot:
        symbol = "δ" if quantity == "delta" else "dE/dh"
        plot_gradient_flow(flow, args.plot, title=f"|{symbol}[t]| going back in time: {title}")
        text += f"plot saved to {args.plot}\n"
    sys.stdout.write(text)
    return 0


def _one_neuron_flow(args):
    """The one-neuron comparison of tanh, sigmoid and linear (:func:`gradient_flow`)."""
    length = 20 if args.length is None else args.length
    if not 1 <= length <= MAX_FLOW_LENGTH:
        raise NeuronsimError(f"--length: expected 1 to {MAX_FLOW_LENGTH}, got {length}")
    u = 1.5 if args.recurrent_weight is None else args.recurrent_weight
    flow = gradient_flow(length, u, 1.0 if args.input_weight is None else args.input_weight,
                         0.0 if args.bias is None else args.bias)
    text = render_gradient_flow(flow, args.format, args.digits, u)
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
    """(right, total): sequences of ``length`` whose every step is on the right side of 0.5
    (a NaN or infinite output is never right)."""
    right = 0
    pairs = parity_sequences(length)
    for xs, ts in pairs:
        outputs = net.forward_pass(xs)
        right += all(math.isfinite(y[0]) and (y[0] > 0.5) == (t[0] == 1)
                     for y, t in zip(outputs, ts))
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
    text = intro + render_records(tracer.sequences, sequences=True, **options)
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
    emit(args, text + "\n".join(lines) + "\n",
         title="neuronsim: backpropagation through time")
    return 0


# ------------------------------------------------------------------ demo long-range
LONG_RANGE_STEPS, LONG_RANGE_SEQUENCES = 20, 600
MAX_LONG_RANGE_STEPS, MAX_LONG_RANGE_SEQUENCES = 100, 20_000
MAX_LONG_RANGE_WORK = 100_000      # time steps of training per network (~1 min for the LSTM)


def run_long_range_demo(args, elman_name, lstm_name):
    """``neuronsim demo long-range``: the bundled Elman network and LSTM learn
    to remember the first input (:mod:`neuronsim.classroom.long_range`)."""
    from ..classroom.long_range import race
    from ..files.bundled import example_path

    steps = LONG_RANGE_STEPS if args.steps is None else args.steps
    sequences = LONG_RANGE_SEQUENCES if args.sequences is None else args.sequences
    if not 2 <= steps <= MAX_LONG_RANGE_STEPS:
        raise NeuronsimError(f"--steps: expected 2 to {MAX_LONG_RANGE_STEPS}, got {steps}")
    if not 1 <= sequences <= MAX_LONG_RANGE_SEQUENCES:
        raise NeuronsimError(f"--sequences: expected 1 to {MAX_LONG_RANGE_SEQUENCES}, "
                             f"got {sequences}")
    if steps * sequences > MAX_LONG_RANGE_WORK:
        raise NeuronsimError(f"demo long-range: --steps {steps} × --sequences {sequences} = "
                             f"{steps * sequences:,} time steps of training, more than "
                             f"{MAX_LONG_RANGE_WORK:,}: give fewer --sequences or a smaller "
                             "--steps")
    nets = {"Elman": load(example_path(elman_name)), "LSTM": load(example_path(lstm_name))}
    rows = race(nets, steps, sequences, noise=1.0, seed=0)
    intro = (
        "neuronsim demo long-range: remember the first input. At t = 1 input 1 holds a signal "
        "+1 or -1 (with a marker 1 on input 2); then come "
        f"{steps - 1} step{'s' if steps > 2 else ''} of noise, uniform in [-1, 1], on input 1. "
        "The target, at the last step only, is 1 for +1 and 0 for -1.\n\n"
        f"Two networks of 3 recurrent units, the bundled {elman_name} (Elman, tanh) and "
        f"{lstm_name} (LSTM), each with a sigmoid output, binary cross-entropy, full BPTT "
        "and Adam at learning rate 0.01, train online on the same "
        f"{sequences} fresh sequence{'s' if sequences > 1 else ''}; the accuracy is on 200 "
        "other sequences (chance: about 50 %).")
    lines = [textwrap.fill(part, 95) for part in intro.split("\n\n")]
    lines = [lines[0], "", lines[1], "", "sequences   Elman    LSTM"]
    lines += [f"{done:9d}   {scores['Elman']:5.0%}   {scores['LSTM']:5.0%}"
              for done, scores in rows]
    lines += ["", textwrap.fill(
        "Why: going back one step, an Elman layer multiplies the error by Uᵀ·diag(g'(z)), so "
        "what reaches t = 1 vanishes and drowns in the noise steps' gradients; an LSTM's cell "
        "carries dE/dc back through its forget gate (f ≈ 0.95 here), and its input gate learns "
        f"to open on the marker. See 'neuronsim gradient-flow {elman_name} --against "
        f"{lstm_name}'.", 95)]
    emit(args, "\n".join(lines) + "\n", title="neuronsim: remembering the first input")
    return 0


# ------------------------------------------------------------------ parsers
def add_flow_arguments(parser):
    parser.add_argument("spec", metavar="SPEC", nargs="?",
                        help="a network file with a recurrent layer, or a bundled example's "
                             "name (default: rnn, the bundled parity network)")
    parser.add_argument("--against", metavar="SPEC2",
                        help="a second network file (for example an LSTM next to an Elman "
                             "network): |dE/dh[t]| of both, side by side, on SPEC's sample")
    parser.add_argument("--sample", type=int, default=1, metavar="N",
                        help="the file's sample (sequence) to use, counted from 1 (default 1)")
    parser.add_argument("--length", type=int, metavar="T",
                        help=f"sequence length, 1 to {MAX_FLOW_LENGTH}: the sample's inputs "
                             "repeated (one-neuron example: default 20)")
    parser.add_argument("--recurrent-weight", type=float, metavar="U",
                        help="without SPEC: the one-neuron example (tanh, sigmoid and linear "
                             "side by side) with recurrent weight U (default 1.5)")
    parser.add_argument("--input-weight", type=float, metavar="W",
                        help="the one-neuron example's input weight (default 1)")
    parser.add_argument("--bias", type=float, metavar="B",
                        help="the one-neuron example's bias (default 0)")
    parser.add_argument("--format", choices=list(FORMATS), default="plain")
    parser.add_argument("--digits", type=int, default=4, metavar="N",
                        help="significant digits, 1 to 17 (default 4)")
    parser.add_argument("--plot", metavar="FILE", help="also save a plot (needs matplotlib)")
    parser.set_defaults(run=run_gradient_flow)


def register(subparsers):
    flow = subparsers.add_parser(
        "gradient-flow", help="vanishing and exploding gradients: |δ[t]| by t",
        description="|δ[t]| of each recurrent layer for t = T down to 1, on one of the file's "
                    "sequences with a target at the last step only (default: the bundled "
                    "recurrent example).  With --recurrent-weight U (and no SPEC): one "
                    "recurrent neuron per activation (tanh, sigmoid, linear) side by side.")
    add_flow_arguments(flow)
    flow.set_defaults(one_neuron_default=False)

    alias = "an alias of 'neuronsim {0}', kept for earlier scripts: {0} takes every network file"
    trace = subparsers.add_parser(
        "rnn-trace", help=f"{alias.format('trace')}",
        description=f"This command is {alias.format('trace')}, recurrent ones included.")
    add_trace_arguments(trace)
    train = subparsers.add_parser(
        "rnn-train", help=f"{alias.format('train')}",
        description=f"This command is {alias.format('train')}, recurrent ones included.")
    add_train_arguments(train)
    old_flow = subparsers.add_parser(
        "rnn-gradient-flow", help="an alias of 'neuronsim gradient-flow' (without SPEC: the "
                                  "one-neuron example, as before)",
        description="This command is an alias of 'neuronsim gradient-flow', kept for earlier "
                    "scripts; without SPEC it shows the one-neuron example (tanh, sigmoid and "
                    "linear side by side), as it always did.")
    add_flow_arguments(old_flow)
    old_flow.set_defaults(one_neuron_default=True)
