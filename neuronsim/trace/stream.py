"""Stream trace records to a file, one step at a time, in bounded memory.

A :class:`StreamTracer` is a :class:`~neuronsim.trace.tracer.Tracer` that keeps
nothing: each step, once its batch's update has been recorded, is written
to the file and dropped.  Memory stays flat however many steps run (at most
one batch of steps waits for its update), so a 784-30-10 network can be
traced for thousands of steps.  The ``layers`` and ``neurons`` filters of
the tracer choose what is recorded; ``weights=False`` leaves out the
per-connection lists (inputs, weights, dE/dw, ...), which are most of the
volume of a wide layer.

Two formats:

``jsonl`` (JSON Lines)
    one JSON object per step: ``step`` (counted from 1), ``input``,
    ``target``, ``outputs``, ``loss``, ``updated``, ``learning_rate``,
    ``batch_size`` and ``neurons``, a list of one object per recorded neuron
    with ``layer``, ``neuron`` and the quantities below.
``csv``
    one row per recorded neuron per step, with the step's ``loss`` repeated
    on each row; a list is one cell of space-separated numbers.

Per neuron: ``z``, ``output`` (a), ``derivative`` (g'(z)), ``output_grad``
(dE/da), ``delta`` (dE/dz), ``bias``, ``bias_grad`` (dE/db of the sample),
``batch_bias_grad`` and ``new_bias`` (set on a step that ends a batch); with
``weights=True`` also ``inputs`` (a_k), ``weights``, ``weight_grads``
(a_k δ), ``batch_weight_grads`` and ``new_weights``.

``layer`` and ``neuron`` are the 0-based Python indices of
``net.layers[layer].neurons[neuron]`` (``layer`` 0 is textbook layer 2, the
inputs being layer 1).  Floats are written with ``repr``, the shortest text
that reads back to the same float, so a trace file holds the exact numbers
and the same seed gives the same bytes.  Non-finite values are written as
``"nan"``, ``"inf"`` and ``"-inf"`` (JSON has no literal for them); numbers
of other number systems (fractions, mpmath) as their ``str``.
"""

import csv
import json
import math
import os

from .tracer import Tracer

FORMATS = ("jsonl", "csv")

NEURON_SCALARS = ("z", "output", "derivative", "output_grad", "delta", "bias", "bias_grad",
                  "batch_bias_grad", "new_bias")
NEURON_LISTS = ("inputs", "weights", "weight_grads", "batch_weight_grads", "new_weights")
STEP_FIELDS = ("input", "target", "outputs", "loss", "updated", "learning_rate", "batch_size")


def _number(value):
    """A JSON-ready number: floats as themselves (written with repr) unless
    non-finite; other number types as their text."""
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    return str(value)


def _numbers(values):
    return None if values is None else [_number(v) for v in values]


def _cell(value):
    """One CSV cell: a number's repr, a list as space-separated numbers, '' for None."""
    if value is None:
        return ""
    if isinstance(value, list):
        return " ".join(_cell(v) for v in value)
    if isinstance(value, float):
        return repr(value)
    return str(value)


class StreamTracer(Tracer):
    """A tracer that writes each finished step to ``file`` and keeps nothing.

    ``file``: a path (opened, and closed by :meth:`close`) or an open text
    file.  ``format``: ``"jsonl"`` or ``"csv"`` (default: from the path's
    suffix, ``.csv`` meaning CSV, anything else JSON Lines).  ``layers`` and
    ``neurons``: 0-based indices to record (default all).  ``weights``: also
    write the per-connection lists.  Use as a context manager, or call
    :meth:`close` (which also writes a step still waiting for its update).
    """

    def __init__(self, file, format=None, layers=None, neurons=None, weights=True,
                 enabled=True):
        super().__init__(enabled=enabled, layers=layers, neurons=neurons, keep=False,
                         sink=self.write_step)
        if format is None:
            name = os.fspath(file) if isinstance(file, (str, os.PathLike)) else ""
            format = "csv" if name.lower().endswith(".csv") else "jsonl"
        if format not in FORMATS:
            raise ValueError(f"unknown trace format {format!r} (known: {', '.join(FORMATS)})")
        self.format = format
        self.weights = weights
        self.neuron_fields = NEURON_SCALARS + (NEURON_LISTS if weights else ())
        if isinstance(file, (str, os.PathLike)):
            self.handle = open(file, "w", encoding="utf-8", newline="")
            self._owns_handle = True
        else:
            self.handle = file
            self._owns_handle = False
        self.steps_written = 0
        self._csv = None
        if format == "csv":
            self._csv = csv.writer(self.handle, lineterminator="\n")
            self._csv.writerow(("step", "layer", "neuron", "loss") + self.neuron_fields)

    def on_forward(self, net):
        """As :meth:`Tracer.on_forward`, for a feed-forward network only (the
        columns are one step's)."""
        if net.is_sequential:
            from ..core.errors import NeuronsimError

            raise NeuronsimError("a stream tracer writes feed-forward steps; this network reads "
                                 "sequences: trace it with Tracer() and render the sequences")
        return super().on_forward(net)

    def write_step(self, step):
        """Write one finished :class:`~neuronsim.trace.tracer.StepRecord` (the tracer's sink)."""
        if self.format == "csv":
            for record in step.neurons():
                self._csv.writerow([step.index, record.layer, record.neuron, _cell(step.loss)]
                                   + [_cell(getattr(record, f)) for f in self.neuron_fields])
        else:
            line = {"step": step.index}
            for field in STEP_FIELDS:
                value = getattr(step, field)
                line[field] = _numbers(value) if isinstance(value, list) else _number(value)
            line["neurons"] = [self._neuron_json(record) for record in step.neurons()]
            self.handle.write(json.dumps(line, allow_nan=False, separators=(",", ":")))
            self.handle.write("\n")
        self.steps_written += 1

    def _neuron_json(self, record):
        out = {"layer": record.layer, "neuron": record.neuron}
        for field in NEURON_SCALARS:
            out[field] = _number(getattr(record, field))
        if self.weights:
            for field in NEURON_LISTS:
                out[field] = _numbers(getattr(record, field))
        return out

    def close(self):
        """Write any step still waiting for its update, then close an owned file."""
        self.flush()
        if self._owns_handle:
            self.handle.close()
        else:
            self.handle.flush()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()
        return False


def stream_tracer(file, format=None, layers=None, neurons=None, weights=True):
    """A :class:`StreamTracer` (a shortcut; use it in a ``with`` block)."""
    return StreamTracer(file, format=format, layers=layers, neurons=neurons, weights=weights)
