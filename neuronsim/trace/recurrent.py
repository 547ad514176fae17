"""Tracing a network that reads sequences: :class:`RecurrentTracer`, the older name.

A :class:`RecurrentTracer` observes a :class:`~neuronsim.core.network.Network`
with at least one recurrent layer, in any stack (dense → recurrent → dense,
two or three recurrent layers in a row, a learned initial state).  The
network calls it after the forward pass, after BPTT, and before and after
the weight update, only while ``tracer.enabled``.  Each sequence becomes a
:class:`~neuronsim.trace.sequence.SequenceRecord` of plain data
(:mod:`neuronsim.trace.sequence`); with ``batches=True`` the tracer also keeps a
:class:`~neuronsim.trace.records.BatchRecord` per update, as the feed-forward
:class:`~neuronsim.trace.tracer.Tracer` does.  ``Tracer()`` records the same
records for such a network.

The tables are written in :mod:`neuronsim.render`: the sections per time step in
:mod:`neuronsim.render.sequence_tables`, LSTM and GRU lines in
:mod:`neuronsim.render.gated_lines`, the vanishing/exploding table in
:mod:`neuronsim.render.gradient_flow`, and every list of records through the one
driver :func:`neuronsim.render.tables.render_records`.  The sequence renderer's
own names (render_sequence(s), render_sequence_batches, the sections, gradient
flow) stay importable from here, as before they moved; the LSTM/GRU line writers
are imported from :mod:`neuronsim.render.gated_lines`, and the feed-forward
renderer's names from :mod:`neuronsim.render.tables`.

    >>> from neuronsim.core.recurrent import RecurrentNetwork
    >>> net = RecurrentNetwork.from_arrays([[0.5]], [[0.8]], [0.0], loss="half_sse")
    >>> tracer = RecurrentTracer().attach(net)
    >>> round(net.step([[1.0], [0.0]], [[0.5], [0.2]], 0.1), 9)
    0.012533056
    >>> round(tracer.sequences[0].layers[0].neurons[0].deltas[0], 9)
    0.054822476
"""

# The renderers' names stay importable from here, as before they moved to neuronsim.render.
from ..render.gradient_flow import (  # noqa: F401
    FLOW_ACTIVATIONS,
    flow_header,
    flow_ratio_line,
    gradient_flow,
    plot_gradient_flow,
    render_gradient_flow,
)
from ..render.sequence_tables import (  # noqa: F401
    SECTIONS,
    _output_path,
    _recurrent_path_terms,
    backward_section,
    check_times,
    forward_section,
    gated_forward_parts,
    gradients_section,
    loss_section,
    optimizer_update_section,
    render_sequence,
    time_note,
    time_notes,
    truncation_note,
    updated_parameters,
)
from ..render.tables import (  # noqa: F401
    render_records,
    render_sequence_batches,
    render_sequences,
    sequences_html,
)
from ..render.writer import _TimeWriter  # noqa: F401
# The records' names stay importable from here, as before they moved.
from .sequence import LayerSeries, NeuronSeries, SequenceRecord, SequenceRecording  # noqa: F401


class RecurrentTracer(SequenceRecording):
    """Records a :class:`~neuronsim.trace.sequence.SequenceRecord` per
    back-propagated sequence (the name from before
    :class:`neuronsim.trace.tracer.Tracer` traced every network: ``Tracer()``
    records the same records for a network that reads sequences).  It refuses
    a feed-forward network.

    ``keep=False`` with a ``sink`` hands each finished record to the sink
    and keeps nothing.  ``batches=True`` also keeps a
    :class:`~neuronsim.trace.records.BatchRecord` per update in ``batches``
    (rendered by :meth:`render_batches`).
    """

    def render(self, **options):
        """All kept sequences as tables (see :func:`render_sequences`)."""
        self.flush()
        return render_sequences(self.sequences, **options)

    def render_batches(self, **options):
        """The kept batch steps as tables (see :func:`render_sequence_batches`;
        needs ``batches=True``)."""
        if not self.record_batches:
            raise ValueError("this tracer records no batches: create it with "
                             "RecurrentTracer(batches=True)")
        return render_sequence_batches(self.batches, **options)

    def _repr_html_(self):
        """Jupyter display: the first sequences' tables as HTML."""
        return sequences_html(self)
