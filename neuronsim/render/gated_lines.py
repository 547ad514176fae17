"""The lines and tables of LSTM and GRU layers, gate by gate, in every format.

The records are :mod:`neuronsim.trace.gated`'s (a :class:`~neuronsim.trace.gated.UnitSeries`
per unit, a :class:`~neuronsim.trace.gated.GateSeries` per gate); the sections of
:mod:`neuronsim.render.sequence_tables` call these writers for every gated layer, with
their writer ``w`` (the one :class:`~neuronsim.render.writer._Writer`: labels, numbers
and operators of one format), and :mod:`neuronsim.trace.walk` takes their lines one by one.

What the lines say (unit j of layer l at step t; q a gate; x = the layer
below at t, h[t-1] this layer's hidden state):

* forward: z_qj[t] = Σ_k w_q,jk x_k[t] + b^x_qj + Σ_m u_q,jm h_m[t-1] + b^h_qj
  (the GRU's new gate: b^x + r_j[t]·(Σ_m u_n,jm h_m[t-1] + b^h_nj), torch's b_hn
  inside the product), a_qj = g(z_qj) and g'(z_qj); then the LSTM's
  c_j[t] = f_j c_j[t-1] + i_j g_j and h_j[t] = o_j tanh(c_j[t]), or the GRU's
  h_j[t] = (1 - z_j) n_j + z_j h_j[t-1];
* backward: dE/dh_j[t] = (output path) + (recurrent path from t+1), the
  recurrent path Σ_q Σ_m u_q,mj δ^h_qm[t+1] (a GRU adds its direct path
  z_j[t+1]·dE/dh_j[t+1]); an LSTM's dE/dc_j[t] = dE/dh_j[t]·o_j·tanh'(c_j[t]) +
  f_j[t+1]·dE/dc_j[t+1] (the cell path through the next forget gate); each
  gate's δ as the product of :mod:`neuronsim.core.lstm` / :mod:`neuronsim.core.gru`;
* gradients: dE/dw_q,jk = Σ_t δ_qj[t] x_k[t], dE/du_q,jm = Σ_t δ^h_qj[t] h_m[t-1],
  dE/db^x_qj = Σ_t δ_qj[t], dE/db^h_qj = Σ_t δ^h_qj[t] (δ^h = δ, except
  r_j·δ_nj for the GRU's new gate), and a learned h[0] (c[0]).

Truncated BPTT (k steps): the recurrent path carries δ̃[t+1], the part of
δ[t+1] from E[t+1] to E[t+k-1], as for an Elman layer.  The cell path of an
LSTM and the direct path of a GRU carry the same part of dE/dc[t+1] and
dE/dh[t+1] ("carried part of"): the sum of its parts of ages 0 to k-2, which
the network keeps per step (``cell_grad_parts``, ``output_grad_parts``).  A
path the truncation cuts (k = 1) reads as a product with 0, as an Elman
layer's does.
"""

from ..core.summation import sum_in_order
from ..trace.gated import PARAMETERS, STATE_NAMES, hidden_factor

# ---------------------------------------------------------------- words in formulas
def words(w, text):
    """A few words inside a formula (LaTeX: \\text{...})."""
    return rf"\text{{{text}}}" if w.style == "latex" else text


def _g_name(w, activation):
    """σ or tanh as written in a formula."""
    if activation == "sigmoid":
        return w.sigma
    return r"\tanh" if w.style == "latex" else "tanh"


def _terms(w, labels, numbers):
    """Products label·label and number·number of two parallel lists of pairs."""
    sym = [f"{a}{w.times}{b}" for a, b in labels]
    num = [f"{w.fac(a)}{w.times}{w.fac(b)}" for a, b in numbers]
    return sym, num


def _joined(parts):
    return " + ".join(f"({x})" for x in parts) if len(parts) > 1 else parts[0]


def below_label(record, w, l, k):
    """Input k of ``net.layers[l]``: a_k of the layer below, or h_k if it is gated."""
    if l > 0 and record.layers[l - 1].is_gated:
        return w.h(l - 1, k)
    return w.a(l - 1, k)


