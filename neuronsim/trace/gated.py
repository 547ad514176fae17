"""Tracing LSTM and GRU layers gate by gate: the records per unit and per gate.

:class:`~neuronsim.trace.recurrent.RecurrentTracer` keeps, for an LSTM or GRU
layer, one :class:`UnitSeries` per unit j (0-based): its
:class:`~neuronsim.core.lstm.LSTMStep` / :class:`~neuronsim.core.gru.GRUStep`
of every time step (the network's own records, with a
:class:`~neuronsim.core.gates.GateStep` per gate), and one
:class:`GateSeries` per gate q with that gate neuron's parameters (w, u, b^x,
b^h) as they were during the sequence, their gradients summed over t, and the
update.  This module makes those records; :mod:`neuronsim.render.gated_lines`
writes their tables and lines (the sections of
:mod:`neuronsim.render.sequence_tables` call it for every gated layer).

The totals over t are summed here in the network's order (t = T..1, by age
when truncated), so they equal the network's gradient of a one-sequence
batch bit for bit.
"""

from ..core.optimizers import copy_state
from ..core.summation import sum_in_order
from .records import OverTime, ParameterRecord, Record

#: the layer kinds this module traces
GATED_KINDS = ("lstm", "gru")
#: a gate neuron's parameters, as in ``GateNeuron.update_entries``
PARAMETERS = ("weights", "recurrent_weights", "bias_ih", "bias_hh")
#: the batch sum of each parameter on a gate neuron
SUM_NAMES = {"weights": "weight_grad_sum", "recurrent_weights": "recurrent_grad_sum",
             "bias_ih": "bias_ih_grad_sum", "bias_hh": "bias_hh_grad_sum"}
#: the kind of each parameter in a batch's ParameterRecord list
BATCH_KINDS = {"weights": "gate_weight", "recurrent_weights": "gate_recurrent_weight",
               "bias_ih": "gate_bias_ih", "bias_hh": "gate_bias_hh",
               "initial_state": "gate_initial_state", "initial_cell": "gate_initial_cell"}
STATE_NAMES = {"lstm": ("initial_state", "initial_cell"), "gru": ("initial_state",)}


def is_gated(layer):
    """True for an LSTM or GRU layer (of the network, or a LayerSeries)."""
    return layer.kind in GATED_KINDS


# ---------------------------------------------------------------- records
class GateSeries(Record):
    """Gate ``gate`` ("input", "forget", ...) of one unit over one sequence.

    ``weights`` (w), ``recurrent_weights`` (u), ``bias_ih`` (b^x), ``bias_hh``
    (b^h) as they were during the sequence; ``*_total`` their dE/dθ of this
    sequence, summed over t in the network's order.  At an update:
    ``batch_grads`` and ``new`` (by parameter name: the reduced batch
    gradient, the new value) and, with an optimizer, a penalty or clipping,
    ``applied`` (g as applied), ``penalty`` (its share) and copies of the gate
    neuron's ``optimizer_state`` before and after.
    """

    _fields = ("gate", "activation", "weights", "recurrent_weights", "bias_ih", "bias_hh",
               "weight_totals", "recurrent_totals", "bias_ih_total", "bias_hh_total",
               "batch_grads", "new", "applied", "penalty", "state_before", "state_after")

    def __init__(self, gate, activation, weights, recurrent_weights, bias_ih, bias_hh,
                 weight_totals=None, recurrent_totals=None, bias_ih_total=None, bias_hh_total=None,
                 batch_grads=None, new=None, applied=None, penalty=None, state_before=None,
                 state_after=None):
        self.gate = gate
        self.activation = activation
        self.weights = weights
        self.recurrent_weights = recurrent_weights
        self.bias_ih = bias_ih
        self.bias_hh = bias_hh
        self.weight_totals = weight_totals
        self.recurrent_totals = recurrent_totals
        self.bias_ih_total = bias_ih_total
        self.bias_hh_total = bias_hh_total
        self.batch_grads = batch_grads
        self.new = new
        self.applied = applied
        self.penalty = penalty
        self.state_before = state_before
        self.state_after = state_after

    def totals(self, name):
        """This sequence's dE/dθ of parameter ``name`` (a list for w and u)."""
        return {"weights": self.weight_totals, "recurrent_weights": self.recurrent_totals,
                "bias_ih": self.bias_ih_total, "bias_hh": self.bias_hh_total}[name]


class UnitSeries(Record, OverTime):
    """Unit ``neuron`` (j, 0-based) of the gated ``net.layers[layer]`` over one
    sequence: ``steps[t - 1]`` is its LSTMStep or GRUStep of step t (the
    network's record), ``gates`` a :class:`GateSeries` per gate, in torch's
    order.  ``outputs`` are h_j[t], ``output_grads`` dE/dh_j[t]
    (:class:`~neuronsim.trace.records.OverTime`)."""

    _fields = ("layer", "neuron", "kind", "steps", "gates")

    def __init__(self, layer, neuron, kind, steps, gates):
        self.layer = layer
        self.neuron = neuron
        self.kind = kind
        self.steps = steps
        self.gates = gates

    def gate_values(self, gate, quantity):
        """``quantity`` ("z", "output", "derivative", "delta", ...) of one gate, t = 1..T."""
        return [getattr(step.gates[gate], quantity) for step in self.steps]


