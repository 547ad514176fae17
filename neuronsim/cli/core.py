"""``neuronsim trace`` and ``neuronsim train``."""

import argparse
import sys

from ..classroom.progress import ProgressBar, step_bar
from ..core.errors import NeuronsimError
from ..core.labels import CONVENTIONS
from ..files.atomic import atomic_write_text
from ..files.saving import check_savable
from ..render.numfmt import format_number
from ..render.plain_table import plain_table
from ..render.tables import FORMATS, SECTIONS, document, render_records
from ..trace.tracer import Tracer
from . import budgets
from .loading import load_network_argument
from .explain import (
    add_numbers_option,
    add_sample_options,
    check_learning_rate,
    parse_number,
    sample_from_args,
)
from .optimizer_options import add_optimizer_options, apply_optimizer_options

LAYER_HELP = ("{verb} only these layers.  Layer numbers count the input layer as layer 1 "
              "(layers with neurons are 2 to L) in both conventions; --convention changes "
              "only the weight superscripts")

# A trace longer than this, with no --layer or --neuron, gets a note on stderr.
LONG_TRACE_LINES = 5000

# trace --batch-size traces at most this many samples in all (--steps batches of them),
# and records at most this many per-sample gradient terms (samples x parameters shown).
MAX_BATCH_TRACE_SAMPLES = 1000
MAX_BATCH_TRACE_TERMS = 1_000_000

# trace of a recurrent network: at most this many neuron-steps shown in all
# (sequences traced x time steps shown x neurons shown).
MAX_SEQUENCE_TRACE_CELLS = 20_000


def add_view_options(parser):
    """Options every command that prints trace tables shares."""
    parser.add_argument("--format", choices=list(FORMATS), default="plain",
                        help="plain text (default), GitHub Markdown, LaTeX or HTML")
    parser.add_argument("--digits", type=int, default=9, metavar="N",
                        help="significant digits shown (default 9)")
    parser.add_argument("--layer", type=int, nargs="+", metavar="L",
                        help=LAYER_HELP.format(verb="show"))
    parser.add_argument("--neuron", type=int, nargs="+", metavar="J",
                        help="show only these neurons, counted from 1")
    parser.add_argument("--convention", choices=CONVENTIONS, default="nielsen",
                        help="weight superscript: nielsen (default; w_jk^(l) feeds layer l) "
                             "or ng (w_jk^(l) feeds layer l+1)")
    parser.add_argument("--bias-as-weight", action="store_true",
                        help="show each bias as w_j0 on a constant input a_0 = 1")
    parser.add_argument("--sections", nargs="+", choices=SECTIONS, default=list(SECTIONS),
                        help="which tables to show (default: all)")
    parser.add_argument("-o", "--output", metavar="FILE",
                        help="write the trace to FILE (written atomically) instead of stdout")


def view_options(args, net):
    """Turn textbook-numbered --layer/--neuron into 0-based filters, checked."""
    layers = neurons = None
    most = max_digits(net)
    if not 1 <= args.digits <= most:
        raise NeuronsimError(f"--digits: expected 1 to {most}, got {args.digits}")
    if args.layer:
        last = len(net.layers) + 1
        for number in args.layer:
            if not 2 <= number <= last:
                raise NeuronsimError(f"--layer {number}: layers with neurons are 2 to {last} "
                                     "(layer 1 is the input layer)")
        layers = {number - 2 for number in args.layer}
    if args.neuron:
        widest = max(layer.size for layer in net.layers)
        for number in args.neuron:
            if not 1 <= number <= widest:
                raise NeuronsimError(f"--neuron {number}: neurons count from 1 to {widest}")
        neurons = {number - 1 for number in args.neuron}
    return dict(format=args.format, digits=args.digits, layers=layers, neurons=neurons,
                convention=args.convention, bias_as_weight=args.bias_as_weight,
                sections=tuple(args.sections))


def max_digits(net):
    """Digits worth showing: 17 for float64, the working precision for precise numbers."""
    return max(17, getattr(net.numbers, "digits", 17))


