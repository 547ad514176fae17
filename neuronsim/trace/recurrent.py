"""Tracing backpropagation through time: records and tables per time step.

A :class:`RecurrentTracer` observes a :class:`~neuronsim.core.recurrent.RecurrentNetwork`
(the network calls it after the forward pass, after BPTT, and before and
after the weight update, only while ``tracer.enabled``).  Each sequence
becomes a :class:`SequenceRecord` of plain data; :func:`render_sequence`
turns it into tables:

* forward pass, step by step: z, a and g'(z) of every neuron at each t, with
  each recurrent z written out (inputs x[t] and the layer's a[t-1]);
* the loss E_t of every step with a target, and their sum (or mean);
* backward pass through time, t = T down to 1: for each neuron its output
  path (∂E_t/∂a[t] through the dense layers), its recurrent path from t+1
  (Σ_i u_ij δ_i[t+1]) and δ[t], written out as a sum with numbers;
* each weight's contribution at every step and their total (the gradient);
* the update, when one followed.

:func:`gradient_flow` and :func:`render_gradient_flow` show vanishing and
exploding gradients: |δ[t]| by t for tanh, sigmoid and linear neurons.

Labels: textbook numbering (input layer 1, so the recurrent layer is layer 2
and ``net.layers[l]`` is layer l+2; neurons from 1); time steps t = 1..T
with a[0] the initial state.  w_jk feeds recurrent neuron j from input k,
u_ji from neuron i of its own layer at the previous step.  The number
formatting and the table/heading helpers are those of
:mod:`neuronsim.render.tables`.

    >>> from neuronsim.core.recurrent import RecurrentNetwork
    >>> net = RecurrentNetwork.from_arrays([[0.5]], [[0.8]], [0.0], loss="half_sse")
    >>> tracer = RecurrentTracer().attach(net)
    >>> round(net.step([[1.0], [0.0]], [[0.5], [0.2]], 0.1), 9)
    0.012533056
    >>> round(tracer.sequences[0].recurrent[0].deltas[0], 9)
    0.054822476
"""

import math
from dataclasses import dataclass, field

from ..core import labels as lab
from ..core.errors import NeuronsimError
from ..render.tables import _equations, _heading, _Writer, notation_note
from .tracer import Recorder

SECTIONS = ("forward", "loss", "backward", "gradients", "update")


# ---------------------------------------------------------------- records
@dataclass
class RecurrentNeuronRecord:
    """Recurrent neuron j (0-based) over one sequence: its parameters and, per
    step (lists indexed t-1), the values of :class:`~neuronsim.core.recurrent.RecurrentNeuron`."""

    neuron: int
    weights: list
    recurrent_weights: list
    bias: object
    zs: list
    outputs: list
    derivatives: list
    output_paths: list = None
    recurrent_paths: list = None
    output_grads: list = None
    deltas: list = None
    delta_parts: list = None
    batch_weight_grads: list = None
    batch_recurrent_grads: list = None
    batch_bias_grad: object = None
    new_weights: list = None
    new_recurrent_weights: list = None
    new_bias: object = None


@dataclass
class DenseNeuronRecord:
    """Dense neuron j of ``net.layers[layer]``: parameters and per-step
    :class:`~neuronsim.core.through_time.NeuronStep` values (``steps[t-1]``)."""

    layer: int
    neuron: int
    weights: list
    bias: object
    steps: list
    batch_weight_grads: list = None
    batch_bias_grad: object = None
    new_weights: list = None
    new_bias: object = None


@dataclass
class SequenceRecord:
    """One sequence: forward pass, BPTT and the update if one followed.

    ``states`` is [a[0], ..., a[T]] of the recurrent layer; ``dense[l][j]``
    is neuron j of ``net.layers[l + 1]``.
    """

    index: int
    inputs: list
    states: list
    activations: list
    loss_name: str
    step_loss: str
    recurrent: list
    dense: list
    outputs: list
    paired_output: bool = False
    targets: list = None
    step_losses: list = None
    loss: object = None
    truncation: object = None
    learning_rate: object = None
    batch_size: int = None
    reduction: str = "mean"
    update_biases: bool = True
    updated: bool = False
    activation_params: list = field(default_factory=list)

    @property
    def steps(self):
        return len(self.inputs)


