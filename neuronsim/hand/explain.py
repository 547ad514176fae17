"""The chain-rule derivation of one derivative: dE/dw, dE/db or δ = dE/dz.

For a weight w_jk^(l) (Nielsen's convention: it feeds neuron j of layer l),
z_j^(l) = Σ_k w_jk^(l) a_k^(l-1) + b_j^(l) and E depends on w_jk^(l) only
through z_j^(l).  The chain rule along one path from z_j^(l) to the loss,

    w_jk^(l) → z_j^(l) → a_j^(l) → z_m^(l+1) → a_m^(l+1) → … → a_i^(L) → E,

is the product of the local derivatives on it (written from E back):

    ∂E/∂a_i^(L) · ∂a_i^(L)/∂z_i^(L) · … · ∂z_m^(l+1)/∂a_j^(l) · ∂a_j^(l)/∂z_j^(l) · ∂z_j^(l)/∂w_jk^(l)
  = ∂E/∂a_i^(L) ·      g'(z_i^(L))    · … ·     w_mj^(l+1)      ·      g'(z_j^(l))    ·    a_k^(l-1)

and dE/dw_jk^(l) is the sum of these products over every path, because a_j^(l)
feeds every neuron of layer l+1.  Backpropagation computes the same sum
grouped by layers: δ_j^(l) = (Σ_m w_mj^(l+1) δ_m^(l+1)) g'(z_j^(l)) and
dE/dw_jk^(l) = a_k^(l-1) δ_j^(l).  A bias has ∂z_j/∂b_j = 1 in place of
a_k^(l-1); a delta δ_j^(l) = dE/dz_j^(l) is the same sum without that last
factor.  Written as a weight w_j0^(l) on a constant input a_0 = 1
(``bias_as_weight=True``), the bias is one more term of the sum,
z_j^(l) = Σ_k w_jk^(l) a_k^(l-1) with k from 0, and ∂z_j/∂w_j0 = a_0 = 1.

Two output pairings skip dE/da: the network uses δ = ∂E/∂z = a − t directly
with sigmoid + binary_cross_entropy and δ = a·Σt − t with softmax +
cross_entropy (a − t when the targets sum to 1); the paths then end
z_i^(L) → E.  A softmax layer couples its neurons, so a path
may go from z_j to any a_i of that layer, with ∂a_i/∂z_j = a_i (δ_ij − a_j).

:func:`explain` runs one forward and one backward pass on a copy of the
network (the network itself is not changed) and returns an
:class:`Explanation`; :func:`render_explanation` writes it as plain text,
Markdown or LaTeX, ending with the value the simulator computes.

    >>> from neuronsim.files import load_example
    >>> net = load_example("four-layer")
    >>> e = explain(net, "w_22^(2)", convention="ng")
    >>> e.target.python(), len(e.paths)
    ('net.layers[1].neurons[1].weights[1]', 1)
    >>> e.path_sum == e.simulator_value
    True
"""

from dataclasses import dataclass, field

from ..core.errors import NeuronsimError
from ..core.numbers import is_exact
from ..core.summation import sum_in_order
from ..render.numfmt import format_number
from .common import (  # noqa: F401  (first_sample, is_paired: used from here too)
    DERIVATIVE_FORMULAS,
    FORMATS,
    Writer,
    convention_note,
    derivative_legend,
    display,
    first_sample,
    heading,
    inline,
    is_paired,
    loss_derivative,
    numbers_name,
)
from .explain_time import TimeExplanation, explain_through_time, render_time_explanation
from .label_parse import parse_label

# Show at most this many paths one by one; compute the path sum only when
# there are at most MAX_PATHS_SUMMED (their number grows as the product of
# the layer widths).
MAX_PATHS_SHOWN = 8
MAX_PATHS_SUMMED = 20_000

# A z sum with more terms than this shows its first two, the explained
# parameter's and the last, with "…" between.
MAX_Z_TERMS = 8

