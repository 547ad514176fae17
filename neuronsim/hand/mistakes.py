"""A MISTAKE, shown on purpose: updating each layer as soon as its deltas exist.

The correct step computes every delta with the weights the forward pass
used, and only then changes any weight:

    δ^(l) = (W^(l+1)ᵀ δ^(l+1)) ⊙ g'(z^(l))      with the OLD W^(l+1)
    W ← W − η · dE/dW                           after the whole backward pass

:func:`early_update_step` makes the mistake textbooks warn about: during the
backward pass it updates layer l+1 as soon as δ^(l+1) is known, and then
back-propagates through the NEW W^(l+1) to get δ^(l).  The output layer's
deltas and update are still right; every earlier layer gets deltas of a
network that never produced the forward pass, so its update is not the
gradient step.  :func:`compare_early_update` runs both on copies of a
network and lists the difference neuron by neuron.

A network with recurrent layers makes the same mistake through time
(:func:`early_update_through_time`): backpropagation through time walks
t = T down to 1, and at each step every layer is updated as soon as its
δ[t] exists, so the layer below at the same step gets its δ[t] through the
changed W, and the step before gets δ[t-1] through the changed U (the
recurrent path r[t-1] = Σ_i u_ij δ_i[t]).  With one time step it is the
feed-forward mistake exactly.  An LSTM or GRU layer is updated as a whole,
every gate at once (each gate's w, u, b^x and b^h), as soon as all its
gates' δ[t] exist: the layer below gets dE/dh[t] through the changed gate
weights W, and the step before gets dE/dh[t-1] through the changed U (and,
for an LSTM, dE/dc[t-1] = f[t] · dE/dc[t], which no weight carries).  The
demonstration always uses full BPTT, for the true step too (truncated BPTT
would walk each step once per age).

This lives outside the core on purpose: ``Network``, ``Layer`` and
``Neuron`` have no option for it, and it reuses their methods in the wrong
order (``Layer.apply_update`` before ``Layer.input_grads``).  Nothing else in
neuronsim calls it.

    >>> from neuronsim.files import load_example
    >>> c = compare_early_update(load_example("four-layer"))
    >>> c.rows[-1].delta_true == c.rows[-1].delta_early      # output layer: same
    True
    >>> c.first_difference().layer                         # textbook layer 3 differs
    1
"""

import sys
from dataclasses import dataclass, field

from ..core import labels as lab
from ..core.errors import NeuronsimError, NumericalError, ShapeError
from ..core.gates import GatedLayer
from ..core.summation import sum_in_order
from ..core.through_time import sequence_of, step_targets_of
from ..render.numfmt import format_number
from .common import FORMATS, first_sample, is_paired


# A sequence's comparison lists every δ[t]: at most this many.
MAX_DELTA_ROWS = 3000


def early_update_step(net, x, target, learning_rate=None):
    """THE EARLY-UPDATE MISTAKE: one online step that updates each layer
    during the backward pass, before the deltas of the layer below use it.

    Changes ``net``'s weights; returns the sample's loss.  For teaching
    only: use ``net.step`` for the correct step.
    """
    rate = net.learning_rate if learning_rate is None else learning_rate
    if rate is None:
        raise ValueError("no learning rate: pass one or set learning_rate in the network file")
    rate = net.numbers.convert(rate)
    outputs = net.forward_pass(x)
    target = [net.numbers.convert(v) for v in target]
    if len(target) != net.n_outputs:
        raise ShapeError(f"target: expected {net.n_outputs} numbers, got {len(target)}")
    loss = net.loss
    output_layer = net.layers[-1]
    output_grads = loss.output_grads(outputs, target)
    if is_paired(net):
        value = loss.paired_value([n.z for n in output_layer.neurons], target)
        output_layer.set_deltas(loss.paired_delta(outputs, target), output_grads, False)
    else:
        value = loss.value(outputs, target)
        output_layer.back_prop(output_grads, False)
    for index in range(len(net.layers) - 1, -1, -1):
        layer = net.layers[index]
        layer.apply_update(rate, 1, net.update_biases)   # THE MISTAKE: too early
        if index > 0:
            grads = layer.input_grads()                   # uses the weights just changed
            net.layers[index - 1].back_prop(grads, False)
            _check_exact_length(net, index - 1)
    return value


