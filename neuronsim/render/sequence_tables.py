"""Records of a network that reads sequences -> tables per time step, in every format.

The records are :mod:`neuronsim.trace.sequence`'s: a
:class:`~neuronsim.trace.sequence.SequenceRecord` per sequence, with one
:class:`~neuronsim.trace.sequence.LayerSeries` per layer and one
:class:`~neuronsim.trace.sequence.NeuronSeries` per neuron (an LSTM or GRU
unit: :class:`~neuronsim.trace.gated.UnitSeries`, whose lines
:mod:`neuronsim.render.gated_lines` writes), whose ``steps[t - 1]`` is the
neuron's :class:`~neuronsim.core.through_time.NeuronStep` of time step t.
:func:`render_sequence` turns a record into tables:

* forward pass, step by step: z, a and g'(z) of every neuron of every layer
  at each t, each z written out (a dense z from the layer below at t, a
  recurrent z also from its own layer's a[t-1]);
* the loss E_t of every step with a target, and their sum (or mean);
* backward pass through time, t = T down to 1, every layer from the output
  down: for each neuron dE/da[t] as its output path (from the layer above
  at t, Σ_m w_mj δ_m[t]; ∂E_t/∂a[t] at the output) and, for a recurrent
  neuron, its recurrent path from t+1 (Σ_i u_ij δ_i[t+1]), then δ[t] written
  out as a product with numbers (truncated BPTT: δ̃, the part carried);
* each parameter's contribution at every step and their total, the
  gradient (W, U, b, and a learned a[0] with dE/da_i[0] = Σ_j u_ji δ_j[1]);
* the update, when one followed: the plain table and the optimizer's lines
  are :mod:`neuronsim.render.tables`'s, written for any layer kind.

A batch of sequences (:class:`~neuronsim.trace.records.BatchRecord` of a
tracer made with ``batches=True``) is rendered by
:func:`neuronsim.render.batch_tables.render_batch`, each sequence by
:func:`render_sequence`: the parameters are w, u (kind "recurrent_weight"),
b and a learned a[0] (kind "initial_state", ``neuron`` = i), labelled by
:meth:`neuronsim.render.writer._Writer.parameter`.
:func:`neuronsim.render.tables.render_records` is the one entry point for every
kind of record.

Labels: textbook numbering (input layer 1, so ``net.layers[l]`` is layer
l+2; neurons from 1); time steps t = 1..T with a[0] the initial state.
w_jk^(l) feeds neuron j of layer l from neuron k of the layer below at the
same step, u_ji^(l) from neuron i of its own layer at the step before
(superscript = the layer's own number in both conventions,
:func:`neuronsim.core.labels.recurrent_weight_label`).
"""

from ..core import labels as lab
from ..core.summation import sum_in_order
from . import gated_lines
from .update_tables import (
    gradient_header,
    optimizer_update_table,
    penalty_lines,
    update_parts,
    updated_parameter,
)
from .writer import (
    SECTIONS,
    _check_sections,
    _equations,
    _heading,
    _paragraph,
    _Writer,
    assemble,
)

#: the parameters that ``update_biases=False`` keeps fixed
BIASES = ("bias", "bias_ih", "bias_hh")


def _header(record, w, title=None):
    steps = record.steps
    title = f"Sequence {record.index}" if title is None else title
    text = f"{title}: T = {steps} time step{'s' if steps != 1 else ''}"
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


def _shown(record, layers=None, neurons=None):
    """(series, neuron record) of every neuron the filters keep (0-based sets), in
    forward order."""
    for series in record.layers:
        if layers is not None and series.layer not in layers:
            continue
        for r in series.neurons:
            if neurons is None or r.neuron in neurons:
                yield series, r


