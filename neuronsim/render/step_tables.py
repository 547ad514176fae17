"""A feed-forward step's sections: forward, loss, backward, gradients and its update.

The records are :class:`~neuronsim.trace.records.StepRecord` objects, one
:class:`~neuronsim.trace.records.NeuronRecord` per neuron: a feed-forward step
is the one-time-step case of a sequence, so its tables have no t column.

Sections of a step: forward (z, a, g'(z) with each z written out), loss,
backward (dE/da, g'(z), δ with the chain-rule product in numbers), gradients
(dE/dw = a_k δ_j) and, on a step that ends a batch, the update (w − η·dE/dw,
or an optimizer's lines: :mod:`neuronsim.render.update_tables`, the same for
every kind of record).  :func:`neuronsim.render.tables.render_records` renders
any list of records; :func:`render_step` is one step.
"""

from ..core import labels as lab
from ..core.summation import sum_in_order
from .update_tables import (
    gradient_header,
    optimizer_update_table,
    penalty_lines,
    update_parts,
    updated_parameter,
)
from .writer import SECTIONS, _check_sections, _equations, _heading, _Writer, assemble


def _header(step, w, title=None):
    """"Step 3: input x = (…), target t = (…)" (``title`` replaces "Step 3")."""
    text = f"{title or f'Step {step.index}'}: input x = ({_vector_text(w, step.input)})"
    if step.target is not None:
        text += f", target t = ({_vector_text(w, step.target)})"
    return text


def _vector_text(w, values, shown=8):
    """A vector's first few entries: a 784-pixel input must not fill the screen."""
    text = ", ".join(w.num(v) for v in values[:shown])
    if len(values) > shown:
        text += f", … ({len(values)} values)"
    return text


def _selected(step, layers, neurons):
    for layer_records in step.layers:
        for record in layer_records:
            if layers is not None and record.layer not in layers:
                continue
            if neurons is not None and record.neuron not in neurons:
                continue
            yield record


def _layer_inputs_label(w, record, k):
    return w.a(record.layer - 1, k)


def forward_section(step, w, records):
    rows = []
    equations = []
    for r in records:
        l, j = r.layer, r.neuron
        shown = [w.num(v) for v in r.inputs[:4]]
        if len(r.inputs) > 4:
            shown.append("…")
        rows.append([str(lab.textbook_layer(l)), w.cell(w.a(l, j)), step.activations[l],
                     ", ".join(shown), w.num(r.z), w.num(r.output), w.num(r.derivative)])
        symbolic = [f"{w.w(l, j, k)}{w.times}{w.a(l - 1, k)}" for k in range(len(r.inputs))]
        numeric = [f"{w.fac(wt)}{w.times}{w.fac(a)}" for wt, a in zip(r.weights, r.inputs)]
        if w.bias_as_weight:
            symbolic.insert(0, f"{w.b(l, j)}{w.times}{w.one()}")
            numeric.insert(0, f"{w.fac(r.bias)}{w.times}1")
        else:
            symbolic.append(w.b(l, j))
            numeric.append(w.fac(r.bias))
        equations.append(w.equation(
            f"{w.z(l, j)} = {w.sum_of(symbolic)} = {w.sum_of(numeric)} = {w.num(r.z)}"))
    headers = ["layer", "neuron", "g", "inputs a^(l-1)", "z", "a = g(z)", "g'(z)"]
    return w.table(rows, headers), equations


def _loss_terms(name, outputs, targets, w, layer):
    """Symbolic and numeric terms of E for the output layer."""
    sym, numeric = [], []
    n = len(outputs)
    for j, (a, t) in enumerate(zip(outputs, targets)):
        al, tl = w.a(layer, j), w.t(j)
        if name in ("half_sse", "sse", "mse"):
            sym.append(f"({tl}{w.minus}{al})²" if w.style != "latex" else f"({tl}{w.minus}{al})^2")
            numeric.append(f"({w.num(t)}{w.minus}{w.fac(a)})²" if w.style != "latex"
                           else f"({w.num(t)}{w.minus}{w.fac(a)})^2")
        elif name == "binary_cross_entropy":
            sym.append(f"[{tl} {w.ln} {al} + (1{w.minus}{tl}) {w.ln}(1{w.minus}{al})]")
            numeric.append(f"[{w.num(t)} {w.ln} {w.num(a)} + (1{w.minus}{w.num(t)}) "
                           f"{w.ln}(1{w.minus}{w.num(a)})]")
        else:
            sym.append(f"{tl} {w.ln} {al}")
            numeric.append(f"{w.num(t)} {w.ln} {w.num(a)}")
    half = r"\tfrac{1}{2}" if w.style == "latex" else "½"
    prefix = {"half_sse": half, "sse": "", "mse": f"(1/{n})",
              "binary_cross_entropy": "−", "cross_entropy": "−"}[name]
    if w.style == "latex":
        prefix = prefix.replace("−", "-")
    return prefix, sym, numeric


