"""A traced step as an ordered list of computations, the order a teacher goes.

:func:`walk` turns one :class:`~neuronsim.trace.tracer.StepRecord` into
:class:`Computation` objects, one per thing computed:

1. forward, neuron by neuron, layer by layer: z_j^(l) = Σ_k w_jk^(l) a_k^(l-1) + b_j^(l),
   then a_j^(l) = g(z_j^(l)) together with g'(z_j^(l)) (which the backward pass uses);
2. the loss E;
3. backward, output layer first: δ_j^(L) = dE/da_j^(L) · g'(z_j^(L)) (or the paired
   a − t), then δ_j^(l) = (Σ_k w_kj^(l+1) δ_k^(l+1)) · g'(z_j^(l)).  A softmax layer
   (not paired with cross-entropy) uses its whole Jacobian,
   δ_j = a_j (dE/da_j − Σ_i dE/da_i a_i), so there every dE/da_j of the layer comes
   first, then the deltas;
4. gradients of each neuron's parameters: dE/dw_jk = a_k δ_j, dE/db_j = δ_j;
5. the update, on a step that ends a batch: w ← w − η · dE/dw.

Every computation carries its textbook label, its formula written out with
the numbers, and the value.  The formulas come from :mod:`neuronsim.render.tables`
(the same text as the trace tables), so the stepper, the HTML walkthrough and
``neuronsim trace`` never disagree.

Layer and neuron indices on a :class:`Computation` are the 0-based Python
ones (``layer`` 0 is ``net.layers[0]``, textbook layer 2); labels and titles
use textbook numbering (input layer = layer 1, neurons from 1).

    >>> from neuronsim.files import load_example
    >>> from neuronsim.trace import Tracer
    >>> net = load_example("mazur")
    >>> tracer = Tracer().attach(net)
    >>> _ = net.step([0.05, 0.1], [0.01, 0.99], 0.5)
    >>> steps = walk(tracer.steps[0])
    >>> print(steps[0].lines[0].formula)
    z₁⁽²⁾ = w₁₁⁽²⁾·a₁⁽¹⁾ + w₁₂⁽²⁾·a₂⁽¹⁾ + b₁⁽²⁾ = 0.15·0.05 + 0.2·0.1 + 0.35 = 0.3775
    >>> [c.phase for c in steps].count("backward"), round(steps[9].value, 9)
    (4, 0.138498562)
"""

from dataclasses import dataclass, field

from ..core import labels as lab
from ..render.step_tables import (
    _delta_equation,
    _output_grad_equation,
    forward_section,
    loss_section,
)
from ..render.writer import SECTIONS, _Writer

PHASES = SECTIONS  # forward, loss, backward, gradients, update

PHASE_TITLES = {
    "forward": "Forward pass",
    "loss": "Loss",
    "backward": "Backward pass",
    "gradients": "Gradients",
    "update": "Update",
}


@dataclass
class Line:
    """One formula and the number it computes.

    ``quantity`` names the number as the tracer's
    :class:`~neuronsim.trace.tracer.NeuronRecord` does (``z``, ``output``,
    ``derivative``, ``output_grad``, ``delta``, ``weight_grads``,
    ``bias_grad``, ``new_weights``, ``new_bias``), or ``loss``; ``index`` is
    the input k for the per-weight quantities, else None.
    """

    quantity: str
    label: str
    formula: str
    value: object
    index: int = None


@dataclass
class Computation:
    """One step of the walk: a phase, the neuron it belongs to, its formulas.

    ``quantity`` is the main number (``z``, ``output``, ``loss``, ``delta``,
    ``weight_grads``, ``new_weights``); ``value`` is the first line that
    computes it.  ``layer``/``neuron`` are 0-based (None for the loss).
    """

    phase: str
    quantity: str
    layer: object
    neuron: object
    title: str
    lines: list = field(default_factory=list)
    time: object = None    # the time step t (from 1) of a sequence's walk, else None

    @property
    def value(self):
        for line in self.lines:
            if line.quantity == self.quantity:
                return line.value
        return None

    @property
    def label(self):
        for line in self.lines:
            if line.quantity == self.quantity:
                return line.label
        return ""


