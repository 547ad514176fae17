"""The terminal stepper: one computation of a backpropagation step at a time.

A :class:`Stepper` holds the computations of one traced step (see
:mod:`neuronsim.trace.walk`) and a position in them.  :meth:`Stepper.press` moves
the position for a key; :meth:`Stepper.screen` returns the text to show: the
current computation with its formula in numbers, and the table of every
value computed so far.  Nothing here reads the keyboard or prints:
:func:`run` takes a ``read_key`` and a ``write`` function, so the CLI gives it
the terminal and the tests give it a list of keys.

Keys: ``n``, space, Enter or → for the next computation; ``b`` or ← to go
back; ``j`` to jump to the backward pass; ``q`` (or Esc) to quit.

Labels use textbook numbering (input layer = layer 1, neurons from 1); the
0-based Python indices appear only in :class:`~neuronsim.trace.walk.Computation`.
"""

from tabulate import tabulate

from ..core import labels as lab
from ..render.numfmt import format_number
from ..trace.walk import PHASE_TITLES, first_of_phase

RIGHT, LEFT = "\x1b[C", "\x1b[D"
NEXT_KEYS = ("n", " ", "\r", "\n", RIGHT)
BACK_KEYS = ("b", LEFT)
JUMP_KEYS = ("j",)
QUIT_KEYS = ("q", "Q", "\x1b", "\x04")   # q, Esc, Ctrl-D
HELP = "n/space/enter: next   b: back   j: jump to backward   q: quit"

CLEAR = "\x1b[H\x1b[2J"


class Stepper:
    """A position in a list of computations, moved by keys.

    ``step`` is the :class:`~neuronsim.trace.tracer.StepRecord` the computations
    came from (for the input, target and the table of neurons).
    """

    def __init__(self, step, computations, digits=9, title="neuronsim step"):
        if not computations:
            raise ValueError("nothing to step through: the walk has no computations")
        self.step = step
        self.computations = computations
        self.digits = digits
        self.title = title
        self.position = 0

    @property
    def current(self):
        return self.computations[self.position]

    @property
    def at_end(self):
        return self.position == len(self.computations) - 1

    def press(self, key):
        """Act on one key; returns False when the key means quit."""
        if key in QUIT_KEYS:
            return False
        if key in NEXT_KEYS:
            self.position = min(self.position + 1, len(self.computations) - 1)
        elif key in BACK_KEYS:
            self.position = max(self.position - 1, 0)
        elif key in JUMP_KEYS:
            backward = first_of_phase(self.computations, "backward")
            if backward is not None:
                self.position = backward
        return True

    # ------------------------------------------------------------ text
    def num(self, x):
        return format_number(x, self.digits)

    def header(self):
        if hasattr(self.step, "inputs"):   # a sequence (a network with a recurrent layer)
            xs = "; ".join("(" + ", ".join(self.num(v) for v in x) + ")"
                           for x in self.step.inputs[:8])
            more = f"; … ({len(self.step.inputs)} steps)" if len(self.step.inputs) > 8 else ""
            return (f"{self.title}: a sequence of T = {self.step.steps} time steps, "
                    f"x = {xs}{more}")
        x = ", ".join(self.num(v) for v in self.step.input)
        text = f"{self.title}: input x = ({x})"
        if self.step.target is not None:
            t = ", ".join(self.num(v) for v in self.step.target)
            text += f", target t = ({t})"
        return text

    def screen(self):
        """Everything shown for the current position, as one string."""
        c = self.current
        where = (f"{PHASE_TITLES[c.phase]} · computation {self.position + 1} of "
                 f"{len(self.computations)}")
        parts = [self.header(), where, "", c.title, ""]
        parts += ["  " + line.formula for line in c.lines]
        parts += ["", "Table so far", table_so_far(self.computations, self.position,
                                                     self.digits)]
        footer = HELP
        if self.at_end:
            footer = "End of the step.   b: back   q: quit"
        parts += ["", footer]
        return "\n".join(parts) + "\n"


def known_values(computations, upto):
    """Values computed by ``computations[:upto + 1]``:
    {(quantity, layer, neuron, index, time): value} (time None outside a sequence)."""
    known = {}
    for c in computations[:upto + 1]:
        for line in c.lines:
            known[(line.quantity, c.layer, c.neuron, line.index, c.time)] = line.value
    return known


# each gradient's quantity and the quantity of its parameter's new value
NEW_VALUE = {"weight_grads": "new_weights", "bias_grad": "new_bias",
             "recurrent_grads": "new_recurrent_weights",
             "initial_state_grad": "new_initial_state",
             # an LSTM's or GRU's gates (neuronsim.trace.walk): both biases, and c[0]
             "bias_ih_grad": "new_bias_ih", "bias_hh_grad": "new_bias_hh",
             "initial_cell_grad": "new_initial_cell"}