def _check_exact_length(net, index):
    """Stop, naming the layer, once an exact delta of ``net.layers[index]`` is
    longer than Python writes (sys.get_int_max_str_digits()): with exact
    fractions the early update about doubles the deltas' length at every
    layer, so a deep network's next layer would take minutes."""
    most = sys.get_int_max_str_digits()
    if not getattr(net.numbers, "exact", False) or not most:
        return
    for j, neuron in enumerate(net.layers[index].neurons):
        value = neuron.delta
        bits = max(value.numerator.bit_length(), value.denominator.bit_length())
        if bits * 0.30103 > most:
            raise NumericalError(
                f"early-update: the exact delta of layer {index + 2}, neuron {j + 1} has about "
                f"{int(bits * 0.30103):,} digits, more than can be written ({most:,}): the "
                "early update about doubles the deltas' length at every layer; use --numbers "
                "precise:50 (docs/number-modes.md)")


@dataclass
class NeuronComparison:
    """One neuron after the true step and after the early-update mistake."""

    layer: int
    neuron: int
    delta_true: object
    delta_early: object
    weights_true: list
    weights_early: list
    bias_true: object
    bias_early: object

    @property
    def differs(self):
        return (self.delta_true != self.delta_early or self.weights_true != self.weights_early
                or self.bias_true != self.bias_early)


@dataclass
class EarlyUpdateComparison:
    rows: list                 # NeuronComparison, forward order
    x: list
    t: list
    learning_rate: object
    loss: object

    def first_difference(self):
        """The neuron nearest the output whose delta differs (the first to go wrong)."""
        for row in sorted(self.rows, key=lambda r: (-r.layer, r.neuron)):
            if row.delta_true != row.delta_early:
                return row
        return None


def compare_early_update(net, x=None, t=None, learning_rate=None):
    """The true step and the early-update mistake on copies of ``net``
    (a :class:`SequenceComparison` for a network with recurrent layers,
    Elman, LSTM or GRU)."""
    x, t = first_sample(net, x, t, net.name or "the network")
    rate = net.learning_rate if learning_rate is None else learning_rate
    if net.is_sequential:
        return compare_through_time(net, x, t, rate)
    right, wrong = net.copy(batch=False, rule=False), net.copy(batch=False, rule=False)
    right.forward_pass(x)
    value = right.back_prop(t)
    deltas = [[n.delta for n in layer.neurons] for layer in right.layers]
    right.update_weights(rate)
    early_update_step(wrong, x, t, rate)
    rows = []
    for l, (good, bad) in enumerate(zip(right.layers, wrong.layers)):
        for j, (n_good, n_bad) in enumerate(zip(good.neurons, bad.neurons)):
            rows.append(NeuronComparison(l, j, deltas[l][j], n_bad.delta, list(n_good.weights),
                                         list(n_bad.weights), n_good.bias, n_bad.bias))
    return EarlyUpdateComparison(rows, right.inputs, right.target,
                                 right.numbers.convert(rate), value)


