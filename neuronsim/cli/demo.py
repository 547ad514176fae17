"""``neuronsim demo``: the bundled examples, each run the way it is best shown."""

import argparse

from ..core.errors import NeuronsimError
from ..core.labels import weight_label
from ..files.bundled import EXAMPLES, MAZUR_WEIGHT_NAMES, example_path
from ..render.numfmt import format_number
from ..render.tables import FORMATS, SECTIONS, render_records
from . import budgets
from .core import add_view_options, emit, load, sample_list, trace_steps, view_options
from .demo_optimizers import run_demo_optimizers
from .digits import run_demo_digits
from .explain import add_numbers_option
from .rnn import run_long_range_demo, run_rnn_demo

# ------------------------------------------------------------------ demo
# The work of each demo (its fixed steps and epochs), budgeted like the command
# it resembles: a slow number system (--numbers precise:10000) can make a
# training demo take hours.
DEMO_BUDGETS = {
    "mazur": lambda command: budgets.for_trace(1, command=command),
    "four-layer": lambda command: budgets.for_trace(1, command=command),
    "xor": lambda command: budgets.for_train(XOR_EPOCHS, command=command, narrow=DEMO_NARROW),
    "rnn": lambda command: budgets.for_train(RNN_EPOCHS, command=command, narrow=DEMO_NARROW),
}
DEMO_NARROW = ("the demo trains for a fixed number of epochs: use --numbers float or fewer "
               "--numbers precise digits")
XOR_EPOCHS = 1000
RNN_EPOCHS = 100

# Each view option of ``demo``, and whether the user changed it from its default.
DEMO_OPTIONS = {
    "--format": lambda args: args.format != "plain",
    "--digits": lambda args: args.digits != 9,
    "--layer": lambda args: args.layer is not None,
    "--neuron": lambda args: args.neuron is not None,
    "--convention": lambda args: args.convention != "nielsen",
    "--bias-as-weight": lambda args: args.bias_as_weight,
    "--sections": lambda args: list(args.sections) != list(SECTIONS),
    "-o/--output": lambda args: args.output is not None,
    "--numbers": lambda args: args.numbers != "float",
    "--steps": lambda args: args.steps is not None,
    "--sequences": lambda args: args.sequences is not None,
}
# The options each demo honours (mazur and four-layer: all of them).
DEMO_ACCEPTS = {
    "xor": ("--digits", "-o/--output", "--numbers"),
    "rnn": ("--format", "--digits", "--convention", "--sections", "-o/--output", "--numbers"),
    "digits": ("-o/--output",),
    "optimizers": ("--digits", "-o/--output"),
    "long-range": ("-o/--output", "--steps", "--sequences"),
}
# The bundled files that only a two-network demo runs (demo long-range).
DEMO_PAIRS = {"long-range": ("long-range-elman", "long-range-lstm")}


def refuse_unused_options(args):
    """Raise if an option was given that demo ``args.name`` would ignore."""
    accepts = DEMO_ACCEPTS.get(args.name)
    if accepts is None:
        accepts = [option for option in DEMO_OPTIONS if option not in ("--steps", "--sequences")]
    ignored = [option for option, given in DEMO_OPTIONS.items()
               if given(args) and option not in accepts]
    if ignored:
        verb = "does" if len(ignored) == 1 else "do"
        raise NeuronsimError(f"demo {args.name}: {', '.join(ignored)} {verb} not apply to this "
                             f"demo (it takes only {', '.join(accepts)})")


def run_demo(args):
    name = args.name
    refuse_unused_options(args)
    if name != "digits" and not 1 <= args.digits <= 17:
        raise NeuronsimError(f"--digits: expected 1 to 17, got {args.digits}")
    if name == "digits":
        return run_demo_digits(args)
    if name == "optimizers":
        return run_demo_optimizers(args)
    if name in DEMO_PAIRS:
        return run_long_range_demo(args, *DEMO_PAIRS[name])
    net = load(example_path(name), args.numbers,
               budget=DEMO_BUDGETS[name](f"demo {name}"))
    if name == "xor":
        return _demo_xor(net, args)
    if name == "rnn":
        return run_rnn_demo(net, args, epochs=RNN_EPOCHS)
    samples = sample_list(net, argparse.Namespace(input=None, target=None), name)
    tracer = trace_steps(net, samples, 1, net.learning_rate)
    options = view_options(args, net)
    header = f"neuronsim demo {name}: one backpropagation step, every number shown.\n\n"
    text = header + render_records(tracer.steps, **options)
    if name == "mazur":
        text += "\n" + _mazur_summary(tracer, net, args)
    emit(args, text)
    return 0


