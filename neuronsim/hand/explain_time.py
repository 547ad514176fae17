"""The chain-rule derivation of one derivative through time (networks with a recurrent layer).

A network with a recurrent layer reads a sequence x[1], ..., x[T] and runs
its stack once per step (:mod:`neuronsim.core.through_time`).  A parameter θ
of neuron j of layer l is used at every step: it enters E through each
z_j^(l)[t], so

    dE/dθ = Σ_t δ_j^(l)[t] · ∂z_j^(l)[t]/∂θ,        δ_j^(l)[t] = ∂E/∂z_j^(l)[t],

with ∂z_j[t]/∂w_jk = a_k^(l-1)[t] (the layer below at the same step),
∂z_j[t]/∂u_ji = a_i^(l)[t-1] (its own layer at the step before: the
recurrent weight) and ∂z_j[t]/∂b_j = 1.  Each δ is computed from the last
step back (backpropagation through time):

    δ_j[t] = (e_j[t] + r_j[t]) · g'(z_j[t])
    e_j[t] = Σ_m w_mj^(l+1) δ_m^(l+1)[t]   the output path: the layer above at step t
                                          (∂E_t/∂a_j[t] at the output layer)
    r_j[t] = Σ_i u_ij^(l) δ_i^(l)[t+1]     the recurrent path (recurrent layers; 0 at t = T)

and a learned initial state has dE/da_i[0] = Σ_j u_ji δ_j[1].  The number
of paths through time grows as the layer widths to the power T, so the
derivation is written grouped by step, the way BPTT computes it: every
term of the sum over t, and every δ it needs, path (e and r) by path.

**LSTM and GRU layers** (:mod:`neuronsim.hand.explain_gates`): a gate's
parameter enters E through its z_q,j[t] at every step, so dE/dθ = Σ_t
δ_q,j[t] · ∂z_q,j[t]/∂θ as above, and each δ_q,j[t] comes from dE/dh_j[t]
(and, in an LSTM, dE/dc_j[t] with its path through the next step's forget
gate) by the unit's own formulas; labels ``w_f,12^(2)``, ``b_xo,1^(2)``,
``δ_f,1^(2)[3]``, ``h_1^(2)[3]`` (dE/dh), ``c_1^(2)[3]`` (dE/dc), ``h_1^(2)[0]``.
dE/dh, dE/dc and a gated initial state are explained with full BPTT only
(truncated, each is a sum of parts by age, which this derivation does not
write out part by part; the trace shows the part carried from t+1).

**Truncated BPTT** with k steps follows each E_t back at most k steps, so
δ[t] keeps only its parts from E_t, ..., E_(t+k-1) (the parts of age 0 to
k-1, :mod:`neuronsim.core.through_time`): the parts from E_(t+k), ...,
E_T are dropped, and the derivation lists δ[t] part by part.

Every number is the network's own: one forward pass and one BPTT on a copy
(``net.history``); each sum is added in the order the simulator adds it,
so the result equals ``net.gradient_arrays()`` exactly (float, fraction and
precise numbers alike).
"""

from dataclasses import dataclass, field

from ..core import labels as lab
from ..core.errors import NeuronsimError
from ..core.numbers import is_exact
from ..core.summation import sum_in_order
from ..core.through_time import sequence_of
from . import explain_gates as gated
from .common import (
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
    sum_over_t,
)
from .label_parse import check_target, parse_label

# The derivation writes every δ it needs: at most this many (steps × neurons).
MAX_DELTA_LINES = 400

_TEXT_SUB = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")
_TEXT_SUP = str.maketrans("0123456789()", "⁰¹²³⁴⁵⁶⁷⁸⁹⁽⁾")
_TEXT_LETTER = {"k": "ₖ", "i": "ᵢ"}


@dataclass
class TimeExplanation:
    """Everything :func:`render_time_explanation` writes, as data.

    ``terms``: for a parameter, one (t, δ_j[t], ∂z_j[t]/∂θ, product) per
    step from T down to 1 (δ None: no gradient reaches that step); for an
    initial state a_i[0], one (j, u_ji, δ_j[1], product) per neuron j.
    ``value``: the derivative added up from the shown numbers in the
    simulator's order; ``simulator_value``: what the simulator stored
    (``simulator_where``).  ``first_step``: the earliest step whose δ the
    derivation needs.
    """

    target: object
    label_text: str
    convention: str
    numbers_name: str
    exact: bool
    xs: list
    targets: list
    loss_name: str
    step_losses: list
    loss_value: object
    step_loss: str
    truncation: object
    activations: list
    paired: bool
    first_step: int
    terms: list = field(default_factory=list)
    value: object = None
    simulator_value: object = None
    simulator_where: str = ""
    net: object = None          # the copy, after its forward pass and BPTT