@dataclass
class Factor:
    """One local derivative on a path.

    ``kind`` and the indices (0-based, ``layer`` into net.layers):
    "dE/da" (layer, i): ∂E/∂a_i of the output layer;
    "dE/dz" (layer, i): ∂E/∂z_i of the output layer, paired losses only;
    "da/dz" (layer, i, j): ∂a_i/∂z_j = g'(z_j) (i = j) or the softmax Jacobian;
    "dz/da" (layer, i, j): ∂z_i^(layer)/∂a_j^(layer-1) = w_ij;
    "dz/dw" (layer, j, k): ∂z_j/∂w_jk = a_k of the layer before;
    "dz/db" (layer, j): ∂z_j/∂b_j = 1.
    """

    kind: str
    layer: int
    i: int
    j: int = None
    value: object = None


@dataclass
class Explanation:
    """Everything :func:`render_explanation` writes, as data.

    ``paths``: lists of :class:`Factor` in the order written (from E back to
    the parameter); ``path_values``: their products; ``path_sum``: the sum
    (None if there were more than MAX_PATHS_SUMMED paths);
    ``simulator_value``: what the simulator stored (``simulator_where``).
    """

    target: object
    label_text: str
    convention: str
    numbers_name: str
    exact: bool
    x: list
    t: list
    loss_name: str
    loss_value: object
    activations: list
    paired: bool
    n_paths: int
    paths: list = field(default_factory=list)
    path_values: list = field(default_factory=list)
    path_sum: object = None
    simulator_value: object = None
    simulator_where: str = ""
    net: object = None          # the copy, after its forward and backward pass


def explain(net, label, x=None, t=None, convention="nielsen"):
    """The chain-rule derivation of dE/d(label) on one sample.

    ``label``: a weight, bias or delta in any form :mod:`neuronsim.hand.label_parse`
    reads (``"w_22^(2)"``, ``"b_1^(3)"``, ``"δ_1^(2)"``, ``"W2[1,1]"``, ...),
    read in ``convention`` ("nielsen" or "ng").  ``x``, ``t``: the sample
    (default: the network's first sample).  Returns an :class:`Explanation`.
    """
    if net.is_sequential:
        return explain_through_time(net, label, x, t, convention)
    target = parse_label(label, convention, net)
    if target.kind not in ("w", "b", "delta"):
        raise NeuronsimError(f"{label!r}: explain takes a weight, a bias or a delta "
                             "(for example w_22^(2), b_1^(3), δ_1^(2))")
    x, t = first_sample(net, x, t, net.name or "the network")
    work = net.copy(batch=False, rule=False)
    work.forward_pass(x)
    loss_value = work.back_prop(t)
    paired = is_paired(work)
    n_paths = count_paths(work, target.layer)
    out = Explanation(target=target, label_text=label, convention=convention,
                      numbers_name=numbers_name(work.numbers), exact=is_exact(work.numbers),
                      x=work.inputs, t=work.target, loss_name=work.loss.name,
                      loss_value=loss_value,
                      activations=[layer.activation.name for layer in work.layers],
                      paired=paired, n_paths=n_paths, net=work)
    neuron = work.layers[target.layer].neurons[target.neuron]
    if target.kind == "w":
        last = Factor("dz/dw", target.layer, target.neuron, target.input,
                      work_inputs(work, target.layer)[target.input])
        out.simulator_value = neuron.weight_grads[target.input]
        out.simulator_where = f"{target.python()[:-len(f'.weights[{target.input}]')]}" \
                              f".weight_grads[{target.input}]"
    elif target.kind == "b":
        last = Factor("dz/db", target.layer, target.neuron, None, work.numbers.one)
        out.simulator_value = neuron.bias_grad
        out.simulator_where = target.python()[:-len(".bias")] + ".bias_grad"
    else:
        last = None
        out.simulator_value = neuron.delta
        out.simulator_where = target.python()
    if n_paths <= MAX_PATHS_SUMMED:
        for path in paths_from_z(work, target.layer, target.neuron, paired):
            factors = list(reversed(path)) + ([last] if last else [])
            out.paths.append(factors)
            out.path_values.append(product(factors))
        out.path_sum = sum_in_order(out.path_values[1:], out.path_values[0])
    return out


