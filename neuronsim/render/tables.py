"""Trace records -> tables in plain text, GitHub Markdown, LaTeX or HTML: the one renderer.

:func:`render_records` renders any list of records, of any network, in any
format: feed-forward steps (:class:`~neuronsim.trace.records.StepRecord`),
sequences (:class:`~neuronsim.trace.sequence.SequenceRecord`, tables per time
step) and batch steps of either (:class:`~neuronsim.trace.records.BatchRecord`).
It writes one notation note (and, for sequences, the notes on time and on the
recurrent and gated layers), then each record with the one section list
``SECTIONS`` = forward, loss, backward, gradients, update;
:func:`render_record` writes one record without the notes, and
:func:`document` wraps a rendering in a whole HTML page or LaTeX article.

The sections come from one module per family, all in this folder:

* :mod:`~neuronsim.render.writer`: the one writer (labels, numbers, operators,
  tables, headings) of every format and every kind of record;
* :mod:`~neuronsim.render.step_tables`: a feed-forward step (the one-time-step
  case: no t column);
* :mod:`~neuronsim.render.sequence_tables`: a sequence, per time step, with
  :mod:`~neuronsim.render.gated_lines` for LSTM and GRU layers;
* :mod:`~neuronsim.render.update_tables`: the update of every kind (the plain
  table, an optimizer's lines, a penalty);
* :mod:`~neuronsim.render.batch_tables`: a batch step of every kind (the batch
  loss, the accumulated gradient, the one update);
* :mod:`~neuronsim.render.kinds`: what differs between the kinds of records.

The older entry points stay: :func:`render_trace` (steps),
:func:`render_batches`, :func:`render_sequences` and
:func:`render_sequence_batches` all call :func:`render_records`, and the names
that were defined here are imported from their modules.
"""

from .batch_tables import (  # noqa: F401
    _parameter_label,
    _sample_numbers,
    _samples,
    _selected_parameters,
    _shown_samples,
    _unseen_note,
    accumulated_section,
    batch_loss_section,
    batch_update_section,
    render_batch,
)
from .kinds import SEQUENCE, STEP, first_sample, kind_of
from .step_tables import (  # noqa: F401
    _delta_equation,
    _header,
    _layer_inputs_label,
    _loss_terms,
    _output_grad_equation,
    _selected,
    _softmax_delta_equation,
    _vector_text,
    backward_section,
    forward_section,
    gradients_section,
    loss_section,
    optimizer_update_section,
    render_step,
    updated_parameters,
)
from .update_tables import (  # noqa: F401
    _OPT_SYMBOLS,
    _SUPERSCRIPT,
    _adagrad_lines,
    _adam_lines,
    _decay_line,
    _lerp_text,
    _Lines,
    _optimizer_lines,
    _rmsprop_lines,
    _rule_text,
    _sgd_lines,
    _state_of,
    UpdatedParameter,
    gradient_header,
    optimizer_update_table,
    penalty_lines,
    plain_update_table,
    update_parts,
    updated_parameter,
)
from .writer import (  # noqa: F401
    _LATEX_MATH_NUMBER,
    _LATEX_PROSE,
    _SUBSCRIPT,
    FORMATS,
    MAX_TERMS,
    SECTIONS,
    _check_sections,
    _equations,
    _heading,
    _paragraph,
    _Writer,
    html_document,
    latex_document,
    latex_text,
    notation_note,
)


def render_records(records, format="plain", digits=9, convention="nielsen", sections=SECTIONS,
                   layers=None, neurons=None, times=None, bias_as_weight=False, sequences=None):
    """Every record of ``records`` after the notes, in ``format``; ready to print or save.

    ``records``: steps, sequences, or batch steps of either (all of one
    network).  ``sections``: which of ``SECTIONS`` to show;
    ``layers``/``neurons``: 0-based indices of the rows to show (the CLI's
    ``--layer``/``--neuron`` take textbook numbers and convert); ``times``:
    the time steps t (from 1) of a sequence's forward and backward tables;
    ``bias_as_weight``: a feed-forward bias shown as w_j0 on a constant input
    a_0 = 1.  ``sequences``: whether the network reads sequences, for the notes
    when ``records`` is empty (otherwise the records say).
    """
    records = list(records)
    first = first_sample(records)
    kind = kind_of(first) if first is not None else SEQUENCE if sequences else STEP
    w = _Writer(format, digits, convention, bias_as_weight)
    _check_view(kind, sections, times, bias_as_weight)
    body = [_paragraph(w, note) for note in _notes(w, kind, first)]
    body += [render_record(r, format, digits, convention, sections, layers, neurons, times,
                           bias_as_weight) for r in records]
    return "\n\n".join(body) + "\n"