# ---------------------------------------------------------------- forward
def gate_z_equation(record, w, l, unit, gate, t):
    """z_qj[t] = (input side) + (recurrent side) written out with numbers, the two
    sums as the gate neuron adds them (the GRU's new gate: (...) + r·(...))."""
    j, s = unit.neuron, unit.steps[t - 1]
    series = unit.gates[gate]
    x = [(w.gate_weight(l, gate, j, k), w.at(below_label(record, w, l, k), t))
         for k in range(len(s.inputs))]
    sym, num = _terms(w, x, list(zip(series.weights, s.inputs)))
    sym.append(w.gate_bias(l, gate, j, "ih"))
    num.append(w.fac(series.bias_ih))
    hsym, hnum = _terms(w, [(w.gate_recurrent(l, gate, j, m), w.at(w.h(l, m), t - 1))
                            for m in range(len(s.previous))],
                        list(zip(series.recurrent_weights, s.previous)))
    hsym.append(w.gate_bias(l, gate, j, "hh"))
    hnum.append(w.fac(series.bias_hh))
    r = hidden_factor(s, gate)
    if r is None:
        text = (f"({w.sum_of(sym)}) + ({w.sum_of(hsym)}) = "
                f"({w.sum_of(num)}) + ({w.sum_of(hnum)})")
    else:
        r_label = w.at(w.gate_a(l, "reset", j), t)
        text = (f"{w.sum_of(sym)} + {r_label}{w.times}({w.sum_of(hsym)}) = "
                f"{w.sum_of(num)} + {w.fac(r)}{w.times}({w.sum_of(hnum)})")
    return w.equation(f"{w.at(w.gate_z(l, gate, j), t)} = {text} = "
                      f"{w.num(s.gates[gate].z)}")


def gate_activation_equation(w, l, unit, gate, t):
    """a = g(z) with numbers, and g'(z) from a (σ' = a(1 − a), tanh' = 1 − a²), on one line."""
    activation, derivative = gate_activation_parts(w, l, unit, gate, t)
    return w.equation(activation + w.gap + derivative)


def gate_activation_parts(w, l, unit, gate, t):
    """The texts of a = g(z) and of g'(z), each with numbers (not yet equations)."""
    j, record = unit.neuron, unit.steps[t - 1].gates[gate]
    g = _g_name(w, unit.gates[gate].activation)
    a, z = w.at(w.gate_a(l, gate, j), t), w.at(w.gate_z(l, gate, j), t)
    an = w.fac(record.output)
    if unit.gates[gate].activation == "sigmoid":
        deriv = f"{a}(1{w.minus}{a}) = {an}{w.times}(1{w.minus}{an})"
    else:
        deriv = f"1{w.minus}{w.squared(a)} = 1{w.minus}{w.squared(an)}"
    return (f"{a} = {g}({z}) = {g}({w.num(record.z)}) = {w.num(record.output)}",
            f"{g}'({z}) = {deriv} = {w.num(record.derivative)}")


def state_equations(w, l, unit, t):
    """c[t] and h[t] (LSTM), or h[t] (GRU), written out with numbers."""
    j, s = unit.neuron, unit.steps[t - 1]
    a = {name: w.at(w.gate_a(l, name, j), t) for name in s.gates}
    v = {name: w.fac(step.output) for name, step in s.gates.items()}
    h, h_prev = w.at(w.h(l, j), t), w.at(w.h(l, j), t - 1)
    if unit.kind == "lstm":
        c, c_prev = w.at(w.c(l, j), t), w.at(w.c(l, j), t - 1)
        x = w.times
        cell = (f"{c} = {a['forget']}{x}{c_prev} + {a['input']}{x}{a['cell']} = "
                f"{v['forget']}{x}{w.fac(s.previous_cell)} + {v['input']}{x}{v['cell']} = "
                f"{w.num(s.cell)}")
        tanh = _g_name(w, "tanh")
        hidden = (f"{h} = {a['output']}{x}{tanh}({c}) = {v['output']}{x}{tanh}"
                  f"({w.num(s.cell)}) = {v['output']}{x}{w.fac(s.cell_tanh)} = "
                  f"{w.num(s.output)}")
        return [w.equation(cell), w.equation(hidden)]
    x, m = w.times, w.minus
    hidden = (f"{h} = (1{m}{a['update']}){x}{a['new']} + {a['update']}{x}{h_prev} = "
              f"(1{m}{v['update']}){x}{v['new']} + {v['update']}{x}"
              f"{w.fac(s.previous[j])} = {w.num(s.output)}")
    return [w.equation(hidden)]


