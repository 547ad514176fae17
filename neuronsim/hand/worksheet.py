"""Worksheets for one backpropagation step, and checking a student's answers.

A worksheet lists every number of one online step in computation order:

1. forward, layer by layer: z_j^(l) = Σ_k w_jk^(l) a_k^(l-1) + b_j^(l), then a_j^(l) = g(z_j^(l));
2. the loss E;
3. backward, output layer first: δ_j^(L) = dE/da_j · g'(z_j) (a − t for sigmoid
   with binary cross-entropy, a·Σt − t for softmax with cross-entropy),
   δ_j^(l) = (Σ_m w_mj^(l+1) δ_m^(l+1)) g'(z_j^(l)); a softmax layer takes the
   whole Jacobian instead of g'(z): δ_j = a_j (dE/da_j − Σ_i dE/da_i a_i);
4. gradients, layer by layer: dE/dw_jk^(l) = a_k^(l-1) δ_j^(l), dE/db_j^(l) = δ_j^(l);
5. the update: new w = w − η·dE/dw, new b = b − η·dE/db; with an optimizer, a
   penalty or clipping the new values are theirs, and ``update=True``
   (``worksheet --update``) lists the update cell by cell (:func:`update_cells`:
   N, then per parameter g, the optimizer's m, v, m̂, v̂ / momentum buffer / ḡ / G
   and the new value), each computed by :mod:`neuronsim.hand.update_step` in
   torch's order of operations (:mod:`neuronsim.hand.worksheet_update`, for
   every layer kind).

:func:`render_worksheet` writes it blank (or filled: an answer key) as CSV,
Markdown or LaTeX.  :func:`check_answers` marks a filled CSV cell by cell
against the simulator's values, names the first wrong cell in computation
order as the likely origin, and recomputes every later cell from the
student's *own* earlier values: a later cell that is wrong but agrees with
that recomputation is a *carried* error (right method, wrong input), not a
new mistake.

Cells are named by their ASCII labels (``z_1^(2)``, ``delta_1^(4)``,
``dE/dw_12^(3)``, ``new b_1^(2)``) in the chosen weight convention; with
``bias_as_weight`` a bias is the weight w_j0 on a constant input a_0 = 1
(``dE/dw_10^(2)``).  check reads those and the other label forms of
:mod:`neuronsim.hand.label_parse`.

A network with recurrent layers gets the worksheet of one sequence step,
cells per time step (z, a and δ of each neuron at each step, the loss of
each step, gradients summed over the steps, the update): see
:mod:`neuronsim.hand.worksheet_time`, whose :class:`SequenceStep` this
module marks with the same rules.  :func:`make_step` picks the kind.
"""

import csv
import io
from dataclasses import dataclass, field

from ..core import labels as lab
from ..core.errors import NeuronsimError
from ..core.numbers import is_exact
from ..core.summation import sum_in_order
from ..files.number_text import read_number
from ..files.reading import read_text_file
from ..render.escape import escape_for, latex_text, terminal_text
from ..render.numfmt import format_number
from .cells import (  # noqa: F401  (QUANTITIES: used from here too)
    QUANTITIES,
    UPDATE_QUANTITIES,
    Cell,
    parse_cell,
)
from .explain import convention_note, first_sample, is_paired
from .label_parse import LabelError, Target
from .update_step import update_rate
from .worksheet_update import (  # noqa: F401  (update_cells, optimizer_quantities: API)
    UpdateCells,
    has_rule,
    optimizer_quantities,
    update_cells,
    update_formula,
)
from .worksheet_time import SequenceStep, sequence_cells, sequence_sample

FORMATS = ("csv", "markdown", "latex")
SECTIONS = ("forward", "loss", "backward", "gradients", "update")
CSV_COLUMNS = ["section", "cell", "formula", "python", "value"]
DEFAULT_TOLERANCE = 1e-3

STATUS_TEXT = {
    "right": "right",
    "origin": "WRONG (first wrong cell: likely origin)",
    "wrong": "WRONG (a new mistake)",
    "carried": "carried error (right method, uses an earlier wrong value)",
    "blank": "blank",
    "unreadable": "unreadable",
}