def work_inputs(net, layer_index):
    """a^(l-1) of net.layers[layer_index]: the data for the first layer."""
    return net.inputs if layer_index == 0 else net.layers[layer_index - 1].outputs


def product(factors):
    """The product of the factors' values, left to right."""
    value = factors[0].value
    for f in factors[1:]:
        value = value * f.value
    return value


def _outputs_reached(layer, j):
    """The a_i a change of z_j moves: only a_j, or all of a softmax layer."""
    return range(layer.size) if layer.activation.is_layerwise else (j,)


def _da_dz(layer, layer_index, i, j):
    neurons = layer.neurons
    if layer.activation.is_layerwise:
        a_i, a_j = neurons[i].output, neurons[j].output
        value = a_i * ((1 if i == j else 0) - a_j)
    else:
        value = neurons[j].derivative
    return Factor("da/dz", layer_index, i, j, value)


def count_paths(net, layer_index):
    """How many paths lead from a z of net.layers[layer_index] to E."""
    last = len(net.layers) - 1
    count = 1
    for index in range(layer_index, last + 1):
        layer = net.layers[index]
        if layer.activation.is_layerwise and not (index == last and is_paired(net)):
            count *= layer.size          # z_j reaches every a_i of a softmax layer
        if index < last:
            count *= net.layers[index + 1].size
    return count


def paths_from_z(net, layer_index, j, paired):
    """Every path from z_j of net.layers[layer_index] to E, as lists of factors
    in forward order (z_j first, E last)."""
    layers = net.layers
    layer = layers[layer_index]
    last = len(layers) - 1
    if layer_index == last:
        if paired:
            return [[Factor("dE/dz", last, j, None, layer.neurons[j].delta)]]
        return [[_da_dz(layer, last, i, j),
                 Factor("dE/da", last, i, None, layer.neurons[i].output_grad)]
                for i in _outputs_reached(layer, j)]
    paths = []
    following = layers[layer_index + 1]
    for i in _outputs_reached(layer, j):
        step = _da_dz(layer, layer_index, i, j)
        for m, neuron in enumerate(following.neurons):
            link = Factor("dz/da", layer_index + 1, m, i, neuron.weights[i])
            for rest in paths_from_z(net, layer_index + 1, m, paired):
                paths.append([step, link] + rest)
    return paths


# ---------------------------------------------------------------- rendering
def _factor_symbols(w, f, net_activations, loss_name, n_outputs):
    """(∂-form, meaning) of one factor, e.g. ('∂a₁⁽⁴⁾/∂z₁⁽⁴⁾', "g'(z₁⁽⁴⁾)")."""
    kind = f.kind
    if kind == "dE/da":
        a = w.label("a", f.layer, f.i)
        return w.partial("E", a), loss_derivative(w, loss_name, a, w.t(f.i), n_outputs)
    if kind == "dE/dz":
        a, t = w.label("a", f.layer, f.i), w.t(f.i)
        if loss_name == "cross_entropy":
            total = r"\sum t" if w.style == "latex" else "Σt"
            meaning = f"({a}{w.times}{total}{w.minus}{t})"
        else:
            meaning = f"({a}{w.minus}{t})"
        return w.partial("E", w.label("z", f.layer, f.i)), meaning
    if kind == "da/dz":
        a, z = w.label("a", f.layer, f.i), w.label("z", f.layer, f.j)
        if net_activations[f.layer] == "softmax":
            aj = w.label("a", f.layer, f.j)
            meaning = (f"{a}(1{w.minus}{aj})" if f.i == f.j else f"−{a}{aj}")
            if w.style == "latex":
                meaning = meaning.replace("−", "-")
        else:
            meaning = f"g'({z})"
        return w.partial(a, z), meaning
    if kind == "dz/da":
        z, a = w.label("z", f.layer, f.i), w.label("a", f.layer - 1, f.j)
        return w.partial(z, a), w.label("w", f.layer, f.i, f.j)
    if kind == "dz/dw":
        z = w.label("z", f.layer, f.i)
        return w.partial(z, w.label("w", f.layer, f.i, f.j)), w.label("a", f.layer - 1, f.j)
    z = w.label("z", f.layer, f.i)
    return w.partial(z, w.label("b", f.layer, f.i)), w.one() if w.bias_as_weight else "1"