def forward_tables(record, w, series, units, t):
    """(gate table, state table, equations) of one gated layer at step t."""
    l = series.layer
    gate_rows, state_rows, equations = [], [], []
    for unit in units:
        j, s = unit.neuron, unit.steps[t - 1]
        for gate, step in s.gates.items():
            gate_rows.append([w.cell(w.gate_a(l, gate, j)), unit.gates[gate].activation,
                              w.num(step.z), w.num(step.output), w.num(step.derivative)])
            equations.append(gate_z_equation(record, w, l, unit, gate, t))
            equations.append(gate_activation_equation(w, l, unit, gate, t))
        if unit.kind == "lstm":
            state_rows.append([w.cell(w.h(l, j)), w.num(s.previous_cell), w.num(s.cell),
                               w.num(s.cell_tanh), w.num(s.output)])
        else:
            state_rows.append([w.cell(w.h(l, j)), w.num(s.previous[j]), w.num(s.output)])
        equations += state_equations(w, l, unit, t)
    gate_table = w.table(gate_rows, ["gate", "g", "z", "a = g(z)", "g'(z)"])
    if series.kind == "lstm":
        headers = ["unit", "c[t−1]", "c[t] = f·c[t−1] + i·g", "tanh(c[t])",
                   "h[t] = o·tanh(c[t])"]
    else:
        headers = ["unit", "h[t−1]", "h[t] = (1 − z)·n + z·h[t−1]"]
    return gate_table, w.table(state_rows, headers), equations


# ---------------------------------------------------------------- backward
def carried_part(record, parts, whole):
    """What step t+1 sends back of a value: all of it (``whole``, full BPTT), or
    the sum of its ``parts`` of ages 0 to k-2 (truncated: 0 when k = 1), added
    left to right as the network adds."""
    if record.truncation is None:
        return whole
    return sum_in_order(parts[:record.truncation - 1])


def carried_label(w, record, label):
    """dE/dx, or (carried part of dE/dx) when truncated."""
    if record.truncation is None:
        return label
    return f"({words(w, 'carried part of ')}{label})"


def recurrent_path_terms(record, w, l, j, t):
    """(symbols, numbers) of what step t+1 sends back to h_j[t] of the gated layer l
    (t = 0: to h_j[0]): Σ_q Σ_m u_q,mj δ^h_qm[t+1], and a GRU's direct path
    z_j[t+1]·dE/dh_j[t+1] first; truncated, δ̃ and the carried part of
    dE/dh_j[t+1] (:func:`carried_part`)."""
    units = record.layers[l].neurons
    truncated = record.truncation is not None
    sym, num = [], []
    later = [u.steps[t] for u in units]
    if units[0].kind == "gru":
        z = w.at(w.gate_a(l, "update", j), t + 1)
        sym.append(f"{z}{w.times}"
                   f"{carried_label(w, record, w.partial(w.at(w.h(l, j), t + 1)))}")
        dh = carried_part(record, later[j].output_grad_parts, later[j].output_grad)
        num.append(f"{w.fac(later[j].gates['update'].output)}{w.times}{w.fac(dh)}")
    for gate in later[0].gates:
        for m, (unit, step) in enumerate(zip(units, later)):
            record_q = step.gates[gate]
            delta = carried_part(record, record_q.delta_parts, record_q.delta)
            u = unit.gates[gate].recurrent_weights[j]
            d_label = w.at(w.carried(w.gate_delta(l, gate, m), truncated), t + 1)
            r = hidden_factor(step, gate)
            if r is None:
                sym.append(f"{w.gate_recurrent(l, gate, m, j)}{w.times}{d_label}")
                term = f"{w.fac(u)}{w.times}{w.fac(delta)}"
            else:
                r_label = w.at(w.gate_a(l, "reset", m), t + 1)
                sym.append(f"{w.gate_recurrent(l, gate, m, j)}{w.times}{r_label}{w.times}"
                           f"{d_label}")
                term = f"{w.fac(u)}{w.times}{w.fac(r)}{w.times}{w.fac(delta)}"
            num.append(term)
    return w.sum_of(sym), w.sum_of(num)


def output_grad_equation(record, w, l, unit, t, above):
    """dE/dh_j[t] = (output path) + (recurrent path from t+1); ``above``: the
    (symbols, numbers) of the output path."""
    j, s = unit.neuron, unit.steps[t - 1]
    sym, num = [above[0]], [above[1]]
    if t < record.steps:
        rs, rn = recurrent_path_terms(record, w, l, j, t)
        sym.append(rs)
        num.append(rn)
    lhs = w.partial(w.at(w.h(l, j), t))
    return w.equation(f"{lhs} = {_joined(sym)} = {_joined(num)} = {w.num(s.output_grad)}")