def check_traceable(net):
    """These tables show one recurrent layer followed by dense layers; other
    stacks are refused in one line (rather than shown wrongly)."""
    kinds = [layer.kind for layer in net.layers]
    if kinds[0] != "recurrent" or "recurrent" in kinds[1:]:
        raise NeuronsimError(
            f"the per-time-step tables show a recurrent first layer followed by dense "
            f"layers; this network's layers are {', '.join(kinds)} (stacked recurrent "
            "networks train, cross-check and gradcheck already; their tables come next)")


class RecurrentTracer(Recorder):
    """Records a :class:`SequenceRecord` per back-propagated sequence.

    ``keep=False`` with a ``sink`` hands each finished record to the sink
    and keeps nothing.
    """

    @property
    def sequences(self):
        """The finished :class:`SequenceRecord` objects, in order."""
        return self.records

    def on_forward(self, net):
        if self._current is not None and self._current.loss is None:
            self._finish(self._current)   # a forward pass without BPTT
        check_traceable(net)
        self.count += 1
        recurrent = [RecurrentNeuronRecord(j, n.weights, n.recurrent_weights, n.bias,
                                           net.history_of(0, j, "z"),
                                           net.history_of(0, j, "output"),
                                           net.history_of(0, j, "derivative"))
                     for j, n in enumerate(net.layers[0].neurons)]
        dense = [[DenseNeuronRecord(l, j, n.weights, n.bias,
                                    [step[l][j] for step in net.history])
                  for j, n in enumerate(layer.neurons)]
                 for l, layer in enumerate(net.layers[1:], start=1)]
        self._current = SequenceRecord(
            index=self.count, inputs=net.inputs, states=net.states_of(0),
            activations=[layer.activation.name for layer in net.layers],
            activation_params=[dict(layer.activation.params) for layer in net.layers],
            loss_name=net.loss.name, step_loss=net.step_loss, recurrent=recurrent,
            dense=dense, outputs=net.step_outputs, paired_output=net._paired_output,
            reduction=net.reduction, update_biases=net.update_biases)

    def on_backward(self, net):
        record = self._current
        if record is None:
            return
        record.targets = net.targets
        record.step_losses = net.step_losses
        record.loss = net.last_loss
        record.truncation = net.last_truncation
        for j, r in enumerate(record.recurrent):
            r.output_paths = net.history_of(0, j, "output_path")
            r.recurrent_paths = net.history_of(0, j, "recurrent_path")
            r.output_grads = net.history_of(0, j, "output_grad")
            r.deltas = net.history_of(0, j, "delta")
            r.delta_parts = (None if net.last_truncation is None
                             else net.history_of(0, j, "delta_parts"))
        self._pending.append(record)

    def before_update(self, net, learning_rate):
        record = self._current
        if record is None:
            return
        n = net.samples_in_batch if net.reduction == "mean" else 1
        record.learning_rate = learning_rate
        record.batch_size = net.samples_in_batch
        record.updated = True
        for r, x in zip(record.recurrent, net.layers[0].neurons):
            r.batch_weight_grads = [s / n for s in x.weight_grad_sum]
            r.batch_recurrent_grads = [s / n for s in x.recurrent_grad_sum]
            r.batch_bias_grad = x.bias_grad_sum / n
        for records, layer in zip(record.dense, net.layers[1:]):
            for r, x in zip(records, layer.neurons):
                r.batch_weight_grads = [s / n for s in x.weight_grad_sum]
                r.batch_bias_grad = x.bias_grad_sum / n

    def after_update(self, net):
        record = self._current
        if record is None:
            return
        for r, x in zip(record.recurrent, net.layers[0].neurons):
            r.new_weights, r.new_recurrent_weights, r.new_bias = (x.weights, x.recurrent_weights,
                                                                  x.bias)
        for records, layer in zip(record.dense, net.layers[1:]):
            for r, x in zip(records, layer.neurons):
                r.new_weights, r.new_bias = x.weights, x.bias
        self._finish_batch()

    def render(self, **options):
        self.flush()
        return render_sequences(self.sequences, **options)