def _z_equation(record, w, series, r, t):
    """z_j^(l)[t] = Σ_k w_jk a_k^(l-1)[t] (+ Σ_i u_ji a_i^(l)[t-1]) + b_j, with numbers."""
    l, j, s = series.layer, r.neuron, r.steps[t - 1]
    symbolic = [f"{w.w(l, j, k)}{w.times}{w.at(gated_lines.below_label(record, w, l, k), t)}"
                for k in range(len(s.inputs))]
    numeric = [f"{w.fac(v)}{w.times}{w.fac(a)}" for v, a in zip(r.weights, s.inputs)]
    if series.is_recurrent:
        symbolic += [f"{w.u(l, j, q)}{w.times}{w.at(w.a(l, q), t - 1)}"
                     for q in range(len(s.previous))]
        numeric += [f"{w.fac(u)}{w.times}{w.fac(a)}"
                    for u, a in zip(r.recurrent_weights, s.previous)]
    symbolic.append(w.b(l, j))
    numeric.append(w.fac(r.bias))
    return w.equation(f"{w.at(w.z(l, j), t)} = {w.sum_of(symbolic)} = "
                      f"{w.sum_of(numeric)} = {w.num(s.z)}")


def forward_section(record, w, times, layers=None, neurons=None):
    """The dense and Elman neurons' table (t, layer, neuron, g, z, a, g'(z)) and
    their z equations; gated layers are in :func:`gated_forward_parts`."""
    rows, equations = [], []
    for t in times:
        for series, r in _shown(record, layers, neurons):
            if series.is_gated:
                continue
            l, s = series.layer, r.steps[t - 1]
            rows.append([str(t), str(lab.textbook_layer(l)), w.cell(w.a(l, r.neuron)),
                         record.activations[l], w.num(s.z), w.num(s.output),
                         w.num(s.derivative)])
            if series.is_recurrent or record.activations[l] != "softmax":
                equations.append(_z_equation(record, w, series, r, t))
    headers = ["t", "layer", "neuron", "g", "z", "a = g(z)", "g'(z)"]
    return w.table(rows, headers), equations


def _layer_groups(record, layers, neurons, descending=False):
    """The shown layers in runs: (False, {dense and Elman layers next to each other})
    or (True, one gated LayerSeries), bottom up (or top down)."""
    groups = []
    order = reversed(record.layers) if descending else record.layers
    for series in order:
        if layers is not None and series.layer not in layers:
            continue
        if series.is_gated:
            groups.append((True, series))
        elif groups and not groups[-1][0]:
            groups[-1][1].add(series.layer)
        else:
            groups.append((False, {series.layer}))
    return groups


def _gated_units(series, neurons):
    return [u for u in series.neurons if neurons is None or u.neuron in neurons]


def _kind_title(w, series):
    return f"layer {lab.textbook_layer(series.layer)} ({series.kind.upper()}), gate by gate"


def gated_forward_parts(record, w, times, layers=None, neurons=None):
    """The forward pass of a record with an LSTM or GRU layer, step by step: at
    each t, layer by layer, the dense and Elman neurons' table and z equations,
    and each gated layer's gate table (z, a, g'(z)), its state table (c and h)
    and their equations."""
    parts = []
    groups = _layer_groups(record, layers, neurons)
    for t in times:
        parts.append(_heading(w, f"t = {t}", level=3))
        for is_gated_group, group in groups:
            if is_gated_group:
                units = _gated_units(group, neurons)
                if not units:
                    continue
                gate_table, state_table, eqs = gated_lines.forward_tables(record, w, group,
                                                                          units, t)
                parts += [_paragraph(w, w.text(_kind_title(w, group) + ":")), gate_table,
                          state_table, _equations(w, eqs)]
            else:
                if any(True for _ in _shown(record, group, neurons)):
                    table, eqs = forward_section(record, w, [t], group, neurons)
                    parts += [table, _equations(w, eqs)]
    return parts


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
    if len(values) == 1:                # one step with a target: E is its E[t]
        text = f"E = {terms[0]} = {w.num(record.loss)}"
    elif record.step_loss == "mean":
        text = (f"E = ({w.sum_of(terms)}) / {len(values)} = ({numbers}) / {len(values)} = "
                f"{w.num(record.loss)}")
    else:
        text = f"E = {w.sum_of(terms)} = {numbers} = {w.num(record.loss)}"
    output_label = "outputs y[t]" if last == 0 else f"outputs a^({last + 2})[t]"
    if w.style == "latex" and last > 0:
        output_label = f"outputs $a^{{({last + 2})}}[t]$"
    headers = ["t", "target", output_label, f"E[t] ({record.loss_name})"]
    equations = [w.equation(text)]
    if record.batch_size == 1:          # a batch's penalty is in its batch loss
        equations += penalty_lines(w, record.rule, record.loss)
    return w.table(rows, headers), equations