def _delta_line(w, l, gate, j, t, factors, values, record, activation):
    """δ_qj[t] = factor·factor·g'(z_qj[t]) = numbers = δ."""
    g = _g_name(w, activation)
    z = w.at(w.gate_z(l, gate, j), t)
    sym = w.times.join(factors + [f"{g}'({z})"])
    num = w.times.join(values + [w.fac(record.derivative)])
    return w.equation(f"{w.at(w.gate_delta(l, gate, j), t)} = {sym} = {num} = "
                      f"{w.num(record.delta)}")


def lstm_backward_equations(record, w, l, unit, t, above):
    """dE/dh, δ_o, dE/dc (with the cell path from t+1), δ_i, δ_f, δ_g of one unit."""
    j, s = unit.neuron, unit.steps[t - 1]
    gates, x = s.gates, w.times
    a = {name: w.at(w.gate_a(l, name, j), t) for name in gates}
    dh = w.partial(w.at(w.h(l, j), t))
    dc = w.partial(w.at(w.c(l, j), t))
    c = w.at(w.c(l, j), t)
    tanh = _g_name(w, "tanh")
    lines = [output_grad_equation(record, w, l, unit, t, above),
             _delta_line(w, l, "output", j, t, [dh, f"{tanh}({c})"],
                         [w.fac(s.output_grad), w.fac(s.cell_tanh)], gates["output"], "sigmoid")]
    sym = [f"{dh}{x}{a['output']}{x}{tanh}'({c})"]
    num = [f"{w.fac(s.output_grad)}{x}{w.fac(gates['output'].output)}{x}"
           f"{w.fac(s.cell_derivative)}"]
    if t < record.steps:
        later = unit.steps[t]
        sym.append(f"{w.at(w.gate_a(l, 'forget', j), t + 1)}{x}"
                   f"{carried_label(w, record, w.partial(w.at(w.c(l, j), t + 1)))}")
        carried = carried_part(record, later.cell_grad_parts, later.cell_grad)
        num.append(f"{w.fac(later.gates['forget'].output)}{x}{w.fac(carried)}")
    lines.append(w.equation(f"{dc} = {' + '.join(sym)} = {' + '.join(num)} = "
                            f"{w.num(s.cell_grad)}"))
    lines.append(_delta_line(w, l, "input", j, t, [dc, a["cell"]],
                             [w.fac(s.cell_grad), w.fac(gates["cell"].output)], gates["input"],
                             "sigmoid"))
    lines.append(_delta_line(w, l, "forget", j, t, [dc, w.at(w.c(l, j), t - 1)],
                             [w.fac(s.cell_grad), w.fac(s.previous_cell)], gates["forget"],
                             "sigmoid"))
    lines.append(_delta_line(w, l, "cell", j, t, [dc, a["input"]],
                             [w.fac(s.cell_grad), w.fac(gates["input"].output)], gates["cell"],
                             "tanh"))
    return lines


def gru_backward_equations(record, w, l, unit, t, above):
    """dE/dh, δ_n, δ_z, δ_r of one GRU unit."""
    j, s = unit.neuron, unit.steps[t - 1]
    gates, m = s.gates, w.minus
    a = {name: w.at(w.gate_a(l, name, j), t) for name in gates}
    dh = w.partial(w.at(w.h(l, j), t))
    lines = [output_grad_equation(record, w, l, unit, t, above),
             _delta_line(w, l, "new", j, t, [dh, f"(1{m}{a['update']})"],
                         [w.fac(s.output_grad), f"(1{m}{w.fac(gates['update'].output)})"],
                         gates["new"], "tanh"),
             _delta_line(w, l, "update", j, t, [dh, f"({w.at(w.h(l, j), t - 1)}{m}{a['new']})"],
                         [w.fac(s.output_grad),
                          f"({w.fac(s.previous[j])}{m}{w.fac(gates['new'].output)})"],
                         gates["update"], "sigmoid")]
    series = unit.gates["new"]   # s_nj = Σ_m u_n,jm h_m[t-1] + b_hn,j, what r multiplies
    hsym, hnum = _terms(w, [(w.gate_recurrent(l, "new", j, k), w.at(w.h(l, k), t - 1))
                            for k in range(len(s.previous))],
                        list(zip(series.recurrent_weights, s.previous)))
    hsym.append(w.gate_bias(l, "new", j, "hh"))
    hnum.append(w.fac(series.bias_hh))
    lines.append(_delta_line(w, l, "reset", j, t,
                             [w.at(w.gate_delta(l, "new", j), t), f"({w.sum_of(hsym)})"],
                             [w.fac(gates["new"].delta), f"({w.sum_of(hnum)})"],
                             gates["reset"], "sigmoid"))
    return lines