def make_step(net, x=None, t=None, learning_rate=None, update=False):
    """The step a worksheet lays out: a :class:`Step`, or a
    :class:`~neuronsim.hand.worksheet_time.SequenceStep` for a network with
    recurrent layers.  ``update``: with the update cells of an optimizer, a
    penalty or clipping (:func:`update_cells`)."""
    if net.is_sequential:
        return SequenceStep(net, x, t, learning_rate, update)
    return Step(net, x, t, learning_rate, update)


def worksheet_cells(net, x=None, t=None, update=False):
    """Every cell of one step, in computation order (see the module docstring).

    A network with recurrent layers: the cells of its sequence step on
    (x, t) (default: its first sample).  ``update``: the update cells of
    :func:`update_cells` in place of the new weights alone.

    Forward, each neuron's z then its a; in a softmax layer every z comes
    first, since each a_j needs all of them.
    """
    if net.is_sequential:
        return sequence_cells(net, sequence_sample(net, x, t)[1], update)
    cells = []
    for l, layer in enumerate(net.layers):
        if layer.activation.is_layerwise:
            cells += [Cell("z", Target("z", l, j)) for j in range(layer.size)]
            cells += [Cell("a", Target("a", l, j)) for j in range(layer.size)]
            continue
        for j in range(layer.size):
            cells.append(Cell("z", Target("z", l, j)))
            cells.append(Cell("a", Target("a", l, j)))
    cells.append(Cell("E"))
    for l in range(len(net.layers) - 1, -1, -1):
        for j in range(net.layers[l].size):
            cells.append(Cell("delta", Target("delta", l, j)))
    for quantity, bias in (("dE/dw", "dE/db"), ("new w", "new b")):
        if update and quantity == "new w":
            cells += update_cells(net)
            break
        for l, layer in enumerate(net.layers):
            for j, neuron in enumerate(layer.neurons):
                for k in range(len(neuron.weights)):
                    cells.append(Cell(quantity, Target("w", l, j, k)))
                cells.append(Cell(bias, Target("b", l, j)))
    return cells