def loss_section(step, w):
    layer = len(step.activations) - 1
    prefix, sym, numeric = _loss_terms(step.loss_name, step.outputs, step.target, w, layer)
    if step.loss_name == "half_sse":
        sym_text = w.sum_of([prefix + s for s in sym])
        num_text = w.sum_of([prefix + s for s in numeric])
    elif not prefix:
        sym_text, num_text = w.sum_of(sym), w.sum_of(numeric)
    elif len(sym) == 1 and step.loss_name != "mse":
        sym_text, num_text = prefix + sym[0], prefix + numeric[0]
    else:
        sym_text = f"{prefix}({w.sum_of(sym)})"
        num_text = f"{prefix}({w.sum_of(numeric)})"
    note = ""
    if step.paired_output:
        note = ("  (computed from z: −ln σ(z) = softplus(−z), −ln(1 − σ(z)) = softplus(z))"
                if step.loss_name == "binary_cross_entropy"
                else "  (computed from z: −ln a_j = logsumexp(z) − z_j)")
        if w.style == "latex":
            note = ""
    lines = [w.equation(f"E = {sym_text} = {num_text} = {w.num(step.loss)}") + note]
    if step.batch_size == 1:            # a batch's penalty is in its batch loss
        lines += penalty_lines(w, step.rule, step.loss)
    return lines


def _output_grad_equation(step, w, r, n_out):
    l, j = r.layer, r.neuron
    a, t = r.output, step.target[j]
    al, tl = w.a(l, j), w.t(j)
    name = step.loss_name
    lhs = w.partial(al)
    if name == "half_sse":
        sym, num = f"{al}{w.minus}{tl}", f"{w.num(a)}{w.minus}{w.fac(t)}"
    elif name == "sse":
        sym, num = f"2({al}{w.minus}{tl})", f"2({w.num(a)}{w.minus}{w.fac(t)})"
    elif name == "mse":
        sym = f"2({al}{w.minus}{tl})/{n_out}"
        num = f"2({w.num(a)}{w.minus}{w.fac(t)})/{n_out}"
    elif name == "binary_cross_entropy":
        sym = f"({al}{w.minus}{tl}) / ({al}(1{w.minus}{al}))"
        num = f"({w.num(a)}{w.minus}{w.fac(t)}) / ({w.num(a)}(1{w.minus}{w.num(a)}))"
    else:
        minus = "-" if w.style == "latex" else "−"
        sym, num = f"{minus}{tl} / {al}", f"{minus}{w.fac(t)} / {w.num(a)}"
    return w.equation(f"{lhs} = {sym} = {num} = {w.num(r.output_grad)}")