def explain_through_time(net, label, x=None, t=None, convention="nielsen"):
    """The derivation of dE/d(label) on one sequence of a network with a recurrent layer.

    ``label``: a weight w, a recurrent weight u, a bias b, a delta at a step
    (``δ_1^(2)[3]``) or an initial state (``a_1^(2)[0]``) in any form of
    :mod:`neuronsim.hand.label_parse`; in an LSTM or GRU layer a gate's w, u,
    b^x, b^h or δ (``w_f,12^(2)``, ``b_ho,1^(2)``, ``δ_f,1^(2)[3]``), dE/dh or
    dE/dc at a step (``h_1^(2)[3]``, ``dE/dc_1^(2)[3]``) or h[0], c[0].  ``x``, ``t``: the sequence and its
    targets (default: the network's first sample).  Returns a
    :class:`TimeExplanation`.
    """
    target = parse_label(label, convention, net)
    if target.kind in ("z", "a") and target.step != 0:
        raise NeuronsimError(f"{label!r}: explain takes a weight, a recurrent weight, a bias, "
                             "a delta at a step or an initial state (for example w_11^(2), "
                             "u_12^(2), b_1^(3), δ_1^(2)[2], a_1^(2)[0]; in LSTM and GRU "
                             "layers w_f,12^(2), u_i,21^(2), b_xo,1^(2), b_ho,1^(2), "
                             "δ_f,1^(2)[2], h_1^(2)[2] for dE/dh, c_1^(2)[2] for dE/dc, "
                             "h_1^(2)[0])")
    if target.kind in ("h", "c") and net.truncation is not None:
        what = {"h": "dE/dh", "c": "dE/dc"}[target.kind] + ("[0]" if target.step == 0 else "[t]")
        raise NeuronsimError(f"{label!r}: with truncated BPTT (truncation {net.truncation}) "
                             f"{what} is a sum of parts by age, which explain does not derive "
                             "part by part: explain a gate's δ or parameter (shown part by "
                             "part), trace the network (its tables show the part carried from "
                             "t+1), or set \"truncation\": null")
    x, t = first_sample(net, x, t, net.name or "the network")
    x = sequence_of(net, x)
    steps = len(x)
    check_target(target, net, label, convention, steps)
    first_step = target.step if target.kind in ("delta", "h", "c") and target.step else 1
    count = count_delta_lines(net, target.layer, steps, first_step)
    if count > MAX_DELTA_LINES:   # checked before the forward pass: the work is bounded too
        raise NeuronsimError(
            f"{label!r}: the derivation through time needs {count} deltas (T = {steps} steps "
            f"× the neurons of layers {target.layer + 2} to {len(net.layers) + 1}), more than "
            f"{MAX_DELTA_LINES}: use a shorter sequence (--input, --target) or a quantity of "
            "a later step or a higher layer")
    work = net.copy(batch=False, rule=False)
    work.forward_pass(x)
    loss_value = work.back_prop(t)
    out = TimeExplanation(
        target=target, label_text=label, convention=convention,
        numbers_name=numbers_name(work.numbers), exact=is_exact(work.numbers), xs=work.inputs,
        targets=work.targets, loss_name=work.loss.name, step_losses=work.step_losses,
        loss_value=loss_value, step_loss=work.step_loss, truncation=work.last_truncation,
        activations=[layer.activation.name for layer in work.layers], paired=is_paired(work),
        first_step=first_step, net=work)
    if target.kind == "delta":
        _explain_delta(out)
    elif target.kind in ("h", "c") and target.step:
        _explain_gated_state(out)
    elif target.kind in ("h", "c"):
        _explain_gated_initial_state(out)
    elif target.kind == "a":
        _explain_initial_state(out)
    elif target.gate is not None:
        _explain_gate_parameter(out)
    else:
        _explain_parameter(out)
    return out


def count_delta_lines(net, layer_index, steps, first_step):
    """How many δ the derivation writes: steps T down to ``first_step``, every
    neuron of the layers from ``layer_index`` up (every gate neuron of an LSTM
    or GRU layer)."""
    return (steps - first_step + 1) * sum(len(layer.neurons)
                                          for layer in net.layers[layer_index:])


def _parts(record):
    """δ of one step as the simulator added it: its parts by age (truncated
    BPTT) or the whole δ; [] where no gradient reached the step."""
    if record.delta is None:
        return []
    return list(record.delta_parts) if record.delta_parts is not None else [record.delta]


