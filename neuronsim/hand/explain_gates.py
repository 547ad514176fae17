"""The chain rule through time in LSTM and GRU layers, with numbers: one unit at one step.

:mod:`neuronsim.hand.explain_time` writes a derivation through time for any
stack; this module holds what a gated layer adds to it.  Unit j of an LSTM
layer at step t, from the last step back (:mod:`neuronsim.core.lstm`):

    dE/dh_j[t] = e_j[t] + r_j[t]        e: the output path (the layer above at t, or the loss),
                                        r_j[t] = Σ_q Σ_m u_q,mj δ_q,m[t+1] (0 at t = T)
    δ_o,j[t]   = dE/dh_j[t] · tanh(c_j[t]) · σ'(z_o,j[t])
    dE/dc_j[t] = dE/dh_j[t] · o_j[t] · tanh'(c_j[t]) + f_j[t+1] · dE/dc_j[t+1]
                                        (the second term: the path through the next
                                        step's forget gate, 0 at t = T)
    δ_i,j[t]   = dE/dc_j[t] · g_j[t] · σ'(z_i,j[t])
    δ_f,j[t]   = dE/dc_j[t] · c_j[t-1] · σ'(z_f,j[t])
    δ_g,j[t]   = dE/dc_j[t] · i_j[t] · tanh'(z_g,j[t])

and of a GRU layer (:mod:`neuronsim.core.gru`; s_j = Σ_m u_n,jm h_m[t-1] + b^h_n,j):

    dE/dh_j[t] = e_j[t] + r_j[t],  r_j[t] = z_j[t+1] · dE/dh_j[t+1] + Σ_q Σ_m u_q,mj δ^h_q,m[t+1]
    δ_n,j[t]   = dE/dh_j[t] · (1 − z_j[t]) · tanh'(z_n,j[t])        (δ^h_n,j = r_j δ_n,j)
    δ_z,j[t]   = dE/dh_j[t] · (h_j[t-1] − n_j[t]) · σ'(z_z,j[t])
    δ_r,j[t]   = δ_n,j[t] · s_j[t] · σ'(z_r,j[t])

A gate's parameters then sum over the steps: dE/dw_q,jk = Σ_t δ_q,j[t] a_k[t],
dE/du_q,jm = Σ_t δ^h_q,j[t] h_m[t-1], dE/db^x_q,j = Σ_t δ_q,j[t] and
dE/db^h_q,j = Σ_t δ^h_q,j[t] (δ^h = δ except the GRU's new gate).

:func:`gated_line` recomputes every one of these numbers from the stored
forward values and the δ of the layer above and of step t+1, in the order
the core computes them, so each equals ``net.history`` bit for bit (full
BPTT; truncated BPTT keeps every quantity as a sum of parts by age, which
the derivation lists part by part).
"""

from dataclasses import dataclass

from ..core.gates import GatedLayer
from ..core.labels import GATE_LETTERS, weight_superscript
from .common import loss_derivative, sum_over_t
from .label_parse import Target

_TEXT_SUB_LETTER = {"k": "ₖ", "m": "ₘ", "i": "ᵢ"}
_TEXT_SUP = str.maketrans("0123456789()", "⁰¹²³⁴⁵⁶⁷⁸⁹⁽⁾")


def is_gated(layer):
    return isinstance(layer, GatedLayer)