# ---------------------------------------------------------------- labels
class _TimeWriter(_Writer):
    """:class:`neuronsim.render.tables._Writer` with time steps and recurrent weights."""

    def at(self, label, t):
        """A label at time step t: a₁⁽²⁾[3]."""
        return f"{label}[{t}]"

    def x(self, k, t):
        """Input k at step t: a_k^(1)[t], the input layer's activation."""
        return self.at(self.a(-1, k), t)

    def u(self, j, i):
        """u_ji^(2): into recurrent neuron j from neuron i of the same layer, one step
        earlier.  The superscript is 2 in both conventions: u feeds layer 2
        (nielsen) and comes from layer 2 at t-1 (ng)."""
        return "u" + lab.symbol("w", (j + 1, i + 1), 2, self.style)[1:]

    def carried_delta(self, i, truncated):
        """δ_i of layer 2, or δ̃_i (the part truncated BPTT carries one step further back)."""
        label = self.delta(0, i)
        if not truncated:
            return label
        tilde = {"text": ("δ", "δ̃"), "latex": (r"\delta", r"\tilde{\delta}"),
                 "html": ("&delta;", "&delta;&#771;")}[self.style]
        return label.replace(*tilde, 1)

    def error(self, t):
        return f"E_{t}" if self.style == "latex" else f"E[{t}]"


# ---------------------------------------------------------------- sections
def _header(record, w):
    steps = record.steps
    text = f"Sequence {record.index}: T = {steps} time step{'s' if steps != 1 else ''}"
    if record.targets is not None:
        with_target = [t + 1 for t, v in enumerate(record.targets) if v is not None]
        if len(with_target) == steps:
            text += ", a target at every step (many-to-many)"
        elif with_target == [steps]:
            text += ", a target at the last step only (many-to-one)"
        else:
            text += f", targets at steps {', '.join(map(str, with_target))}"
        text += "; " + ("full BPTT" if record.truncation is None
                        else f"truncated BPTT, k = {record.truncation} "
                        f"step{'s' if record.truncation != 1 else ''} back")
    return text


def forward_section(record, w, times):
    rows, equations = [], []
    for t in times:
        i = t - 1
        for r in record.recurrent:
            j = r.neuron
            rows.append([str(t), "2", w.cell(w.a(0, j)), record.activations[0], w.num(r.zs[i]),
                         w.num(r.outputs[i]), w.num(r.derivatives[i])])
            xs, previous = record.inputs[i], record.states[i]
            symbolic = ([f"{w.w(0, j, k)}{w.times}{w.x(k, t)}" for k in range(len(xs))]
                        + [f"{w.u(j, q)}{w.times}{w.at(w.a(0, q), t - 1)}"
                           for q in range(len(previous))] + [w.b(0, j)])
            numeric = ([f"{w.fac(v)}{w.times}{w.fac(x)}" for v, x in zip(r.weights, xs)]
                       + [f"{w.fac(u)}{w.times}{w.fac(a)}"
                          for u, a in zip(r.recurrent_weights, previous)] + [w.fac(r.bias)])
            equations.append(w.equation(f"{w.at(w.z(0, j), t)} = {w.sum_of(symbolic)} = "
                                        f"{w.sum_of(numeric)} = {w.num(r.zs[i])}"))
        for records in record.dense:
            for r in records:
                l, j, s = r.layer, r.neuron, r.steps[i]
                rows.append([str(t), str(lab.textbook_layer(l)), w.cell(w.a(l, j)),
                             record.activations[l], w.num(s.z), w.num(s.output),
                             w.num(s.derivative)])
                if record.activations[l] == "softmax":
                    continue
                symbolic = [f"{w.w(l, j, k)}{w.times}{w.at(w.a(l - 1, k), t)}"
                            for k in range(len(s.inputs))] + [w.b(l, j)]
                numeric = [f"{w.fac(v)}{w.times}{w.fac(a)}"
                           for v, a in zip(r.weights, s.inputs)] + [w.fac(r.bias)]
                equations.append(w.equation(f"{w.at(w.z(l, j), t)} = {w.sum_of(symbolic)} = "
                                            f"{w.sum_of(numeric)} = {w.num(s.z)}"))
    headers = ["t", "layer", "neuron", "g", "z", "a = g(z)", "g'(z)"]
    return w.table(rows, headers), equations