def walk(step, format="plain", digits=9, convention="nielsen", bias_as_weight=False,
         layers=None, neurons=None):
    """The computations of ``step`` in teaching order (see the module docstring).

    ``format`` is a :mod:`neuronsim.render.tables` format (``plain`` or ``html``
    for labels with <sub>/<sup>); ``layers``/``neurons`` optional 0-based
    indices to keep, as in :func:`neuronsim.render.step_tables.render_step`.
    """
    w = _Writer(format, digits, convention, bias_as_weight)
    records = [r for r in step.neurons()
               if (layers is None or r.layer in layers)
               and (neurons is None or r.neuron in neurons)]
    out = []
    for r in records:
        out.append(_z_computation(step, w, r))
        out.append(_a_computation(step, w, r))
    if step.loss is None:
        return out
    out.append(_loss_computation(step, w))
    last = len(step.activations) - 1
    backward = sorted(records, key=lambda r: -r.layer)   # stable: output layer first
    for l in sorted({r.layer for r in backward}, reverse=True):
        group = [r for r in backward if r.layer == l]
        if _needs_whole_layer(step, l, last):
            out += [_output_grad_computation(step, w, r, last) for r in group]
            out += [_delta_computation(step, w, r, last, with_output_grad=False)
                    for r in group]
        else:
            out += [_delta_computation(step, w, r, last) for r in group]
    for r in records:
        out.append(_gradients_computation(step, w, r))
    if step.updated:
        for r in records:
            out.append(_update_computation(step, w, r))
    return out


def first_of_phase(computations, phase):
    """Position of the first computation in ``phase``, or None."""
    for i, c in enumerate(computations):
        if c.phase == phase:
            return i
    return None


def _where(r):
    """"layer 3, neuron 1" (an LSTM or GRU unit: "layer 3, unit 1")."""
    word = "unit" if hasattr(r, "gates") else "neuron"
    return f"layer {lab.textbook_layer(r.layer)}, {word} {r.neuron + 1}"


def _neg(w):
    return "-" if w.style == "latex" else "−"


# ---------------------------------------------------------------- forward
def _z_computation(step, w, r):
    """z_j = Σ_k w_jk a_k + b_j, the same equation as the trace's forward table."""
    equation = forward_section(step, w, [r])[1][0]
    return Computation("forward", "z", r.layer, r.neuron,
                       f"{_where(r)}: weighted input {w.z(r.layer, r.neuron)}",
                       [Line("z", w.z(r.layer, r.neuron), equation, r.z)])


def _a_computation(step, w, r):
    """a_j = g(z_j), and g'(z_j) for the backward pass."""
    l, j = r.layer, r.neuron
    name = step.activations[l]
    a, z = w.a(l, j), w.z(l, j)
    zn, an, gn = w.num(r.z), w.num(r.output), w.num(r.derivative)
    neg = _neg(w)
    product = f"{a}(1{w.minus}{a}) = {an}(1{w.minus}{an}) = {gn}"
    if name == "sigmoid":
        body = f"1 / (1 + exp({neg}{z})) = 1 / (1 + exp({neg}{w.fac(r.z)}))"
        deriv = product
    elif name == "tanh":
        body = f"tanh({z}) = tanh({zn})"
        deriv = f"1{w.minus}{a}² = 1{w.minus}{w.fac(r.output)}² = {gn}"
    elif name == "relu":
        body = f"max(0, {z}) = max(0, {zn})"
        deriv = f"{gn} (z > 0)" if r.z > 0 else f"{gn} (z ≤ 0)"
    elif name == "leaky_relu":
        slope = step.activation_params[l].get("slope")
        if r.z > 0:
            body = f"{z} (z > 0)"
            deriv = f"{gn} (z > 0)"
        else:
            body = (f"s{w.times}{z} (z ≤ 0, slope s = {w.num(slope)}) = "
                    f"{w.fac(slope)}{w.times}{w.fac(r.z)}")
            deriv = f"s = {gn} (z ≤ 0)"
    elif name == "linear":
        body = z
        deriv = gn
    elif name == "softmax":
        layer_records = step.layers[l]
        names = [w.z(l, rec.neuron) for rec in layer_records]
        numbers = [w.num(rec.z) for rec in layer_records]
        body = (f"exp({z}) / ({w.sum_of([f'exp({s})' for s in names])}) = "
                f"exp({zn}) / ({w.sum_of([f'exp({s})' for s in numbers])})")
        deriv = (product + "   (the diagonal of the softmax Jacobian; the backward pass "
                 "uses all of it)")
    else:   # an activation added later: name it, numbers still exact
        body = f"{name}({z}) = {name}({zn})"
        deriv = gn
    return Computation("forward", "output", l, j,
                       f"{_where(r)}: activation {a} = {name}({z})",
                       [Line("output", a, w.equation(f"{a} = {body} = {an}"), r.output),
                        Line("derivative", w.gprime(l, j),
                             w.equation(f"{w.gprime(l, j)} = {deriv}"), r.derivative)])