# ---------------------------------------------------------------- numbers
def layer_deltas(net, l, t):
    """δ of every neuron of ``net.layers[l]`` at step t, in ``layer.neurons``
    order (torch's rows for a gated layer); None where no gradient reached it."""
    layer, records = net.layers[l], net.history[t - 1][l]
    if is_gated(layer):
        n = layer.size
        return [records[row % n].gates[layer.GATES[row // n]].delta
                for row in range(len(layer.neurons))]
    if records[0].delta is None:
        return None
    return [record.delta for record in records]


def output_path(net, l, j, t):
    """(source, e, terms) of unit or neuron j of ``net.layers[l]`` at step t:
    "loss" (e = ∂E_t/∂a_j[t], scaled for step_loss mean), "above"
    (e = Σ_m w_mj δ_m[t] over the neurons m of the layer above, in its order,
    ``terms`` (m, w_mj, δ_m[t])) or "none" (e = 0)."""
    layers, history = net.layers, net.history
    if l == len(layers) - 1:
        target = net.targets[t - 1]
        if target is None:
            return "none", 0, []
        scale = 1
        if net.step_loss == "mean":
            scale = net.numbers.convert(1) / sum(v is not None for v in net.targets)
        outputs = [record.output for record in history[t - 1][l]]
        return "loss", net.loss.output_grads(outputs, target)[j] * scale, []
    deltas = layer_deltas(net, l + 1, t)
    if deltas is None:
        return "none", 0, []
    terms = [(m, neuron.weights[j], d) for m, (neuron, d)
             in enumerate(zip(layers[l + 1].neurons, deltas))]
    e = 0
    for _, w, d in terms:
        e = e + w * d
    return "above", e, terms


@dataclass
class GateLine:
    """One gate of one unit at one step: dE/da (``output_grad``), g'(z)
    (``derivative``), δ = dE/da · g'(z) and δ^h (the GRU's new gate: r · δ)."""

    output_grad: object
    derivative: object
    delta: object
    hidden_delta: object


@dataclass
class GatedLine:
    """Unit ``unit`` of gated layer ``layer`` at ``step``, recomputed (full BPTT).

    ``source``, ``e``, ``e_terms``: the output path (see :func:`output_path`).
    ``r_terms``: (row, u_row,j, δ^h_row[t+1]) over the layer's gate neurons
    (empty at t = T); ``recurrent_sum`` their sum; ``direct`` the GRU's
    z_j[t+1] · dE/dh_j[t+1] (None for an LSTM or at t = T); ``r`` the whole
    recurrent path.  ``output_grad``: dE/dh_j[t].  LSTM: ``cell_path``
    (f_j[t+1] · dE/dc_j[t+1], 0 at T) and ``cell_grad`` (dE/dc_j[t]).
    ``gates``: {name: :class:`GateLine`}.
    """

    layer: int
    unit: int
    step: int
    kind: str
    source: str
    e: object
    e_terms: list
    r_terms: list
    recurrent_sum: object
    direct: object
    r: object
    output_grad: object
    cell_path: object
    cell_grad: object
    gates: dict


def gated_line(net, l, j, t):
    """The :class:`GatedLine` of unit j of the LSTM or GRU layer ``net.layers[l]``
    at step t, each number computed as the core computes it (so it equals the
    stored one exactly, full BPTT)."""
    layer, history = net.layers[l], net.history
    record = history[t - 1][l][j]
    source, e, e_terms = output_path(net, l, j, t)
    r_terms, recurrent_sum, direct, r = [], 0, None, 0
    later = history[t][l] if t < len(history) else None
    if later is not None:
        n = layer.size
        for row, neuron in enumerate(layer.neurons):
            saved = later[row % n].gates[layer.GATES[row // n]]
            r_terms.append((row, neuron.recurrent_weights[j], saved.hidden_delta))
            recurrent_sum = recurrent_sum + neuron.recurrent_weights[j] * saved.hidden_delta
        r = recurrent_sum
        if layer.kind == "gru":
            direct = later[j].gates["update"].output * later[j].output_grad
            r = direct + recurrent_sum
    output_grad = e + r
    gates = record.gates
    lines = {}

    def gate(name, grad, factor=None):
        derivative = gates[name].derivative
        delta = grad * derivative
        lines[name] = GateLine(grad, derivative, delta,
                               delta if factor is None else factor * delta)
        return delta

    cell_path = cell_grad = None
    if layer.kind == "lstm":
        gate("output", output_grad * record.cell_tanh)
        cell_path = 0 if later is None else later[j].cell_grad * later[j].gates["forget"].output
        cell_grad = output_grad * gates["output"].output * record.cell_derivative + cell_path
        gate("input", cell_grad * gates["cell"].output)
        gate("forget", cell_grad * record.previous_cell)
        gate("cell", cell_grad * gates["input"].output)
    else:
        delta_new = gate("new", output_grad * (1 - gates["update"].output),
                         gates["reset"].output)
        gate("update", output_grad * (record.previous[j] - gates["new"].output))
        gate("reset", delta_new * gates["new"].hidden_part)
    return GatedLine(l, j, t, layer.kind, source, e, e_terms, r_terms, recurrent_sum, direct, r,
                     output_grad, cell_path, cell_grad, lines)


def initial_state_value(net, l, i, kind):
    """dE/dh_i[0] (``kind`` "h") or dE/dc_i[0] ("c") of a gated layer, as the
    core adds it (full BPTT: 0 + what step 1 sends back):
    Σ_q Σ_j u_q,ji δ^h_q,j[1] (+ z_i[1] · dE/dh_i[1] first, in a GRU), or
    f_i[1] · dE/dc_i[1]."""
    layer, first = net.layers[l], net.history[0][l]
    if kind == "c":
        return 0 + first[i].cell_grad * first[i].gates["forget"].output
    n = layer.size
    total = 0
    for row, neuron in enumerate(layer.neurons):
        total = total + neuron.recurrent_weights[i] * first[row % n].gates[
            layer.GATES[row // n]].hidden_delta
    if layer.kind == "gru":
        total = first[i].gates["update"].output * first[i].output_grad + total
    return 0 + total


def hidden_parts(record, gate_name):
    """The δ^h of one gate at one step as the core added it to the recurrent
    sums: part by part (truncated BPTT) or whole; [] if no gradient came.
    δ^h = δ, except r · δ for the GRU's new gate."""
    saved = record.gates[gate_name]
    parts = delta_parts(saved)
    if gate_name != "new":
        return parts
    r = record.gates["reset"].output
    return [r * part for part in parts]


def delta_parts(saved):
    """A gate's δ at one step as the core added it: its parts by age, or the whole."""
    if saved.delta is None:
        return []
    return list(saved.delta_parts) if saved.delta_parts is not None else [saved.delta]


# ---------------------------------------------------------------- labels
def gate_label(w, kind, l, gate, j, t=None, k=None, side=None):
    """w_f,12⁽²⁾, b_xo,1⁽²⁾, δ_f,1⁽²⁾[3] ... in the writer's style and convention."""
    return Target(kind, l, j, k, t, gate=gate, side=side).label(w.convention, w.style)


def state_label(w, kind, l, j, t):
    """h₁⁽²⁾[3] or c₁⁽²⁾[3]."""
    return Target(kind, l, j, None, t).label(w.convention, w.style)


def output_label(w, net, l, k, t):
    """The output of unit or neuron k of ``net.layers[l]`` at step t: a_k^(l)[t],
    h_k^(l)[t] for a gated layer, a_k^(1)[t] = x_k[t] for l = -1."""
    if l >= 0 and is_gated(net.layers[l]):
        return state_label(w, "h", l, k, t)
    return f"{w.label('a', l, k)}[{t}]"


def row_labels(w, net, l, m, t, k):
    """(weight label, δ label) of neuron m of ``net.layers[l]`` (a torch row of a
    gated layer) from input k, and its δ at step t."""
    layer = net.layers[l]
    if is_gated(layer):
        gate, unit = layer.GATES[m // layer.size], m % layer.size
        return (gate_label(w, "w", l, gate, unit, k=k), gate_label(w, "delta", l, gate, unit, t))
    return w.label("w", l, m, k), f"{w.label('delta', l, m)}[{t}]"


def generic(w, kind, letters, j, index, superscript):
    """w_f,1k⁽²⁾ / u_{f,1m}^{(2)}: a gate's parameter with a summed index."""
    if w.style == "latex":
        return f"{kind}_{{{letters},{j + 1}{index}}}^{{({superscript})}}"
    return f"{kind}_{letters},{j + 1}{index}" + f"({superscript})".translate(_TEXT_SUP)


def generic_output(w, net, l, index, step):
    """a_k^(l)[t] / h_m^(l)[t−1] with a summed index."""
    kind = "h" if l >= 0 and is_gated(net.layers[l]) else "a"
    if w.style == "latex":
        return f"{kind}_{index}^{{({l + 2})}}[{step}]"
    return kind + _TEXT_SUB_LETTER[index] + f"({l + 2})".translate(_TEXT_SUP) + f"[{step}]"


def sum_over(w, index):
    return rf"\sum_{index} " if w.style == "latex" else f"Σ_{index} "


def function(w, name):
    """σ, σ', tanh, tanh' in the writer's style."""
    if w.style == "latex":
        return {"σ": r"\sigma", "σ'": r"\sigma'", "tanh": r"\tanh", "tanh'": r"\tanh'"}[name]
    return name


def derivative_name(w, layer, gate):
    """σ' or tanh': the derivative of ``gate``'s activation."""
    return function(w, "tanh'" if layer.GATE_ACTIVATIONS[gate] == "tanh" else "σ'")


def minus(w):
    return "-" if w.style == "latex" else "−"


# ---------------------------------------------------------------- rows of a derivation
def gated_rows(w, e, l, j, t, eq):
    """The rows of unit j of gated layer l at step t: e, r, dE/dh, (dE/dc,) every
    gate's δ, each with its numbers (full BPTT)."""
    net = e.net
    layer = net.layers[l]
    line = gated_line(net, l, j, t)
    records = net.history[t - 1][l]
    record = records[j]
    gates = record.gates
    rows = []
    h = state_label(w, "h", l, j, t)
    dh = w.partial("E", h)
    epath = "e" + h[1:]
    rpath = "r" + h[1:]
    if line.source == "loss":
        target = f"{w.t(j)}[{t}]"
        scale = ("" if e.step_loss == "sum"
                 else f"{w.times}1/{sum(v is not None for v in net.targets)}")
        rows.append(f"{epath} {eq}{w.partial(f'E_{t}', h)}{scale} = "   # this step's loss
                    f"{loss_derivative(w, e.loss_name, h, target, layer.size)}{scale} = "
                    f"{w.num(line.e)}")
    elif line.source == "above":
        pairs = [row_labels(w, net, l + 1, m, t, j) for m, _, _ in line.e_terms]
        symbolic = " + ".join(f"{wl}{w.times}{dl}" for wl, dl in pairs)
        numeric = " + ".join(f"{w.fac(wt)}{w.times}{w.fac(dm)}" for _, wt, dm in line.e_terms)
        rows.append(f"{epath} {eq}{symbolic} = {numeric} = {w.num(line.e)}")
    else:
        why = ("no target at this step" if l == len(net.layers) - 1 else
               "no gradient reaches the layer above at this step")
        rows.append(f"{epath} {eq}0" + ("" if w.style == "latex" else f"   ({why})"))
    rows.append(_recurrent_row(w, net, l, j, t, line, rpath, eq))
    rows.append(f"{dh} {eq}{epath} + {rpath} = {w.fac(line.e)} + {w.fac(line.r)} = "
                f"{w.num(line.output_grad)}")
    times = w.times
    if line.kind == "lstm":
        c = state_label(w, "c", l, j, t)
        dc = w.partial("E", c)
        o = gate_label(w, "a", l, "output", j, t)
        rows.append(_delta_row(w, l, j, t, layer, "output", eq,
                               [dh, f"{function(w, 'tanh')}({c})"],
                               [line.output_grad, record.cell_tanh], line))
        later = t < len(net.history)
        if later:
            f_next = gate_label(w, "a", l, "forget", j, t + 1)
            dc_next = w.partial("E", state_label(w, "c", l, j, t + 1))
            nxt = net.history[t][l][j]
            path = f" + {f_next}{times}{dc_next}"
            path_numbers = f" + {w.fac(nxt.gates['forget'].output)}{times}{w.fac(nxt.cell_grad)}"
        else:
            path = path_numbers = ""
        rows.append(f"{dc} {eq}{dh}{times}{o}{times}{function(w, 'tanh')}'({c}){path} = "
                    f"{w.fac(line.output_grad)}{times}{w.fac(gates['output'].output)}{times}"
                    f"{w.fac(record.cell_derivative)}{path_numbers} = {w.num(line.cell_grad)}"
                    + ("" if later or w.style == "latex"
                       else "   (t = T: no forget path from a later step)"))
        previous_cell = state_label(w, "c", l, j, t - 1)
        for name, factor, value in (("input", gate_label(w, "a", l, "cell", j, t),
                                     gates["cell"].output),
                                    ("forget", previous_cell, record.previous_cell),
                                    ("cell", gate_label(w, "a", l, "input", j, t),
                                     gates["input"].output)):
            rows.append(_delta_row(w, l, j, t, layer, name, eq, [dc, factor],
                                   [line.cell_grad, value], line))
        return rows
    m = minus(w)
    z_gate = gate_label(w, "a", l, "update", j, t)
    n_gate = gate_label(w, "a", l, "new", j, t)
    before = state_label(w, "h", l, j, t - 1)
    rows.append(_delta_row(w, l, j, t, layer, "new", eq, [dh, f"(1 {m} {z_gate})"],
                           [line.output_grad, 1 - gates["update"].output], line))
    rows.append(_delta_row(w, l, j, t, layer, "update", eq, [dh, f"({before} {m} {n_gate})"],
                           [line.output_grad, record.previous[j] - gates["new"].output], line))
    s = _hidden_part_label(w, l, j, t)
    rows.append(f"{s} {eq}{sum_over(w, 'm')}{generic(w, 'u', 'n', j, 'm', l + 2)}{times}"
                f"{generic_output(w, net, l, 'm', _before(w, t))} + "
                f"{gate_label(w, 'b', l, 'new', j, side='hh')} = {w.num(gates['new'].hidden_part)}")
    rows.append(_delta_row(w, l, j, t, layer, "reset", eq,
                           [gate_label(w, "delta", l, "new", j, t), s],
                           [line.gates["new"].delta, gates["new"].hidden_part], line))
    return rows


def _before(w, t):
    """"t−1" as a step index, in the writer's style (t − 1 of a number: the number)."""
    if isinstance(t, int):
        return t - 1
    return f"t{minus(w)}1"


def _hidden_part_label(w, l, j, t):
    """s_n,j[t] = Σ_m u_n,jm h_m[t−1] + b^h_n,j: the GRU new gate's recurrent part."""
    if w.style == "latex":
        return f"s_{{n,{j + 1}}}^{{({l + 2})}}[{t}]"
    return f"s_n,{j + 1}" + f"({l + 2})".translate(_TEXT_SUP) + f"[{t}]"


def _delta_row(w, l, j, t, layer, name, eq, factors, values, line):
    """δ_q,j[t] = (factors) · g'(z_q,j[t]) = numbers = value."""
    g = line.gates[name]
    z = gate_label(w, "z", l, name, j, t)
    d = gate_label(w, "delta", l, name, j, t)
    symbolic = w.times.join(factors + [f"{derivative_name(w, layer, name)}({z})"])
    numeric = w.times.join([w.fac(v) for v in values] + [w.fac(g.derivative)])
    return f"{d} {eq}{symbolic} = {numeric} = {w.num(g.delta)}"


def _recurrent_row(w, net, l, j, t, line, rpath, eq):
    """r_j[t] = (z_j[t+1] · dE/dh_j[t+1] +) Σ_q Σ_m u_q,mj · δ^h_q,m[t+1], or 0 at t = T."""
    if not line.r_terms:
        return f"{rpath} {eq}0" + ("" if w.style == "latex" else "   (t = T: no later step)")
    layer = net.layers[l]
    n = layer.size
    symbolic, numeric = [], []
    if line.direct is not None:
        later = net.history[t][l][j]
        symbolic.append(f"{gate_label(w, 'a', l, 'update', j, t + 1)}{w.times}"
                        f"{w.partial('E', state_label(w, 'h', l, j, t + 1))}")
        numeric.append(f"{w.fac(later.gates['update'].output)}{w.times}"
                       f"{w.fac(later.output_grad)}")
    for row, u, hidden in line.r_terms:
        gate, m = layer.GATES[row // n], row % n
        delta = gate_label(w, "delta", l, gate, m, t + 1)
        if gate == "new":
            delta = f"({gate_label(w, 'a', l, 'reset', m, t + 1)}{w.times}{delta})"
        symbolic.append(f"{gate_label(w, 'u', l, gate, m, k=j)}{w.times}{delta}")
        numeric.append(f"{w.fac(u)}{w.times}{w.fac(hidden)}")
    return (f"{rpath} {eq}{' + '.join(symbolic)} = {' + '.join(numeric)} = {w.num(line.r)}")


def truncated_gated_rows(w, e, l, j, t, eq):
    """Truncated BPTT: each gate's δ_q,j[t] as the sum of its parts by age."""
    net = e.net
    layer = net.layers[l]
    record = net.history[t - 1][l][j]
    rows = []
    for name in layer.GATES:
        saved = record.gates[name]
        parts = delta_parts(saved)
        d = gate_label(w, "delta", l, name, j, t)
        base = d[:-len(f"[{t}]")]
        if w.style == "latex":
            names = [f"{{{base}}}^{{({a})}}[{t}]" for a in range(len(parts))]
        else:
            names = [base + f"({a})".translate(_TEXT_SUP) + f"[{t}]" for a in range(len(parts))]
        note = "" if w.style == "latex" else (
            "   (parts from " + ", ".join(f"E_{t + a}" for a in range(len(parts))) + ")")
        if len(parts) == 1:
            rows.append(f"{d} {eq}{names[0]} = {w.num(saved.delta)}{note}")
        else:
            rows.append(f"{d} {eq}{' + '.join(names)} = "
                        f"{' + '.join(w.fac(p) for p in parts)} = {w.num(saved.delta)}{note}")
    return rows


# ---------------------------------------------------------------- the parameter block
def parameter_block(w, e, display, inline):
    """dE/dθ = Σ_t δ_q,j[t] · ∂z_q,j[t]/∂θ for a gate's w, u, b^x or b^h."""
    net, target = e.net, e.target
    l, j, gate = target.layer, target.neuron, target.gate
    letter = _letter(gate)
    times = w.times
    before = _before(w, "t")
    z = gate_label(w, "z", l, gate, j, "t")
    sup = _weight_sup(w, l)
    input_side = (f"{sum_over(w, 'k')}{generic(w, 'w', letter, j, 'k', sup)}{times}"
                  f"{generic_output(w, net, l - 1, 'k', 't')} + "
                  f"{gate_label(w, 'b', l, gate, j, side='ih')}")
    recurrent_side = (f"{sum_over(w, 'm')}{generic(w, 'u', letter, j, 'm', l + 2)}{times}"
                      f"{generic_output(w, net, l, 'm', before)} + "
                      f"{gate_label(w, 'b', l, gate, j, side='hh')}")
    reset = gate_label(w, "a", l, "reset", j, "t")
    scaled = gate == "new"          # the GRU's new gate: r ⊙ (U_n h[t-1] + b^h_n)
    if scaled:
        recurrent_side = f"{reset}{times}({recurrent_side})"
    parameter = target.label(w.convention, w.style)
    if target.kind == "w":
        slope = output_label(w, net, l - 1, target.input, "t")
    elif target.kind == "u":
        slope = state_label(w, "h", l, target.input, before)
        if scaled:
            slope = f"{reset}{times}{slope}"
    elif target.side == "hh" and scaled:
        slope = reset
    else:
        slope = "1"
    hidden = target.kind == "u" or target.side == "hh"
    lhs = w.partial("E", parameter)
    eq = "&= " if w.fmt == "latex" else "= "
    pad = "" if w.fmt == "latex" else " " * (len(lhs) + 1)
    blocks = [w.text("The parameter enters E through ") + inline(w, z)
              + w.text(" at every step t = 1..T:"),
              display(w, [f"{z} {eq}{input_side} + {recurrent_side}",
                          f"{w.partial(z, parameter)} {eq}{slope}"])]
    steps = []
    for t, delta, factor, product in e.terms:
        d = gate_label(w, "delta", l, gate, j, t)
        if hidden and scaled:
            d = f"({gate_label(w, 'a', l, 'reset', j, t)}{times}{d})"
        factor_label = (output_label(w, net, l - 1, target.input, t) if target.kind == "w" else
                        state_label(w, "h", l, target.input, t - 1) if target.kind == "u" else
                        None)
        steps.append((d, factor_label, delta, factor, product))
    symbolic, numeric, products = sum_over_t(w, steps, times)
    sigma = r"\sum_t " if w.style == "latex" else "Σ_t "
    general = gate_label(w, "delta", l, gate, j, "t")
    if hidden and scaled:
        general = f"({reset}{times}{general})"
    if target.kind in ("w", "u"):
        general += times + (output_label(w, net, l - 1, target.input, "t") if target.kind == "w"
                            else state_label(w, "h", l, target.input, before))
    rows = [f"{lhs} {eq}{sigma}{general}", f"{pad}{eq}{' + '.join(symbolic)}"]
    if target.kind in ("w", "u"):
        rows.append(f"{pad}{eq}{' + '.join(numeric)}")
    rows += [f"{pad}{eq}{' + '.join(products)}", f"{pad}{eq}{w.num(e.value)}"]
    if hidden and scaled:
        blocks.append(w.text("The new gate's recurrent side is scaled by the reset gate, so its "
                             "u and b_h see r·δ in place of δ (the number shown)."))
    if e.truncation is not None:
        blocks.append(w.text("With truncated BPTT the simulator adds each δ[t] part by part (by "
                             "age), so the last sum is taken over the parts."))
    blocks.append(w.text("So, summing over the steps (added from t = T down, as "
                         "backpropagation through time computes them):"))
    blocks.append(display(w, rows))
    return blocks


def _letter(gate):
    return GATE_LETTERS[gate]


def _weight_sup(w, l):
    return weight_superscript(l, w.convention)


def initial_state_rows(w, e, eq):
    """dE/dh_i[0] = Σ_q Σ_j u_q,ji δ^h_q,j[1] (+ z_i[1] dE/dh_i[1]) or
    dE/dc_i[0] = f_i[1] · dE/dc_i[1], with numbers (full BPTT)."""
    net, target = e.net, e.target
    l, i = target.layer, target.neuron
    layer = net.layers[l]
    first = net.history[0][l]
    lhs = w.partial("E", state_label(w, target.kind, l, i, 0))
    pad = "" if w.fmt == "latex" else " " * (len(lhs) + 1)
    times = w.times
    if target.kind == "c":
        symbolic = (f"{gate_label(w, 'a', l, 'forget', i, 1)}{times}"
                    f"{w.partial('E', state_label(w, 'c', l, i, 1))}")
        numeric = f"{w.fac(first[i].gates['forget'].output)}{times}{w.fac(first[i].cell_grad)}"
        return [f"{lhs} {eq}{symbolic}", f"{pad}{eq}{numeric}", f"{pad}{eq}{w.num(e.value)}"]
    n = layer.size
    symbolic, numeric = [], []
    if layer.kind == "gru":
        symbolic.append(f"{gate_label(w, 'a', l, 'update', i, 1)}{times}"
                        f"{w.partial('E', state_label(w, 'h', l, i, 1))}")
        numeric.append(f"{w.fac(first[i].gates['update'].output)}{times}"
                       f"{w.fac(first[i].output_grad)}")
    for row, neuron in enumerate(layer.neurons):
        gate, j = layer.GATES[row // n], row % n
        delta = gate_label(w, "delta", l, gate, j, 1)
        if gate == "new":
            delta = f"({gate_label(w, 'a', l, 'reset', j, 1)}{times}{delta})"
        symbolic.append(f"{gate_label(w, 'u', l, gate, j, k=i)}{times}{delta}")
        numeric.append(f"{w.fac(neuron.recurrent_weights[i])}{times}"
                       f"{w.fac(first[j].gates[gate].hidden_delta)}")
    return [f"{lhs} {eq}{' + '.join(symbolic)}", f"{pad}{eq}{' + '.join(numeric)}",
            f"{pad}{eq}{w.num(e.value)}"]


def legend(w, net, first_layer):
    """One sentence per gated layer from ``first_layer`` up: its gates' activations
    and derivatives."""
    parts = []
    for index in range(first_layer, len(net.layers)):
        layer = net.layers[index]
        if not is_gated(layer):
            continue
        sigmoid = [_letter(g) for g in layer.GATES if layer.GATE_ACTIVATIONS[g] == "sigmoid"]
        tanh = [_letter(g) for g in layer.GATES if layer.GATE_ACTIVATIONS[g] == "tanh"]
        text = (f"layer {index + 2} ({layer.kind.upper()}): gates {', '.join(sigmoid)}: "
                f"σ, σ'(z) = a(1 − a); gate {', '.join(tanh)}: tanh, tanh'(z) = 1 − a²")
        if layer.kind == "lstm":
            text += "; tanh'(c) = 1 − tanh²(c)"
        parts.append(text)
    return "; ".join(parts)