def loss_section(record, w):
    rows = []
    last = len(record.activations) - 1
    for t, (target, value) in enumerate(zip(record.targets, record.step_losses), start=1):
        outputs = ", ".join(w.num(v) for v in record.outputs[t - 1])
        if target is None:
            rows.append([str(t), "(none)", outputs, "—"])
        else:
            rows.append([str(t), ", ".join(w.num(v) for v in target), outputs, w.num(value)])
    values = [v for v in record.step_losses if v is not None]
    terms = [w.error(t) for t, v in enumerate(record.step_losses, start=1) if v is not None]
    numbers = w.sum_of([w.num(v) for v in values])
    if record.step_loss == "mean":
        text = (f"E = ({w.sum_of(terms)}) / {len(values)} = ({numbers}) / {len(values)} = "
                f"{w.num(record.loss)}")
    else:
        text = f"E = {w.sum_of(terms)} = {numbers} = {w.num(record.loss)}"
    output_label = "outputs y[t]" if last == 0 else f"outputs a^({last + 2})[t]"
    headers = ["t", "target", output_label, f"E[t] ({record.loss_name})"]
    return w.table(rows, headers), [w.equation(text)]


def _recurrent_delta_equation(record, w, r, t):
    """δ_j[t] = (output path + Σ_i u_ij δ_i[t+1]) · g'(z_j[t]), with numbers;
    δ_j[t] = (a_j[t] − t_j[t]) + (Σ_i u_ij δ_i[t+1]) · g'(z_j[t]) when the
    recurrent layer is a paired output layer (sigmoid, binary cross-entropy)."""
    i, j = t - 1, r.neuron
    steps = record.steps
    d = w.at(w.delta(0, j), t)
    sym, num = [], []
    if not record.dense and record.paired_output:
        return _paired_recurrent_delta_equation(record, w, r, t)
    if record.dense:
        first = record.dense[0]
        if record.targets[i] is not None:
            sym.append(w.sum_of([f"{w.w(1, m, j)}{w.times}{w.at(w.delta(1, m), t)}"
                                 for m in range(len(first))]))
            num.append(w.sum_of([f"{w.fac(n.weights[j])}{w.times}{w.fac(n.steps[i].delta)}"
                                 for n in first]))
        else:
            sym.append("0")
            num.append("0")
    else:
        sym.append(w.at(w.partial(w.a(0, j)), t))
        num.append(w.fac(r.output_paths[i]))
    if t < steps:
        rs, rn = _recurrent_path_terms(record, w, j, t)
        sym.append(rs)
        num.append(rn)
    sym_text = " + ".join(f"({s})" for s in sym) if len(sym) > 1 else sym[0]
    num_text = " + ".join(f"({s})" for s in num) if len(num) > 1 else num[0]
    return w.equation(f"{d} = ({sym_text}){w.times}g'({w.at(w.z(0, j), t)}) = "
                      f"({num_text}){w.times}{w.fac(r.derivatives[i])} = {w.num(r.deltas[i])}")


def _recurrent_path_terms(record, w, j, t):
    """(symbols, numbers) of Σ_i u_ij δ_i[t+1] (or δ̃, the part truncation carries)."""
    i = t - 1
    later = record.recurrent
    truncated = record.truncation is not None
    if truncated:
        carried = [sum(n.delta_parts[i + 1][:record.truncation - 1]) for n in later]
    else:
        carried = [n.deltas[i + 1] for n in later]
    sym = w.sum_of([f"{w.u(q, j)}{w.times}{w.at(w.carried_delta(q, truncated), t + 1)}"
                    for q in range(len(later))])
    num = w.sum_of([f"{w.fac(n.recurrent_weights[j])}{w.times}{w.fac(c)}"
                    for n, c in zip(later, carried)])
    return sym, num