# ---------------------------------------------------------------- loss
def _loss_computation(step, w):
    equation = loss_section(step, w)[0]
    return Computation("loss", "loss", None, None, f"loss E ({step.loss_name})",
                       [Line("loss", "E", equation, step.loss)])


# ---------------------------------------------------------------- backward
def _needs_whole_layer(step, l, last):
    """True when layer ``l``'s deltas each use every dE/da_i of the layer: a softmax
    layer, unless it is the output paired with cross-entropy (δ = a·Σt − t)."""
    return step.activations[l] == "softmax" and not (l == last and step.paired_output)


def _output_grad_line(step, w, r, last):
    """dE/da_j: from the loss (output layer) or Σ_k w_kj δ_k (a hidden layer)."""
    l, j = r.layer, r.neuron
    if l == last:
        return Line("output_grad", w.partial(w.a(l, j)),
                    _output_grad_equation(step, w, r, len(step.outputs)), r.output_grad)
    sym = [f"{w.w(l + 1, k, j)}{w.times}{w.delta(l + 1, k)}" for k in range(len(r.downstream))]
    num = [f"{w.fac(wt)}{w.times}{w.fac(dl)}" for wt, dl in r.downstream]
    return Line("output_grad", w.partial(w.a(l, j)), w.equation(
        f"{w.partial(w.a(l, j))} = {w.sum_of(sym)} = {w.sum_of(num)} = "
        f"{w.num(r.output_grad)}"), r.output_grad)


def _output_grad_computation(step, w, r, last):
    """dE/da_j alone, for a softmax layer whose deltas need all of them first."""
    l, j = r.layer, r.neuron
    return Computation("backward", "output_grad", l, j,
                       f"{_where(r)}: {w.partial(w.a(l, j))}, needed by every δ of this "
                       "softmax layer", [_output_grad_line(step, w, r, last)])


def _delta_computation(step, w, r, last, with_output_grad=True):
    """δ = dE/dz by the chain rule, after dE/da (unless already shown)."""
    l, j = r.layer, r.neuron
    lines = [_output_grad_line(step, w, r, last)] if with_output_grad else []
    lines.append(Line("delta", w.delta(l, j), _delta_equation(step, w, r, step.layers[last]),
                      r.delta))
    kind = "output error" if l == last else "error propagated back"
    return Computation("backward", "delta", l, j, f"{_where(r)}: {kind} {w.delta(l, j)}",
                       lines)


def _gradients_computation(step, w, r):
    """dE/dw_jk = a_k δ_j and dE/db_j = δ_j for one neuron."""
    l, j = r.layer, r.neuron
    d, dn = w.delta(l, j), w.fac(r.delta)
    lines = []
    for k, (a, g) in enumerate(zip(r.inputs, r.weight_grads)):
        wl = w.w(l, j, k)
        lines.append(Line("weight_grads", w.partial(wl), w.equation(
            f"{w.partial(wl)} = {w.a(l - 1, k)}{w.times}{d} = {w.fac(a)}{w.times}{dn} = "
            f"{w.num(g)}"), g, k))
    bl = w.b(l, j)
    if w.bias_as_weight:
        bias_formula = (f"{w.partial(bl)} = {w.one()}{w.times}{d} = 1{w.times}{dn} = "
                        f"{w.num(r.bias_grad)}")
    else:
        bias_formula = f"{w.partial(bl)} = {d} = {w.num(r.bias_grad)}"
    bias_line = Line("bias_grad", w.partial(bl), w.equation(bias_formula), r.bias_grad)
    if w.bias_as_weight:
        lines.insert(0, bias_line)
    else:
        lines.append(bias_line)
    return Computation("gradients", "weight_grads", l, j,
                       f"{_where(r)}: gradients of its weights and bias", lines)