def _explain_parameter(e):
    """dE/dθ = Σ_t δ_j[t]·∂z_j[t]/∂θ, from t = T down, added as the simulator adds it."""
    net, target = e.net, e.target
    layer = net.layers[target.layer]
    j, k = target.neuron, target.input
    value = None
    for t in range(len(net.history), 0, -1):
        record = net.history[t - 1][target.layer][j]
        slope = (record.inputs[k] if target.kind == "w" else
                 record.previous[k] if target.kind == "u" else net.numbers.one)
        delta = record.delta
        e.terms.append((t, delta, slope, None if delta is None else slope * delta))
        for part in _parts(record):
            term = part if target.kind == "b" else slope * part
            value = term if value is None else value + term
    e.value = 0 if value is None else value
    position = {"w": 0, "u": 1, "b": 2 if layer.is_recurrent else 1}[target.kind]
    sums = layer.gradient_sums()[position][j]
    e.simulator_value = sums if target.kind == "b" else sums[k]
    attribute = {"w": f"weight_grad_sum[{k}]", "u": f"recurrent_grad_sum[{k}]",
                 "b": "bias_grad_sum"}[target.kind]
    index = f"[{j}]" if target.kind == "b" else f"[{j}, {k}]"
    e.simulator_where = (f"net.layers[{target.layer}].neurons[{j}].{attribute} "
                         f"(net.gradient_arrays()[{target.layer}][{position}]{index})")


def _explain_gate_parameter(e):
    """dE/dθ = Σ_t δ_q,j[t]·∂z_q,j[t]/∂θ of a gate's w, u, b^x or b^h, from t = T
    down, added as the core adds it (δ^h = r·δ for the GRU new gate's u and b^h)."""
    net, target = e.net, e.target
    l, j, k, gate = target.layer, target.neuron, target.input, target.gate
    layer = net.layers[l]
    hidden = target.kind == "u" or target.side == "hh"
    value = None
    for t in range(len(net.history), 0, -1):
        record = net.history[t - 1][l][j]
        saved = record.gates[gate]
        slope = (record.inputs[k] if target.kind == "w" else
                 record.previous[k] if target.kind == "u" else net.numbers.one)
        shown = saved.hidden_delta if hidden else saved.delta
        e.terms.append((t, shown, slope, None if shown is None else slope * shown))
        parts = gated.hidden_parts(record, gate) if hidden else gated.delta_parts(saved)
        for part in parts:
            term = part if target.kind == "b" else slope * part
            value = term if value is None else value + term
    e.value = 0 if value is None else value
    position = {"w": 0, "u": 1}.get(target.kind, 2 if target.side == "ih" else 3)
    row = layer.GATES.index(gate) * layer.size + j
    sums = layer.gradient_sums()[position][row]
    e.simulator_value = sums if target.kind == "b" else sums[k]
    attribute = {"w": f"weight_grad_sum[{k}]", "u": f"recurrent_grad_sum[{k}]"}.get(
        target.kind, f"bias_{target.side}_grad_sum")
    index = f"[{row}]" if target.kind == "b" else f"[{row}, {k}]"
    e.simulator_where = (f'net.layers[{l}].gates["{gate}"][{j}].{attribute} '
                         f"(net.gradient_arrays()[{l}][{position}]{index}, torch's row {row})")


def _explain_gated_state(e):
    """dE/dh_j[t] or dE/dc_j[t] of a unit of an LSTM or GRU layer (full BPTT)."""
    target = e.target
    line = gated.gated_line(e.net, target.layer, target.neuron, target.step)
    record = e.net.history[target.step - 1][target.layer][target.neuron]
    attribute = "output_grad" if target.kind == "h" else "cell_grad"
    e.value = line.output_grad if target.kind == "h" else line.cell_grad
    e.simulator_value = getattr(record, attribute)
    e.simulator_where = (f"net.history[{target.step - 1}][{target.layer}][{target.neuron}]."
                         f"{attribute}")


def _explain_gated_initial_state(e):
    """dE/dh_i[0] or dE/dc_i[0] of an LSTM or GRU layer (full BPTT)."""
    net, target = e.net, e.target
    l, i = target.layer, target.neuron
    layer = net.layers[l]
    name = "initial_state" if target.kind == "h" else "initial_cell"
    e.value = gated.initial_state_value(net, l, i, target.kind)
    e.simulator_value = layer.initial_grads[name][i]
    e.simulator_where = f'net.layers[{l}].initial_grads["{name}"][{i}]'
    if layer.learn_initial_state:
        position = 4 + layer.STATES.index(name)
        e.simulator_where += f" (net.gradient_arrays()[{l}][{position}][{i}])"


def _explain_initial_state(e):
    """dE/da_i[0] = Σ_j u_ji δ_j[1]: truncated, the parts of δ[1] of ages 0 to k-2."""
    net, target = e.net, e.target
    layer = net.layers[target.layer]
    i = target.neuron
    first = net.history[0][target.layer]
    for j, neuron in enumerate(layer.neurons):
        u = neuron.recurrent_weights[i]
        e.terms.append((j, u, first[j].delta, u * first[j].delta))
    k = e.truncation
    if k is None:
        e.value = sum_in_order(u * d for _, u, d, _ in e.terms)
    else:
        value = 0
        for age in range(1, min(len(first[0].delta_parts), k - 1) + 1):
            value = value + sum_in_order(n.recurrent_weights[i] * r.delta_parts[age - 1]
                                for n, r in zip(layer.neurons, first))
        e.value = value
    e.simulator_value = layer.initial_state_grad[i]
    e.simulator_where = f"net.layers[{target.layer}].initial_state_grad[{i}]"
    if layer.learn_initial_state:
        e.simulator_where += f" (net.gradient_arrays()[{target.layer}][3][{i}])"