def _paired_recurrent_delta_equation(record, w, r, t):
    """δ_j[t] = (a_j[t] − t_j[t]) + (Σ_i u_ij δ_i[t+1]) · g'(z_j[t]): the output
    path of a paired loss goes straight to z, as for a paired dense output layer."""
    i, j = t - 1, r.neuron
    d = w.at(w.delta(0, j), t)
    target = record.targets[i]
    scale = "" if record.step_loss == "sum" else f"{w.times}(1/n_T)"
    if target is None:
        sym, num = ["0"], ["0"]
    else:
        sym = [f"({w.at(w.a(0, j), t)}{w.minus}{w.at(w.t(j), t)}){scale}"]
        num = [f"({w.num(r.outputs[i])}{w.minus}{w.fac(target[j])}){scale}"]
    if t < record.steps:
        rs, rn = _recurrent_path_terms(record, w, j, t)
        sym.append(f"({rs}){w.times}g'({w.at(w.z(0, j), t)})")
        num.append(f"({rn}){w.times}{w.fac(r.derivatives[i])}")
    return w.equation(f"{d} = {' + '.join(sym)} = {' + '.join(num)} = {w.num(r.deltas[i])}")


def _dense_delta_equation(record, w, r, t):
    i, l, j = t - 1, r.layer, r.neuron
    s = r.steps[i]
    d = w.at(w.delta(l, j), t)
    last = len(record.activations) - 1
    scale = "" if record.step_loss == "sum" else " (times 1/n_T, the mean over steps)"
    if l == last:
        target = record.targets[i][j]
        if record.paired_output:
            return w.equation(f"{d} = {w.at(w.a(l, j), t)}{w.minus}{w.at(w.t(j), t)} = "
                              f"{w.num(s.output)}{w.minus}{w.fac(target)}{scale} = "
                              f"{w.num(s.delta)}")
        if record.activations[l] == "softmax":
            return w.equation(f"{d} = {w.num(s.delta)} (softmax Jacobian applied to dE/da = "
                              f"{w.num(s.output_grad)}{scale})")
        return w.equation(f"{d} = {w.partial(w.at(w.a(l, j), t))}{w.times}"
                          f"g'({w.at(w.z(l, j), t)}) = {w.fac(s.output_grad)}{w.times}"
                          f"{w.fac(s.derivative)} = {w.num(s.delta)}")
    nxt = record.dense[l]   # dense records of net.layers[l + 1]
    sym = [f"{w.w(l + 1, m, j)}{w.times}{w.at(w.delta(l + 1, m), t)}" for m in range(len(nxt))]
    num = [f"{w.fac(n.weights[j])}{w.times}{w.fac(n.steps[i].delta)}" for n in nxt]
    return w.equation(f"{d} = ({w.sum_of(sym)}){w.times}g'({w.at(w.z(l, j), t)}) = "
                      f"({w.sum_of(num)}){w.times}{w.fac(s.derivative)} = {w.num(s.delta)}")


def backward_section(record, w, times):
    """One table per step, t = T down to 1, and the δ equations."""
    parts = []
    for t in sorted(times, reverse=True):
        i = t - 1
        rows, equations = [], []
        if record.targets[i] is not None:
            for records in reversed(record.dense):
                for r in records:
                    s = r.steps[i]
                    rows.append([str(lab.textbook_layer(r.layer)),
                                 w.cell(w.delta(r.layer, r.neuron)), w.num(s.output_grad), "—",
                                 w.num(s.output_grad), w.num(s.derivative), w.num(s.delta)])
                    equations.append(_dense_delta_equation(record, w, r, t))
        for r in record.recurrent:
            rows.append(["2", w.cell(w.delta(0, r.neuron)), w.num(r.output_paths[i]),
                         w.num(r.recurrent_paths[i]), w.num(r.output_grads[i]),
                         w.num(r.derivatives[i]), w.num(r.deltas[i])])
            equations.append(_recurrent_delta_equation(record, w, r, t))
        headers = ["layer", "neuron", "output path ∂E_t/∂a", "recurrent path from t+1",
                   "dE/da", "g'(z)", "δ = dE/dz"]
        note = "" if record.targets[i] is not None else " (no target: output path 0)"
        parts += [_heading(w, f"t = {t}{note}", level=3), w.table(rows, headers),
                  _equations(w, equations)]
    if not record.dense and record.paired_output:
        parts.append(f"{record.activations[0]} output with {record.loss_name}: the output "
                     "path goes straight to z, δ[t] = (a[t] − t[t]) + (recurrent path)·g'(z[t]), "
                     "so an infinite dE/da of an output that rounded to 0 or 1 does not "
                     "enter δ.")
    parts.append(truncation_note(record.truncation, record.steps))
    return parts