def _update_computation(step, w, r):
    """w ← w − η · dE/dw with the batch's reduced gradient (an optimizer's, a
    penalty's or clipping's lines when ``step.rule`` says so)."""
    l, j = r.layer, r.neuron
    if step.rule is not None:
        return _rule_update_computation(step, w, r)
    eta = w.num(step.learning_rate)
    symbol = "η" if w.style != "latex" else r"\eta"
    lines = []
    for k, (old, g, new) in enumerate(zip(r.weights, r.batch_weight_grads, r.new_weights)):
        wl = w.w(l, j, k)
        lines.append(Line("new_weights", wl, w.equation(
            f"{wl} ← {wl}{w.minus}{symbol}{w.times}{w.partial(wl)} = {w.num(old)}{w.minus}"
            f"{eta}{w.times}{w.fac(g)} = {w.num(new)}"), new, k))
    bl = w.b(l, j)
    if step.update_biases:
        bias_formula = (f"{bl} ← {bl}{w.minus}{symbol}{w.times}{w.partial(bl)} = "
                        f"{w.num(r.bias)}{w.minus}{eta}{w.times}{w.fac(r.batch_bias_grad)} = "
                        f"{w.num(r.new_bias)}")
    else:
        bias_formula = f"{bl} = {w.num(r.new_bias)} (fixed: this network does not update biases)"
    bias_line = Line("new_bias", bl, w.equation(bias_formula), r.new_bias)
    if w.bias_as_weight:
        lines.insert(0, bias_line)
    else:
        lines.append(bias_line)
    title = f"{_where(r)}: new weights"
    if step.batch_size and step.batch_size > 1:
        title += f" (dE/dw: {step.reduction} over {step.batch_size} samples)"
    return Computation("update", "new_weights", l, j, title, lines)


# ---------------------------------------------------------------- sequences
def walk_sequence(record, format="plain", digits=9, convention="nielsen", layers=None,
                  neurons=None):
    """The computations of a :class:`~neuronsim.trace.recurrent.SequenceRecord`
    (a network with a recurrent layer, any stack) in teaching order:

    1. forward, t = 1..T, layer by layer: z_j[t] written out (x[t] from the
       layer below, and a[t-1] of its own layer for a recurrent neuron), then
       a_j[t] = g(z_j[t]) and g'(z_j[t]);
    2. the loss E over the steps;
    3. backward, t = T down to 1, the output layer first: δ_j[t] as the
       chain-rule product of the trace (output path + recurrent path);
    4. each neuron's gradients summed over t (and dE/da[0] of a learned
       initial state);
    5. the update, when one followed.

    An LSTM or GRU unit (:mod:`neuronsim.trace.gated`) is walked gate by gate:
    forward, each gate's z, a and g'(z), then c and h; backward, dE/dh, then
    each δ in the order of the chain rule (LSTM: δ_o, dE/dc, δ_i, δ_f, δ_g;
    GRU: δ_n, δ_z, δ_r); its gradients summed over t, gate by gate.  Lines of
    a gate carry the gate's name as their ``index`` (with k, as (gate, k), for
    a weight).

    Each :class:`Computation` carries its ``time`` (None for the loss and the
    sums over t); the formulas are the trace's (:mod:`neuronsim.render.sequence_tables`).
    """
    from ..render import sequence_tables as rec

    w = _Writer(format, digits, convention, False)
    shown = list(rec._shown(record, layers, neurons))
    out = []
    for t in range(1, record.steps + 1):
        for series, r in shown:
            if series.is_gated:
                out += _gated_forward(record, w, series, r, t)
                continue
            l, j, s = series.layer, r.neuron, r.steps[t - 1]
            where = f"t = {t}, {_where(r)}"
            out.append(Computation("forward", "z", l, j,
                                   f"{where}: weighted input {w.at(w.z(l, j), t)}",
                                   [Line("z", w.at(w.z(l, j), t),
                                         rec._z_equation(record, w, series, r, t), s.z)], t))
            a, z, g = w.at(w.a(l, j), t), w.at(w.z(l, j), t), series.activation
            gp = f"g'({z})"
            out.append(Computation("forward", "output", l, j, f"{where}: activation {a} = {g}({z})",
                                   [Line("output", a, w.equation(
                                       f"{a} = {g}({z}) = {g}({w.num(s.z)}) = {w.num(s.output)}"),
                                       s.output),
                                    Line("derivative", gp, w.equation(f"{gp} = {w.num(s.derivative)}"),
                                         s.derivative)], t))
    if record.loss is None:
        return out
    equation = rec.loss_section(record, w)[1][0]
    out.append(Computation("loss", "loss", None, None,
                           f"loss E ({record.loss_name}, {record.step_loss} over steps)",
                           [Line("loss", "E", equation, record.loss)]))
    for t in range(record.steps, 0, -1):
        for series, r in sorted(shown, key=lambda pair: -pair[0].layer):
            if series.is_gated:
                out += _gated_backward(record, w, series, r, t)
                continue
            l, j, s = series.layer, r.neuron, r.steps[t - 1]
            if s.delta is None:
                continue
            equation = (rec._recurrent_delta_equation if series.is_recurrent
                        else rec._dense_delta_equation)(record, w, series, r, t)
            out.append(Computation("backward", "delta", l, j,
                                   f"t = {t}, {_where(r)}: {w.at(w.delta(l, j), t)}",
                                   [Line("delta", w.at(w.delta(l, j), t), equation, s.delta)], t))
    for series, r in shown:
        gradients = _gated_gradients if series.is_gated else _sequence_gradients
        out.append(gradients(record, w, series, r))
    if record.updated:
        for series, r in shown:
            update = _gated_update if series.is_gated else _sequence_update
            out.append(update(record, w, series, r))
    return out