def _delta_equation(step, w, r, output_records):
    l, j = r.layer, r.neuron
    last = len(step.activations) - 1
    d = w.delta(l, j)
    if l == last:
        if step.paired_output:
            al, tl = w.a(l, j), w.t(j)
            t = step.target[j]
            if step.loss_name == "cross_entropy" and sum_in_order(step.target) != 1:
                total = w.num(sum_in_order(step.target))
                sum_t = r"\sum_i t_i" if w.style == "latex" else "Σt"
                return w.equation(
                    f"{d} = {al}{w.times}{sum_t}{w.minus}{tl} = {w.fac(r.output)}{w.times}{total}"
                    f"{w.minus}{w.fac(t)} = {w.num(r.delta)}")
            why = ("sigmoid with binary cross-entropy: g'(z) = a(1 − a) cancels dE/da's "
                   "denominator" if step.loss_name == "binary_cross_entropy"
                   else "softmax with cross-entropy: the softmax Jacobian and dE/da combine")
            text = (f"{d} = {w.partial(w.z(l, j))} = {al}{w.minus}{tl} = {w.num(r.output)}"
                    f"{w.minus}{w.fac(t)} = {w.num(r.delta)}")
            return w.equation(text) + ("" if w.style == "latex" else f"   ({why})")
        if step.activations[l] == "softmax":
            return _softmax_delta_equation(step, w, r, output_records)
        return w.equation(
            f"{d} = {w.partial(w.a(l, j))}{w.times}{w.gprime(l, j)} = "
            f"{w.fac(r.output_grad)}{w.times}{w.fac(r.derivative)} = {w.num(r.delta)}")
    if step.activations[l] == "softmax":
        return _softmax_delta_equation(step, w, r, output_records)
    sym = [f"{w.w(l + 1, k, j)}{w.times}{w.delta(l + 1, k)}" for k in range(len(r.downstream))]
    num = [f"{w.fac(wt)}{w.times}{w.fac(dl)}" for wt, dl in r.downstream]
    return w.equation(
        f"{d} = ({w.sum_of(sym)}){w.times}{w.gprime(l, j)} = "
        f"({w.sum_of(num)}){w.times}{w.fac(r.derivative)} = {w.num(r.delta)}")


def _softmax_delta_equation(step, w, r, output_records):
    """δ_j = a_j (dE/da_j − Σ_i dE/da_i a_i): the softmax Jacobian, in any layer."""
    l, j = r.layer, r.neuron
    size = step.sizes[l] if step.sizes else len(output_records)
    total = r.jacobian_sum
    if total is None:   # records made before jacobian_sum existed
        total = sum_in_order(o.output_grad * o.output for o in output_records)
    weighted = [f"{w.partial(w.a(l, i))}{w.times}{w.a(l, i)}" for i in range(size)]
    if r.downstream is None:     # output layer: dE/da_j comes from the loss
        grad_sym, grad_num = w.partial(w.a(l, j)), w.fac(r.output_grad)
    else:                        # hidden layer: dE/da_j = Σ_k w_kj δ_k
        grad_sym = "(" + w.sum_of([f"{w.w(l + 1, k, j)}{w.times}{w.delta(l + 1, k)}"
                                   for k in range(len(r.downstream))]) + ")"
        grad_num = "(" + w.sum_of([f"{w.fac(wt)}{w.times}{w.fac(dl)}"
                                   for wt, dl in r.downstream]) + ")"
    return w.equation(
        f"{w.delta(l, j)} = {w.a(l, j)}{w.times}({grad_sym}{w.minus}({w.sum_of(weighted)})) = "
        f"{w.fac(r.output)}{w.times}({grad_num}{w.minus}{w.fac(total)}) = {w.num(r.delta)}")


def backward_section(step, w, records):
    last = len(step.activations) - 1
    output_records = step.layers[last]
    rows, equations = [], []
    ordered = sorted(records, key=lambda r: -r.layer)   # stable: output layer first
    for r in ordered:
        rows.append([str(lab.textbook_layer(r.layer)), w.cell(w.delta(r.layer, r.neuron)),
                     w.num(r.output_grad), w.num(r.derivative), w.num(r.delta)])
        if r.layer == last:
            equations.append(_output_grad_equation(step, w, r, len(step.outputs)))
        equations.append(_delta_equation(step, w, r, output_records))
    headers = ["layer", "neuron", "dE/da", "g'(z)", "δ = dE/dz"]
    softmax = [lab.textbook_layer(l) for l, name in enumerate(step.activations)
               if name == "softmax" and not (l == last and step.paired_output)
               and any(r.layer == l for r in records)]
    if softmax:
        layers = ", ".join(str(n) for n in softmax)
        equations.append(w.prose(
            f"(softmax layer {layers}: the g'(z) column shows only the diagonal "
            "a_j(1 − a_j) of the Jacobian; δ uses all of it, as written above)"))
    return w.table(rows, headers), equations