def _explain_delta(e):
    target = e.target
    record = e.net.history[target.step - 1][target.layer][target.neuron]
    if target.gate is not None:
        record = record.gates[target.gate]
    e.simulator_value = record.delta
    e.simulator_where = target.python()
    if target.gate is not None and e.truncation is None:
        line = gated.gated_line(e.net, target.layer, target.neuron, target.step)
        e.value = line.gates[target.gate].delta
    elif e.truncation is not None:
        parts = _parts(record)
        value = parts[0] if parts else None
        for part in parts[1:]:
            value = value + part
        e.value = value
    else:
        line = backward_line(e.net, target.layer, target.neuron, target.step)
        e.value = None if line is None else line.delta


# ---------------------------------------------------------------- one δ, recomputed
@dataclass
class BackwardLine:
    """δ_j[t] of one neuron, from the numbers its formula takes (full BPTT).

    ``source``: "loss" (the output layer at a step with a target: e is
    ∂E_t/∂a_j[t]), "above" (e = Σ_m w_mj δ_m[t], ``e_terms`` (m, w_mj, δ_m[t]))
    or "none" (nothing reaches the layer above at this step: e = 0).
    ``r_terms``: (i, u_ij, δ_i[t+1]) of a recurrent neuron (empty at t = T);
    ``r`` None for a dense neuron.  ``paired``: the loss's δ = ∂E_t/∂z_j[t]
    at a paired output (then δ = paired + r·g'(z)).
    """

    layer: int
    neuron: int
    step: int
    source: str
    e: object
    e_terms: list
    r: object
    r_terms: list
    derivative: object
    paired: object
    delta: object
    softmax: bool = False


def backward_line(net, l, j, t):
    """The :class:`BackwardLine` of ``net.layers[l].neurons[j]`` at step ``t``,
    computed in the simulator's order (so ``delta`` equals the stored δ); None
    where no gradient reaches the neuron at that step."""
    history, layers = net.history, net.layers
    record = history[t - 1][l][j]
    if record.delta is None:
        return None
    layer = layers[l]
    top = len(layers) - 1
    paired = None
    e_terms = []
    if l == top:
        target = net.targets[t - 1]
        if target is None:
            source, e = "none", 0
        else:
            source = "loss"
            scale = 1
            if net.step_loss == "mean":
                scale = net.numbers.convert(1) / sum(v is not None for v in net.targets)
            outputs = [r.output for r in history[t - 1][l]]
            e = net.loss.output_grads(outputs, target)[j] * scale
            if is_paired(net):
                paired = net.loss.paired_delta(outputs, target)[j] * scale
    else:
        source, e, e_terms = gated.output_path(net, l, j, t)
    r, r_terms = None, []
    if layer.is_recurrent:
        r = 0
        if t < len(history):
            r_terms = [(i, neuron.recurrent_weights[j], history[t][l][i].delta)
                       for i, neuron in enumerate(layer.neurons)]
            r = sum_in_order(u * d for _, u, d in r_terms)
    g = record.derivative
    softmax = layer.activation.is_layerwise
    if paired is not None:
        delta = paired if r is None else paired + r * g
    elif softmax:
        delta = record.delta       # the Jacobian of the whole layer (see Layer.back_prop)
    else:
        delta = (e if r is None else e + r) * g
    return BackwardLine(l, j, t, source, e, e_terms, r, r_terms, g, paired, delta, softmax)


# ---------------------------------------------------------------- rendering
def _at(w, kind, layer, j, t):
    """z₁⁽²⁾[3], δ₁⁽²⁾[3], a₁⁽²⁾[0]: a neuron quantity at a step."""
    return f"{w.label(kind, layer, j)}[{t}]"


def _path(w, letter, layer, j, t):
    """e₁⁽²⁾[3] or r₁⁽²⁾[3]: the output or recurrent path of δ₁⁽²⁾[3]."""
    return letter + w.label("a", layer, j)[1:] + f"[{t}]"


def _generic(w, kind, j, letter, superscript):
    """w₁ₖ⁽²⁾ / u_{1i}^{(2)}: a label with a summed index."""
    if w.style == "latex":
        return f"{kind}_{{{j + 1}{letter}}}^{{({superscript})}}"
    return (kind + str(j + 1).translate(_TEXT_SUB) + _TEXT_LETTER[letter]
            + f"({superscript})".translate(_TEXT_SUP))


def _one_index(w, kind, letter, superscript, step):
    """a_k^(1)[t]: a summed neuron index at a step."""
    if w.style == "latex":
        return f"{kind}_{letter}^{{({superscript})}}[{step}]"
    return kind + _TEXT_LETTER[letter] + f"({superscript})".translate(_TEXT_SUP) + f"[{step}]"


def _sum_symbol(w, letter):
    return rf"\sum_{letter} " if w.style == "latex" else f"Σ_{letter} "