class Step(UpdateCells):
    """One online step of ``net`` on (x, t) with learning rate η, cell by cell.

    ``true_values`` come from the simulator (a copy of ``net`` runs forward,
    back_prop and update).  :meth:`compute` evaluates one cell's formula
    from any values of the cells it depends on: used to recompute a
    student's later cells from their own earlier ones.
    """

    def __init__(self, net, x=None, t=None, learning_rate=None, update=False):
        self.x, self.t = first_sample(net, x, t, net.name or "the network")
        rate = net.learning_rate if learning_rate is None else learning_rate
        if rate is None:
            raise NeuronsimError("no learning rate: give one (the network file has none)")
        # the weights the step starts from, with the optimizer's state
        self.before = net.copy(batch=False)
        self.numbers = net.numbers
        self.learning_rate = self.numbers.convert(rate)
        self.x = [self.numbers.convert(v) for v in self.x]
        self.t = [self.numbers.convert(v) for v in self.t]
        self.update = update
        self.cells = worksheet_cells(net, update=update)
        self.paired = is_paired(net)
        self.rule = has_rule(net)
        # η of the update: the schedule's rate now, if the network has one
        self.rate = update_rate(self.before, self.learning_rate)
        self.true_values = self._simulate()

    def _simulate(self):
        work = self.before.copy(batch=False)
        work.forward_pass(self.x)
        values = {Cell("E"): work.back_prop(self.t)}
        for l, layer in enumerate(work.layers):
            for j, n in enumerate(layer.neurons):
                values[Cell("z", Target("z", l, j))] = n.z
                values[Cell("a", Target("a", l, j))] = n.output
                values[Cell("delta", Target("delta", l, j))] = n.delta
                for k, g in enumerate(n.weight_grads):
                    values[Cell("dE/dw", Target("w", l, j, k))] = g
                values[Cell("dE/db", Target("b", l, j))] = n.bias_grad
        work.update_weights(self.learning_rate)
        for l, layer in enumerate(work.layers):
            for j, n in enumerate(layer.neurons):
                for k, w in enumerate(n.weights):
                    values[Cell("new w", Target("w", l, j, k))] = w
                values[Cell("new b", Target("b", l, j))] = n.bias
        if self.update:
            self._simulated_update(work, values)
        return values

    def python(self, cell):
        """Where the simulator keeps this cell's number."""
        q = cell.quantity
        if q == "N":
            return "net.clip.last_norm after the update"
        if q not in UPDATE_QUANTITIES:
            return cell.python()
        return self.update_python(cell)

    def formula(self, cell, bias_as_weight=False):
        """The cell's formula as text."""
        return formula(cell, self, bias_as_weight)

    def given(self, convention="nielsen", bias_as_weight=False):
        """(label, python, number) of every given number: x, t, η, weights, biases."""
        net = self.before
        rows = [(lab.neuron_label("a", -1, k, "ascii") + f" = x_{k + 1}", f"x[{k}]", v)
                for k, v in enumerate(self.x)]
        rows += [(lab.target_label(j, "ascii"), f"t[{j}]", v) for j, v in enumerate(self.t)]
        rows.append(("eta", "learning_rate", self.learning_rate))
        for l, layer in enumerate(net.layers):
            for j, n in enumerate(layer.neurons):
                rows += [(lab.weight_label(l, j, k, convention, "ascii"),
                          f"net.layers[{l}].neurons[{j}].weights[{k}]", w)
                         for k, w in enumerate(n.weights)]
                rows.append((lab.bias_label(l, j, convention, "ascii", as_weight=bias_as_weight),
                             f"net.layers[{l}].neurons[{j}].bias", n.bias))
        if self.rule:
            rows += self._given_rule(convention, bias_as_weight)
        return rows

    def old_value(self, cell):
        """The weight or bias before the step, for a new-weight cell; else 0."""
        if not cell.quantity.startswith("new "):
            return 0
        neuron = self.before.layers[cell.target.layer].neurons[cell.target.neuron]
        return neuron.weights[cell.target.input] if cell.quantity == "new w" else neuron.bias

    # ------------------------------------------------------------ formulas
    def compute(self, cell, values):
        """The value of ``cell`` from ``values`` (a dict Cell -> number) of the
        cells it depends on; the weights, x, t and η are the given ones."""
        q, target = cell.quantity, cell.target
        net = self.before

        def a(l, k):
            return self.x[k] if l < 0 else values[Cell("a", Target("a", l, k))]

        def z(l, k):
            return values[Cell("z", Target("z", l, k))]

        def delta(l, k):
            return values[Cell("delta", Target("delta", l, k))]

        if q == "E":
            last = len(net.layers) - 1
            outputs = [a(last, i) for i in range(net.layers[last].size)]
            return net.loss.value(outputs, self.t)
        if q == "N":
            return self._norm_from(values)
        if self.rule and (q in UPDATE_QUANTITIES or q.startswith("new ")):
            return self._update_from(cell, values)
        l, j = target.layer, target.neuron
        layer = net.layers[l]
        neuron = layer.neurons[j]
        if q == "z":
            return sum_in_order(w * a(l - 1, k) for k, w in enumerate(neuron.weights)) + neuron.bias
        if q == "a":
            if layer.activation.is_layerwise:
                return layer.activation.function([z(l, i) for i in range(layer.size)])[j]
            return layer.activation.function(z(l, j))
        if q == "delta":
            return self._delta(l, j, a, z, delta)
        if q == "dE/dw":
            return a(l - 1, target.input) * delta(l, j)
        if q == "dE/db":
            return delta(l, j)
        eta = self.learning_rate
        if q == "new w":
            grad = values[Cell("dE/dw", target)]
            return neuron.weights[target.input] - eta * (grad / 1)
        grad = values[Cell("dE/db", target)]
        return neuron.bias - eta * (grad / 1) if net.update_biases else neuron.bias

    def _delta(self, l, j, a, z, delta):
        net = self.before
        layer = net.layers[l]
        last = len(net.layers) - 1
        outputs = [a(l, i) for i in range(layer.size)]
        if l == last:
            if self.paired:
                return net.loss.paired_delta(outputs, self.t)[j]
            grads = net.loss.output_grads(outputs, self.t)
        else:
            following = net.layers[l + 1].neurons
            grads = [sum_in_order(n.weights[i] * delta(l + 1, m) for m, n in enumerate(following))
                     for i in range(layer.size)]
        if layer.activation.is_layerwise:
            weighted = sum_in_order(g * o for g, o in zip(grads, outputs))
            return outputs[j] * (grads[j] - weighted)
        return grads[j] * layer.activation.derivative(z(l, j), a(l, j))