def gradients_section(step, w, records):
    rows = []
    for r in records:
        l, j = r.layer, r.neuron
        bias_row = [w.cell(w.b(l, j)), w.cell(w.one()) if w.bias_as_weight else "1",
                    "1", w.num(r.delta), w.num(r.bias_grad)]
        if w.bias_as_weight:
            rows.append(bias_row)
        for k, (a, g) in enumerate(zip(r.inputs, r.weight_grads)):
            rows.append([w.cell(w.w(l, j, k)), w.cell(w.a(l - 1, k)), w.num(a),
                         w.num(r.delta), w.num(g)])
        if not w.bias_as_weight:
            rows.append(bias_row)
    headers = ["parameter", "input", "value", "δ of its neuron", "dE/d(parameter) = input·δ"]
    return w.table(rows, headers)


def updated_parameters(step, w, records):
    """Each shown neuron's weights, then its bias (the bias first with
    ``bias_as_weight``), as :class:`~neuronsim.render.update_tables.UpdatedParameter`:
    the value before, the reduced gradient, g as applied (None: a fixed bias)
    and the new value; with an update rule (``step.rule``) g as the core
    applied it, the penalty's share and the optimizer state before and after
    the step."""
    rule = step.rule
    params = []
    for r in records:
        l, j = r.layer, r.neuron
        weights = []
        for k, (old, grad, new) in enumerate(zip(r.weights, r.batch_weight_grads,
                                                 r.new_weights)):
            applied, share = grad, None
            if rule is not None:
                applied = r.applied_weight_grads[k]
                share = None if r.penalty_weight_grads is None else r.penalty_weight_grads[k]
            weights.append(updated_parameter(rule, w.w(l, j, k), "weights", k, old, grad, new,
                                             applied, share, r.state_before, r.state_after))
        if rule is None:
            applied = r.batch_bias_grad if step.update_biases else None
        else:
            applied = r.applied_bias_grad
        bias = updated_parameter(rule, w.b(l, j), "bias", None, r.bias, r.batch_bias_grad,
                                 r.new_bias, applied, None, r.state_before, r.state_after)
        params += [bias] + weights if w.bias_as_weight else weights + [bias]
    return params


def optimizer_update_section(step, w, records):
    """The update by an optimizer, a penalty or clipping: a table (θ, dE/dθ,
    the penalty's share, g as applied, θ new) and each parameter's lines, read
    from the core's state before and after the step (``StepRecord.rule``)."""
    return optimizer_update_table(w, step.rule, step.learning_rate,
                                  updated_parameters(step, w, records),
                                  gradient_header(step, "w", "samples"))


def update_of(step, w, layers=None, neurons=None):
    """(table, lines) of an optimizer's, penalty's or clipping's update of ``step``,
    for the neurons the filters keep (0-based sets): the call a batch makes."""
    return optimizer_update_section(step, w, list(_selected(step, layers, neurons)))


def render_step(step, format="plain", digits=9, layers=None, neurons=None,
                bias_as_weight=False, convention="nielsen", sections=SECTIONS, title=None):
    """One :class:`~neuronsim.trace.tracer.StepRecord` as text in ``format``.

    ``layers``/``neurons``: optional 0-based indices to show (the CLI's
    ``--layer``/``--neuron`` take textbook numbers and convert).  ``title``
    replaces "Step N" in the heading.
    """
    w = _Writer(format, digits, convention, bias_as_weight)
    _check_sections(sections)
    records = list(_selected(step, layers, neurons))
    backward = step.loss is not None    # a step traced before its back-propagation has none

    def forward():
        table, eqs = forward_section(step, w, records)
        return [_heading(w, "Forward pass"), table, _equations(w, eqs)]

    def loss():
        if not backward:
            return []
        return [_heading(w, f"Loss ({step.loss_name})"), _equations(w, loss_section(step, w))]

    def deltas():
        if not backward:
            return []
        table, eqs = backward_section(step, w, records)
        return [_heading(w, "Backward pass (δ = dE/dz, output layer first)"), table,
                _equations(w, eqs)]

    def gradients():
        if not backward:
            return []
        return [_heading(w, "Gradients of this sample"), gradients_section(step, w, records)]

    def update():
        if not step.updated:
            return []
        return update_parts(step, w, f"Update (learning rate η = {w.num(step.learning_rate)})",
                            updated_parameters(step, w, records),
                            gradient_header(step, "w", "samples"), "w")

    return assemble(w, _header(step, w, title), sections,
                    {"forward": forward, "loss": loss, "backward": deltas,
                     "gradients": gradients, "update": update})