def emit(args, text, title="neuronsim trace"):
    """Print ``text`` or write it to --output (a whole document for HTML/LaTeX files)."""
    if getattr(args, "output", None):
        atomic_write_text(args.output, document(text, args.format, title=title))
        print(f"wrote {args.output}")
    else:
        sys.stdout.write(text)


def load(path, numbers="float", budget=None):
    """The network of a file or a bundled example's name (any kind of network),
    checked against the command's ``budget`` (neuronsim.cli.budgets) before it
    is built."""
    return load_network_argument(path, numbers, budget)


def sample_list(net, args, source):
    """The samples to use: --input/--target if given (read as ``explain`` reads
    them: decimals or fractions such as 1/2, lengths checked), else the file's."""
    x, t = sample_from_args(net, args)
    if x is not None:
        return [(x, t)]
    if not net.samples:
        raise NeuronsimError(f"{source}: the file has no samples; give --input and --target")
    return [(s["input"], s["target"]) for s in net.samples]


def learning_rate(net, args, source):
    """--learning-rate (a finite number > 0, in the network's numbers), else the file's."""
    if args.learning_rate is None:
        if net.learning_rate is None:
            raise NeuronsimError(f"{source}: no learning_rate in the file; give --learning-rate")
        return net.learning_rate
    rate = parse_number(str(args.learning_rate), net.numbers.convert, "--learning-rate")
    return check_learning_rate(rate, net.numbers, args.learning_rate)


def trace_steps(net, samples, steps, rate, tracer=None, command="trace", progress=None):
    """Run ``steps`` online steps over ``samples`` (cycling) with a tracer on
    (a new :class:`Tracer` unless one is given, e.g. a recurrent one).

    Exact fractions are measured after every step and refused past
    budgets.FRACTION_DIGITS digits, naming the step.  ``progress`` (a
    classroom.progress.ProgressBar, or None) counts the steps.
    """
    tracer = (Tracer() if tracer is None else tracer).attach(net)
    try:
        for i in range(steps):
            x, t = samples[i % len(samples)]
            net.forward_pass(x)
            net.back_prop(t)
            net.update_weights(rate)
            budgets.check_fraction_size(net, i + 1, command)
            if progress is not None:
                progress.update()
    finally:
        tracer.detach(net)
        if progress is not None:
            progress.close()
    return tracer


def batches_of(samples, size):
    """The samples in order, cut into batches of ``size`` (the last may be
    smaller): one pass of ``train --no-shuffle --batch-size size``."""
    return [samples[i:i + size] for i in range(0, len(samples), size)]


def trace_batches(net, samples, steps, size, rate, tracer=None, progress=None):
    """Run ``steps`` batch steps with a batch-recording tracer on (a new
    ``Tracer(batches=True)`` unless one is given).

    Each step back-propagates every sample of its batch with the same weights,
    then updates once.  Batches are those of :func:`batches_of`, repeated
    when ``steps`` is more than one pass, so the weights after k steps are
    those of ``train --no-shuffle --batch-size size`` after k updates.
    """
    tracer = (Tracer(batches=True) if tracer is None else tracer).attach(net)
    batches = batches_of(samples, size)
    try:
        for step in range(steps):
            for x, t in batches[step % len(batches)]:
                net.forward_pass(x)
                net.back_prop(t)
            net.update_weights(rate)
            budgets.check_fraction_size(net, step + 1, "trace")
            if progress is not None:
                progress.update()
    finally:
        tracer.detach(net)
        if progress is not None:
            progress.close()
    return tracer