def render_time_explanation(e, format="plain", digits=9, bias_as_weight=False):
    """A :class:`TimeExplanation` as text (plain, Markdown or LaTeX): the sum over
    the steps, every δ it needs from t = T back, and the simulator's value."""
    w = Writer(format, digits, e.convention, bias_as_weight)
    target = e.target
    gates = [layer for layer in e.net.layers if gated.is_gated(layer)]
    if target.gate is not None or target.kind in ("h", "c"):
        what = target.label(e.convention, w.style)
    else:
        what = w.label(target.kind, target.layer, target.neuron, target.input)
    if target.kind in ("delta", "a") and target.gate is None:
        what = _at(w, target.kind, target.layer, target.neuron, target.step)
    if target.kind == "delta":
        z = _z_of_target(w, e)
        lhs = f"{what} = {w.partial('E', z)}"
    else:
        lhs = w.partial("E", what)
    lines = [heading(w, f"Explain {lhs}" if w.style != "latex" else f"Explain ${lhs}$")]
    lines.append(w.text(convention_note(e.convention, bias_as_weight) + "  u_ji^(l) feeds "
                        "neuron j of recurrent layer l from neuron i of the same layer at the "
                        "step before (its superscript is the layer's own number in both "
                        "conventions); [t] is the time step, t = 1..T."
                        + (GATE_NOTE if gates else "")))
    lines.append(w.text(f"Label {e.label_text!r} read as ") + inline(w, what)
                 + w.text(f" = {target.python()}."))
    lines.append(w.text(_sequence_sentence(w, e)))
    lines.append(w.text(_bptt_sentence(e, w.style)))
    legend = derivative_legend(w, e, target.layer)
    gate_legend = gated.legend(w, e.net, target.layer)
    if gate_legend:
        legend = (legend + "  " if legend else "") + "Gates: " + gate_legend + "."
    if legend:
        lines.append(w.text(legend))
    if target.kind in ("w", "u", "b") and target.gate is not None:
        lines += gated.parameter_block(w, e, display, inline)
    elif target.kind in ("w", "u", "b"):
        lines += _parameter_block(w, e)
    elif target.kind in ("h", "c") and target.step == 0:
        lines += _gated_initial_state_block(w, e)
    elif target.kind == "a":
        lines += _initial_state_block(w, e)
    elif target.kind in ("h", "c"):
        lines.append(w.text(f"∂E/∂{target.kind} at one step is computed from the last step "
                            "back; the lines below give every δ it needs."))
    else:
        lines.append(w.text("δ = ∂E/∂z at one step is computed from the last step back; the "
                            "lines below give every δ it needs."))
    if e.truncation is None:
        lines.append(w.text("Each δ[t], from the last step back: e = ∂E/∂a from the layer "
                            "above at the same step (the output path), r = from the same "
                            "layer at step t+1 (the recurrent path; 0 at t = T), "
                            "δ = (e + r)·g'(z)."
                            + (GATE_ROWS if any(gated.is_gated(layer) for layer
                                                in e.net.layers[target.layer:]) else "")))
    else:
        lines.append(w.text("Each δ[t], from the last step back, as the sum of its parts by "
                            "age (the part of age a comes from E_(t+a), through recurrent "
                            "paths).  A layer above every recurrent layer only ever gets its "
                            "own step's part."))
    lines += _delta_blocks(w, e)
    lines.append(w.text(_agreement(w, e)))
    return "\n\n".join(lines) + "\n"


GATE_NOTE = ("  In an LSTM or GRU layer gate q (i, f, g, o; r, z, n) of unit j has "
             "w_q,jk^(l), u_q,jm^(l) (from h_m[t−1]) and two biases, b_xq,j^(l) (input side, "
             "torch's bias_ih) and b_hq,j^(l) (recurrent side, bias_hh); a_q,j[t] is the gate's "
             "value, h_j[t] and c_j[t] the unit's hidden and cell state.")
GATE_ROWS = ("  In an LSTM or GRU unit: dE/dh[t] = e + r (r through every gate's recurrent "
             "weights at step t+1, and in a GRU the direct path z[t+1]·dE/dh[t+1]); then each "
             "gate's δ = dE/da·g'(z), in an LSTM through dE/dc[t] = dE/dh·o·tanh'(c) + "
             "f[t+1]·dE/dc[t+1] (the path through the next step's forget gate), in a GRU "
             "through (1 − z) for n, (h[t−1] − n) for z and δ_n·s (s = U_n h[t−1] + b_hn) for r.")


def _z_of_target(w, e):
    """z of the δ being explained: z₁⁽²⁾[3] or z_f,1⁽²⁾[3]."""
    target = e.target
    if target.gate is not None:
        return gated.gate_label(w, "z", target.layer, target.gate, target.neuron, target.step)
    return _at(w, "z", target.layer, target.neuron, target.step)