# ---------------------------------------------------------------- formulas shown
SOFTMAX_DELTA = "a_j (dE/da_j − Σ_i dE/da_i a_i)"


def formula(cell, step, bias_as_weight=False):
    """A short reminder of how the cell is computed (plain text): the formula
    :meth:`Step.compute` evaluates for it."""
    net = step.before
    q = cell.quantity
    if q == "E":
        return {"half_sse": "½ Σ_j (t_j − a_j)²", "sse": "Σ_j (t_j − a_j)²",
                "mse": "(1/n) Σ_j (t_j − a_j)²",
                "binary_cross_entropy": "−Σ_j [t_j ln a_j + (1 − t_j) ln(1 − a_j)]",
                "cross_entropy": "−Σ_j t_j ln a_j"}[net.loss.name]
    if q in UPDATE_QUANTITIES or (step.rule and q.startswith("new ")):
        return update_formula(cell, step, bias_as_weight)
    l = cell.target.layer
    activation = net.layers[l].activation
    if q == "z":
        return "Σ_k w_jk a_k + b_j" if not bias_as_weight else "Σ_k w_jk a_k (k from 0, a_0 = 1)"
    if q == "a":
        if activation.is_layerwise:
            return f"g(z), g = {activation.name}: exp(z_j) / Σ_i exp(z_i)"
        return f"g(z), g = {activation.name}"
    if q == "delta":
        return delta_formula(step, l)
    if q == "dE/dw":
        return "a_k · δ_j"
    if q == "dE/db":
        return "a_0 · δ_j = δ_j (a_0 = 1)" if bias_as_weight else "δ_j"
    if q == "new w":
        return "w − η · dE/dw"
    if not net.update_biases:
        return "b (biases fixed)"
    return "w_j0 − η · dE/dw_j0" if bias_as_weight else "b − η · dE/db"


def delta_formula(step, l):
    """The δ formula of layer ``l`` (0-based) as :meth:`Step._delta` computes it."""
    net = step.before
    activation = net.layers[l].activation
    if l == len(net.layers) - 1:
        if step.paired:
            if net.loss.name == "cross_entropy":
                total = sum_in_order(step.t)
                if total == 1:
                    return "a − t (softmax with cross-entropy, Σt = 1)"
                return (f"a · Σt − t, Σt = {plain_number(total)} "
                        "(softmax with cross-entropy)")
            return f"a − t ({activation.name} with {net.loss.name.replace('_', ' ')})"
        if activation.is_layerwise:
            return f"{SOFTMAX_DELTA} (softmax Jacobian)"
        return "dE/da · g'(z)"
    if activation.is_layerwise:
        return f"{SOFTMAX_DELTA} with dE/da_j = Σ_m w_mj δ_m (softmax Jacobian)"
    return "(Σ_m w_mj δ_m) · g'(z)"


def plain_number(x, digits=None):
    """A number for a CSV cell, ASCII minus: exact fractions as 3/8; floats
    by default as their shortest exact repr (0.1, not 0.10000000000000001);
    precise numbers with 5 digits more than their precision, so that they
    read back as the same number; else ``digits`` significant digits."""
    if digits is None:
        if isinstance(x, float):
            text = repr(x)
            return text[:-2] if text.endswith(".0") else text
        digits = getattr(getattr(x, "context", None), "dps", 12) + 5
    return format_number(x, digits, "text").replace("−", "-")


def value_text(x, fmt, digits=None):
    """A number as a worksheet cell in ``fmt``: LaTeX as math ($\\frac{3}{8}$)."""
    if fmt == "latex":
        return f"${format_number(x, digits or 9, 'latex')}$"
    return plain_number(x, digits)


def parse_value(text, numbers):
    """A student's number ("0.25", "-1/4", "−2.5e-3") in ``numbers``; None if blank.

    Read by :func:`neuronsim.files.number_text.read_number` (bounded length
    and exponent, so no answer can hang the marking).  Raises ValueError for
    text that is not a number, or one beyond the range of ``numbers``.
    """
    text = (text or "").strip().replace("−", "-")
    if not text:
        return None
    try:
        value = read_number(text, "answer")
    except NeuronsimError:
        raise ValueError(f"{text!r} is not a number") from None
    if "/" not in text and getattr(numbers, "context", None) is not None:
        # precise numbers read a decimal themselves, rounded once to their
        # precision, so that an answer key's numbers read back exactly
        return numbers.convert(text)
    try:
        return numbers.convert(value)
    except OverflowError:
        raise ValueError(f"{text!r} is beyond the range of {numbers.name} numbers") from None