def backward_tables(record, w, series, units, t, from_above):
    """(unit table, gate table, equations) of one gated layer at step t;
    ``from_above(l, j, t)`` gives the (symbols, numbers) of the output path."""
    l = series.layer
    unit_rows, gate_rows, equations = [], [], []
    for unit in units:
        j, s = unit.neuron, unit.steps[t - 1]
        row = [w.cell(w.h(l, j)), w.num(s.output_path), w.num(s.recurrent_path),
               w.num(s.output_grad)]
        if unit.kind == "lstm":
            row += [w.num(s.cell_path), w.num(s.cell_grad)]
        unit_rows.append(row)
        for gate, step in s.gates.items():
            gate_rows.append([w.cell(w.gate_a(l, gate, j)), w.num(step.output_grad),
                              w.num(step.derivative), w.num(step.delta)])
        write = lstm_backward_equations if unit.kind == "lstm" else gru_backward_equations
        equations += write(record, w, l, unit, t, from_above(l, j, t))
    headers = ["unit", "output path ∂E_t/∂h", "recurrent path from t+1", "dE/dh"]
    if series.kind == "lstm":
        headers += ["cell path from t+1", "dE/dc"]
    return (w.table(unit_rows, headers),
            w.table(gate_rows, ["gate", "dE/da", "g'(z)", "δ = dE/dz"]), equations)


def output_path_from(record, w, l, j, t):
    """(symbols, numbers) of Σ_q Σ_m w_q,mj δ_qm[t], the output path that the gated
    layer l + 1 sends to unit or neuron j of layer l at step t."""
    above = record.layers[l + 1].neurons
    sym, num = [], []
    for gate in above[0].gates:
        for m, unit in enumerate(above):
            sym.append(f"{w.gate_weight(l + 1, gate, m, j)}{w.times}"
                       f"{w.at(w.gate_delta(l + 1, gate, m), t)}")
            num.append(f"{w.fac(unit.gates[gate].weights[j])}{w.times}"
                       f"{w.fac(unit.steps[t - 1].gates[gate].delta)}")
    return w.sum_of(sym), w.sum_of(num)


# ---------------------------------------------------------------- gradients
def gradient_rows(record, w, series, unit):
    """Each parameter of each gate of one unit: its product at every step, and the
    total; then a learned h_j[0] (c_j[0]) with its equation.  Returns (rows, equations)."""
    l, j = series.layer, unit.neuron
    rows, equations = [], []
    for gate, g in unit.gates.items():
        deltas = unit.gate_values(gate, "delta")
        hidden = unit.gate_values(gate, "hidden_delta")
        for k in range(len(g.weights)):
            values = [d * s.inputs[k] for d, s in zip(deltas, unit.steps)]
            rows.append(w.terms_row(w.gate_weight(l, gate, j, k), values, [g.weight_totals[k]]))
        for m in range(len(g.recurrent_weights)):
            values = [d * s.previous[m] for d, s in zip(hidden, unit.steps)]
            rows.append(w.terms_row(w.gate_recurrent(l, gate, j, m), values,
                                    [g.recurrent_totals[m]]))
        rows.append(w.terms_row(w.gate_bias(l, gate, j, "ih"), deltas, [g.bias_ih_total]))
        rows.append(w.terms_row(w.gate_bias(l, gate, j, "hh"), hidden, [g.bias_hh_total]))
    if series.learn_initial_state:
        steps = record.steps
        for name in STATE_NAMES[series.kind]:
            grad = series.initial_grads[name][j]
            rows.append(w.terms_row(w.gated_initial(name, l, j),
                                    [grad] + [None] * (steps - 1), [grad]))
        equations += initial_state_equations(record, w, series, unit)
    return rows, equations