def _losses_range(first, last):
    """"E[t+1]", "E[t+1] and E[t+2]", "E[t+1] to E[t+3]" (offsets from t)."""
    names = [f"E[t+{first}]", f"E[t+{last}]" if isinstance(last, int) else f"E[{last}]"]
    if first == last:
        return names[0]
    if isinstance(last, int) and last == first + 1:
        return f"{names[0]} and {names[1]}"
    return f"{names[0]} to {names[1]}"


def truncation_note(k, steps):
    """Which later losses the recurrent path from t+1 carries, for full BPTT or k steps."""
    if k is None:
        return ("Full BPTT: the recurrent path carries all of δ[t+1], which comes from "
                f"the losses {_losses_range(1, 'T')}.")
    if k == 1:
        return ("Truncated BPTT with k = 1: no recurrent path, each δ[t] comes from E[t] "
                "only.")
    text = (f"Truncated BPTT (k = {k}): δ̃[t+1] is the part of δ[t+1] that comes from "
            f"{_losses_range(1, k - 1)}; the part from E[t+{k}] has already travelled "
            f"{k - 1} step{'s' if k != 2 else ''} back and stops there.")
    if k >= steps:
        text += f"  Here k >= T = {steps}: nothing is cut, the same as full BPTT."
    return text


def gradients_section(record, w):
    """Each parameter's contribution at every step and the total Σ_t."""
    steps = record.steps
    rows = []
    for r in record.recurrent:
        j = r.neuron
        for k in range(len(r.weights)):
            values = [d * xs[k] for d, xs in zip(r.deltas, record.inputs)]
            rows.append([w.cell(w.w(0, j, k))] + [w.num(v) for v in values]
                        + [w.num(sum(values))])
        for q in range(len(r.recurrent_weights)):
            values = [d * prev[q] for d, prev in zip(r.deltas, record.states)]
            rows.append([w.cell(w.u(j, q))] + [w.num(v) for v in values]
                        + [w.num(sum(values))])
        rows.append([w.cell(w.b(0, j))] + [w.num(d) for d in r.deltas]
                    + [w.num(sum(r.deltas))])
    for records in record.dense:
        for r in records:
            l, j = r.layer, r.neuron
            has = [s.delta is not None for s in r.steps]
            for k in range(len(r.weights)):
                values = [s.inputs[k] * s.delta if s.delta is not None else 0 for s in r.steps]
                rows.append([w.cell(w.w(l, j, k))]
                            + [w.num(v) if h else "—" for v, h in zip(values, has)]
                            + [w.num(sum(values))])
            values = [s.delta if s.delta is not None else 0 for s in r.steps]
            rows.append([w.cell(w.b(l, j))] + [w.num(v) if h else "—" for v, h in zip(values, has)]
                        + [w.num(sum(values))])
    headers = ["parameter"] + [f"t = {t}" for t in range(1, steps + 1)] + ["total dE/dθ = Σ_t"]
    formula = (f"dE/d{w.w(0, 0, 0)} = Σ_t {w.at(w.delta(0, 0), 't')}{w.times}"
               f"{w.x(0, 't')};  dE/d{w.u(0, 0)} = Σ_t {w.at(w.delta(0, 0), 't')}{w.times}"
               f"{w.at(w.a(0, 0), 't−1')};  dE/d{w.b(0, 0)} = Σ_t {w.at(w.delta(0, 0), 't')}")
    return w.table(rows, headers), [w.equation(formula)] if w.style != "latex" else []