# ---------------------------------------------------------------- worksheet
def render_worksheet(net, format="csv", x=None, t=None, learning_rate=None,
                     convention="nielsen", filled=False, digits=None, bias_as_weight=False,
                     update=False):
    """The worksheet of one step as CSV, Markdown or LaTeX text.

    Blank by default; ``filled=True`` writes the simulator's values (an
    answer key).  ``digits``: significant digits of the numbers (default: all
    of them in CSV, so that an answer key reads back exactly; 9 otherwise;
    fractions are always exact).  ``bias_as_weight``: label each bias
    b_j as the weight w_j0 on a constant input a_0 = 1.  ``update``: the
    optimizer's cells of the update (:func:`update_cells`).
    """
    if format not in FORMATS:
        raise ValueError(f"unknown format {format!r} (known: {', '.join(FORMATS)})")
    lab.check_convention(convention)
    step = make_step(net, x, t, learning_rate, update)
    if digits is None and format != "csv":
        digits = 9
    rows = []
    for cell in step.cells:
        value = value_text(step.true_values[cell], format, digits) if filled else ""
        rows.append((cell, step.formula(cell, bias_as_weight), value))
    if format == "csv":
        return _worksheet_csv(step, rows, convention, digits, bias_as_weight)
    return _worksheet_table(step, rows, convention, format, digits, bias_as_weight)


def _given_rows(step, convention, digits, fmt="csv", bias_as_weight=False):
    """(label, python, value text) of every given number: x, t, η, weights, biases
    (and, with recurrent layers, x[t], t[t], u and a[0])."""
    return [(label, python, value_text(value, fmt, digits))
            for label, python, value in step.given(convention, bias_as_weight)]


def _worksheet_csv(step, rows, convention, digits, bias_as_weight=False):
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for label, python, value in _given_rows(step, convention, digits, "csv", bias_as_weight):
        writer.writerow(["given", label, "", python, value])
    for cell, text, value in rows:
        writer.writerow([cell.section, cell.label(convention, "ascii", bias_as_weight), text,
                         step.python(cell), value])
    return out.getvalue()


def _worksheet_table(step, rows, convention, fmt, digits, bias_as_weight=False):
    from tabulate import tabulate

    style = "latex" if fmt == "latex" else "text"
    tablefmt = "latex_raw" if fmt == "latex" else "github"
    net = step.before

    def cell_text(label):
        return f"${label}$" if style == "latex" else label

    def prose(text):
        if style == "latex":
            text = text.replace("_", r"\_").replace("^", r"\^{}")
            for symbol, latex in (("−", "-"), ("Σ", r"$\Sigma$"), ("δ", r"$\delta$"),
                                  ("η", r"$\eta$"), ("½", r"$\frac12$"), ("²", r"$^2$"),
                                  ("·", r"$\cdot$"), ("β₁", r"$\beta_1$"),
                                  ("β₂", r"$\beta_2$"), ("λ₁", r"$\lambda_1$"),
                                  ("λ₂", r"$\lambda_2$"), ("λ", r"$\lambda$"),
                                  ("ε", r"$\varepsilon$"), ("√", r"$\sqrt{}$"),
                                  ("μ", r"$\mu$"), ("τ", r"$\tau$"), ("α", r"$\alpha$"),
                                  ("ḡ", r"$\bar{g}$"), ("θ", r"$\theta$")):
                text = text.replace(symbol, latex)
        return text

    # the network's name is the user's text: escaped, never markup
    name = escape_for(fmt)(net.name) if net.name else "the network"
    title = "Worksheet: one backpropagation step of "
    head = [("## " + title + name) if fmt == "markdown"
            else r"\section*{" + prose(title) + name + "}",
            prose(convention_note(convention))
            + (prose(" Each bias b_j is written as the weight w_j0 on a constant input "
                     "a_0 = 1.") if bias_as_weight else "")
            + (prose(" u_ji^(l) feeds neuron j of recurrent layer l from neuron i of the same "
                     "layer at the step before; [t] is the time step, t = 1..T, and a[0] the "
                     "initial state.") if net.is_sequential else ""),
            prose(f"Loss {net.loss.name}; numbers {_numbers_label(step.numbers)}; fill in the "
                  "value column in this order (each cell uses only cells above it).")]
    given = [[prose(label), prose(python), value] for label, python, value
             in _given_rows(step, convention, digits, fmt, bias_as_weight)]
    body = [[str(i), prose(cell.section),
             cell_text(cell.label(convention, style, bias_as_weight)),
             prose(text), prose(step.python(cell)), value]
            for i, (cell, text, value) in enumerate(rows, start=1)]
    given_table = tabulate(given, headers=["given", "Python", "value"], tablefmt=tablefmt,
                           disable_numparse=True, stralign="left")
    number = r"\#" if style == "latex" else "#"
    table = tabulate(body, headers=[number, "section", "cell", "formula", "Python", "value"],
                     tablefmt=tablefmt, disable_numparse=True, stralign="left")
    return "\n\n".join(head + [given_table, table]) + "\n"