def render_comparison(comparison, format="plain", digits=9, convention="nielsen"):
    """Neuron by neuron: δ, each new weight and the new bias, true vs mistaken."""
    from tabulate import tabulate

    if format not in FORMATS:
        raise ValueError(f"unknown format {format!r} (known: {', '.join(FORMATS)})")
    if isinstance(comparison, SequenceComparison):
        return render_sequence_comparison(comparison, format, digits, convention)
    style = "latex" if format == "latex" else "text"
    tablefmt = {"plain": "simple", "markdown": "github", "latex": "latex_raw"}[format]

    def num(v):
        return format_number(v, digits, style)

    def cell(label):
        return f"${label}$" if style == "latex" else label

    rows = []
    for r in comparison.rows:
        l, j = r.layer, r.neuron
        entries = [(lab.neuron_label("delta", l, j, style), r.delta_true, r.delta_early)]
        entries += [("new " + lab.weight_label(l, j, k, convention, style), good, bad)
                    for k, (good, bad) in enumerate(zip(r.weights_true, r.weights_early))]
        entries.append(("new " + lab.bias_label(l, j, convention, style), r.bias_true,
                        r.bias_early))
        for label, good, bad in entries:
            rows.append([str(l + 2), str(j + 1), cell(label), num(good), num(bad),
                         num(bad - good), "" if good == bad else "differs"])
    table = tabulate(rows, headers=["layer", "neuron", "quantity", "true step",
                                    "early update (MISTAKE)", "difference", ""],
                     tablefmt=tablefmt, disable_numparse=True, stralign="left")
    return _intro(comparison, convention) + "\n\n" + table + "\n\n" + _summary(comparison) + "\n"


def _intro(comparison, convention):
    return ("THE EARLY-UPDATE MISTAKE (shown on purpose): during the backward pass each layer "
            "is updated as soon as its deltas exist, so the deltas of the layer before it are "
            "computed with the already-changed weights.  The true step computes every delta "
            "with the weights of the forward pass and updates afterwards.  One online step, "
            f"learning rate {format_number(comparison.learning_rate)}.  Textbook numbering "
            f"(input layer = layer 1, neurons from 1); weight convention {convention}.")


def _summary(comparison):
    first = comparison.first_difference()
    if first is None:
        n_layers = max(r.layer for r in comparison.rows) + 1
        if n_layers == 1:
            return ("No delta differs: with a single layer of weights there is no layer "
                    "below the output to receive a wrong delta, so the mistake changes "
                    "nothing here.")
        return ("No delta differs: the deltas and updates of the layers below the output "
                "happen to be unaffected on this sample (for example when the output deltas "
                "are zero, the output weights do not change before they are used), so the "
                "mistake changes nothing here (on other samples it can).")
    changed = sum(1 for r in comparison.rows if r.differs)
    layer = first.layer + 2
    return (f"The output layer's deltas and updates agree.  The first delta that differs is "
            f"{lab.neuron_label('delta', first.layer, first.neuron)}: it was computed with the "
            f"weights of layer {layer + 1} after their update.  {changed} of "
            f"{len(comparison.rows)} neurons end the step with different weights or deltas.")


