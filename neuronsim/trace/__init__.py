"""Tracing: the tracer records every number of a step; walks and streams read the records.

``Tracer`` (neuronsim.trace.tracer) is the entry point for every network:
``Tracer().attach(net)``, then ``tracer.render(...)``.  A feed-forward network
gives one record per sample (``tracer.steps``), a network that reads sequences
(a recurrent, LSTM or GRU layer anywhere in the stack) one per sequence with
per-time-step tables (``tracer.sequences``).  ``RecurrentTracer``
(neuronsim.trace.recurrent) is the older name for the sequence case, kept.
"""

from .tracer import Tracer

__all__ = ["RecurrentTracer", "Tracer"]


def __getattr__(name):
    """``RecurrentTracer``, imported when first asked for: trace/recurrent.py re-exports
    the renderers of neuronsim.render, which read this package's records, so importing
    it here at once would start a render module before the records it reads."""
    if name == "RecurrentTracer":
        from .recurrent import RecurrentTracer

        return RecurrentTracer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