def _sum_over_time(w, label, terms, total):
    """dE/dθ = Σ_t (its product at each step) = total."""
    return w.equation(f"{w.partial(label)} = {w.sum_of(terms)} = {w.num(total)}")


def _sequence_gradients(record, w, series, r):
    """Each parameter of one neuron: its products at every step, summed over t."""
    l, j = series.layer, r.neuron
    steps = [(t, s) for t, s in enumerate(r.steps, start=1) if s.delta is not None]
    lines = []
    for k, total in enumerate(r.weight_totals):
        label = w.w(l, j, k)
        terms = [f"{w.fac(s.inputs[k])}{w.times}{w.fac(s.delta)}" for _, s in steps]
        lines.append(Line("weight_grads", w.partial(label), _sum_over_time(w, label, terms, total),
                          total, k))
    if series.is_recurrent:
        for i, total in enumerate(r.recurrent_totals):
            label = w.u(l, j, i)
            terms = [f"{w.fac(s.previous[i])}{w.times}{w.fac(s.delta)}" for _, s in steps]
            lines.append(Line("recurrent_grads", w.partial(label),
                              _sum_over_time(w, label, terms, total), total, i))
    label = w.b(l, j)
    lines.append(Line("bias_grad", w.partial(label),
                      _sum_over_time(w, label, [w.fac(s.delta) for _, s in steps], r.bias_total),
                      r.bias_total))
    if series.is_recurrent and series.learn_initial_state:
        from ..render.sequence_tables import _recurrent_path_terms

        grad = series.initial_state_grad[j]
        sym, num = _recurrent_path_terms(record, w, l, j, 0)
        lines.append(Line("initial_state_grad", w.partial(w.a0(l, j)), w.equation(
            f"{w.partial(w.a0(l, j))} = {sym} = {num} = {w.num(grad)}"), grad))
    return Computation("gradients", "weight_grads", l, j,
                       f"{_where(r)}: gradients summed over t = 1..{record.steps}", lines)