def update_section(record, w):
    rows = []
    eta = w.num(record.learning_rate)

    def add(label, old, grad, new):
        rows.append([w.cell(label), w.num(old), w.num(grad), eta, w.num(new)])

    for r in record.recurrent:
        j = r.neuron
        for k, values in enumerate(zip(r.weights, r.batch_weight_grads, r.new_weights)):
            add(w.w(0, j, k), *values)
        for q, values in enumerate(zip(r.recurrent_weights, r.batch_recurrent_grads,
                                       r.new_recurrent_weights)):
            add(w.u(j, q), *values)
        add(w.b(0, j), r.bias, r.batch_bias_grad, r.new_bias)
    for records in record.dense:
        for r in records:
            for k, values in enumerate(zip(r.weights, r.batch_weight_grads, r.new_weights)):
                add(w.w(r.layer, r.neuron, k), *values)
            add(w.b(r.layer, r.neuron), r.bias, r.batch_bias_grad, r.new_bias)
    grad = ("dE/dθ" if not record.batch_size or record.batch_size == 1
            else f"dE/dθ ({record.reduction} over {record.batch_size} sequences)")
    headers = ["parameter", "old", grad, "η", "new = old − η·dE/dθ"]
    return w.table(rows, headers)


def time_note(w):
    return ("Time steps t = 1..T; a[0] is the initial state.  Recurrent neuron j of layer 2 "
            "has input weights w_jk (from input k at the same step), recurrent weights u_ji "
            "(from neuron i of layer 2 at the step before) and bias b_j; "
            "net.layers[0].neurons[j].weights[k], .recurrent_weights[i] and .bias in Python.  "
            "u_ji carries superscript (2) in both conventions: it feeds layer 2 (nielsen) and "
            "comes from layer 2 at t−1 (ng).")


def render_sequence(record, format="plain", digits=9, convention="nielsen", times=None,
                    sections=SECTIONS):
    """One :class:`SequenceRecord` as text in ``format`` (plain, markdown, latex, html).

    ``times``: the steps t (from 1) whose forward and backward tables are
    shown (default all); the loss, gradient and update tables are always whole.
    """
    w = _TimeWriter(format, digits, convention, False)
    for name in sections:
        if name not in SECTIONS:
            raise ValueError(f"unknown section {name!r} (known: {', '.join(SECTIONS)})")
    steps = record.steps
    if times is None:
        times = range(1, steps + 1)
    times = sorted(set(times))
    for t in times:
        if not 1 <= t <= steps:
            raise ValueError(f"time step {t}: the sequence has steps 1 to {steps}")
    parts = [_heading(w, _header(record, w), level=1)]
    if "forward" in sections:
        table, eqs = forward_section(record, w, times)
        parts += [_heading(w, "Forward pass, step by step"), table, _equations(w, eqs)]
    if record.loss is None:
        return "\n\n".join(p for p in parts if p)
    if "loss" in sections:
        table, eqs = loss_section(record, w)
        parts += [_heading(w, f"Loss ({record.loss_name}, {record.step_loss} over steps)"),
                  table, _equations(w, eqs)]
    if "backward" in sections:
        parts += [_heading(w, "Backward pass through time (t = T down to 1)")]
        parts += backward_section(record, w, times)
    if "gradients" in sections:
        table, eqs = gradients_section(record, w)
        parts += [_heading(w, "Each parameter's contribution per step, and the total"), table,
                  _equations(w, eqs)]
    if "update" in sections and record.updated:
        parts += [_heading(w, f"Update after the whole sequence (η = {w.num(record.learning_rate)})"),
                  update_section(record, w)]
    return "\n\n".join(p for p in parts if p)