def initial_state_equations(record, w, series, unit):
    """dE/dh_j[0] (= what step 1 sends back) and, for an LSTM, dE/dc_j[0] = f_j[1]·dE/dc_j[1]."""
    l, j = series.layer, unit.neuron
    grads = series.initial_grads
    sym, num = recurrent_path_terms(record, w, l, j, 0)
    lhs = w.partial(w.gated_initial("initial_state", l, j))
    value = w.num(grads["initial_state"][j])
    lines = [w.equation(f"{lhs} = {sym} = {num} = {value}")]
    if series.kind == "lstm":
        lhs = w.partial(w.gated_initial("initial_cell", l, j))
        first = unit.steps[0]
        f1 = w.at(w.gate_a(l, "forget", j), 1)
        sym = f"{f1}{w.times}{carried_label(w, record, w.partial(w.at(w.c(l, j), 1)))}"
        carried = carried_part(record, first.cell_grad_parts, first.cell_grad)
        value = w.num(grads["initial_cell"][j])
        lines.append(w.equation(f"{lhs} = {sym} = {w.fac(first.gates['forget'].output)}"
                                f"{w.times}{w.fac(carried)} = {value}"))
    return lines


def gradient_formulas(record, w, series):
    """The sums over t of one gated layer, in symbols (not for LaTeX, as the Elman lines)."""
    l = series.layer
    gate = "new" if series.kind == "gru" else "forget"
    d = w.at(w.gate_delta(l, gate, 0), "t")
    hidden = "r·δ for the new gate" if series.kind == "gru" else "δ"
    return w.equation(
        f"dE/d{w.gate_weight(l, gate, 0, 0)} = Σ_t {d}{w.times}"
        f"{w.at(below_label(record, w, l, 0), 't')};  dE/d{w.gate_recurrent(l, gate, 0, 0)} = "
        f"Σ_t δ^h{w.times}{w.at(w.h(l, 0), 't−1')};  dE/d{w.gate_bias(l, gate, 0, 'ih')} = "
        f"Σ_t {d};  dE/d{w.gate_bias(l, gate, 0, 'hh')} = Σ_t δ^h  (δ^h = {hidden})")


# ---------------------------------------------------------------- update
def update_rows(w, series, unit):
    """(label, old, reduced gradient, new) of every parameter of one unit, in order."""
    l, j = series.layer, unit.neuron
    out = []
    for gate, g in unit.gates.items():
        for param in PARAMETERS:
            old, grad, new = getattr(g, param), g.batch_grads[param], g.new[param]
            if isinstance(old, list):
                label = w.gate_weight if param == "weights" else w.gate_recurrent
                out += [(label(l, gate, j, k), o, d, n, g, param, k)
                        for k, (o, d, n) in enumerate(zip(old, grad, new))]
            else:
                out.append((w.gate_bias(l, gate, j, "ih" if param == "bias_ih" else "hh"),
                            old, grad, new, g, param, None))
    return out


def initial_update_rows(w, series, j):
    """(label, name, old, reduced gradient, new) of a learned h_j[0] (c_j[0])."""
    if not series.learn_initial_state:
        return []
    return [(w.gated_initial(name, series.layer, j), name, series.old_initials[name][j],
             series.batch_initial_grads[name][j], series.new_initials[name][j])
            for name in STATE_NAMES[series.kind]]


def note(record):
    """What the gated layers' tables add to the time note, or ""."""
    kinds = {series.kind for series in record.layers if series.is_gated}
    if not kinds:
        return ""
    parts = []
    if "lstm" in kinds:
        parts.append("an LSTM unit j has gates i, f, g, o (sigmoid, sigmoid, tanh, sigmoid), "
                     "c_j[t] = f_j·c_j[t−1] + i_j·g_j and h_j[t] = o_j·tanh(c_j[t])")
    if "gru" in kinds:
        parts.append("a GRU unit j has gates r, z, n (sigmoid, sigmoid, tanh), "
                     "n_j = tanh(z_n,j) with z_n,j = Σ_k w_n,jk·x_k + b_xn,j + "
                     "r_j·(Σ_m u_n,jm·h_m[t−1] + b_hn,j) (torch's b_hn inside the product) and "
                     "h_j[t] = (1 − z_j)·n_j + z_j·h_j[t−1]")
    return ("Gated layers: " + "; ".join(parts) + ".  Gate q of unit j has input weights "
            "w_q,jk, recurrent weights u_q,jm (from h_m[t−1]), biases b_xq,j and b_hq,j "
            "(torch's bias_ih and bias_hh); z_q,j is its weighted input and δ_q,j = dE/dz_q,j; "
            "net.layers[l−2].gates[name][j] in Python.  The recurrent side of the GRU's new gate "
            "(its u and b_hn) sees r·δ instead of δ.")