# ---------------------------------------------------------------- through time
def early_update_through_time(net, xs, targets, learning_rate=None):
    """THE EARLY-UPDATE MISTAKE THROUGH TIME: one online step on a sequence whose
    BPTT (t = T down to 1, full) updates every layer as soon as its δ[t] exists,
    before the layer below uses its W at step t and before the step before uses
    its U.

    An LSTM or GRU layer is updated all at once, every gate together (each
    gate neuron's w, u, b^x and b^h), as soon as all its gates' δ[t] exist:
    the layer below then gets dE/dh[t] = Σ_q W_qᵀ δ_q[t] through the changed
    W, and step t-1 gets dE/dh[t-1] through the changed U (Σ_q U_qᵀ δ^h_q[t],
    plus the GRU's direct path z[t] ⊙ dE/dh[t]) and, for an LSTM,
    dE/dc[t-1] = f[t] ⊙ dE/dc[t] (no weight on that path).

    Changes ``net``'s weights; returns the sequence's loss.  For teaching only:
    use ``net.step`` for the correct step.
    """
    rate = net.learning_rate if learning_rate is None else learning_rate
    if rate is None:
        raise ValueError("no learning rate: pass one or set learning_rate in the network file")
    rate = net.numbers.convert(rate)
    one = net.numbers.one       # n = 1 in the network's numbers (0 / 1 stays exact)
    net.forward_pass(xs)
    targets = step_targets_of(net, targets, len(net.history))
    layers = net.layers
    top = len(layers) - 1
    scale = 1
    if net.step_loss == "mean":
        scale = net.numbers.convert(1) / sum(v is not None for v in targets)
    for layer in layers:
        if layer.is_recurrent:
            layer.start_back_prop(None)
    losses = []
    for index in range(len(net.history) - 1, -1, -1):
        records = net.history[index]
        for layer, saved in zip(layers, records):
            layer.recall_step(saved)
        grads = deltas = None
        if targets[index] is not None:
            loss, grads, deltas = net.output_error(targets[index], scale)
            losses.append(loss)
        for l in range(top, -1, -1):
            layer = layers[l]
            if grads is None and not layer.is_recurrent:
                continue     # nothing reaches this layer at this step
            layer.back_prop_step(grads, False, None, records[l], deltas if l == top else None)
            layer.apply_update(rate, one, net.update_biases)   # THE MISTAKE: too early
            if isinstance(layer, GatedLayer):
                _send_back_through_changed_u(layer, records[l])
            grads = layer.input_grads() if l > 0 else None   # through the weights just changed
        for layer in layers:
            if layer.is_recurrent:
                layer.end_step()
    for layer in layers:
        if layer.is_recurrent:
            layer.end_back_prop()       # dE/da[0] through the changed U
        layer.apply_update(rate, one, net.update_biases)   # a learned a[0] (the other sums are 0)
    total = sum_in_order(losses)
    return total / len(losses) if net.step_loss == "mean" else total


def _send_back_through_changed_u(layer, records):
    """Make what a gated layer sends back to step t-1 go through its changed U.

    An Elman layer reads U when step t-1 asks for r[t-1] = Uᵀ δ[t], so the
    early update reaches it by itself.  An LSTM or GRU layer's back_prop_step
    computes what it sends back (dE/dh[t-1], and dE/dc[t-1]) at step t, with
    the U of the forward pass; the mistake replaces dE/dh[t-1] by the layer's
    ``replace_sent_back``:

        LSTM: dE/dh[t-1] = Σ_q U_qᵀ δ_q[t] (U changed); dE/dc[t-1] = f[t] ⊙ dE/dc[t] (kept)
        GRU:  dE/dh[t-1] = z[t] ⊙ dE/dh[t] + Σ_q U_qᵀ δ^h_q[t] (U changed)
    """
    paths = layer.recurrent_paths()            # the gate neurons' δ^h[t], the new U
    if layer.kind == "gru":
        direct = [record.gates["update"].output * record.output_grad for record in records]
        paths = [d + p for d, p in zip(direct, paths)]
    layer.replace_sent_back(paths)