def trace_batch_size(text, samples, steps, parameters=0):
    """trace's --batch-size: None (online, as without it) for 1, else the n
    of each batch ('full' or 'all': every sample).  The samples it would
    trace in all are bounded by MAX_BATCH_TRACE_SAMPLES, and those samples
    times the ``parameters`` shown by MAX_BATCH_TRACE_TERMS."""
    if text is None:
        return None
    count = len(samples)
    size = count if text in ("full", "all") else _positive_int(text)
    if size > count:
        have = "is 1 sample" if count == 1 else f"are {count} samples"
        raise NeuronsimError(f"--batch-size {size}: there {have} (--batch-size full takes "
                             "them all)")
    if size == 1:
        return None
    batches = batches_of(samples, size)
    passes, rest = divmod(steps, len(batches))
    traced = passes * count + sum(len(batch) for batch in batches[:rest])
    if traced > MAX_BATCH_TRACE_SAMPLES:
        raise NeuronsimError(
            f"--steps {steps} with --batch-size {text} traces {traced:,} samples; "
            f"at most {MAX_BATCH_TRACE_SAMPLES:,} (fewer --steps or a smaller --batch-size)")
    if traced * parameters > MAX_BATCH_TRACE_TERMS:
        raise NeuronsimError(
            f"--steps {steps} with --batch-size {text} traces {traced:,} samples of "
            f"{parameters:,} parameters each; at most {MAX_BATCH_TRACE_TERMS:,} "
            "gradient terms (--layer L or --neuron J show fewer parameters; fewer --steps or "
            "a smaller --batch-size fewer samples)")
    return size


def shown_parameters(net, layers, neurons):
    """The parameters that the --layer/--neuron filters (0-based sets) show: each
    neuron's weights and bias, a recurrent neuron's recurrent weights and a
    learned initial state; an LSTM or GRU unit's w, u and two biases per gate,
    and its learned h[0] (c[0])."""
    return sum(_unit_parameters(layer)
               for l, layer in enumerate(net.layers) if layers is None or l in layers
               for j in range(layer.size) if neurons is None or j in neurons)


def _unit_parameters(layer):
    gates = getattr(layer, "GATES", None)
    if gates:
        states = len(layer.STATES) if layer.learn_initial_state else 0
        return len(gates) * (layer.n_inputs + layer.size + 2) + states
    return (layer.n_inputs + 1
            + (layer.size + bool(layer.learn_initial_state) if layer.is_recurrent else 0))


def shown_rows(net, layers, neurons):
    """The rows per time step that the --layer/--neuron filters (0-based sets) show:
    one per neuron, and for an LSTM or GRU unit one per gate and one for its state."""
    return sum(len(getattr(layer, "GATES", ())) + 1
               for l, layer in enumerate(net.layers) if layers is None or l in layers
               for j in range(layer.size) if neurons is None or j in neurons)


# ------------------------------------------------------------------ trace
def starting_at(samples, number):
    """The samples from --sample ``number`` (counted from 1) on, then the ones before."""
    if not 1 <= number <= len(samples):
        raise NeuronsimError(f"--sample {number}: the file has samples 1 to {len(samples)}")
    return samples[number - 1:] + samples[:number - 1]


def truncation_of(args, net):
    """BPTT as --full / --truncation K say, else the file's."""
    if args.full:
        if args.truncation is not None:
            raise NeuronsimError("--full and --truncation: give one of them")
        return None
    if args.truncation is not None:
        if args.truncation < 1:
            raise NeuronsimError(f"--truncation: expected k >= 1, got {args.truncation}")
        return args.truncation
    return net.truncation


def refuse_time_options(args, net):
    """--truncation, --full and --times need a network with a recurrent layer."""
    for option, given in (("--truncation", args.truncation is not None), ("--full", args.full),
                          ("--times", getattr(args, "times", None) is not None)):
        if given:
            raise NeuronsimError(f"{option}: {args.spec} is a feed-forward network (no "
                                 "recurrent layer, no time steps)")


