"""Work budgets: how much each command may do, checked before it starts.

A network file of a hundred bytes can describe millions of weights
(``{"size": 3000}`` twice), and every neuron here is a Python object, so a
command estimates its work from the network's size and its options first
and refuses in one line what it could not finish in reasonable time and
memory, naming the option that narrows it.  The limits are here, in one
place, with the reason for each:

- pure-Python neurons do roughly 5 million work units a second in float64
  (a unit is about one multiply-add; :func:`step_work` counts them, with the
  overhead of each neuron and sample); exact fractions and 50-digit precise
  numbers are ten to a hundred times slower (``NUMBER_COST``);
- a command builds at most ``PARAMETERS`` weights and biases as Python
  objects (about 40 bytes each, and some commands copy the network), and
  reads a network file of at most ``NETWORK_FILE_BYTES`` (parsed JSON takes
  about ten times the file's size; PARAMETERS numbers with all 17 digits
  fit);
- a command may do ``WORK`` units (seconds, not minutes); ``train`` may do
  ``TRAIN_WORK`` (minutes: it shows a progress bar);
- a trace keeps every number of every step until it prints them, so
  ``--steps`` times the parameters is capped by ``TRACE_NUMBERS`` (and
  ``--steps`` itself by ``MAX_STEPS``): the trace is not streamed, it is
  capped; ``train`` keeps one loss per epoch, so ``--epochs`` is capped by
  ``MAX_EPOCHS``;
- documents people read have a size: ``DRAW_EDGES`` lines in a diagram,
  ``WORKSHEET_CELLS`` cells on a worksheet to fill in by hand,
  ``TABLE_ROWS`` rows of tables in a trace, a walk or a comparison;
- exact fractions grow (each step multiplies them), so they may have at
  most ``FRACTION_DIGITS`` digits (checked after every step; see
  :func:`check_fraction_size`).

:class:`NetworkSize` reads the size off a network file's dict before any
neuron is built, so that refusing costs nothing.
"""

from ..core.errors import NeuronsimError
from ..trace.records import Record

PARAMETERS = 2_000_000           # weights and biases a command builds as Python objects
NETWORK_FILE_BYTES = 64 * 1024 ** 2   # a network file a command reads (parsing takes ~10x)
WORK = 100_000_000               # work units of one command (~20 s in float64)
TRAIN_WORK = 1_500_000_000       # work units of one training run (~5 min)
TRACE_NUMBERS = 2_000_000        # numbers a trace records before printing (steps × size)
MAX_STEPS = 10_000               # --steps of trace
MAX_EPOCHS = 10_000_000          # --epochs of train (one loss per epoch is kept)
DRAW_EDGES = 20_000              # lines in a network diagram (draw, report)
WORKSHEET_CELLS = 20_000         # cells of a worksheet (worksheet, check)
TABLE_ROWS = 50_000              # rows of the tables one command prints
FRACTION_DIGITS = 1_000          # digits of an exact fraction's numerator or denominator

# How much slower than float64 one multiply-add is, by number system.
NUMBER_COST = {"float": 1, "fraction": 50, "precise": 30}


class BudgetError(NeuronsimError, ValueError):
    """A command would exceed one of its work budgets; the message names the
    option (or the limit) that narrows it."""


# Gate neurons per unit of the gated layer kinds (files' "type").
GATES_PER_UNIT = {"lstm": 4, "gru": 3}


class NetworkSize(Record):
    """The size of a network: ``sizes`` = [inputs, layer widths...],
    ``parameters`` (weights and biases, recurrent weights too), ``samples``."""

    # A Record (==, repr, as_dict), not a dataclass: see neuronsim/trace/records.py.
    _fields = ("sizes", "parameters", "samples", "recurrent", "time_steps")

    def __init__(self, sizes, parameters, samples=0, recurrent=False, time_steps=1.0):
        self.sizes, self.parameters, self.samples = sizes, parameters, samples
        self.recurrent = recurrent
        self.time_steps = time_steps   # the samples' mean sequence length (1 without recurrence)

    @property
    def neurons(self):
        return sum(self.sizes[1:])

    @property
    def weights(self):
        return sum(a * b for a, b in zip(self.sizes, self.sizes[1:]))

    @classmethod
    def of_network(cls, net):
        sizes = list(net.sizes)
        # a gate neuron of an LSTM or GRU has two biases (torch's b_ih and b_hh)
        parameters = sum(len(n.weights) + (2 if hasattr(n, "bias_hh") else 1)
                         + len(getattr(n, "recurrent_weights", ()))
                         for layer in net.layers for n in layer.neurons)
        samples = [{"input": s["input"]} for s in net.samples or ()]
        return cls(sizes, parameters, len(samples), getattr(net, "is_sequential", False),
                   _mean_length(samples))

    @classmethod
    def of_spec(cls, spec):
        """The size a network file's dict describes, or None if it cannot be read
        off (a malformed file: its checks will say what is wrong)."""
        if not isinstance(spec, dict) or not isinstance(spec.get("layers"), list):
            return None
        n_prev = spec.get("inputs")
        if not _whole(n_prev):
            return None
        sizes, parameters, recurrent = [n_prev], 0, False
        for layer in spec["layers"]:
            if not isinstance(layer, dict):
                return None
            kind = layer.get("type", "dense")
            gates = GATES_PER_UNIT.get(kind)
            size = layer.get("size")
            if not _whole(size):
                rows = layer.get("weights")
                if gates and isinstance(layer.get("gates"), dict) and layer["gates"]:
                    first = next(iter(layer["gates"].values()))
                    rows = first.get("weights") if isinstance(first, dict) else None
                size = len(rows) if isinstance(rows, list) else None
            if not _whole(size) or size < 1:
                return None
            if gates:    # each gate: w from the layer below, u from h[t-1], b_ih and b_hh
                parameters += gates * size * (n_prev + size + 2)
                recurrent = True
            else:
                parameters += size * (n_prev + 1)
            if kind == "recurrent":
                parameters += size * size
                recurrent = True
            sizes.append(size)
            n_prev = size
        samples = spec.get("samples")
        samples = samples if isinstance(samples, list) else []
        return cls(sizes, parameters, len(samples), recurrent,
                   _mean_length(samples) if recurrent else 1.0)