def table_so_far(computations, upto, digits=9, mark=True):
    """The neurons' z, a, g'(z), dE/da and δ known after ``computations[upto]``
    (an LSTM or GRU unit: a row for its h with dE/dh[t], and dE/dc[t] for an
    LSTM, and a row per gate).

    With ``mark``, the rows of the neuron being computed are marked ▶.  In the gradients and
    update phases a second table lists each parameter's gradient and new value.
    """
    known = known_values(computations, upto)
    current = computations[upto]
    timed = any(c.time is not None for c in computations)
    neurons = []   # (t, layer, neuron, gate): gate None, or an LSTM's or GRU's gate name
    for c in computations:
        if c.layer is None or (c.time is None and timed):
            continue
        for gate in [None] + [line.index for line in c.lines if isinstance(line.index, str)]:
            if (c.time, c.layer, c.neuron, gate) not in neurons:
                neurons.append((c.time, c.layer, c.neuron, gate))

    def cell(quantity, l, j, t, k=None):
        value = known.get((quantity, l, j, k, t))
        return "" if value is None else format_number(value, digits)

    rows = []
    for t, l, j, gate in neurons:
        here = (mark and (current.time, current.layer, current.neuron) == (t, l, j)
                and (gate is None or any(line.index == gate for line in current.lines)))
        name = str(j + 1) if gate is None else f"{j + 1} ({gate} gate)"
        rows.append(["▶" if here else ""] + ([str(t)] if timed else [])
                    + [str(lab.textbook_layer(l)), name, cell("z", l, j, t, gate),
                       cell("output", l, j, t, gate), cell("derivative", l, j, t, gate),
                       cell("output_grad", l, j, t, gate), cell("delta", l, j, t, gate),
                       cell("cell_grad", l, j, t, gate)])
    headers = (["", "t"] if timed else [""]) + ["layer", "neuron", "z", "a = g(z)", "g'(z)",
                                                "dE/da", "δ = dE/dz", "dE/dc"]
    # The walk computes dE/da as a step of its own for a feed-forward neuron and, in a
    # sequence, for an LSTM's or GRU's unit (dE/dh[t], and an LSTM's dE/dc[t]); an
    # Elman neuron's dE/da[t] is in the trace's backward tables (output + recurrent path).
    gated = any(gate is not None for *_, gate in neurons)
    drop = {len(headers) - 1} if not any(row[-1] for row in rows) else set()
    if timed and not gated:
        drop.add(len(headers) - 3)
    elif timed:
        headers[-3] = "dE/da (unit: dE/dh)"
    rows = [[v for i, v in enumerate(row) if i not in drop] for row in rows]
    headers = [h for i, h in enumerate(headers) if i not in drop]
    if not mark:
        rows, headers = [row[1:] for row in rows], headers[1:]
    text = tabulate(rows, headers=headers, tablefmt="simple", disable_numparse=True,
                    stralign="left")
    loss = known.get(("loss", None, None, None, None))
    if loss is not None:
        text += f"\n\nE = {format_number(loss, digits)}"
    if current.phase in ("gradients", "update"):
        text += "\n\n" + _parameter_table(computations, upto, known, digits, mark)
    return text


def _parameter_table(computations, upto, known, digits, mark):
    """parameter | dE/d(parameter) | new value, for every parameter computed so far."""
    current = computations[upto]
    rows = []
    for c in computations:
        if c.phase != "gradients":
            continue
        for line in c.lines:
            new_quantity = NEW_VALUE.get(line.quantity, "new_bias")
            grad = known.get((line.quantity, c.layer, c.neuron, line.index, None))
            if grad is None:
                continue
            new = known.get((new_quantity, c.layer, c.neuron, line.index, None))
            here = mark and (current.layer, current.neuron) == (c.layer, c.neuron)
            label = line.label.replace("dE/d", "", 1)
            rows.append(["▶" if here else "", label, format_number(grad, digits),
                         "" if new is None else format_number(new, digits)])
    headers = ["", "parameter", "dE/d(parameter)", "new value"]
    if not mark:
        rows, headers = [row[1:] for row in rows], headers[1:]
    return tabulate(rows, headers=headers, tablefmt="simple", disable_numparse=True,
                    stralign="left")


def whole_walk(stepper, note=""):
    """Every computation in order, with phase headings and the final table."""
    parts = [stepper.header()]
    if note:
        parts.append(note)
    phase = None
    total = len(stepper.computations)
    for i, c in enumerate(stepper.computations):
        if c.phase != phase:
            phase = c.phase
            title = PHASE_TITLES[phase]
            parts.append(f"\n{title}\n{'-' * len(title)}")
        parts.append(f"[{i + 1}/{total}] {c.title}")
        parts += ["  " + line.formula for line in c.lines]
    parts += ["", "Table", table_so_far(stepper.computations, total - 1, stepper.digits,
                                                mark=False)]
    return "\n".join(parts) + "\n"


def run(stepper, read_key, write):
    """The interactive loop: draw, read a key, act, until quit.

    ``read_key()`` returns one key (a character or an escape sequence; ""
    at end of input, which quits); ``write(text)`` shows a screen.
    """
    while True:
        write(CLEAR + stepper.screen())
        key = read_key()
        if not key or not stepper.press(key):
            return 0