def _numbers_label(numbers):
    digits = getattr(numbers, "digits", None)
    return f"{numbers.name}:{digits}" if digits else numbers.name


# ---------------------------------------------------------------- reading answers
# An answers CSV larger than this is not a filled worksheet (the largest
# worksheet neuronsim writes, neuronsim.cli.budgets.WORKSHEET_CELLS cells, is
# a few megabytes).
MAX_ANSWERS_BYTES = 16 * 1024 * 1024
# ... nor one of more rows than a worksheet of that size has (one row per cell,
# and the given values).
MAX_ANSWERS_ROWS = 50_000


def read_answers(source, convention="nielsen", net=None, x=None, t=None):
    """{Cell: text} from a filled worksheet CSV (a path, or text with newlines).

    ``x``, ``t``: the sample of a network with recurrent layers, whose cells
    depend on its length (default: the network's first sample).

    Needs the columns ``cell`` and ``value``; rows of section ``given`` are
    skipped.  Raises NeuronsimError naming the line of a bad row; with
    ``net``, also of a row that names no cell of ``net``'s worksheet (a
    sheet written in the other weight convention, an index out of range).
    """
    if "\n" in source:
        text = source
        name = "answers"
    else:
        text = read_text_file(source, MAX_ANSWERS_BYTES, what="answers CSV",
                              encoding="utf-8-sig")
        name = source
    csv_rows = csv.DictReader(io.StringIO(text, newline=""))
    reader = _ReadableRows(csv_rows, name)
    try:
        fieldnames = csv_rows.fieldnames
    except csv.Error as exc:
        raise NeuronsimError(f"{name} line 1: not readable as CSV ({exc})") from None
    if not fieldnames or "cell" not in fieldnames or "value" not in fieldnames:
        raise NeuronsimError("answers: expected a CSV file with the columns cell and value "
                             "(as written by neuronsim worksheet --format csv)")
    answers = {}
    known = None
    if net is not None:     # a sheet with the update cells, or without
        known = set(worksheet_cells(net, x, t)) | set(worksheet_cells(net, x, t, update=True))
    strangers = []       # (line, label) of rows naming no cell of net
    for number, row in enumerate(reader, start=1):
        line = reader.line_num
        if number > MAX_ANSWERS_ROWS:
            raise NeuronsimError(f"{name} line {line}: more than {MAX_ANSWERS_ROWS:,} rows; "
                                 "a worksheet has one row per cell")
        if (row.get("section") or "").strip() == "given" or not (row.get("cell") or "").strip():
            continue
        try:
            cell = parse_cell(row["cell"], convention)
        except LabelError as exc:
            raise NeuronsimError(f"answers line {line}: {exc}") from None
        if known is not None and cell not in known:
            strangers.append((line, row["cell"].strip()))
            continue
        if cell in answers:
            raise NeuronsimError(f"answers line {line}: the cell {row['cell']} appears twice")
        answers[cell] = row.get("value") or ""
    if strangers:
        line, label = strangers[0]
        more = (f"; so do {len(strangers) - 1} more rows (lines "
                f"{_line_list([n for n, _ in strangers[1:]])})" if len(strangers) > 1 else "")
        hint = ("wrong --convention, or a sheet of another sequence (give its --input and "
                "--target)?" if net.is_sequential else "wrong --convention?")
        raise NeuronsimError(f"answers line {line}: {label!r} is not a cell of this network "
                             f"({hint}){more}")
    return answers