def _gated_initial_state_block(w, e):
    target = e.target
    layer = e.net.layers[target.layer]
    status = ("learned (a parameter: the update changes it)" if layer.learn_initial_state else
              "fixed (not learned: the update leaves it; the derivative is shown all the same)")
    if target.kind == "c":
        text = ("It enters E only through c[1] = f[1]·c[0] + i[1]·g[1], so "
                "dE/dc_i[0] = f_i[1]·dE/dc_i[1]")
    else:
        text = ("It enters E through z_q,j[1] of every gate q of every unit j of its layer, "
                "with ∂z_q,j[1]/∂h_i[0] = u_q,ji (r_j[1]·u_n,ji for the GRU's new gate), so "
                "dE/dh_i[0] = Σ_q Σ_j u_q,ji δ_q,j[1]")
        if layer.kind == "gru":
            text += " + z_i[1]·dE/dh_i[1] (h[1] = (1 − z)·n + z·h[0])"
    eq = "&= " if w.fmt == "latex" else "= "
    return [w.text(f"The initial state is {status}.  {text}:"),
            display(w, gated.initial_state_rows(w, e, eq))]


def _sequence_sentence(w, e):
    def vector(values):
        return "(" + ", ".join(w.num(v) for v in values) + ")"

    xs = ", ".join(f"x[{t}] = {vector(x)}" for t, x in enumerate(e.xs, start=1))
    none = "--" if w.style == "latex" else "—"
    ts = ", ".join(f"t[{t}] = {none if v is None else vector(v)}"
                   for t, v in enumerate(e.targets, start=1))
    losses = [(t, v) for t, v in enumerate(e.step_losses, start=1) if v is not None]
    terms = " + ".join(f"E_{t}" for t, _ in losses)
    numbers = " + ".join(w.num(v) for _, v in losses)
    combined = (f"E = {terms} = {numbers}" if e.step_loss == "sum" else
                f"E = ({terms})/{len(losses)} = ({numbers})/{len(losses)}")
    return (f"Sequence of T = {len(e.xs)} steps: {xs}; targets {ts} ({none} : no target at "
            f"that step).  Loss {e.loss_name} at each step with a target, step_loss "
            f"{e.step_loss}: {combined} = {w.num(e.loss_value)}; numbers {e.numbers_name}.")


def _bptt_sentence(e, style="text"):
    k = e.truncation
    text = ("One forward pass and one backpropagation through time on a copy of the network "
            "(no update).  ")
    if k is None or k >= len(e.xs):
        ge = r"$\geq$" if style == "latex" else "≥"
        return text + (f"Full BPTT: every δ[t] holds the gradient of every E_t' with t' {ge} t."
                       if k is None else
                       f"Truncated BPTT with k = {k} {ge} T: the same as full BPTT here.")
    if style == "latex":
        first, last = "δ^(0)[t]", f"δ^({k - 1})[t]"
    else:
        first, last = "δ⁽⁰⁾[t]", "δ" + f"({k - 1})".translate(_TEXT_SUP) + "[t]"
    return text + (f"Truncated BPTT with k = {k}: the gradient of each E_t' is followed back at "
                   f"most {k} step{'s' if k > 1 else ''} (a[t'−{k}] held fixed), so δ[t] keeps "
                   f"only its parts from E_t, …, E_(t+{k - 1}) (δ[t] = {first} + … + "
                   f"{last}, the part of age a coming from "
                   f"E_(t+a)); the parts from E_(t+{k}), …, E_T are the terms truncation "
                   "drops.")