def notes(record=None, format="plain", digits=9, convention="nielsen", bias_as_weight=False,
          sequences=None):
    """The notes that come before the records: the notation note (how labels map to
    Python, the weight convention) and, for a network that reads sequences, what t,
    a[0], u and the gates mean.  ``record``: a step, sequence or batch of the
    network (None: ``sequences`` says which notes)."""
    first = first_sample([record]) if record is not None else None
    kind = kind_of(first) if first is not None else SEQUENCE if sequences else STEP
    return _notes(_Writer(format, digits, convention, bias_as_weight), kind, first)


def _notes(w, kind, first):
    return [notation_note(w)] + [w.text(note) for note in kind.notes(first)]


def render_record(record, format="plain", digits=9, convention="nielsen", sections=SECTIONS,
                  layers=None, neurons=None, times=None, bias_as_weight=False, title=None):
    """One record of any kind (a step, a sequence or a batch step) without the notes;
    ``title`` replaces "Step N" or "Sequence N" in a step's or sequence's heading.
    Options as in :func:`render_records`."""
    kind = kind_of(record)
    _check_view(kind, sections, times, bias_as_weight)
    if hasattr(record, "samples"):     # a batch step
        return render_batch(record, format, digits, layers, neurons, bias_as_weight,
                            convention, sections, times)
    view = {"format": format, "digits": digits, "convention": convention,
            "bias_as_weight": bias_as_weight, "layers": layers, "neurons": neurons,
            "times": times}
    return kind.render(record, view, sections, title=title)


def _check_view(kind, sections, times, bias_as_weight):
    """Options that the records' kind cannot show: ValueError naming the option."""
    _check_sections(sections)
    if times is not None and not kind.time_steps:
        raise ValueError("times: a feed-forward step has no time steps")
    if bias_as_weight and kind.time_steps:
        raise ValueError("bias_as_weight: not for the per-time-step tables of a network "
                         "that reads sequences")


def document(text, format, title="neuronsim trace"):
    """A rendering as a whole file: an HTML page or a LaTeX article; plain text and
    Markdown as they are."""
    if format == "html":
        return html_document(text, title=title)
    if format == "latex":
        return latex_document(text)
    return text


# ---------------------------------------------------------------- the older entry points
def render_trace(steps, format="plain", digits=9, layers=None, neurons=None,
                 bias_as_weight=False, convention="nielsen", sections=SECTIONS):
    """Every feed-forward step, preceded by the notation note (:func:`render_records`)."""
    return render_records(steps, format, digits, convention, sections, layers, neurons,
                          bias_as_weight=bias_as_weight, sequences=False)


def render_batches(batches, format="plain", digits=9, layers=None, neurons=None,
                   bias_as_weight=False, convention="nielsen", sections=SECTIONS):
    """Every batch step, preceded by the notation note (:func:`render_records`)."""
    return render_records(batches, format, digits, convention, sections, layers, neurons,
                          bias_as_weight=bias_as_weight, sequences=False)


def render_sequences(records, format="plain", digits=9, convention="nielsen", times=None,
                     sections=SECTIONS, layers=None, neurons=None):
    """Every sequence, after the notation and time notes (:func:`render_records`)."""
    return render_records(records, format, digits, convention, sections, layers, neurons,
                          times, sequences=True)


def render_sequence_batches(batches, format="plain", digits=9, convention="nielsen", times=None,
                            sections=SECTIONS, layers=None, neurons=None):
    """Every batch step of a network that reads sequences after the notes: each
    sequence's per-time-step tables (all sections but its own update), then the
    batch loss (Σ_s E_s)/n, the accumulated gradient (Σ_s dE_s/dθ)/n of every w,
    u, b and learned a[0] with each sequence's term, and the one update (no ÷ n
    for ``reduction="sum"``).  See :func:`render_records`."""
    return render_records(batches, format, digits, convention, sections, layers, neurons,
                          times, sequences=True)


def sequences_html(tracer, shown=3):
    """The first ``shown`` kept sequences of ``tracer`` as HTML tables (Jupyter's display)."""
    tracer.flush()
    sequences = tracer.sequences[:shown]
    more = len(tracer.sequences) - len(sequences)
    text = render_sequences(sequences, format="html", digits=6) if sequences else ""
    if more > 0:
        text += f"<p>… and {more} more sequence{'s' if more != 1 else ''} (tracer.render())</p>"
    return text or "<p>no sequence traced yet</p>"