def run_trace(args):
    if args.steps < 1:
        raise NeuronsimError(f"--steps: expected at least 1, got {args.steps}")
    batched = args.batch_size not in (None, "1")
    budget = budgets.for_trace(args.steps, layers=zero_based(args.layer, 2),
                               neurons=zero_based(args.neuron, 1), sections=args.sections,
                               batched=batched)
    net = load(args.spec, args.numbers, budget=budget)
    if net.is_sequential:
        return trace_sequences_of(net, args)
    refuse_time_options(args, net)
    samples = sample_list(net, args, args.spec)
    options = view_options(args, net)
    layers, neurons = options["layers"], options["neurons"]
    batch = trace_batch_size(args.batch_size, samples, args.steps,
                             shown_parameters(net, layers, neurons))
    if args.sample != 1 and (args.input is not None or batch is not None):
        raise NeuronsimError("--sample: online steps over the file's samples only (not with "
                             "--input or --batch-size, whose batches follow the file's order)")
    if args.input is None:
        samples = starting_at(samples, args.sample)
    rate = learning_rate(net, args, args.spec)
    if batch is None:
        tracer = trace_steps(net, samples, args.steps, rate,
                             progress=step_bar(args.steps, args.quiet))
        text = render_records(tracer.steps, **options)
    else:   # records only the neurons shown: a wide network's batch stays small
        tracer = Tracer(batches=True, layers=layers, neurons=neurons)
        tracer = trace_batches(net, samples, args.steps, batch, rate, tracer,
                               progress=step_bar(args.steps, args.quiet))
        text = render_records(tracer.batches, **options)
    lines = text.count("\n")
    if lines > LONG_TRACE_LINES and not (args.layer or args.neuron):
        print(f"neuronsim: note: this trace is {lines:,} lines long; --layer L, --neuron J "
              "or --sections show a part of it", file=sys.stderr)
    emit(args, text)
    return 0


def zero_based(numbers, first):
    """--layer (first = 2) or --neuron (first = 1) numbers as a 0-based set; None if not given."""
    return None if not numbers else {n - first for n in numbers}


def trace_sequences_of(net, args):
    """``trace`` of a network with a recurrent layer: per-time-step tables of
    ``--steps`` online steps, one sequence each, from ``--sample`` on; with
    ``--batch-size``, ``--steps`` batch steps (each sequence's tables, then
    the batch's sums and its one update)."""
    for option, given in (("--input/--target", args.input is not None or args.target is not None),
                          ("--bias-as-weight", args.bias_as_weight)):
        if given:
            raise NeuronsimError(
                f"{option}: not for a recurrent network's per-time-step trace ({args.spec} "
                "reads sequences: the file's samples, --sample N picks the first; "
                "'neuronsim train --batch-size' trains in batches)")
    if not net.samples:
        raise NeuronsimError(f"{args.spec}: the file has no samples (sequences)")
    pairs = [(s["input"], s["target"]) for s in net.samples]
    if args.steps < 1:
        raise NeuronsimError(f"--steps: expected at least 1, got {args.steps}")
    options = view_options(args, net)
    layers, neurons = options["layers"], options["neurons"]
    batch = trace_batch_size(args.batch_size, pairs, args.steps,
                             shown_parameters(net, layers, neurons))
    if batch is None:
        pairs = starting_at(pairs, args.sample)
        traced = [pairs[i % len(pairs)] for i in range(args.steps)]
    elif args.sample != 1:
        raise NeuronsimError("--sample: online steps over the file's sequences only (not with "
                             "--batch-size, whose batches follow the file's order)")
    else:
        batches = batches_of(pairs, batch)
        traced = [pair for i in range(args.steps) for pair in batches[i % len(batches)]]
    from ..render.sequence_tables import check_times   # not on the feed-forward path

    for xs, _ in traced:
        check_times(args.times, len(xs))
    cells = sum(len(args.times or xs) for xs, _ in traced) * shown_rows(net, layers, neurons)
    if cells > MAX_SEQUENCE_TRACE_CELLS:
        raise NeuronsimError(
            f"this trace shows {cells:,} neuron-steps (sequences x time steps x neurons); at "
            f"most {MAX_SEQUENCE_TRACE_CELLS:,} (--times T, --layer L or --neuron J show fewer, "
            "or fewer --steps" + (" or a smaller --batch-size)" if batch else ")"))
    net.truncation = truncation_of(args, net)
    rate = learning_rate(net, args, args.spec)
    view = {"format": options["format"], "digits": options["digits"],
            "convention": options["convention"], "times": args.times,
            "sections": options["sections"], "layers": layers, "neurons": neurons}
    if batch is None:
        tracer = trace_steps(net, traced, args.steps, rate, Tracer(),
                             progress=step_bar(args.steps, args.quiet))
        text = render_records(tracer.sequences, sequences=True, **view)
    else:
        tracer = trace_batches(net, pairs, args.steps, batch, rate,
                               Tracer(batches=True),
                               progress=step_bar(args.steps, args.quiet))
        text = render_records(tracer.batches, sequences=True, **view)
    emit(args, text, title="neuronsim: backpropagation through time")
    return 0