def _from_above(record, w, l, j, t):
    """(symbols, numbers) of the output path of neuron j of layer l at step t from
    the layer above, Σ_m w_mj^(l+1) δ_m^(l+1)[t]; ("0", "0") if nothing came down."""
    if record.layers[l + 1].is_gated:
        return gated_lines.output_path_from(record, w, l, j, t)
    above = record.layers[l + 1].neurons
    if above[0].steps[t - 1].delta is None:
        return "0", "0"
    sym = w.sum_of([f"{w.w(l + 1, m, j)}{w.times}{w.at(w.delta(l + 1, m), t)}"
                    for m in range(len(above))])
    num = w.sum_of([f"{w.fac(n.weights[j])}{w.times}{w.fac(n.steps[t - 1].delta)}"
                    for n in above])
    return sym, num


def _recurrent_path_terms(record, w, l, j, t):
    """(symbols, numbers) of Σ_i u_ij^(l) δ_i^(l)[t+1] (or δ̃, the part truncation
    carries); t = 0 gives dE/da_j[0]."""
    later = record.layers[l].neurons
    truncated = record.truncation is not None
    if truncated:
        # added left to right, as the network adds (builtin sum compensates floats
        # from Python 3.12 on, which would change the last bits)
        carried = [sum_in_order(n.steps[t].delta_parts[:record.truncation - 1])
                   for n in later]
    else:
        carried = [n.steps[t].delta for n in later]
    sym = w.sum_of([f"{w.u(l, q, j)}{w.times}{w.at(w.carried_delta(l, q, truncated), t + 1)}"
                    for q in range(len(later))])
    num = w.sum_of([f"{w.fac(n.recurrent_weights[j])}{w.times}{w.fac(c)}"
                    for n, c in zip(later, carried)])
    return sym, num


def _recurrent_delta_equation(record, w, series, r, t):
    """δ_j[t] = (output path + Σ_i u_ij δ_i[t+1]) · g'(z_j[t]), with numbers;
    δ_j[t] = (a_j[t] − t_j[t]) + (Σ_i u_ij δ_i[t+1]) · g'(z_j[t]) when the
    recurrent layer is a paired output layer (sigmoid, binary cross-entropy)."""
    l, j, s = series.layer, r.neuron, r.steps[t - 1]
    last = len(record.layers) - 1
    if l == last and record.paired_output:
        return _paired_recurrent_delta_equation(record, w, series, r, t)
    d = w.at(w.delta(l, j), t)
    if l < last:
        above = _from_above(record, w, l, j, t)
        sym, num = [above[0]], [above[1]]
    else:
        sym, num = [w.at(w.partial(w.a(l, j)), t)], [w.fac(s.output_path)]
    if t < record.steps:
        rs, rn = _recurrent_path_terms(record, w, l, j, t)
        sym.append(rs)
        num.append(rn)
    sym_text = " + ".join(f"({x})" for x in sym) if len(sym) > 1 else sym[0]
    num_text = " + ".join(f"({x})" for x in num) if len(num) > 1 else num[0]
    return w.equation(f"{d} = ({sym_text}){w.times}g'({w.at(w.z(l, j), t)}) = "
                      f"({num_text}){w.times}{w.fac(s.derivative)} = {w.num(s.delta)}")


def _paired_recurrent_delta_equation(record, w, series, r, t):
    """δ_j[t] = (a_j[t] − t_j[t]) + (Σ_i u_ij δ_i[t+1]) · g'(z_j[t]): the output
    path of a paired loss goes straight to z, as for a paired dense output layer."""
    l, j, s = series.layer, r.neuron, r.steps[t - 1]
    d = w.at(w.delta(l, j), t)
    target = record.targets[t - 1]
    scale = "" if record.step_loss == "sum" else f"{w.times}(1/n_T)"
    if target is None:
        sym, num = ["0"], ["0"]
    else:
        sym = [f"({w.at(w.a(l, j), t)}{w.minus}{w.at(w.t(j), t)}){scale}"]
        num = [f"({w.num(s.output)}{w.minus}{w.fac(target[j])}){scale}"]
    if t < record.steps:
        rs, rn = _recurrent_path_terms(record, w, l, j, t)
        sym.append(f"({rs}){w.times}g'({w.at(w.z(l, j), t)})")
        num.append(f"({rn}){w.times}{w.fac(s.derivative)}")
    return w.equation(f"{d} = {' + '.join(sym)} = {' + '.join(num)} = {w.num(s.delta)}")


