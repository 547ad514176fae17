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
from ..render.tables import (
    SECTIONS,
    _delta_equation,
    _output_grad_equation,
    _Writer,
    forward_section,
    loss_section,
)

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
    indices to keep, as in :func:`neuronsim.render.tables.render_step`.
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
    return f"layer {lab.textbook_layer(r.layer)}, neuron {r.neuron + 1}"


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
    """w ← w − η · dE/dw with the batch's reduced gradient."""
    l, j = r.layer, r.neuron
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