# ------------------------------------------------------------------ train
def run_train(args):
    if args.epochs < 1:
        raise NeuronsimError(f"--epochs: expected at least 1, got {args.epochs}")
    budget = budgets.for_train(args.epochs, 1 if args.input is not None else None)
    net = load(args.spec, args.numbers, budget=budget)   # one train() for both
    if net.is_sequential:
        net.truncation = truncation_of(args, net)
    else:
        refuse_time_options(args, net)
    samples = sample_list(net, args, args.spec)
    rate = learning_rate(net, args, args.spec)
    beyond = apply_optimizer_options(net, args)
    history, table, batch = train_with_table(net, samples, rate, args)
    mode = "online" if batch == 1 else ("full-batch" if batch is None else f"mini-batch of {batch}")
    header = (f"training {args.spec}: {len(samples)} samples, {mode}, learning rate "
              f"{format_number(rate)}, reduction {net.reduction}{beyond}")
    if net.is_sequential:
        bptt = ("full BPTT" if net.truncation is None
                else f"truncated BPTT (k = {net.truncation})")
        header = (f"training {args.spec}: {len(samples)} sequences, {bptt}, {mode}, learning "
                  f"rate {format_number(rate)}, loss {net.step_loss} over steps, "
                  f"{net.reduction} over sequences{beyond}")
    sys.stdout.write(finish_training(net, args, header, history, table, samples))
    return 0