def _dense_delta_equation(record, w, series, r, t):
    l, j, s = series.layer, r.neuron, r.steps[t - 1]
    d = w.at(w.delta(l, j), t)
    last = len(record.activations) - 1
    scale = "" if record.step_loss == "sum" else " (times 1/n_T, the mean over steps)"
    if l == last:
        target = record.targets[t - 1][j]
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
    sym, num = _from_above(record, w, l, j, t)
    if record.activations[l] == "softmax":
        return w.equation(f"{d} = {w.num(s.delta)} (softmax Jacobian applied to dE/da = "
                          f"{sym} = {num} = {w.num(s.output_grad)})")
    return w.equation(f"{d} = ({sym}){w.times}g'({w.at(w.z(l, j), t)}) = "
                      f"({num}){w.times}{w.fac(s.derivative)} = {w.num(s.delta)}")


def _backward_rows(record, w, shown, t):
    """(table, δ equations) of the dense and Elman neurons ``shown`` at step t, the
    output layer first."""
    i = t - 1
    rows, equations = [], []
    for series, r in sorted(shown, key=lambda pair: -pair[0].layer):   # stable
        s = r.steps[i]
        if s.delta is None:
            continue   # a layer above every recurrent layer at a step without a target
        label = w.cell(w.delta(series.layer, r.neuron))
        layer = str(lab.textbook_layer(series.layer))
        if series.is_recurrent:
            rows.append([layer, label, w.num(s.output_path), w.num(s.recurrent_path),
                         w.num(s.output_grad), w.num(s.derivative), w.num(s.delta)])
            equations.append(_recurrent_delta_equation(record, w, series, r, t))
        else:
            rows.append([layer, label, w.num(s.output_grad), "—", w.num(s.output_grad),
                         w.num(s.derivative), w.num(s.delta)])
            equations.append(_dense_delta_equation(record, w, series, r, t))
    headers = ["layer", "neuron", "output path ∂E_t/∂a", "recurrent path from t+1",
               "dE/da", "g'(z)", "δ = dE/dz"]
    return w.table(rows, headers), equations, bool(rows)


def _gated_backward_parts(record, w, t, layers, neurons):
    """Step t of the backward pass of a record with a gated layer: layer by layer
    from the output down, the dense and Elman neurons' table and δ equations, and
    each gated layer's unit table (dE/dh, dE/dc), gate table (δ) and equations."""
    parts = []
    for is_gated_group, group in _layer_groups(record, layers, neurons, descending=True):
        if is_gated_group:
            units = _gated_units(group, neurons)
            if not units:
                continue
            from_above = lambda l, j, t: _output_path(record, w, l, j, t)   # noqa: E731
            unit_table, gate_table, eqs = gated_lines.backward_tables(record, w, group, units, t,
                                                                from_above)
            parts += [_paragraph(w, w.text(_kind_title(w, group) + ":")), unit_table,
                      gate_table, _equations(w, eqs)]
        else:
            table, eqs, any_rows = _backward_rows(record, w,
                                                  list(_shown(record, group, neurons)), t)
            if any_rows:
                parts += [table, _equations(w, eqs)]
    return parts


def _output_path(record, w, l, j, t):
    """(symbols, numbers) of the output path of unit or neuron j of layer l at step t:
    from the layer above, or ∂E_t/∂a[t] at the output."""
    if l < len(record.layers) - 1:
        return _from_above(record, w, l, j, t)
    s = record.layers[l].neurons[j].steps[t - 1]
    if not record.layers[l].is_gated:
        return w.at(w.partial(w.a(l, j)), t), w.fac(s.output_path)
    h = w.at(w.h(l, j), t)   # ∂E_t/∂h[t]: the loss of step t only, not the whole dE/dh[t]
    symbol = {"text": f"∂E[{t}]/∂{h}", "html": f"&part;E[{t}]/&part;{h}",
              "latex": rf"\frac{{\partial E_{{{t}}}}}{{\partial {h}}}"}[w.style]
    return symbol, w.fac(s.output_path)