def _rule_update_computation(step, w, r):
    """One neuron's update by an optimizer, a penalty or clipping: each
    parameter's lines from the core's state before and after (as the trace's
    update section writes them)."""
    from ..render.update_tables import _state_of

    l, j, rule = r.layer, r.neuron, step.rule
    lines = []
    for k, (old, g, applied, new) in enumerate(zip(r.weights, r.batch_weight_grads,
                                                   r.applied_weight_grads, r.new_weights)):
        lines += _update_lines(step, w, w.w(l, j, k), "new_weights", k, old, g, new, applied,
                               _state_of(r.state_before, "weights", k, rule.initial),
                               _state_of(r.state_after, "weights", k, rule.initial))
    bias = _update_lines(step, w, w.b(l, j), "new_bias", None, r.bias, r.batch_bias_grad,
                         r.new_bias, r.applied_bias_grad,
                         _state_of(r.state_before, "bias", None, rule.initial),
                         _state_of(r.state_after, "bias", None, rule.initial))
    lines = bias + lines if w.bias_as_weight else lines + bias
    return Computation("update", "new_weights", l, j, f"{_where(r)}: new weights", lines)


def _sequence_update(record, w, series, r):
    """θ ← θ − η · dE/dθ for each parameter of one neuron (an optimizer's, a
    penalty's or clipping's lines when ``record.rule`` says so)."""
    l, j = series.layer, r.neuron
    if record.rule is not None:
        return _rule_sequence_update(record, w, series, r)
    eta = w.num(record.learning_rate)
    rows = [("new_weights", w.w(l, j, k), old, g, new, k)
            for k, (old, g, new) in enumerate(zip(r.weights, r.batch_weight_grads, r.new_weights))]
    if series.is_recurrent:
        rows += [("new_recurrent_weights", w.u(l, j, i), old, g, new, i)
                 for i, (old, g, new) in enumerate(zip(r.recurrent_weights,
                                                       r.batch_recurrent_grads,
                                                       r.new_recurrent_weights))]
    rows.append(("new_bias", w.b(l, j), r.bias, r.batch_bias_grad, r.new_bias, None))
    if series.is_recurrent and series.learn_initial_state:
        rows.append(("new_initial_state", w.a0(l, j), series.old_initial_state[j],
                     series.batch_initial_state_grad[j], series.new_initial_state[j], None))
    lines = [Line(quantity, label, w.equation(
        f"{label}{w.gets}{label}{w.minus}{w.eta}{w.times}{w.partial(label)} = {w.num(old)}"
        f"{w.minus}{eta}{w.times}{w.fac(g)} = {w.num(new)}"), new, index)
        for quantity, label, old, g, new, index in rows]
    return Computation("update", "new_weights", l, j, f"{_where(r)}: new parameters", lines)


def _rule_sequence_update(record, w, series, r):
    """One dense or Elman neuron's update by an optimizer, a penalty or clipping."""
    from ..render.update_tables import _state_of

    l, j, rule = series.layer, r.neuron, record.rule
    params = [("weights", "new_weights", w.w(l, j, k), k, old, g, new)
              for k, (old, g, new) in enumerate(zip(r.weights, r.batch_weight_grads,
                                                    r.new_weights))]
    if series.is_recurrent:
        params += [("recurrent_weights", "new_recurrent_weights", w.u(l, j, i), i, old, g, new)
                   for i, (old, g, new) in enumerate(zip(r.recurrent_weights,
                                                         r.batch_recurrent_grads,
                                                         r.new_recurrent_weights))]
    params.append(("bias", "new_bias", w.b(l, j), None, r.bias, r.batch_bias_grad, r.new_bias))
    lines = []
    for name, quantity, label, k, old, g, new in params:
        applied = (r.applied or {}).get(name)
        if applied is not None and k is not None:
            applied = applied[k]
        lines += _update_lines(record, w, label, quantity, k, old, g, new, applied,
                               _state_of(r.state_before, name, k, rule.initial),
                               _state_of(r.state_after, name, k, rule.initial))
    if series.is_recurrent and series.learn_initial_state:
        lines += _update_lines(record, w, w.a0(l, j), "new_initial_state", None,
                               series.old_initial_state[j], series.batch_initial_state_grad[j],
                               series.new_initial_state[j],
                               series.applied_initial_state_grad[j],
                               _state_of(series.state_before, "initial_state", j, rule.initial),
                               _state_of(series.state_after, "initial_state", j, rule.initial))
    return Computation("update", "new_weights", l, j, f"{_where(r)}: new parameters", lines)