@dataclass
class SequenceComparison:
    """The true step and the mistake on a sequence: ``deltas`` are (t, layer,
    neuron, true δ, early δ) from t = T down (δ None where no gradient reaches);
    ``parameters`` are (kind, layer, neuron, k, true, early) with kind "w", "u",
    "b" or "a[0]" (a learned initial state).

    In an LSTM or GRU layer, ``neuron`` is the gate neuron's index in
    ``layer.neurons`` (torch's row q·n + j: gate q of unit j), the parameter
    kinds are "w", "u", "b_ih" (b^x) and "b_hh" (b^h), and a learned initial
    state is "h[0]" (and "c[0]") of unit j; ``gates`` maps the index of each
    gated layer to (its gate names in torch's order, its number of units n)."""

    deltas: list
    parameters: list
    xs: list
    targets: list
    learning_rate: object
    loss: object
    truncation: object
    gates: dict = field(default_factory=dict)

    def first_difference(self):
        """The first δ, in the order BPTT computes them, that differs."""
        return next((row for row in self.deltas if row[3] != row[4]), None)

    @property
    def rows(self):
        return self.deltas + self.parameters

    def gate_of(self, layer, neuron):
        """(gate name, unit index) of row ``neuron`` of gated layer ``layer``
        (row q·n + j), or None for a dense or Elman layer's neuron."""
        if layer not in self.gates:
            return None
        names, n = self.gates[layer]
        return names[neuron // n], neuron % n


def compare_through_time(net, xs, targets, learning_rate):
    """The true step (full BPTT) and :func:`early_update_through_time` on copies of ``net``."""
    right, wrong = net.copy(batch=False, rule=False), net.copy(batch=False, rule=False)
    xs = sequence_of(right, xs)
    rows = len(xs) * sum(len(layer.neurons) for layer in net.layers)
    if rows > MAX_DELTA_ROWS:
        raise NeuronsimError(f"early-update: {rows} deltas to compare (T = {len(xs)} steps × "
                             f"{rows // len(xs)} neurons), more than {MAX_DELTA_ROWS}: use a "
                             "shorter sequence (--input, --target) or a smaller network")
    right.forward_pass(xs)
    value = right.back_prop(targets, None)
    right.update_weights(learning_rate)
    early_update_through_time(wrong, xs, targets, learning_rate)
    deltas = []
    for t in range(len(xs), 0, -1):
        for l in range(len(net.layers) - 1, -1, -1):
            pairs = zip(_step_deltas(right, t, l), _step_deltas(wrong, t, l))
            deltas += [(t, l, j, good, bad) for j, (good, bad) in enumerate(pairs)
                       if good is not None]
    parameters = []
    for l, (good, bad) in enumerate(zip(right.layers, wrong.layers)):
        if isinstance(good, GatedLayer):
            parameters += _gated_parameters(l, good, bad)
            continue
        for j, (n_good, n_bad) in enumerate(zip(good.neurons, bad.neurons)):
            parameters += [("w", l, j, k, a, b)
                           for k, (a, b) in enumerate(zip(n_good.weights, n_bad.weights))]
            if good.is_recurrent:
                parameters += [("u", l, j, i, a, b) for i, (a, b) in
                               enumerate(zip(n_good.recurrent_weights, n_bad.recurrent_weights))]
            parameters.append(("b", l, j, None, n_good.bias, n_bad.bias))
        if good.is_recurrent and good.learn_initial_state:
            parameters += [("a[0]", l, j, None, a, b) for j, (a, b)
                           in enumerate(zip(good.initial_state, bad.initial_state))]
    gates = {l: (layer.GATES, layer.size) for l, layer in enumerate(net.layers)
             if isinstance(layer, GatedLayer)}
    return SequenceComparison(deltas, parameters, xs, right.targets,
                              right.numbers.convert(learning_rate), value, net.truncation, gates)


def _step_deltas(net, t, l):
    """δ[t] of every neuron of ``net.layers[l]`` in ``layer.neurons`` order
    (a gated layer: gate by gate, torch's rows), None where nothing reached."""
    records = net.history[t - 1][l]
    layer = net.layers[l]
    if isinstance(layer, GatedLayer):
        return [record.gates[name].delta for name in layer.GATES for record in records]
    return [record.delta for record in records]


def _gated_parameters(l, good, bad):
    """(kind, l, row, k, true, early) of every gate neuron's w, u, b^x, b^h (rows in
    torch's order), then a learned h[0] (and c[0]) unit by unit."""
    rows = []
    for row, (n_good, n_bad) in enumerate(zip(good.neurons, bad.neurons)):
        rows += [("w", l, row, k, a, b)
                 for k, (a, b) in enumerate(zip(n_good.weights, n_bad.weights))]
        rows += [("u", l, row, m, a, b) for m, (a, b) in
                 enumerate(zip(n_good.recurrent_weights, n_bad.recurrent_weights))]
        rows += [("b_ih", l, row, None, n_good.bias_ih, n_bad.bias_ih),
                 ("b_hh", l, row, None, n_good.bias_hh, n_bad.bias_hh)]
    if good.learn_initial_state:
        for name in good.STATES:
            kind = {"initial_state": "h[0]", "initial_cell": "c[0]"}[name]
            rows += [(kind, l, j, None, a, b) for j, (a, b) in
                     enumerate(zip(good.initial_value(name), bad.initial_value(name)))]
    return rows


def render_sequence_comparison(comparison, format="plain", digits=9, convention="nielsen"):
    """Step by step from T down: each δ[t], then each new w, u, b (and a[0]),
    true vs mistaken.  An LSTM or GRU layer's rows are its gate neurons',
    named as ``neuronsim explain`` reads them: δ_f,1^(2)[3], w_f,12^(2),
    u_i,21^(2), b_xo,1^(2) and b_ho,1^(2); its "neuron" column is the gate's
    letter and the unit (f,1)."""
    from tabulate import tabulate

    style = "latex" if format == "latex" else "text"
    tablefmt = {"plain": "simple", "markdown": "github", "latex": "latex_raw"}[format]

    def num(v):
        return format_number(v, digits, style)

    def cell(label):
        return f"${label}$" if style == "latex" else label

    rows = []
    for t, l, j, good, bad in comparison.deltas:
        rows.append([str(t), str(l + 2), _neuron_column(comparison, l, j),
                     cell(_delta_label(comparison, t, l, j, style)),
                     num(good), num(bad), num(bad - good), "" if good == bad else "differs"])
    for kind, l, j, k, good, bad in comparison.parameters:
        label = _parameter_label(kind, l, j, k, convention, style, comparison.gate_of(l, j))
        column = str(j + 1) if kind in ("h[0]", "c[0]") else _neuron_column(comparison, l, j)
        rows.append(["", str(l + 2), column, cell("new " + label), num(good), num(bad),
                     num(bad - good), "" if good == bad else "differs"])
    table = tabulate(rows, headers=["t", "layer", "neuron", "quantity", "true step",
                                    "early update (MISTAKE)", "difference", ""],
                     tablefmt=tablefmt, disable_numparse=True, stralign="left")
    intro = _sequence_intro(comparison, convention)
    summary = _sequence_summary(comparison, style)
    if style == "latex":
        intro = intro.replace("δ", r"$\delta$").replace("−", "-")
        summary = summary.replace("δ", r"$\delta$")
    return intro + "\n\n" + table + "\n\n" + summary + "\n"


def _math(label, style):
    return f"${label}$" if style == "latex" else label


def _neuron_column(comparison, l, j):
    """The neuron's number from 1; a gate neuron's gate letter and unit (f,1)."""
    gate = comparison.gate_of(l, j)
    if gate is None:
        return str(j + 1)
    return f"{lab.GATE_LETTERS[gate[0]]},{gate[1] + 1}"


def _delta_label(comparison, t, l, j, style):
    """δ_j^(l)[t], or a gate neuron's δ_q,j^(l)[t] (as ``neuronsim explain`` reads it)."""
    gate = comparison.gate_of(l, j)
    if gate is None:
        return lab.neuron_label("delta", l, j, style) + f"[{t}]"
    symbol = r"\delta" if style == "latex" else "δ"
    name, unit = gate
    return lab.gate_symbol(symbol, lab.GATE_LETTERS[name], (unit + 1,), l + 2, style) + f"[{t}]"


def _parameter_label(kind, l, j, k, convention, style, gate=None):
    """w_jk^(l), u_ji^(l), b_j^(l) or a_j^(l)[0] of net.layers[l].neurons[j]; of a
    gate neuron (``gate`` = (gate name, unit)) w_q,jk^(l), u_q,jm^(l), b_xq,j^(l),
    b_hq,j^(l); h_j^(l)[0] or c_j^(l)[0] of a gated layer's unit j."""
    if kind in ("h[0]", "c[0]"):
        name = "initial_state" if kind == "h[0]" else "initial_cell"
        return lab.gated_state_label(name, l, j, style)
    if gate is not None:
        name, unit = gate
        if kind == "w":
            return lab.gate_weight_label(l, name, unit, k, convention, style)
        if kind == "u":
            return lab.gate_recurrent_label(l, name, unit, k, style)
        return lab.gate_bias_label(l, name, unit, kind[2:], convention, style)
    if kind == "w":
        return lab.weight_label(l, j, k, convention, style)
    if kind == "u":
        return lab.recurrent_weight_label(l, j, k, style)
    if kind == "b":
        return lab.bias_label(l, j, convention, style)
    return lab.initial_state_label(l, j, style)


def _sequence_intro(comparison, convention):
    k = comparison.truncation
    truncated = (f"  (The file asks for truncated BPTT with k = {k}; both steps here use full "
                 "BPTT, which walks each step once.)" if k is not None else "")
    return ("THE EARLY-UPDATE MISTAKE THROUGH TIME (shown on purpose): backpropagation through "
            "time walks t = T down to 1, and here every layer is updated as soon as its δ[t] "
            "exists, so the layer below gets δ[t] through the changed W and the step before "
            "gets δ[t−1] through the changed recurrent weights U.  The true step computes every "
            "δ of every step with the weights of the forward pass and updates once, at the end.  "
            f"One online step on a sequence of T = {len(comparison.xs)} steps, learning rate "
            f"{format_number(comparison.learning_rate)}.  Textbook numbering (input layer = "
            f"layer 1, neurons from 1, time steps from 1); weight convention {convention}."
            + truncated + (_gated_intro(comparison) if comparison.gates else ""))


def _gated_intro(comparison):
    """What the mistake does to an LSTM or GRU layer, and how its rows are named."""
    names, _ = next(iter(comparison.gates.values()))
    gate = names[1]     # the forget gate of an LSTM, the update gate of a GRU
    return ("  An LSTM or GRU layer is updated all at once, every gate's w, u and both biases "
            "together, as soon as its gates' δ[t] exist: the layer below gets dE/dh[t] "
            "through the changed gate weights W, and step t−1 gets dE/dh[t−1] through the "
            "changed U (an LSTM's dE/dc[t−1], f[t] times dE/dc[t], goes through no "
            "weight).  A gate's rows are named as neuronsim explain reads them; neuron "
            f"{lab.GATE_LETTERS[gate]},1 is the {gate} gate of unit 1.")


def _sequence_summary(comparison, style="text"):
    first = comparison.first_difference()
    changed = sum(1 for row in comparison.rows if row[-2] != row[-1])
    if first is None:
        return ("No delta differs: every δ happens to be computed before any weight it goes "
                "through has changed, or the changes are zero on this sample, so the mistake "
                "changes nothing here (on other samples it can).")
    t, l, j = first[0], first[1], first[2]
    top = max(row[1] for row in comparison.deltas)
    if t == len(comparison.xs):
        through = f"the weights of layer {l + 3}, already updated at step {t}"
    elif l == top:      # nothing above: only its own U, changed at the steps after t
        own = "its gates' recurrent weights U" if l in comparison.gates else \
            "its own recurrent weights U"
        later = "" if t + 1 == len(comparison.xs) else " and later"
        through = f"{own}, already updated at step {t + 1}{later}"
    else:
        through = (f"weights already updated (W of layer {l + 3} at step {t}, or U at step "
                   f"{t + 1} and later)")
    return (f"The output deltas agree; the first delta that differs is "
            f"{_math(_delta_label(comparison, t, l, j, style), style)}: BPTT "
            f"computed it through {through}.  "
            f"{changed} of {len(comparison.rows)} numbers (deltas, new weights) end the step "
            "different.")
