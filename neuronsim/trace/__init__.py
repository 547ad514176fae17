"""Tracing: the tracer records every number of a step; walks and streams read the records.

``Tracer`` (neuronsim.trace.tracer) is the entry point:
``Tracer().attach(net)``, then ``tracer.render(...)``; a network with a recurrent
layer (any stack) is traced per time step by ``RecurrentTracer`` (neuronsim.trace.recurrent).
"""

from .recurrent import RecurrentTracer
from .tracer import Tracer

__all__ = ["RecurrentTracer", "Tracer"]