# ---------------------------------------------------------------- LSTM and GRU units
def _gated_forward(record, w, series, unit, t):
    """Each gate's z, a and g'(z), then the unit's c and h (or h), at step t."""
    from ..render import gated_lines as gated

    l, j, s = series.layer, unit.neuron, unit.steps[t - 1]
    where = f"t = {t}, {_where(unit)}"
    out = []
    for gate, step in s.gates.items():
        activation, derivative = gated.gate_activation_parts(w, l, unit, gate, t)
        a = w.at(w.gate_a(l, gate, j), t)
        out.append(Computation("forward", "z", l, j, f"{where}: {gate} gate {a}", [
            Line("z", w.at(w.gate_z(l, gate, j), t),
                 gated.gate_z_equation(record, w, l, unit, gate, t), step.z, gate),
            Line("output", a, w.equation(activation), step.output, gate),
            Line("derivative", f"g'({w.at(w.gate_z(l, gate, j), t)})", w.equation(derivative),
                 step.derivative, gate)], t))
    equations = gated.state_equations(w, l, unit, t)
    h = w.at(w.h(l, j), t)
    lines = [Line("output", h, equations[-1], s.output)]
    if unit.kind == "lstm":
        lines.insert(0, Line("cell", w.at(w.c(l, j), t), equations[0], s.cell))
        title = f"{where}: cell state {w.at(w.c(l, j), t)} and hidden state {h}"
    else:
        title = f"{where}: hidden state {h}"
    out.append(Computation("forward", "output", l, j, title, lines, t))
    return out


#: the backward computations of a unit, in the order of its equations
#: (neuronsim.render.gated_lines.lstm_backward_equations / gru_backward_equations)
_GATED_BACKWARD = {
    "lstm": (("output_grad", None), ("delta", "output"), ("cell_grad", None),
             ("delta", "input"), ("delta", "forget"), ("delta", "cell")),
    "gru": (("output_grad", None), ("delta", "new"), ("delta", "update"), ("delta", "reset")),
}


def _gated_backward(record, w, series, unit, t):
    """dE/dh[t], then each δ (and an LSTM's dE/dc[t]) in the order of the chain rule."""
    from ..render import gated_lines as gated
    from ..render.sequence_tables import _output_path

    l, j, s = series.layer, unit.neuron, unit.steps[t - 1]
    write = (gated.lstm_backward_equations if unit.kind == "lstm"
             else gated.gru_backward_equations)
    equations = write(record, w, l, unit, t, _output_path(record, w, l, j, t))
    where = f"t = {t}, {_where(unit)}"
    out = []
    for (quantity, gate), equation in zip(_GATED_BACKWARD[unit.kind], equations):
        if quantity == "delta":
            label = w.at(w.gate_delta(l, gate, j), t)
            value, title = s.gates[gate].delta, f"{where}: {gate} gate {label}"
        elif quantity == "cell_grad":
            label = w.partial(w.at(w.c(l, j), t))
            value, title = s.cell_grad, f"{where}: {label}, with the cell path from t+1"
        else:
            label = w.partial(w.at(w.h(l, j), t))
            value, title = s.output_grad, f"{where}: {label}, output path + recurrent path"
        out.append(Computation("backward", quantity, l, j, title,
                               [Line(quantity, label, equation, value, gate)], t))
    return out