def _node_chain(w, factors, target):
    """w → z → a → … → E for one path."""
    nodes = []
    for f in reversed(factors):
        if f.kind in ("dz/dw", "dz/db"):
            nodes.append(w.label("w" if f.kind == "dz/dw" else "b", f.layer, f.i, f.j))
            nodes.append(w.label("z", f.layer, f.i))
        elif f.kind == "da/dz":
            if not nodes:
                nodes.append(w.label("z", f.layer, f.j))
            nodes.append(w.label("a", f.layer, f.i))
        elif f.kind == "dz/da":
            nodes.append(w.label("z", f.layer, f.i))
        elif f.kind == "dE/dz":
            if not nodes:
                nodes.append(w.label("z", f.layer, f.i))
            nodes.append("E")
        else:
            nodes.append("E")
    return w.arrow.join(nodes)


def shortcut_note(net, w=None):
    """Does the output delta equal the shortcut a − t here?  A sentence (or two)."""
    out = net.layers[-1]
    activation, loss = out.activation.name, net.loss.name
    common = ("δ = a − t holds for a linear output with half_sse, for sigmoid with "
              "binary_cross_entropy and for softmax with cross_entropy (targets summing to 1)")
    # prose numbers (w.text turns the result into LaTeX where needed)
    fmt = (lambda v: format_number(v, w.digits)) if w else format_number
    if is_paired(net) and loss == "cross_entropy":
        total = sum_in_order(net.target[1:], net.target[0])
        here = ("the targets sum to 1 here, so δ = a − t" if total == 1 else
                f"here Σt = {fmt(total)}, not 1, so δ = a·{fmt(total)} − t, not a − t")
        return (f"Output delta shortcut: with {activation} and {loss} the network uses "
                "δ = ∂E/∂z = a·Σt − t directly, because the softmax Jacobian and "
                f"dE/da = −t/a combine to a·Σt − t; {here}.  {common}.")
    if is_paired(net):
        why = "g'(z) = a(1 − a) cancels the denominator of dE/da = (a − t)/(a(1 − a))"
        return (f"Output delta shortcut: with {activation} and {loss} the network uses "
                f"δ = ∂E/∂z = a − t directly, because {why}.  {common}.")
    if activation == "linear" and loss == "half_sse":
        return (f"Output delta shortcut: δ = (a − t)·g'(z) with g'(z) = 1 for a linear "
                f"output, so δ = a − t holds here.  {common}.")
    shortcuts = []
    target = net.target
    for i, neuron in enumerate(out.neurons):
        shortcut = neuron.output - target[i]
        same = shortcut == neuron.delta
        shortcuts.append(f"neuron {i + 1}: a − t = {fmt(shortcut)}, δ = {fmt(neuron.delta)}"
                         + (" (equal here)" if same else ""))
    factor_text = {"half_sse": "(a − t)", "sse": "2(a − t)", "mse": "2(a − t)/n",
                   "binary_cross_entropy": "(a − t)/(a(1 − a))",
                   "cross_entropy": "(−t/a)"}[loss]
    return (f"Output delta shortcut: with {activation} and {loss}, δ = dE/da · g'(z) = "
            f"{factor_text} · g'(z) where g'(z) = {DERIVATIVE_FORMULAS[activation]}, so the "
            f"shortcut δ = a − t does not hold in general ({'; '.join(shortcuts)}).  "
            f"{common}.")