def train_with_table(net, samples, rate, args):
    """Train as the options say (--epochs, --batch-size, --seed, --stop-loss, ...).

    Returns (epoch losses, the lines of the loss table, the batch size used).
    A progress bar is drawn on stderr when that is a terminal (not with --quiet).
    """
    if args.epochs < 1:
        raise NeuronsimError(f"--epochs: expected at least 1, got {args.epochs}")
    if args.every is not None and args.every < 1:
        raise NeuronsimError(f"--every: expected at least 1, got {args.every}")
    if not 1 <= args.digits <= 17:
        raise NeuronsimError(f"--digits: expected 1 to 17, got {args.digits}")
    batch = None if args.batch_size in ("full", "all") else _positive_int(args.batch_size)
    every = args.every or max(1, args.epochs // 10)
    lines = []

    def report(epoch, loss):
        if epoch == 1 or epoch % every == 0 or epoch == args.epochs:
            lines.append(f"{epoch:6d}   {format_number(loss, args.digits)}")

    budgets.refuse_over("train", args.epochs, budgets.MAX_EPOCHS, "epochs",
                        "give fewer --epochs (one loss per epoch is kept)")
    bar = ProgressBar(len(samples), stream=sys.stderr, enabled=False if args.quiet else None)
    on_batch = bar_mover(bar, args.epochs) if bar.enabled else None
    if getattr(net.numbers, "exact", False):
        on_batch = fraction_watch(net, on_batch)
    try:
        history = net.train(samples, epochs=args.epochs, learning_rate=rate, batch_size=batch,
                            shuffle=not args.no_shuffle, seed=args.seed,
                            stop_loss=args.stop_loss, on_epoch=report, on_batch=on_batch)
    finally:
        bar.close()
    if lines and not lines[-1].startswith(f"{len(history):6d}"):
        lines.append(f"{len(history):6d}   {format_number(history[-1], args.digits)}")
    return history, lines, batch


def finish_training(net, args, header, history, table, samples=None):
    """The report of a training run (and the --save), as text; with
    --show-outputs, each of ``samples`` through the trained network."""
    out = [header, "", f" epoch   {LOSS_COLUMN[net.reduction]}"] + table
    if args.stop_loss is not None and len(history) < args.epochs:
        out.append(f"stopped after epoch {len(history)}: loss <= {args.stop_loss}")
    if getattr(args, "show_outputs", False) and samples:
        out += ["", outputs_table(net, samples, args.digits)]
    if args.save:
        check_savable(net, args.save)
        net.save(args.save)
        out.append(f"saved the trained network to {args.save}")
    return "\n".join(out) + "\n"


def fraction_watch(net, on_batch=None, command="train"):
    """An on_batch hook that refuses exact fractions grown past
    budgets.FRACTION_DIGITS digits (naming the update), then calls ``on_batch``."""
    updates = {"count": 0}

    def watch(epoch, done, loss):
        updates["count"] += 1
        budgets.check_fraction_size(net, f"{updates['count']} (epoch {epoch})", command)
        if on_batch is not None:
            on_batch(epoch, done, loss)

    return watch


def outputs_table(net, samples, digits):
    """Each sample's output beside its target and its loss E_s, from the trained
    network (after the last update), then the loss over all of them: the mean
    of the E_s, or their sum for ``reduction="sum"``, as the epochs' losses."""
    rows, total = [], 0
    for number, (x, t) in enumerate(samples, start=1):
        output = net.forward_pass(x)
        loss = net.loss_of(x, t)
        total += loss
        rows.append([str(number), _values_text(x, digits), _values_text(t, digits),
                     _values_text(output, digits), format_number(loss, digits)])
    table = plain_table(rows, ["sample", "input x", "target t", "output", "loss E"])
    if net.reduction == "mean":
        summary = f"mean loss over the {len(samples)} samples: "
        total = total / len(samples)
    else:
        summary = f"summed loss over the {len(samples)} samples: "
    return ("each sample through the trained network:\n\n" + table + "\n\n" + summary
            + format_number(total, digits))


def _values_text(values, digits, shown=8):
    """A vector as (0.1, 0.9), a sequence of vectors as (0.1); (0.9), or None as
    "-" (a time step without a target); long ones cut after ``shown`` entries."""
    if values is None:
        return "-"
    values = list(values)
    if values and (values[0] is None or isinstance(values[0], (list, tuple))):
        parts = [_values_text(v, digits, shown) for v in values[:shown]]
        if len(values) > shown:
            parts.append(f"… ({len(values)} steps)")
        return "; ".join(parts)
    text = ", ".join(format_number(v, digits) for v in values[:shown])
    if len(values) > shown:
        text += f", … ({len(values)} values)"
    return f"({text})"


def bar_mover(bar, epochs, every=0.1):
    """An on_batch hook that redraws ``bar`` at most every ``every`` seconds."""
    last = {"epoch": None, "drawn": 0.0}

    def on_batch(epoch, done, loss):
        if last["epoch"] != epoch:
            bar.restart(prefix=f"epoch {epoch}/{epochs}")
            last["epoch"] = epoch
        now = bar.clock()
        if now - last["drawn"] >= every or done == bar.total:
            bar.update(done - bar.done, loss=loss)
            last["drawn"] = now

    return on_batch


# An epoch's loss is the mean of its sample losses, or their sum (Network.train).
LOSS_COLUMN = {"mean": "mean loss", "sum": "summed loss"}


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise NeuronsimError(f"--batch-size: expected a whole number or 'full', got {text!r}")
    if value < 1:
        raise NeuronsimError(f"--batch-size: expected at least 1, got {value}")
    return value


# ------------------------------------------------------------------ parsers
TRACE_DESCRIPTION = (
    "Every number of N training steps, in tables.  A feed-forward network: forward (z, a, "
    "g'(z)), loss, backward (δ as a chain-rule product), gradients and update of each sample. "
    "A network with a recurrent layer (any stack): per-time-step tables, forward t = 1..T and "
    "backward t = T down to 1 for every layer (dE/da as the path from the layer above plus "
    "the recurrent path from t+1), each parameter's contribution per step and its total, the "
    "update.")

TRAIN_DESCRIPTION = ("Gradient descent on the file's samples, the loss per epoch.  A network "
                     "with a recurrent layer trains on its sequences by backpropagation "
                     "through time (--truncation K or --full, else the file's).")


def add_time_options(parser):
    """--truncation and --full: BPTT of a network with a recurrent layer."""
    parser.add_argument("--truncation", type=int, metavar="K",
                        help="recurrent networks: truncated BPTT, k steps back (default: the "
                             "file's)")
    parser.add_argument("--full", action="store_true",
                        help="recurrent networks: full BPTT whatever the file says")


def add_trace_arguments(parser):
    """The arguments of ``trace`` (and of its alias ``rnn-trace``)."""
    parser.add_argument("spec", metavar="SPEC",
                        help="network file (JSON, see docs/spec.md), any stack of layers, or a "
                             "bundled example's name (mazur, four-layer, xor, rnn)")
    add_sample_options(parser, default="the file's samples")
    parser.add_argument("--sample", type=int, default=1, metavar="N",
                        help="the file's sample to start with, counted from 1 (default 1)")
    parser.add_argument("--steps", type=int, default=1, metavar="N",
                        help="steps to trace (default 1): online steps cycling through the "
                             "samples (one sequence each for a recurrent network), or with "
                             f"--batch-size, batch steps; capped at {budgets.MAX_STEPS:,}, not "
                             "streamed: the trace keeps every number until it prints them")
    parser.add_argument("--batch-size", metavar="N|full",
                        help="trace batch steps: every sample's forward and backward pass with "
                             "the same weights, then the accumulated gradient (the sum, divided by n "
                             "for a mean loss), the batch loss and one update; the samples in file order cut "
                             "into batches of N as 'train --no-shuffle' does ('full': all of "
                             "them; 1: online, as without this option); a recurrent network's "
                             "samples are sequences, each with its per-time-step tables")
    add_time_options(parser)
    parser.add_argument("--times", type=int, nargs="+", metavar="T",
                        help="recurrent networks: show the forward and backward tables of these "
                             "time steps only (counted from 1)")
    add_view_options(parser)
    add_numbers_option(parser)
    parser.add_argument("--quiet", action="store_true",
                        help="no progress bar (a trace whose steps take over half a second "
                             "draws one on stderr when that is a terminal)")
    parser.set_defaults(run=run_trace)


def add_train_arguments(parser):
    """The arguments of ``train`` (and of its alias ``rnn-train``)."""
    parser.add_argument("spec", metavar="SPEC",
                        help="network file (JSON, see docs/spec.md), any stack of layers, or a "
                             "bundled example's name")
    parser.add_argument("--epochs", type=int, default=100, metavar="N",
                        help="passes over the samples (default 100)")
    parser.add_argument("--learning-rate", metavar="ETA",
                        help="a finite number > 0, e.g. 0.5 or 1/2 (default: the file's "
                             "learning_rate)")
    parser.add_argument("--batch-size", default="1", metavar="N",
                        help="1 = online (default), N = mini-batch, 'full' = full batch")
    add_time_options(parser)
    parser.add_argument("--seed", type=int, default=0, help="shuffling seed (default 0)")
    parser.add_argument("--no-shuffle", action="store_true", help="keep the samples' order")
    parser.add_argument("--stop-loss", type=float, metavar="E",
                        help="stop once an epoch's loss is at most E")
    parser.add_argument("--every", type=int, metavar="K",
                        help="print the loss every K epochs, K >= 1 (default: a tenth of "
                             "--epochs)")
    parser.add_argument("--digits", type=int, default=6, metavar="N",
                        help="significant digits of the losses, 1 to 17 (default 6)")
    parser.add_argument("--save", metavar="FILE", help="save the trained network (atomically)")
    parser.add_argument("--show-outputs", action="store_true",
                        help="at the end, each sample's output from the trained network beside "
                             "its target, with its loss")
    parser.add_argument("--quiet", action="store_true",
                        help="no progress bar (it is drawn on stderr only when that is a terminal)")
    parser.add_argument("--input", nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--target", nargs="+", help=argparse.SUPPRESS)
    add_numbers_option(parser)
    add_optimizer_options(parser)
    parser.set_defaults(run=run_train)


def register(subparsers):
    trace = subparsers.add_parser(
        "trace", help="trace backpropagation steps of a network file, every number shown "
                      "(per time step for a recurrent network)",
        description=TRACE_DESCRIPTION)
    add_trace_arguments(trace)

    train = subparsers.add_parser(
        "train", help="train a network file by gradient descent (BPTT for a recurrent one)",
        description=TRAIN_DESCRIPTION)
    add_train_arguments(train)
