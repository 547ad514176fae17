"""A batch step of any kind of record: each sample's sections, then the sums and the one update.

A batch step (records of ``Tracer(batches=True)``: a
:class:`~neuronsim.trace.records.BatchRecord`) is each sample's step (a
feed-forward step or a sequence, :mod:`neuronsim.render.kinds`) without an
update, then the batch's own sections: the loss E = (Σ_s E_s)/n, the
accumulated gradient dE/dθ = (Σ_s dE_s/dθ)/n with each sample's term, and the
one update θ ← θ − η·(Σ_s dE_s/dθ)/n (without the ÷ n for
``reduction="sum"``).  The same ``sections`` names select them: "loss",
"gradients" and "update".  The parameters are the batch's
:class:`~neuronsim.trace.records.ParameterRecord` list, labelled by
:meth:`neuronsim.render.writer._Writer.parameter` whatever their layer kind.
"""

from .kinds import kind_of
from .update_tables import UpdatedParameter, _rule_text, penalty_lines, plain_update_table
from .writer import (
    MAX_TERMS,
    SECTIONS,
    SKIPPED,
    _check_sections,
    _equations,
    _heading,
    _paragraph,
    _Writer,
)


def _parameter_label(w, p):
    """The label of a :class:`~neuronsim.trace.tracer.ParameterRecord`."""
    return w.parameter(p)


def _selected_parameters(batch, w, layers, neurons):
    """The parameters the filters keep; a bias shown as w_j0 comes first in its neuron."""
    kept = [p for p in batch.parameters
            if (layers is None or p.layer in layers) and (neurons is None or p.neuron in neurons)]
    if w.bias_as_weight:
        kept.sort(key=lambda p: (p.layer, p.neuron, p.kind != "bias"))   # stable
    return kept


def _sample_numbers(batch):
    """Each recorded sample's number in its batch, from 1 (after any unseen ones)."""
    return range(batch.unseen + 1, batch.size + 1)


def _shown_samples(count):
    """Positions (0-based) of the sample columns; None marks the "…" column."""
    if count <= MAX_TERMS:
        return list(range(count))
    return [0, 1, 2, None, count - 1]


def batch_loss_section(batch, w):
    """E = (E_1 + ... + E_n)/n (mean) or E_1 + ... + E_n (sum), with numbers."""
    if batch.loss is None:
        return [w.prose(_unseen_note(batch) + ": the batch loss needs every sample's E")]
    names = [w.loss_of_sample(s) for s in _sample_numbers(batch)]
    values = [w.fac(v) for v in batch.losses]
    if batch.reduction == "mean":
        sym = f"({w.sum_of(names)})/{batch.size}"
        num = f"({w.sum_of(values)})/{batch.size}"
    else:
        sym, num = w.sum_of(names), w.sum_of(values)
    lines = [w.equation(f"E = {sym} = {num} = {w.num(batch.loss)}")]
    rule = getattr(batch.samples[-1], "rule", None) if batch.samples else None
    return lines + penalty_lines(w, rule, batch.loss)


def accumulated_section(batch, w, parameters):
    """Per parameter: dE_s/dp of each sample, Σ_s, and Σ/n; then each sum written out."""
    numbers = list(_sample_numbers(batch))
    shown = _shown_samples(len(numbers))
    mean = batch.reduction == "mean"
    rows, equations = [], []
    for p in parameters:
        label = _parameter_label(w, p)
        rows.append(w.terms_row(label, [SKIPPED if i is None else p.terms[i] for i in shown],
                                [p.total, p.gradient] if mean else [p.total]))
        sym = w.sum_of([w.sample_partial(s, label) for s in numbers])
        num = w.sum_of([w.fac(t) for t in p.terms])
        if batch.unseen:
            sym += f" + ({batch.unseen} unseen)"
            num += f" + ({batch.unseen} unseen)"
        if mean:
            sym, num = f"({sym})/{batch.divisor}", f"({num})/{batch.divisor}"
        equations.append(w.equation(
            f"{w.partial(label)} = {sym} = {num} = {w.num(p.gradient)}"))
    headers = ["parameter"] + [w.ellipsis if i is None else f"sample {numbers[i]}"
                               for i in shown]
    headers.append(f"Σ over {_samples(batch.size)}")
    if mean:
        headers.append(f"dE/d(parameter) = Σ/{batch.divisor}")
    else:
        headers[-1] += " = dE/d(parameter)"
    if batch.unseen:
        equations.append(w.prose(f"({_unseen_note(batch)}: Σ includes their terms)"))
    return w.table(rows, headers), equations