def render_explanation(e, format="plain", digits=9, bias_as_weight=False):
    """An :class:`Explanation` as text: the z sum the parameter enters, the paths
    symbolically and in numbers, their sum, the backpropagation form and the
    simulator's value.

    ``bias_as_weight``: write each bias b_j^(l) as the weight w_j0^(l) on a
    constant input a_0 = 1, so z_j = Σ_k w_jk a_k with k from 0 and
    ∂z_j/∂w_j0 = a_0 = 1.
    """
    if isinstance(e, TimeExplanation):
        return render_time_explanation(e, format, digits, bias_as_weight)
    w = Writer(format, digits, e.convention, bias_as_weight)
    net = e.net
    target = e.target
    what = w.label(target.kind, target.layer, target.neuron, target.input)
    lhs = what if target.kind == "delta" else w.partial("E", what)
    if target.kind == "delta":
        lhs = f"{what} = {w.partial('E', w.label('z', target.layer, target.neuron))}"
    n_out = len(net.layers[-1].neurons)
    lines = []
    title = f"Explain {lhs}" if w.style != "latex" else f"Explain ${lhs}$"
    lines.append(heading(w, title))
    lines.append(w.text(convention_note(e.convention, bias_as_weight)))
    lines.append(w.text(f"Label {e.label_text!r} read as ") + inline(w, what)
                 + w.text(f" = {target.python()}."))
    x = ", ".join(w.num(v) for v in e.x)
    t = ", ".join(w.num(v) for v in e.t)
    lines.append(w.text(f"Sample x = ({x}), t = ({t}); loss {e.loss_name}, E = "
                        f"{w.num(e.loss_value)}; numbers {e.numbers_name}.  One forward and "
                        "one backward pass on a copy of the network (no update)."))
    legend = derivative_legend(w, e, target.layer)
    if legend:
        lines.append(w.text(legend))
    if target.kind in ("w", "b"):
        lines.append(w.text("The parameter enters E only through ") + inline(w, _z_label(w, e))
                     + w.text(":"))
        lines.append(display(w, _z_sum_lines(w, e)))
    start = _z_label(w, e)
    if e.n_paths == 1:
        lines.append(w.text("One path leads from ") + inline(w, start) + w.text(" to E."))
    else:
        lines.append(inline(w, start) + w.text(
            f" reaches E along {e.n_paths} paths (each neuron feeds every neuron of the next "
            f"layer), so the derivative is the sum over the paths."))
    if e.path_sum is None:
        lines.append(w.text(f"That is more than {MAX_PATHS_SUMMED} paths: the sum is shown "
                            "only in its backpropagation form below."))
    for number, (factors, value) in enumerate(zip(e.paths, e.path_values), start=1):
        if number > MAX_PATHS_SHOWN:
            lines.append(w.text(f"(paths {MAX_PATHS_SHOWN + 1} to {len(e.paths)} are summed "
                                "the same way and not shown)"))
            break
        lines.append(_path_block(w, e, number, factors, value, lhs, n_out))
    if e.path_sum is not None and len(e.paths) > 1:
        terms = " + ".join(w.fac(v) for v in e.path_values[:MAX_PATHS_SHOWN])
        if len(e.paths) > MAX_PATHS_SHOWN:
            terms += " + …" if w.style != "latex" else r" + \dots"
        lines.append(w.text("Sum over the paths:"))
        lines.append(display(w, [f"{lhs} = {terms} = {w.num(e.path_sum)}"]))
    lines.append(w.text("Backpropagation form (the same sum, grouped layer by layer):"))
    lines.append(display(w, _backprop_lines(w, e)))
    if target.layer == len(net.layers) - 1:
        lines.append(w.text(shortcut_note(net, w)))
    lines.append(w.text(_agreement(w, e)))
    separator = "\n\n"
    return separator.join(lines) + "\n"


def _z_label(w, e):
    """The label of z_j^(l), where every path of the explained quantity starts."""
    return w.label("z", e.target.layer, e.target.neuron)