class _ReadableRows:
    """The rows of a csv.DictReader; a row the csv module cannot read (a field
    longer than csv.field_size_limit(), a stray quote) becomes one line
    naming the file and line."""

    def __init__(self, reader, name):
        self.reader = reader
        self.name = name

    @property
    def line_num(self):
        return self.reader.line_num

    def __iter__(self):
        while True:
            try:
                row = next(self.reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise NeuronsimError(f"{self.name} line {self.reader.line_num}: not readable "
                                     f"as CSV ({exc})") from None
            if None in row:     # more fields than columns
                row.pop(None)
            yield row


def _line_list(lines, shown=5):
    """"14, 15, 16, 17, 18, …" : the first ``shown`` line numbers."""
    text = ", ".join(str(n) for n in lines[:shown])
    return text + (", …" if len(lines) > shown else "")


# ---------------------------------------------------------------- checking
@dataclass
class CheckedCell:
    cell: Cell
    text: str            # what the student wrote
    student: object      # parsed value (None if blank or unreadable)
    correct: object
    from_own: object     # the cell recomputed from the student's earlier values
    status: str          # a key of STATUS_TEXT


@dataclass
class CheckResult:
    rows: list
    tolerance: object
    exact: bool
    convention: str
    numbers_name: str
    missing: list = field(default_factory=list)   # cells not in the answers at all
    bias_as_weight: bool = False                  # label biases as w_j0

    def label(self, cell, style="text"):
        return cell.label(self.convention, style, self.bias_as_weight)

    @property
    def origin(self):
        return next((r for r in self.rows if r.status == "origin"), None)

    def count(self, status):
        return sum(1 for r in self.rows if r.status == status)

    @property
    def all_right(self):
        return all(r.status == "right" for r in self.rows) and not self.missing


def _close(value, reference, tolerance, base=0):
    """|value − reference| <= tolerance·|reference − base| (absolute when that is 0).

    ``base`` is the old weight for a new-weight cell: the update is then
    judged by the change it makes, w_new − w, which is what the step computes
    (the new weight itself is mostly the old one).
    """
    if tolerance == 0:
        return value == reference
    scale = abs(reference - base)
    return abs(value - reference) <= tolerance * (scale if scale != 0 else 1)


def check_answers(net, answers, x=None, t=None, learning_rate=None, tolerance=None,
                  convention="nielsen", bias_as_weight=False):
    """Mark ``answers`` ({Cell: text}, see :func:`read_answers`) against one step.

    ``tolerance``: relative (absolute for a correct value of 0); default 0
    (exact) with fraction numbers, DEFAULT_TOLERANCE otherwise.  Returns a
    :class:`CheckResult` (``bias_as_weight``: its labels show biases as w_j0).
    """
    update = any(cell.quantity in UPDATE_QUANTITIES for cell in answers)
    step = make_step(net, x, t, learning_rate, update)
    exact = is_exact(step.numbers)
    if tolerance is None:
        tolerance = 0 if exact else DEFAULT_TOLERANCE
    if tolerance < 0:
        raise ValueError(f"tolerance must be at least 0, got {tolerance}")
    strangers = [cell for cell in answers if cell not in step.true_values]
    if strangers:
        labels = ", ".join(repr(c.label(convention)) for c in strangers[:5])
        raise NeuronsimError(f"answers: {len(strangers)} cell{'s' if len(strangers) > 1 else ''}"
                             f" not of this network: {labels}"
                             f"{', …' if len(strangers) > 5 else ''} (wrong convention?)")
    own = {}          # the student's value where readable, else the correct one
    rows = []
    origin_found = False
    for cell in step.cells:
        correct = step.true_values[cell]
        text = answers.get(cell)
        try:
            student = parse_value(text, step.numbers)
            readable = True
        except ValueError:
            student, readable = None, False
        from_own = step.compute(cell, own)
        if student is None:
            status = "blank" if readable else "unreadable"
            own[cell] = correct
        else:
            own[cell] = student
            base = step.old_value(cell)
            if _close(student, correct, tolerance, base):
                status = "right"
            elif not origin_found:
                status, origin_found = "origin", True
            elif _close(student, from_own, tolerance, base):
                status = "carried"
            else:
                status = "wrong"
        rows.append(CheckedCell(cell, (text or "").strip(), student, correct, from_own, status))
    missing = [cell for cell in step.cells if cell not in answers]
    return CheckResult(rows, tolerance, exact, convention, _numbers_label(step.numbers),
                       missing, bias_as_weight)


def render_check(result, format="plain", digits=9):
    """The marked table and a one-paragraph summary."""
    from tabulate import tabulate

    tablefmt = {"plain": "simple", "markdown": "github", "latex": "latex_raw"}.get(format)
    if tablefmt is None:
        raise ValueError(f"unknown format {format!r} (known: plain, markdown, latex)")
    style = "latex" if format == "latex" else "text"
    escape = escape_for(format)     # the student's text, shown as typed, never as markup
    rows = []
    for i, r in enumerate(result.rows, start=1):
        label = result.label(r.cell, style)
        rows.append([str(i), f"${label}$" if style == "latex" else label, escape(r.text),
                     format_number(r.correct, digits, style),
                     "" if r.status in ("right", "blank", "unreadable")
                     else format_number(r.from_own, digits, style),
                     STATUS_TEXT[r.status]])
    table = tabulate(rows, headers=[r"\#" if style == "latex" else "#", "cell", "your value",
                                    "correct value",
                                    "from your earlier values", "verdict"],
                     tablefmt=tablefmt, disable_numparse=True, stralign="left")
    summary = summary_paragraph(result, digits)
    if style == "latex":
        summary = latex_text(summary).replace("δ", r"$\delta$").replace("−", "-")
    else:
        summary = terminal_text(summary)
    return table + "\n\n" + summary + "\n"


def summary_paragraph(result, digits=9):
    """One paragraph: how many right, the likely origin, carried and other errors."""
    conv = result.convention
    total = len(result.rows)
    if result.tolerance != 0:
        rule = (f"relative tolerance {format_number(result.tolerance, 3)}, absolute where the "
                "correct value is 0, and new weights judged by their change w_new − w")
    elif result.exact:
        rule = "exact comparison (fraction numbers)"
    else:
        rule = (f"tolerance 0: each value must equal the simulator's {result.numbers_name} "
                "value exactly, to its last digit")
    parts = [f"{result.count('right')} of {total} cells are right ({rule}; weight convention "
             f"{conv}; numbers {result.numbers_name})."]
    origin = result.origin
    if origin is None:
        blanks = result.count("blank") + result.count("unreadable")
        if blanks:
            parts.append(f"No wrong values; {blanks} cells are blank or unreadable.")
        else:
            parts.append("Every cell is right.")
        return " ".join(parts)
    parts.append(f"The first wrong cell in computation order is {result.label(origin.cell)} "
                 f"(you wrote {origin.text}, the correct value is "
                 f"{format_number(origin.correct, digits)}): that is the likely origin.")
    carried = [r for r in result.rows if r.status == "carried"]
    wrong = [r for r in result.rows if r.status == "wrong"]
    if carried:
        names = ", ".join(result.label(r.cell) for r in carried)
        parts.append(f"{len(carried)} later cell{'s are' if len(carried) > 1 else ' is'} wrong "
                     f"only because {'they use' if len(carried) > 1 else 'it uses'} an earlier "
                     f"wrong value: recomputed from your own earlier values "
                     f"{'they agree' if len(carried) > 1 else 'it agrees'} (carried errors: "
                     f"{names}).")
    if wrong:
        names = ", ".join(result.label(r.cell) for r in wrong)
        parts.append(f"{len(wrong)} other cell{'s are' if len(wrong) > 1 else ' is'} wrong even "
                     f"from your own earlier values, so {'they are' if len(wrong) > 1 else 'it is'}"
                     f" separate mistake{'s' if len(wrong) > 1 else ''}: {names}.")
    else:
        parts.append("There is no other independent mistake.")
    blanks = result.count("blank") + result.count("unreadable")
    if blanks:
        parts.append(f"{blanks} cells are blank or unreadable (the correct values were used "
                     "for them when recomputing later cells).")
    return " ".join(parts)