def unit_series(net, l, layer):
    """A :class:`UnitSeries` per unit of the gated ``net.layers[l]`` after a forward pass."""
    units = []
    for j in range(layer.size):
        gates = {}
        for name in layer.GATES:
            n = layer.gates[name][j]
            gates[name] = GateSeries(name, n.activation.name, n.weights, n.recurrent_weights,
                                     n.bias_ih, n.bias_hh)
        units.append(UnitSeries(l, j, layer.kind, [step[l][j] for step in net.history], gates))
    return units


def hidden_factor(step, gate):
    """r_j[t] for the GRU's new gate, whose recurrent side sees δ^h = r_j·δ; else None."""
    if gate == "new" and "reset" in step.gates:
        return step.gates["reset"].output
    return None


def _parts(step, gate, truncated):
    """(δ, δ^h) as the network added them at this step: once (full BPTT), or per
    truncated-BPTT age."""
    record = step.gates[gate]
    deltas = list(record.delta_parts) if truncated else [record.delta]
    r = hidden_factor(step, gate)
    return [(d, d if r is None else r * d) for d in deltas]


def add_totals(unit, truncated):
    """Each gate's dE/dθ of this sequence: Σ_t δ x_k, Σ_t δ^h h_m[t-1], Σ_t δ,
    Σ_t δ^h, in the order the network summed them (t = T..1, then by age)."""
    later_first = list(reversed(unit.steps))
    for name, gate in unit.gates.items():
        parts = [(s, d, h) for s in later_first for d, h in _parts(s, name, truncated)]
        gate.weight_totals = [sum_in_order(s.inputs[k] * d for s, d, _ in parts)
                              for k in range(len(gate.weights))]
        gate.recurrent_totals = [sum_in_order(s.previous[m] * h for s, _, h in parts)
                                 for m in range(len(gate.recurrent_weights))]
        gate.bias_ih_total = sum_in_order(d for _, d, _ in parts)
        gate.bias_hh_total = sum_in_order(h for _, _, h in parts)


def _divided(value, n):
    return [v / n for v in value] if isinstance(value, list) else value / n


def before_update(units, layer, n, rule):
    """Each gate's reduced batch gradient (Σ / n, as the update divides it), and
    its optimizer state before the step when an UpdateRule applies."""
    for unit in units:
        for name, gate in unit.gates.items():
            neuron = layer.gates[name][unit.neuron]
            gate.batch_grads = {p: _divided(getattr(neuron, SUM_NAMES[p]), n)
                                for p in PARAMETERS}
            if rule is not None:
                gate.state_before = copy_state(neuron.optimizer_state)


def after_update(units, layer, rule):
    """Each gate's new parameters; with an UpdateRule, g as applied, the penalty's
    share and the state after (the core's own numbers)."""
    for unit in units:
        for name, gate in unit.gates.items():
            neuron = layer.gates[name][unit.neuron]
            gate.new = {p: getattr(neuron, p) for p in PARAMETERS}
            if rule is not None:
                gate.applied = dict(neuron.batch_grad)
                gate.penalty = dict(neuron.penalty_grad or {})
                gate.state_after = copy_state(neuron.optimizer_state)


def batch_parameters(net, l, layer, per_sequence, divisor):
    """The :class:`~neuronsim.trace.tracer.ParameterRecord` list of one gated layer
    in a batch: unit by unit, gate by gate, w, u, b^x, b^h; then a learned h[0]
    (and c[0]).  ``per_sequence``: the layer's LayerSeries of each sequence."""
    out = []

    def add(j, kind, index, old, terms, total, gate=None, updated=True):
        out.append(ParameterRecord(l, j, kind, index, old, terms, total, divisor,
                                   total / divisor, updated=updated, gate=gate))

    for j in range(layer.size):
        for name in layer.GATES:
            neuron = layer.gates[name][j]
            gates = [series.neurons[j].gates[name] for series in per_sequence]
            for param in PARAMETERS:
                old, total = getattr(neuron, param), getattr(neuron, SUM_NAMES[param])
                kind = BATCH_KINDS[param]
                if isinstance(old, list):
                    for k, (value, sum_k) in enumerate(zip(old, total)):
                        add(j, kind, k, value, [g.totals(param)[k] for g in gates], sum_k, name)
                else:
                    add(j, kind, None, old, [g.totals(param) for g in gates], total, name,
                        updated=net.update_biases)
    if layer.learn_initial_state:
        for name in layer.STATES:
            values = layer.initial_value(name)
            for j, (old, total) in enumerate(zip(values, layer.initial_grad_sums[name])):
                add(j, BATCH_KINDS[name], None, old,
                    [series.initial_grads[name][j] for series in per_sequence], total)
    return out


def new_batch_value(layer, p):
    """The value of a gated layer's batch parameter ``p`` after the update."""
    if p.kind in ("gate_initial_state", "gate_initial_cell"):
        return getattr(layer, p.kind[len("gate_"):])[p.neuron]
    attribute = {kind: name for name, kind in BATCH_KINDS.items()}[p.kind]
    value = getattr(layer.gates[p.gate][p.neuron], attribute)
    return value if p.index is None else value[p.index]