def _z_sum_lines(w, e):
    """z_j = Σ_k w_jk a_k + b_j (or Σ from k = 0 with w_j0 a_0), with numbers, and
    the last factor of every path: ∂z_j/∂w_jk = a_k or ∂z_j/∂b_j = 1 (= a_0)."""
    target, net = e.target, e.net
    layer, j = target.layer, target.neuron
    neuron = net.layers[layer].neurons[j]
    inputs = work_inputs(net, layer)
    terms = [(f"{w.label('w', layer, j, k)}{w.times}{w.label('a', layer - 1, k)}",
              f"{w.fac(weight)}{w.times}{w.fac(a)}")
             for k, (weight, a) in enumerate(zip(neuron.weights, inputs))]
    if w.bias_as_weight:
        terms.insert(0, (f"{w.label('b', layer, j)}{w.times}{w.one()}",
                         f"{w.fac(neuron.bias)}{w.times}1"))
        here = 0 if target.kind == "b" else target.input + 1
    else:
        terms.append((w.label("b", layer, j), w.fac(neuron.bias)))
        here = len(terms) - 1 if target.kind == "b" else target.input
    symbolic = _sum_shown([s for s, _ in terms], here, w)
    numeric = _sum_shown([n for _, n in terms], here, w)
    z = _z_label(w, e)
    parameter = w.label(target.kind, layer, j, target.input)
    if target.kind == "w":
        slope = f"{w.label('a', layer - 1, target.input)} = {w.num(inputs[target.input])}"
    else:
        slope = f"{w.one()} = 1" if w.bias_as_weight else "1"
    eq, pad = ("&= ", "") if w.fmt == "latex" else ("= ", " " * (len(z) + 1))
    return [f"{z} {eq}{symbolic}", f"{pad}{eq}{numeric}", f"{pad}{eq}{w.num(neuron.z)}",
            f"{w.partial(z, parameter)} {eq}{slope}"]


def _sum_shown(terms, here, w):
    """The terms joined by " + "; past MAX_Z_TERMS only the first two, term
    ``here`` and the last, with "…" for the terms left out."""
    if len(terms) <= MAX_Z_TERMS:
        return " + ".join(terms)
    kept = sorted({0, 1, here, len(terms) - 1})
    shown, previous = [], None
    for index in kept:
        if shown and index != previous + 1:
            shown.append(r"\dots" if w.style == "latex" else "…")
        shown.append(terms[index])
        previous = index
    return " + ".join(shown)


def _path_block(w, e, number, factors, value, lhs, n_out):
    symbols = [_factor_symbols(w, f, e.activations, e.loss_name, n_out) for f in factors]
    chain = _node_chain(w, factors, e.target)
    partials = w.times.join(s for s, _ in symbols)
    meanings = w.times.join(m for _, m in symbols)
    numbers = w.times.join(w.fac(f.value) for f in factors)
    head = w.text(f"Path {number}: ") + inline(w, chain)
    if w.fmt == "latex":
        rows = [f"{lhs} &= {partials}", f"&= {meanings}", f"&= {numbers}",
                f"&= {w.num(value)}"]
        return head + "\n" + display(w, rows)
    pad = " " * (len(lhs) + 1)
    rows = [f"{lhs} = {partials}", f"{pad}= {meanings}", f"{pad}= {numbers}",
            f"{pad}= {w.num(value)}"]
    return head + "\n" + display(w, rows)