def backward_section(record, w, times, layers=None, neurons=None):
    """One table per step, t = T down to 1, every layer from the output down, and
    the δ equations (with a gated layer: its own tables, in the order of the layers)."""
    parts = []
    shown = list(_shown(record, layers, neurons))
    has_gated = bool(record.gated_layers)
    for t in sorted(times, reverse=True):
        i = t - 1
        note = "" if record.targets[i] is not None else " (no target: output path 0)"
        if has_gated:
            parts += [_heading(w, f"t = {t}{note}", level=3)]
            parts += _gated_backward_parts(record, w, t, layers, neurons)
            continue
        table, equations, _ = _backward_rows(record, w, shown, t)
        parts += [_heading(w, f"t = {t}{note}", level=3), table, _equations(w, equations)]
    top = record.layers[-1]
    if top.is_recurrent and record.paired_output:
        parts.append(w.text(
            f"{record.activations[-1]} output with {record.loss_name}: the output "
            "path goes straight to z, δ[t] = (a[t] − t[t]) + (recurrent path)·g'(z[t]), "
            "so an infinite dE/da of an output that rounded to 0 or 1 does not enter δ."))
    parts.append(w.text(truncation_note(record.truncation, record.steps)))
    if has_gated and record.truncation is not None and record.truncation > 1:
        parts.append(w.text(
            "LSTM and GRU layers carry the same part of dE/dc[t+1] (the cell path through "
            "the forget gate) and of dE/dh[t+1] (the GRU's direct path z·dE/dh[t+1]): "
            "the carried part of each is the part that comes from "
            f"{_losses_range(1, record.truncation - 1)}."))
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


def gradients_section(record, w, layers=None, neurons=None):
    """Each parameter's contribution at every step and the total Σ_t; a learned
    a[0]'s gradient Σ_j u_ji δ_j[1] written out."""
    steps = record.steps
    rows, equations = [], []
    for series, r in _shown(record, layers, neurons):
        l, j = series.layer, r.neuron
        if series.is_gated:
            unit_rows, unit_equations = gated_lines.gradient_rows(record, w, series, r)
            rows += unit_rows
            equations += unit_equations
            continue
        deltas = r.deltas
        for k in range(len(r.weights)):
            values = [None if d is None else d * s.inputs[k] for d, s in zip(deltas, r.steps)]
            rows.append(w.terms_row(w.w(l, j, k), values, [r.weight_totals[k]]))
        if series.is_recurrent:
            for q in range(len(r.recurrent_weights)):
                values = [d * s.previous[q] for d, s in zip(deltas, r.steps)]
                rows.append(w.terms_row(w.u(l, j, q), values, [r.recurrent_totals[q]]))
        rows.append(w.terms_row(w.b(l, j), deltas, [r.bias_total]))
        if series.is_recurrent and series.learn_initial_state:
            grad = series.initial_state_grad[j]
            rows.append(w.terms_row(w.a0(l, j), [grad] + [None] * (steps - 1), [grad]))
            sym, num = _recurrent_path_terms(record, w, l, j, 0)
            equations.append(w.equation(f"{w.partial(w.a0(l, j))} = {sym} = {num} = "
                                        f"{w.num(grad)}"))
    headers = ["parameter"] + [f"t = {t}" for t in range(1, steps + 1)] + ["total dE/dθ = Σ_t"]
    formulas = []
    if w.style != "latex":
        for l in record.recurrent_layers:
            if layers is not None and l not in layers:
                continue
            d = w.at(w.delta(l, 0), "t")
            formulas.append(w.equation(
                f"dE/d{w.w(l, 0, 0)} = Σ_t {d}{w.times}"
                f"{w.at(gated_lines.below_label(record, w, l, 0), 't')};  "
                f"dE/d{w.u(l, 0, 0)} = Σ_t {d}{w.times}{w.at(w.a(l, 0), 't−1')};  "
                f"dE/d{w.b(l, 0)} = Σ_t {d}"))
        for series in record.layers:
            if series.is_gated and (layers is None or series.layer in layers):
                formulas.append(gated_lines.gradient_formulas(record, w, series))
    return w.table(rows, headers), formulas + equations


