"""The kinds of records, and the little the renderer does differently for each, in one place.

A feed-forward network gives a :class:`~neuronsim.trace.records.StepRecord` per
sample; a network that reads sequences (a recurrent, LSTM or GRU layer anywhere
in the stack) a :class:`~neuronsim.trace.sequence.SequenceRecord` per sequence,
whose tables have a heading or a column per time step t.  A feed-forward step is
the one-time-step case: the same sections (forward, loss, backward, gradients,
update) without the t column.  A :class:`~neuronsim.trace.records.BatchRecord`
holds records of one kind, and is rendered the same way for both
(:mod:`neuronsim.render.batch_tables`).

What stays per kind is listed in :class:`RecordKind`: the sections of one
record (:mod:`neuronsim.render.step_tables`,
:mod:`neuronsim.render.sequence_tables`; a layer kind adds its rows and lines
there, as LSTM and GRU do in :mod:`neuronsim.render.gated_lines`), the call
that writes an optimizer's update for the shown parameters, and the notes after
the notation note.  The writer, the headings, the update tables, the batch
sections and the driver (:func:`neuronsim.render.tables.render_records`) are
one for all.
"""

from ..trace.records import BatchRecord, Record, StepRecord
from . import step_tables


class RecordKind(Record):
    """How the records of one kind are rendered.

    ``render(record, view, sections, title)``: one record's sections as text
    (``view``: the dict of ``format``, ``digits``, ``convention``,
    ``bias_as_weight``, ``layers``, ``neurons`` and ``times``);
    ``update(record, w, layers, neurons)``: the (table, lines) of an
    optimizer's, penalty's or clipping's update, from a batch's last record;
    ``notes(record)``: the notes after the notation note (``record`` None when
    nothing was traced); ``time_steps``: whether its tables have a t per time
    step (a feed-forward step is the one-time-step case, without it).
    """

    # A Record (==, repr), not a dataclass: see neuronsim/trace/records.py.  Made once
    # per kind and never changed, so it hashes by its fields, as a frozen dataclass.
    _fields = __slots__ = ("name", "time_steps", "render", "update", "notes")

    def __init__(self, name, time_steps, render, update, notes):
        self.name, self.time_steps = name, time_steps
        self.render, self.update, self.notes = render, update, notes

    def __hash__(self):
        return hash(self._values())


def _render_step(record, view, sections, title=None):
    return step_tables.render_step(record, view["format"], view["digits"], view["layers"],
                                   view["neurons"], view["bias_as_weight"], view["convention"],
                                   sections, title=title)


# The sequence tables (and the LSTM/GRU lines) are imported when a sequence is rendered:
# a feed-forward trace does not load them.
def _render_sequence(record, view, sections, title=None):
    from .sequence_tables import render_sequence

    return render_sequence(record, view["format"], view["digits"], view["convention"],
                           view["times"], sections, view["layers"], view["neurons"], title=title)


def _sequence_update(record, w, layers=None, neurons=None):
    from .sequence_tables import update_of

    return update_of(record, w, layers, neurons)


def _sequence_notes(record):
    from .sequence_tables import time_note, time_notes

    return [time_note(None, [0])] if record is None else time_notes(record)


STEP = RecordKind("step", False, _render_step, step_tables.update_of, lambda record: [])
SEQUENCE = RecordKind("sequence", True, _render_sequence, _sequence_update, _sequence_notes)


def kind_of(record):
    """The :class:`RecordKind` of a record: a batch's is that of its samples (a batch
    whose samples were all unseen counts as feed-forward)."""
    if isinstance(record, BatchRecord):
        return kind_of(record.samples[0]) if record.samples else STEP
    if isinstance(record, StepRecord):
        return STEP
    # The sequence records are imported here, not above: a feed-forward trace does not
    # load them (they are imported when a sequence is recorded).
    from ..trace.sequence import SequenceRecord

    return SEQUENCE if isinstance(record, SequenceRecord) else STEP


def first_sample(records):
    """The first step or sequence of a list of records (inside the first batch that
    has one), or None."""
    for record in records:
        if not isinstance(record, BatchRecord):
            return record
        if record.samples:
            return record.samples[0]
    return None