def _parameter_block(w, e):
    net, target = e.net, e.target
    l, j = target.layer, target.neuron
    layer = net.layers[l]
    superscript = lab.weight_superscript(l, e.convention)
    step = "t"
    minus = "-" if w.style == "latex" else "−"
    parts = [_sum_symbol(w, "k") + _generic(w, "w", j, "k", superscript) + w.times
             + _one_index(w, "a", "k", l + 1, step)]
    if layer.is_recurrent:
        parts.append(_sum_symbol(w, "i") + _generic(w, "u", j, "i", l + 2) + w.times
                     + _one_index(w, "a", "i", l + 2, f"t{minus}1"))
    parts.append(f"{w.label('b', l, j)}{w.times}{w.one()}" if w.bias_as_weight
                 else w.label("b", l, j))
    z = _at(w, "z", l, j, "t")
    parameter = w.label(target.kind, l, j, target.input)
    if target.kind == "w":
        slope = _at(w, "a", l - 1, target.input, "t")
    elif target.kind == "u":
        slope = _at(w, "a", l, target.input, f"t{minus}1")
    else:
        slope = f"{w.one()} = 1" if w.bias_as_weight else "1"
    lhs = w.partial("E", parameter)
    eq = "&= " if w.fmt == "latex" else "= "
    pad = "" if w.fmt == "latex" else " " * (len(lhs) + 1)
    blocks = [w.text("The parameter enters E through ") + inline(w, z)
              + w.text(" at every step t = 1..T:"),
              display(w, [f"{z} {eq}{' + '.join(parts)}",
                          f"{w.partial(z, parameter)} {eq}{slope}"])]
    steps = [(_at(w, "delta", l, j, t),
              _at(w, "a", l - 1, target.input, t) if target.kind == "w" else
              _at(w, "a", l, target.input, t - 1) if target.kind == "u" else None,
              delta, value, product)
             for t, delta, value, product in e.terms]
    symbolic, numeric, products = sum_over_t(w, steps, w.times)
    sigma = r"\sum_t " if w.style == "latex" else "Σ_t "
    general = _at(w, "delta", l, j, "t") + ("" if target.kind == "b" else w.times + slope)
    rows = [f"{lhs} {eq}{sigma}{general}", f"{pad}{eq}{' + '.join(symbolic)}"]
    if target.kind != "b":
        rows.append(f"{pad}{eq}{' + '.join(numeric)}")
    rows += [f"{pad}{eq}{' + '.join(products)}", f"{pad}{eq}{w.num(e.value)}"]
    missing = [t for t, delta, _, _ in e.terms if delta is None]
    note = ""
    if missing:
        note = (f"  No gradient reaches this neuron at step{'s' if len(missing) > 1 else ''} "
                f"{', '.join(str(t) for t in sorted(missing))} (no target there and no "
                "recurrent layer at or above it), so those terms are 0.")
    if e.truncation is not None:
        note += ("  With truncated BPTT the simulator adds each δ[t] part by part (by age), "
                 "so the last sum is taken over the parts.")
    if note:
        blocks.append(w.text(note.strip()))
    blocks.append(w.text("So, summing over the steps (added from t = T down, as "
                         "backpropagation through time computes them):"))
    blocks.append(display(w, rows))
    return blocks


def _initial_state_block(w, e):
    net, target = e.net, e.target
    l, i = target.layer, target.neuron
    a0 = _at(w, "a", l, i, 0)
    lhs = w.partial("E", a0)
    eq = "&= " if w.fmt == "latex" else "= "
    pad = "" if w.fmt == "latex" else " " * (len(lhs) + 1)
    symbolic = " + ".join(f"{w.label('u', l, j, i)}{w.times}{_at(w, 'delta', l, j, 1)}"
                          for j, _, _, _ in e.terms)
    numeric = " + ".join(f"{w.fac(u)}{w.times}{w.fac(d)}" for _, u, d, _ in e.terms)
    learned = net.layers[l].learn_initial_state
    status = ("learned (a parameter: the update changes it)" if learned else
              "fixed (not learned: the update leaves it; the derivative is shown all the same)")
    rows = [f"{lhs} {eq}{symbolic}", f"{pad}{eq}{numeric}", f"{pad}{eq}{w.num(e.value)}"]
    text = (f"The initial state is {status}.  It enters E only through z_j[1] of every neuron "
            f"j of its layer, with ∂z_j[1]/∂a_i[0] = u_ji, so dE/da_i[0] = Σ_j u_ji δ_j[1]")
    if e.truncation is not None:
        text += (f" (truncated BPTT: only the parts of δ[1] that may still cross one more "
                 f"step, from E_1, …, E_{e.truncation - 1})")
    return [w.text(text + ":"), display(w, rows)]


def _needed(net, target):
    """(layer, neuron) pairs whose δ the derivation shows, from the output down:
    every neuron of the target's layer and the layers above (a recurrent
    layer's δ_j[t] needs every δ_i[t+1] of its layer)."""
    pairs = []
    for l in range(len(net.layers) - 1, target.layer - 1, -1):
        for j in range(net.layers[l].size):
            pairs.append((l, j))
    return pairs


def _delta_blocks(w, e):
    net, target = e.net, e.target
    eq = "&= " if w.fmt == "latex" else "= "
    blocks = []
    for t in range(len(net.history), e.first_step - 1, -1):
        rows = []
        for l, j in _needed(net, target):
            rows += _delta_rows(w, e, l, j, t, eq)
        if not rows:
            rows = ["(no gradient reaches these layers at this step)"]
        blocks.append(w.text(f"t = {t}:"))
        blocks.append(display(w, rows))
    return blocks