def _mean_length(samples):
    """Mean number of time steps of the samples' inputs (a sequence is a list
    of vectors; a plain vector is one step)."""
    lengths = []
    for sample in samples:
        x = sample.get("input") if isinstance(sample, dict) else None
        if hasattr(x, "tolist"):
            x = x.tolist()
        sequence = isinstance(x, list) and bool(x) and isinstance(x[0], (list, tuple))
        lengths.append(len(x) if sequence else 1)
    return sum(lengths) / len(lengths) if lengths else 1.0


def _whole(value):
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def number_cost(numbers):
    """How many float64 multiply-adds one multiply-add in ``numbers`` costs."""
    name = getattr(numbers, "name", str(numbers).partition(":")[0])
    cost = NUMBER_COST.get(name, 1)
    digits = getattr(numbers, "digits", None)
    if name == "precise" and digits:
        cost *= max(1, digits // 50)
    return cost


def refuse_over(command, amount, limit, what, narrow):
    """Raise a BudgetError if ``amount`` is over ``limit``.

    ``what``: the quantity in words ("work units", "edges");
    ``narrow``: what the user can do (an option, or a smaller network).
    """
    if amount > limit:
        raise BudgetError(f"{command}: {amount:,} {what}, over the limit of {limit:,} "
                          f"(neuronsim.cli.budgets); {narrow}")


def check_network(command, size):
    """Every command: the network it builds must fit in memory (PARAMETERS)."""
    refuse_over(command, size.parameters, PARAMETERS, "weights and biases",
                "every neuron is a Python object here; use a smaller network (the Python "
                "API, Network.from_spec, builds up to neuronsim.files.spec.MAX_PARAMETERS)")


def step_work(size, numbers="float", samples=1):
    """Work units of ``samples`` forward + backward passes and updates: three
    multiply-adds per parameter, plus the Python overhead of each neuron
    (about 50 units) and of each sample (about 100), measured on the bundled
    examples and a 30-30-30 network (about 5 million units a second); a
    recurrent network does it once per time step of a sequence."""
    per_step = 3 * size.parameters + 50 * size.neurons
    per_sample = per_step * size.time_steps + 100
    return int(per_sample * max(1, samples) * number_cost(numbers))


# ---------------------------------------------------------------- per command
def named(command, budget):
    """``budget`` with the name of its command (load_network_argument uses it)."""
    budget.command = command
    return budget


# Each returns a ``budget(size, numbers)`` for load_network_argument, which
# calls it with the size read off the file, before building the network.
SHRINK = "use a smaller network"


def single_step(command, samples=1, narrow=SHRINK):
    """One forward and backward pass (and update) per sample: explain,
    early-update, worksheet, check, step, report."""
    def budget(size, numbers):
        refuse_over(command, step_work(size, numbers, samples), WORK, "work units", narrow)
    return named(command, budget)


def for_trace(steps, layers=None, neurons=None, sections=None, command="trace",
              batched=False):
    """``steps`` traced steps: their work, the numbers the tracer keeps, and
    the rows printed for the chosen --layer/--neuron/--sections.  Batch steps
    (``batched``) may each take every sample; the samples and terms they
    record are bounded by trace's own --batch-size checks."""
    def budget(size, numbers):
        refuse_over(command, steps, MAX_STEPS, "steps", "--steps is capped for a trace "
                    "(it keeps every number until it prints); train runs longer")
        samples = steps * max(1, size.samples) if batched else steps
        refuse_over(command, step_work(size, numbers, samples), WORK, "work units",
                    "give fewer --steps or " + SHRINK)
        if batched:
            return
        recorded = steps * (size.parameters + 5 * size.neurons) * size.time_steps
        refuse_over(command, int(recorded), TRACE_NUMBERS, "recorded numbers",
                    "a trace records every number of every step, even with --layer/--neuron; "
                    "give fewer --steps or " + SHRINK)
        if size.recurrent:
            return    # per-time-step tables: trace bounds their cells itself (with --times)
        rows = steps * table_rows(size, layers, neurons, sections)
        refuse_over(command, rows, TABLE_ROWS, "table rows",
                    "print a part with --layer L, --neuron J or --sections")
    return named(command, budget)


def for_train(epochs, samples=None, command="train",
              narrow="give fewer --epochs or " + SHRINK):
    """``epochs`` passes over the samples (the file's, or ``samples`` of them)."""
    def budget(size, numbers):
        refuse_over(command, epochs, MAX_EPOCHS, "epochs",
                    "give fewer --epochs (one loss per epoch is kept)")
        count = size.samples if samples is None else samples
        refuse_over(command, epochs * step_work(size, numbers, count), TRAIN_WORK,
                    "work units", narrow)
    return named(command, budget)


def for_gradcheck(command="gradcheck"):
    """Two batch losses (forward passes only) per parameter: about as much as
    one training step over the batch, per parameter."""
    def budget(size, numbers):
        work = size.parameters * step_work(size, "float", size.samples)
        refuse_over(command, work, WORK, "work units",
                    "finite differences evaluate the whole batch twice per parameter; "
                    "check a smaller network or fewer samples")
    return named(command, budget)


def for_drawing(command="draw"):
    """A diagram draws one line per weight."""
    def budget(size, numbers):
        refuse_over(command, size.weights, DRAW_EDGES, "edges",
                    "a diagram draws every weight; draw a smaller network")
        single_step(command)(size, numbers)
    return named(command, budget)


def for_worksheet(command="worksheet", update=False):
    """A worksheet has z, a, δ of every neuron, E, and dE/dw, dE/db, new w,
    new b of every parameter; ``update`` (worksheet --update): up to 9 cells
    per parameter (dE/dθ, g, at most 6 of the optimizer's, the new value)."""
    per_parameter = 9 if update else 2

    def budget(size, numbers):
        cells = 3 * size.neurons + 1 + per_parameter * size.parameters
        refuse_over(command, cells, WORKSHEET_CELLS, "cells",
                    "a worksheet is filled in by hand; use a smaller network")
        single_step(command)(size, numbers)
    return named(command, budget)


def for_walk(command, layers=None, neurons=None, diagram=False):
    """The walk of ``step``/``report`` over the chosen --layer/--neuron; the
    report's diagram draws the whole network."""
    def budget(size, numbers):
        if diagram:
            refuse_over(command, size.weights, DRAW_EDGES, "edges in the diagram",
                        "the page's diagram draws every weight; use a smaller network")
        single_step(command)(size, numbers)
        rows = table_rows(size, layers, neurons, None)
        refuse_over(command, rows, TABLE_ROWS, "computations and rows",
                    "walk a part with --layer L and --neuron J")
    return named(command, budget)


def for_comparison(command="early-update"):
    """Two steps side by side, a row per neuron and per parameter."""
    def budget(size, numbers):
        single_step(command, samples=2)(size, numbers)
        refuse_over(command, 2 * (size.neurons + size.parameters), TABLE_ROWS, "table rows",
                    SHRINK)
    return named(command, budget)


def table_rows(size, layers=None, neurons=None, sections=None):
    """Rows (and formula lines) a trace or walk of one step prints for the
    layers and neurons chosen (0-based sets; None = all) and ``sections``."""
    sections = set(sections or ("forward", "loss", "backward", "gradients", "update"))
    rows = 2 if "loss" in sections else 0
    for l, width in enumerate(size.sizes[1:]):
        if layers is not None and l not in layers:
            continue
        chosen = width if neurons is None else sum(1 for j in neurons if 0 <= j < width)
        fan_in = size.sizes[l] + 1
        per_neuron = (("forward" in sections) + ("backward" in sections)
                      + fan_in * (("gradients" in sections) + ("update" in sections)))
        rows += 2 * chosen * per_neuron
    return rows


def check_fraction_size(net, step, command, limit=FRACTION_DIGITS):
    """Raise a BudgetError once an exact fraction among the weights and biases
    of ``net`` has more than ``limit`` digits: exact arithmetic multiplies
    fractions, so their length grows with every step (roughly doubling)
    until one step takes minutes.  ``step`` is the step just finished."""
    if not getattr(net.numbers, "exact", False):
        return
    bits = limit * 3.33
    for l, layer in enumerate(net.layers):
        for j, neuron in enumerate(layer.neurons):
            values = (neuron.bias, *neuron.weights, *getattr(neuron, "recurrent_weights", ()))
            for value in values:
                if max(value.numerator.bit_length(), value.denominator.bit_length()) > bits:
                    raise BudgetError(
                        f"{command}: after step {step} an exact fraction has more than "
                        f"{limit:,} digits (layer {l + 2}, neuron {j + 1}): exact fractions "
                        "grow with every step; use --numbers precise:50 for long runs "
                        "(docs/number-modes.md), or fewer steps")
