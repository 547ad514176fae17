"""Tracing: the tracer records every number of a step; walks and streams read the records.

``Tracer`` (neuronsim.trace.tracer) is the entry point:
``Tracer().attach(net)``, then ``tracer.render(...)``.
"""

from .tracer import Tracer

__all__ = ["Tracer"]