def _delta_rows(w, e, l, j, t, eq):
    net = e.net
    if gated.is_gated(net.layers[l]):
        if e.truncation is not None:
            return gated.truncated_gated_rows(w, e, l, j, t, eq)
        return gated.gated_rows(w, e, l, j, t, eq)
    record = net.history[t - 1][l][j]
    if record.delta is None:
        return []
    d = _at(w, "delta", l, j, t)
    if e.truncation is not None:
        return _truncated_rows(w, e, l, j, t, eq, record)
    line = backward_line(net, l, j, t)
    layer = net.layers[l]
    rows = []
    z = _at(w, "z", l, j, t)
    epath, rpath = _path(w, "e", l, j, t), _path(w, "r", l, j, t)
    if line.source == "loss":
        a, target = _at(w, "a", l, j, t), f"{w.t(j)}[{t}]"
        scale = "" if e.step_loss == "sum" else f"{w.times}1/{sum(v is not None for v in net.targets)}"
        if line.paired is not None:
            total = (r"\sum t" if w.style == "latex" else "Σt") + f"[{t}]"
            shortcut = (f"{a}{w.times}{total}{w.minus}{target}" if e.loss_name == "cross_entropy"
                        else f"{a}{w.minus}{target}")
            name = d if line.r is None else w.partial("E", z)
            note = "" if w.style == "latex" else "   (the loss pairs with g: ∂E_t/∂z directly)"
            rows.append(f"{name} {eq}({shortcut}){scale} = {w.num(line.paired)}{note}")
            if line.r is None:
                return rows
        else:
            rows.append(f"{epath} {eq}{w.partial('E', a)} = "
                        f"{loss_derivative(w, e.loss_name, a, target, layer.size)}{scale} = "
                        f"{w.num(line.e)}")
    elif line.source == "above":
        pairs = [gated.row_labels(w, net, l + 1, m, t, j) for m, _, _ in line.e_terms]
        symbolic = " + ".join(f"{wl}{w.times}{dl}" for wl, dl in pairs)
        numeric = " + ".join(f"{w.fac(wt)}{w.times}{w.fac(dm)}" for _, wt, dm in line.e_terms)
        rows.append(f"{epath} {eq}{symbolic} = {numeric} = {w.num(line.e)}")
    else:
        why = "no target at this step" if l == len(net.layers) - 1 else \
              "no gradient reaches the layer above at this step"
        rows.append(f"{epath} {eq}0   ({why})")
    if line.r is not None:
        if not line.r_terms:
            rows.append(f"{rpath} {eq}0   (t = T: no later step)")
        else:
            symbolic = " + ".join(f"{w.label('u', l, i, j)}{w.times}{_at(w, 'delta', l, i, t + 1)}"
                                  for i, _, _ in line.r_terms)
            numeric = " + ".join(f"{w.fac(u)}{w.times}{w.fac(di)}" for _, u, di in line.r_terms)
            rows.append(f"{rpath} {eq}{symbolic} = {numeric} = {w.num(line.r)}")
    g = f"g'({z})"
    if line.softmax:
        rows.append(f"{d} {eq}(softmax layer: its Jacobian applied to {epath}) = "
                    f"{w.num(line.delta)}")
    elif line.paired is not None and line.r is not None:
        rows.append(f"{d} {eq}{w.partial('E', z)} + {rpath}{w.times}{g} = {w.fac(line.paired)} + "
                    f"{w.fac(line.r)}{w.times}{w.fac(line.derivative)} = {w.num(line.delta)}")
    elif line.r is not None:
        rows.append(f"{d} {eq}({epath} + {rpath}){w.times}{g} = ({w.fac(line.e)} + "
                    f"{w.fac(line.r)}){w.times}{w.fac(line.derivative)} = {w.num(line.delta)}")
    else:
        rows.append(f"{d} {eq}{epath}{w.times}{g} = {w.fac(line.e)}{w.times}"
                    f"{w.fac(line.derivative)} = {w.num(line.delta)}")
    return rows


def _truncated_rows(w, e, l, j, t, eq, record):
    """Truncated BPTT: δ[t] as the sum of its parts by age, and what is dropped."""
    d = _at(w, "delta", l, j, t)
    parts = record.delta_parts
    k = e.truncation
    sup = str.maketrans("0123456789()", "⁰¹²³⁴⁵⁶⁷⁸⁹⁽⁾")
    names = [(f"{{{d[:-len(f'[{t}]')]}}}^{{({a})}}[{t}]" if w.style == "latex"
              else d[:-len(f'[{t}]')] + f"({a})".translate(sup) + f"[{t}]")
             for a in range(len(parts))]
    sources = ", ".join(f"E_{t + a}" for a in range(len(parts)))
    later = range(t + k, len(e.xs) + 1)
    if not any(layer.is_recurrent for layer in e.net.layers[l:]):
        note = f"from E_{t} only"
    elif later:
        note = f"parts from {sources}; dropped: {', '.join(f'E_{s}' for s in later)}"
    else:
        note = f"parts from {sources}; none dropped"
    note = "" if w.style == "latex" else f"   ({note})"
    if len(parts) == 1:
        return [f"{d} {eq}{names[0]} = {w.num(record.delta)}{note}"]
    return [f"{d} {eq}{' + '.join(names)} = {' + '.join(w.fac(p) for p in parts)} = "
            f"{w.num(record.delta)}{note}"]


def _agreement(w, e):
    where, value = e.simulator_where, w.num(e.simulator_value)
    if e.value == e.simulator_value:
        how = "exactly equal to the value above"
    else:
        how = (f"not equal to the value above ({w.num(e.value)}): please report this "
               "as a bug")
    return f"The simulator computes {where} = {value}, {how}."