def updated_parameters(record, w, layers=None, neurons=None):
    """Each shown neuron's w, u and b and a learned a[0] (an LSTM or GRU unit:
    its gates' parameters, :func:`neuronsim.render.gated_lines.update_rows`), in
    the order of the tables, as
    :class:`~neuronsim.render.update_tables.UpdatedParameter`.  With an update
    rule (``record.rule``): g as the core applied it (None: a fixed bias), the
    penalty's share and the optimizer state before and after; without, g as
    applied is the gradient (None for a bias that ``update_biases=False``
    keeps fixed)."""
    rule = record.rule
    params = []

    def add(label, name, k, old, grad, new, owner):
        if rule is None:
            applied, share = (None if name in BIASES and not record.update_biases else grad), None
        else:
            applied = (owner.applied or {}).get(name)   # None: a fixed bias
            share = (owner.penalty or {}).get(name)
            if k is not None:
                applied = None if applied is None else applied[k]
                share = None if share is None else share[k]
        params.append(updated_parameter(rule, label, name, k, old, grad, new, applied, share,
                                        owner.state_before, owner.state_after))

    def add_initial(series, label, name, j, old, grad, new, applied):
        """A learned initial state: its layer holds its applied g and optimizer state."""
        params.append(updated_parameter(rule, label, name, j, old, grad, new,
                                        grad if rule is None else applied, None,
                                        series.state_before, series.state_after))

    for series, r in _shown(record, layers, neurons):
        l, j = series.layer, r.neuron
        if series.is_gated:
            for label, old, grad, new, gate, name, k in gated_lines.update_rows(w, series, r):
                add(label, name, k, old, grad, new, gate)
            for label, name, old, grad, new in gated_lines.initial_update_rows(w, series, j):
                add_initial(series, label, name, j, old, grad, new,
                            None if rule is None else series.applied_initials[name][j])
            continue
        for k, values in enumerate(zip(r.weights, r.batch_weight_grads, r.new_weights)):
            add(w.w(l, j, k), "weights", k, *values, r)
        if series.is_recurrent:
            for q, values in enumerate(zip(r.recurrent_weights, r.batch_recurrent_grads,
                                           r.new_recurrent_weights)):
                add(w.u(l, j, q), "recurrent_weights", q, *values, r)
        add(w.b(l, j), "bias", None, r.bias, r.batch_bias_grad, r.new_bias, r)
        if series.is_recurrent and series.learn_initial_state:
            add_initial(series, w.a0(l, j), "initial_state", j, series.old_initial_state[j],
                        series.batch_initial_state_grad[j], series.new_initial_state[j],
                        None if rule is None else series.applied_initial_state_grad[j])
    return params


def optimizer_update_section(record, w, layers=None, neurons=None):
    """The update by an optimizer, a penalty or clipping (``record.rule``):
    the shared table and per-parameter lines of
    :func:`neuronsim.render.tables.optimizer_update_table`, for each shown
    neuron's w, u and b and a learned a[0], in the order of the plain update."""
    return optimizer_update_table(w, record.rule, record.learning_rate,
                                  updated_parameters(record, w, layers, neurons),
                                  gradient_header(record, "θ", "sequences"))


#: (table, lines) of an optimizer's update of a sequence, for the filters: the call a batch makes
update_of = optimizer_update_section


def time_notes(record):
    """The notes on time and the recurrent layers of ``record``'s network: what t,
    a[0], w, u and b mean (:func:`time_note`), and for LSTM and GRU layers their
    gates, c and h (:func:`neuronsim.trace.gated_lines.note`)."""
    elman = record.recurrent_layers
    if not record.gated_layers:
        return [time_note(None, elman)]
    notes = [time_note(None, elman, others=False)] if elman else []
    start = "" if elman else "Time steps t = 1..T; h[0] (and c[0]) is the initial state.  "
    return notes + [start + gated_lines.note(record) + "  Every other layer is dense and runs "
                    "once per step."]