def batch_update_section(batch, w, parameters):
    """p ← p − η·(Σ_s dE_s/dp)/n for each parameter, once for the whole batch: the
    plain update table of every record (:func:`~neuronsim.render.update_tables.plain_update_table`)
    and each parameter's line."""
    params, equations = [], []
    for p in parameters:
        label = _parameter_label(w, p)
        params.append(UpdatedParameter(label, p.old, p.gradient, p.gradient if p.updated else None,
                                       p.new, None, None, None))
        new = w.num(p.new)
        if not p.updated:
            equations.append(w.equation(f"{label} = {w.num(p.old)}") + " "
                             + w.prose("(biases fixed: update_biases is false)"))
            continue
        total = w.sample_partial(None, label)
        if batch.reduction == "mean":
            sym = f"{label}{w.minus}{w.eta}{w.times}({total})/{batch.divisor}"
            num = (f"{w.num(p.old)}{w.minus}{w.fac(batch.learning_rate)}{w.times}"
                   f"{w.fac(p.total)}/{batch.divisor}")
        else:
            sym = f"{label}{w.minus}{w.eta}{w.times}{total}"
            num = f"{w.num(p.old)}{w.minus}{w.fac(batch.learning_rate)}{w.times}{w.fac(p.total)}"
        equations.append(w.equation(f"{label}{w.gets}{sym} = {num} = {new}"))
    grad = f"dE/d(parameter) ({batch.reduction} over {_samples(batch.size)})"
    table = plain_update_table(w, params, batch.learning_rate, grad, "(parameter)",
                               not batch.update_biases)
    return table, equations


def _samples(count):
    return f"{count} sample" + ("" if count == 1 else "s")


def _unseen_note(batch):
    verb = "was" if batch.unseen == 1 else "were"
    return (f"{_samples(batch.unseen)} of this batch {verb} back-propagated before the "
            f"tracer saw {'it' if batch.unseen == 1 else 'them'}")


def render_batch(batch, format="plain", digits=9, layers=None, neurons=None,
                 bias_as_weight=False, convention="nielsen", sections=SECTIONS, times=None):
    """One :class:`~neuronsim.trace.tracer.BatchRecord` as text in ``format``.

    Each sample's record (every section but the update, which no single
    sample has; a sequence's tables per time step, ``times`` the steps
    shown), then the batch loss, the accumulated gradient and the one update,
    as ``sections`` selects them.  Options as in
    :func:`neuronsim.render.tables.render_records`.
    """
    kind = kind_of(batch)
    w = _Writer(format, digits, convention, bias_as_weight)
    _check_sections(sections)
    view = {"format": format, "digits": digits, "convention": convention,
            "bias_as_weight": bias_as_weight, "layers": layers, "neurons": neurons,
            "times": times}
    n, b = batch.size, batch.index
    title = f"Batch step {b}: {_samples(n)}, every δ with the same weights, then one update"
    parts = [_heading(w, title, level=1)]
    if batch.unseen:
        parts.append(_paragraph(w, w.prose(_unseen_note(batch) + "; only the others are shown")))
    per_sample = [name for name in sections if name != "update"]
    if per_sample:
        for number, sample in zip(_sample_numbers(batch), batch.samples):
            parts.append(kind.render(sample, view, per_sample,
                                     title=f"Batch step {b}, sample {number} of {n}"))
    parameters = _selected_parameters(batch, w, layers, neurons)
    summary = []
    if "loss" in sections:
        how = "mean" if batch.reduction == "mean" else "sum"
        losses = "the sample's loss" if n == 1 else f"the {n} sample losses"
        summary += [_heading(w, f"Batch loss (the {how} of {losses})"),
                    _equations(w, batch_loss_section(batch, w))]
    if "gradients" in sections:
        how = (f"Σ over the {_samples(n)}, then ÷ {n}: reduction mean" if batch.reduction == "mean"
               else f"Σ over the {_samples(n)}: reduction sum")
        table, eqs = accumulated_section(batch, w, parameters)
        summary += [_heading(w, f"Accumulated gradient ({how})"), table, _equations(w, eqs)]
    # an optimizer's, penalty's or clipping's update: the last sample's record holds it
    last = batch.samples[-1] if batch.samples else None
    rule = getattr(last, "rule", None)
    if "update" in sections and batch.updated and rule is not None:
        table, eqs = kind.update(last, w, layers, neurons)
        summary += [_heading(w, f"Update, once for the batch (learning rate η = "
                                f"{w.num(batch.learning_rate)}): {_rule_text(w, rule)}"),
                    table, _equations(w, eqs)]
    elif "update" in sections and batch.updated:
        table, eqs = batch_update_section(batch, w, parameters)
        summary += [_heading(w, f"Update, once for the batch (learning rate η = "
                                f"{w.num(batch.learning_rate)})"), table, _equations(w, eqs)]
    if summary:
        parts += [_heading(w, f"Batch step {b}: the sums and the one update", level=1)] + summary
    return "\n\n".join(p for p in parts if p)