def _mazur_summary(tracer, net, args):
    """Mazur's names next to ours, in the format of the trace above it."""
    step = tracer.steps[0]
    style = {"latex": "latex", "html": "html"}.get(args.format, "text")
    rows = [["E_total", "E", format_number(step.loss, args.digits, style), ""]]
    for name in ["w5", "w6", "w7", "w8", "w1", "w2", "w3", "w4"]:
        l, j, k = MAZUR_WEIGHT_NAMES[name]
        value = net.layers[l].neurons[j].weights[k]
        label = weight_label(l, j, k, args.convention, style)
        rows.append([name, f"${label}$" if style == "latex" else label,
                     format_number(value, args.digits, style),
                     f"net.layers[{l}].neurons[{j}].weights[{k}]"])
    title = "Compare with Mazur's published values (his w1..w8 are our weights below):"
    if args.format == "plain":
        lines = [title] + [f"  {name} = {label} = {value}  ({path})" if path
                           else f"  {name} = {value}" for name, label, value, path in rows]
        return "\n".join(lines) + "\n"
    from tabulate import tabulate   # here: the plain-text demo draws no table with it

    if style == "latex":
        rows[0][0] = r"E\_total"
    table = tabulate(rows, headers=["Mazur", "neuronsim", "after one step", "Python"],
                     tablefmt=FORMATS[args.format][0], disable_numparse=True)
    if style == "html":
        title = f"<p>{title}</p>"
    return f"{title}\n\n{table}\n"


def _demo_xor(net, args):
    epochs, every = XOR_EPOCHS, 100
    rows = []

    def report(epoch, loss):
        if epoch == 1 or epoch % every == 0:
            rows.append((epoch, loss))

    net.train(epochs=epochs, seed=0, on_epoch=report)
    lines = ["neuronsim demo xor: a 2-2-1 network (tanh hidden, sigmoid output, binary "
             "cross-entropy) learns XOR online, learning rate "
             f"{format_number(net.learning_rate)}.", "", "epoch   mean loss"]
    lines += [f"{epoch:5d}   {format_number(loss, args.digits)}" for epoch, loss in rows]
    lines += ["", "input    target   output"]
    for sample in net.samples:
        out = net.forward_pass(sample["input"])[0]
        x = ", ".join(format_number(v) for v in sample["input"])
        lines.append(f"({x})   {format_number(sample['target'][0])}        "
                     f"{format_number(out, 4)}")
    emit(args, "\n".join(lines) + "\n")
    return 0



def register(subparsers):
    demo = subparsers.add_parser(
        "demo", help="run a bundled example (default: mazur)",
        description="Bundled examples: mazur (Matt Mazur's 2-2-2 sigmoid network, one step), "
                    "four-layer (4 inputs, 2, 2, 1 output, one step), xor (trains, shows the "
                    "loss falling), rnn (a recurrent network learns running parity by "
                    "backpropagation through time), optimizers (SGD, momentum, RMSprop, "
                    "Adagrad, Adam and AdamW on XOR: the steps each needs, -o FILE.svg plots "
                    "the loss curves), long-range (an Elman network and an LSTM learn to "
                    "remember the first input of a sequence through noise: the LSTM learns, "
                    "the Elman network stays at chance).")
    paired = {name for names in DEMO_PAIRS.values() for name in names}
    demo.add_argument("name", nargs="?", default="mazur",
                      choices=[name for name in EXAMPLES if name not in paired]
                      + ["digits", "optimizers"] + list(DEMO_PAIRS),
                      help="digits: a 64-32-10 network learns scikit-learn's 8x8 digits "
                           "(-o FILE.png plots sample predictions)")
    add_view_options(demo)
    add_numbers_option(demo)
    demo.add_argument("--steps", type=int, metavar="T",
                      help="long-range: the length of each sequence (default 20)")
    demo.add_argument("--sequences", type=int, metavar="N",
                      help="long-range: the training sequences, one update each (default 600)")
    demo.set_defaults(run=run_demo)