def time_note(w, recurrent_layers=(0,), others=True):
    """What t, a[0], w, u and b mean, for the recurrent layers (0-based indices);
    ``others``: say that every other layer is dense."""
    numbers = [lab.textbook_layer(l) for l in recurrent_layers]
    if numbers == [2]:
        return ("Time steps t = 1..T; a[0] is the initial state.  Recurrent neuron j of layer 2 "
                "has input weights w_jk (from input k at the same step), recurrent weights u_ji "
                "(from neuron i of layer 2 at the step before) and bias b_j; "
                "net.layers[0].neurons[j].weights[k], .recurrent_weights[i] and .bias in "
                "Python.  u_ji carries superscript (2) in both conventions: it feeds layer 2 "
                "(nielsen) and comes from layer 2 at t−1 (ng).")
    names = ", ".join(map(str, numbers[:-1])) + f" and {numbers[-1]}" if len(numbers) > 1 \
        else str(numbers[0])
    layer_word = "layers" if len(numbers) > 1 else "layer"
    return (f"Time steps t = 1..T; a[0] is the initial state.  Recurrent {layer_word} "
            f"{names}: neuron j of recurrent layer l has input weights w_jk (from neuron k of "
            "layer l−1 at the same step), recurrent weights u_ji (from neuron i of layer l at "
            "the step before) and bias b_j; net.layers[l−2].neurons[j].weights[k], "
            ".recurrent_weights[i] and .bias in Python.  u_ji carries the superscript (l) of "
            "its own layer in both conventions: it feeds layer l (nielsen) and comes from "
            "layer l at t−1 (ng)." + ("  Every other layer is dense and runs once per step."
                                      if others else ""))


def check_times(times, steps):
    """The time steps to show, sorted (all of 1..T if ``times`` is None), or ValueError."""
    if times is None:
        return list(range(1, steps + 1))
    times = sorted(set(times))
    for t in times:
        if not 1 <= t <= steps:
            raise ValueError(f"time step {t}: the sequence has steps 1 to {steps}")
    return times


def render_sequence(record, format="plain", digits=9, convention="nielsen", times=None,
                    sections=SECTIONS, layers=None, neurons=None, title=None):
    """One :class:`SequenceRecord` as text in ``format`` (plain, markdown, latex, html).

    ``times``: the steps t (from 1) whose forward and backward tables are
    shown (default all); ``layers``/``neurons``: 0-based indices of the rows
    to show (default all; equations still use every number they need).
    ``title`` replaces "Sequence i" in the first heading.
    """
    w = _Writer(format, digits, convention, False)
    _check_sections(sections)
    times = check_times(times, record.steps)
    backward = record.loss is not None   # a sequence traced before its BPTT has none

    def forward():
        heading = _heading(w, "Forward pass, step by step")
        if record.gated_layers:
            return [heading] + gated_forward_parts(record, w, times, layers, neurons)
        table, eqs = forward_section(record, w, times, layers, neurons)
        return [heading, table, _equations(w, eqs)]

    def loss():
        if not backward:
            return []
        table, eqs = loss_section(record, w)
        return [_heading(w, f"Loss ({record.loss_name}, {record.step_loss} over steps)"),
                table, _equations(w, eqs)]

    def deltas():
        if not backward:
            return []
        return ([_heading(w, "Backward pass through time (t = T down to 1)")]
                + backward_section(record, w, times, layers, neurons))

    def gradients():
        if not backward:
            return []
        table, eqs = gradients_section(record, w, layers, neurons)
        return [_heading(w, "Each parameter's contribution per step, and the total"), table,
                _equations(w, eqs)]

    def update():
        if not (backward and record.updated):
            return []
        return update_parts(record, w, f"Update after the whole sequence (η = "
                                       f"{w.num(record.learning_rate)})",
                            updated_parameters(record, w, layers, neurons),
                            gradient_header(record, "θ", "sequences"), "θ")

    return assemble(w, _header(record, w, title), sections,
                    {"forward": forward, "loss": loss, "backward": deltas,
                     "gradients": gradients, "update": update})