def _backprop_lines(w, e):
    """δ of every neuron the target depends on, from the output back, then the target."""
    net, target = e.net, e.target
    last = len(net.layers) - 1
    eq = "&= " if w.fmt == "latex" else "= "
    lines = []
    needed = {last: range(len(net.layers[last].neurons))}
    for index in range(last - 1, target.layer - 1, -1):
        needed[index] = range(len(net.layers[index].neurons))
    needed[target.layer] = (target.neuron,)
    for index in range(last, target.layer - 1, -1):
        for j in needed[index]:
            lines.append(_delta_line(w, net, index, j, e, eq))
    if target.kind in ("w", "b"):
        d = w.label("delta", target.layer, target.neuron)
        neuron = net.layers[target.layer].neurons[target.neuron]
        grad = w.partial("E", w.label(target.kind, target.layer, target.neuron, target.input))
        if target.kind == "w":
            a = w.label("a", target.layer - 1, target.input)
            value = work_inputs(net, target.layer)[target.input]
            lines.append(f"{grad} {eq}{a}{w.times}{d} = {w.fac(value)}{w.times}"
                         f"{w.fac(neuron.delta)} = {w.num(e.simulator_value)}")
        elif w.bias_as_weight:
            lines.append(f"{grad} {eq}{w.one()}{w.times}{d} = 1{w.times}"
                         f"{w.fac(neuron.delta)} = {w.num(e.simulator_value)}")
        else:
            lines.append(f"{grad} {eq}{d} = {w.num(e.simulator_value)}")
    return lines


def _delta_line(w, net, index, j, e, eq):
    layer = net.layers[index]
    neuron = layer.neurons[j]
    d = w.label("delta", index, j)
    z = w.label("z", index, j)
    last = len(net.layers) - 1
    if index == last:
        a, t = w.label("a", index, j), w.t(j)
        if e.paired:
            if e.loss_name != "cross_entropy":
                return (f"{d} {eq}{a}{w.minus}{t} = {w.num(neuron.output)}{w.minus}"
                        f"{w.fac(net.target[j])} = {w.num(neuron.delta)}")
            total = r"\sum t" if w.style == "latex" else "Σt"
            return f"{d} {eq}{a}{w.times}{total}{w.minus}{t} = {w.num(neuron.delta)}"
        if layer.activation.is_layerwise:
            weighted = (r"\sum_i \frac{\partial E}{\partial a_i} a_i" if w.style == "latex"
                        else "Σ_i ∂E/∂a_i a_i")
            return (f"{d} {eq}{a}({w.partial('E', a)}{w.minus}{weighted}) = "
                    f"{w.num(neuron.delta)}")
        return (f"{d} {eq}{w.partial('E', a)}{w.times}g'({z}) = {w.fac(neuron.output_grad)}"
                f"{w.times}{w.fac(neuron.derivative)} = {w.num(neuron.delta)}")
    following = net.layers[index + 1].neurons
    symbolic = " + ".join(
        f"{w.label('w', index + 1, m, j)}{w.times}{w.label('delta', index + 1, m)}"
        for m in range(len(following)))
    numeric = " + ".join(f"{w.fac(n.weights[j])}{w.times}{w.fac(n.delta)}" for n in following)
    if layer.activation.is_layerwise:
        if w.style == "latex":
            return (rf"{d} {eq}\text{{(softmax layer: its Jacobian applied to }} "
                    rf"\partial E/\partial a = \sum_m w_{{mj}} \delta_m\text{{)}} = "
                    f"{w.num(neuron.delta)}")
        return (f"{d} {eq}(softmax layer: its Jacobian applied to "
                f"dE/da = Σ_m w_mj δ_m) = {w.num(neuron.delta)}")
    return (f"{d} {eq}({symbolic}){w.times}g'({z}) = ({numeric}){w.times}"
            f"{w.fac(neuron.derivative)} = {w.num(neuron.delta)}")


def _agreement(w, e):
    where = e.simulator_where
    value = w.num(e.simulator_value)
    if e.path_sum is None:
        return f"The simulator computes {where} = {value}."
    if e.path_sum == e.simulator_value:
        how = "exactly equal to the path sum" if e.exact else "equal to the path sum"
    else:
        difference = abs(e.path_sum - e.simulator_value)
        scale = abs(e.simulator_value)
        relative = difference / scale if scale else difference
        how = (f"equal to the path sum up to rounding (relative difference "
               f"{format_number(relative, 2)}: the two sums add the same terms in a "
               "different order)")
    return f"The simulator computes {where} = {value}, {how}."