def render_sequences(records, format="plain", digits=9, convention="nielsen", times=None,
                     sections=SECTIONS):
    """Every record, after the notation notes; ready to print or save."""
    w = _TimeWriter(format, digits, convention, False)
    notes = [notation_note(w), time_note(w)]
    if format == "html":
        notes = [f"<p>{n}</p>" for n in notes]
    body = notes + [render_sequence(r, format, digits, convention, times, sections)
                    for r in records]
    return "\n\n".join(body) + "\n"


# ---------------------------------------------------------------- vanishing / exploding
FLOW_ACTIVATIONS = ("tanh", "sigmoid", "linear")


def gradient_flow(length=20, recurrent_weight=1.5, input_weight=1.0, bias=0.0,
                  activations=FLOW_ACTIVATIONS, inputs=None):
    """|δ[t]| for t = T..1 of one recurrent neuron per activation, on one sequence.

    Each network is a single recurrent neuron (input weight, recurrent
    weight u, bias) whose output is the output, with a half_sse target at
    the last step only, so δ[t] = δ[t+1] · u · g'(z[t]) for t < T: the
    factor u · g'(z) per step decides whether |δ| shrinks (vanishes) or
    grows (explodes) going back in time.  ``inputs`` default: 1 at t = 1,
    then zeros.  Returns {"steps": [T, ..., 1], name: [|δ[t]|, ...], ...}.
    """
    from ..core.recurrent import RecurrentNetwork

    if length < 1:
        raise ValueError(f"length must be at least 1, got {length}")
    xs = [[1.0]] + [[0.0]] * (length - 1) if inputs is None else [[float(v)] for v in inputs]
    out = {"steps": list(range(len(xs), 0, -1))}
    for name in activations:
        net = RecurrentNetwork.from_arrays([[input_weight]], [[recurrent_weight]], [bias],
                                           activation=name, loss="half_sse")
        outputs = net.forward_pass(xs)
        target = [outputs[-1][0] - 1.0]    # dE/da[T] = 1 exactly
        net.back_prop(target)
        deltas = net.history_of(0, 0, "delta")
        out[name] = [abs(deltas[t - 1]) for t in out["steps"]]
    return out


def render_gradient_flow(flow, format="plain", digits=4, recurrent_weight=None):
    """The table of :func:`gradient_flow`: t, then |δ[t]| per activation."""
    w = _Writer(format, digits, "nielsen", False)
    names = [k for k in flow if k != "steps"]
    rows = [[str(t)] + [w.num(flow[name][i]) for name in names]
            for i, t in enumerate(flow["steps"])]
    headers = ["t"] + [f"|δ[t]| {name}" for name in names]
    text = w.table(rows, headers)
    lines = [text, "", "Going back one step multiplies δ by u·g'(z[t]) (one neuron, no input "
             "after t = 1): g' <= 1 for tanh, <= 1/4 for sigmoid, = 1 for linear."]
    if recurrent_weight is not None:
        lines.append(f"u = {w.num(recurrent_weight)}: |u·g'| < 1 shrinks δ each step "
                     "(vanishing), > 1 grows it (exploding).")
    for name in names:
        first, last = flow[name][0], flow[name][-1]
        if first > 0 and last > 0:
            ratio = last / first
            lines.append(f"{name}: |δ[1]| / |δ[T]| = {w.num(ratio)}"
                         f" (10^{math.log10(ratio):.1f})")
        else:
            lines.append(f"{name}: |δ[1]| / |δ[T]| = {w.num(last)} / {w.num(first)}")
    return "\n".join(lines) + "\n"


def plot_gradient_flow(flow, path, title="|δ[t]| going back in time"):
    """Save a log-scale plot of :func:`gradient_flow` to ``path`` (needs matplotlib)."""
    try:
        import matplotlib
    except ImportError:
        raise ValueError("plotting needs matplotlib (pip install matplotlib); "
                         "the table needs nothing") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 4))
    for name in (k for k in flow if k != "steps"):
        values = [v if v > 0 else float("nan") for v in flow[name]]
        axes.semilogy(flow["steps"], values, marker="o", label=name)
    axes.set_xlabel("time step t")
    axes.set_ylabel("|δ[t]|")
    axes.set_title(title)
    axes.invert_xaxis()
    axes.legend()
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return path