def _gated_gradients(record, w, series, unit):
    """Each gate's w, u, b^x and b^h: its products at every step, summed over t; a
    learned h[0] (c[0])."""
    from ..render import gated_lines as gated

    l, j = series.layer, unit.neuron
    lines = []
    for gate, g in unit.gates.items():
        steps = [(s, s.gates[gate]) for s in unit.steps]
        for k, total in enumerate(g.weight_totals):
            label = w.gate_weight(l, gate, j, k)
            terms = [f"{w.fac(s.inputs[k])}{w.times}{w.fac(q.delta)}" for s, q in steps]
            lines.append(Line("weight_grads", w.partial(label),
                              _sum_over_time(w, label, terms, total), total, (gate, k)))
        for m, total in enumerate(g.recurrent_totals):
            label = w.gate_recurrent(l, gate, j, m)
            terms = [f"{w.fac(s.previous[m])}{w.times}{w.fac(q.hidden_delta)}" for s, q in steps]
            lines.append(Line("recurrent_grads", w.partial(label),
                              _sum_over_time(w, label, terms, total), total, (gate, m)))
        for side, quantity, total, attribute in (("ih", "bias_ih_grad", g.bias_ih_total, "delta"),
                                                 ("hh", "bias_hh_grad", g.bias_hh_total,
                                                  "hidden_delta")):
            label = w.gate_bias(l, gate, j, side)
            terms = [w.fac(getattr(q, attribute)) for _, q in steps]
            lines.append(Line(quantity, w.partial(label),
                              _sum_over_time(w, label, terms, total), total, gate))
    if series.learn_initial_state:
        equations = gated.initial_state_equations(record, w, series, unit)
        for name, equation in zip(gated.STATE_NAMES[series.kind], equations):
            grad = series.initial_grads[name][j]
            lines.append(Line(f"{name}_grad", w.partial(w.gated_initial(name, l, j)), equation,
                              grad))
    return Computation("gradients", "weight_grads", l, j,
                       f"{_where(unit)}: gradients of its gates summed over t = "
                       f"1..{record.steps}", lines)


#: the quantity of a parameter's new value in the walk, by its name on a gate neuron
_NEW_QUANTITY = {"weights": "new_weights", "recurrent_weights": "new_recurrent_weights",
                 "bias_ih": "new_bias_ih", "bias_hh": "new_bias_hh",
                 "initial_state": "new_initial_state", "initial_cell": "new_initial_cell"}


def _update_lines(record, w, label, quantity, index, old, grad, new, applied=None,
                  before=None, after=None):
    """The lines of one parameter's update: θ ← θ − η·dE/dθ, or the optimizer's
    (penalty's, clipping's) lines of :mod:`neuronsim.render.tables`, the last
    line carrying the new value."""
    from ..render.update_tables import _optimizer_lines

    eta = w.num(record.learning_rate)
    rule = record.rule
    if rule is None:
        return [Line(quantity, label, w.equation(
            f"{label}{w.gets}{label}{w.minus}{w.eta}{w.times}{w.partial(label)} = "
            f"{w.num(old)}{w.minus}{eta}{w.times}{w.fac(grad)} = {w.num(new)}"), new, index)]
    if applied is None:   # a bias the network keeps fixed
        return [Line(quantity, label, w.equation(f"{label} = {w.num(new)}") + " "
                     + w.prose("(fixed: update_biases is false)"), new, index)]
    equations = _optimizer_lines(w, rule, label, old, applied, before, after, new,
                                 record.learning_rate)
    lines = [Line("optimizer_step", label, e, None, index) for e in equations[:-1]]
    return lines + [Line(quantity, label, equations[-1], new, index)]


def _gated_update(record, w, series, unit):
    """Each gate parameter's update, then a learned h[0] (c[0])."""
    from ..render import gated_lines as gated
    from ..render.update_tables import _state_of

    l, j = series.layer, unit.neuron
    rule = record.rule
    lines = []
    for label, old, grad, new, g, name, k in gated.update_rows(w, series, unit):
        index = g.gate if k is None else (g.gate, k)
        applied = before = after = None
        if rule is not None:
            applied = (g.applied or {}).get(name)
            applied = applied if applied is None or k is None else applied[k]
            before = _state_of(g.state_before, name, k, rule.initial)
            after = _state_of(g.state_after, name, k, rule.initial)
        lines += _update_lines(record, w, label, _NEW_QUANTITY[name], index, old, grad, new,
                               applied, before, after)
    for label, name, old, grad, new in gated.initial_update_rows(w, series, j):
        applied = before = after = None
        if rule is not None:
            applied = series.applied_initials[name][j]
            before = _state_of(series.state_before, name, j, rule.initial)
            after = _state_of(series.state_after, name, j, rule.initial)
        lines += _update_lines(record, w, label, _NEW_QUANTITY[name], None, old, grad, new,
                               applied, before, after)
    return Computation("update", "new_weights", l, j, f"{_where(unit)}: new parameters", lines)
