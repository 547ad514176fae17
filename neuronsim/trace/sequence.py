"""The records of a network that reads sequences, and the hooks that make them.

A network with at least one recurrent layer (any stack: dense → recurrent →
dense, Elman, LSTM and GRU layers, a learned initial state) calls its tracer
after the forward pass, after BPTT, and before and after the weight update.
Each sequence becomes a :class:`SequenceRecord` of plain data: one
:class:`LayerSeries` per layer, one :class:`NeuronSeries` per neuron (an LSTM
or GRU unit: :class:`~neuronsim.trace.gated.UnitSeries`), whose
``steps[t - 1]`` is the neuron's :class:`~neuronsim.core.through_time.NeuronStep`
of time step t.  :class:`SequenceRecording` holds the hooks;
:class:`neuronsim.trace.tracer.Tracer` uses them for such a network, and
:mod:`neuronsim.render.sequence_tables` renders the records.

The records are :class:`~neuronsim.trace.records.Record` objects, as the
feed-forward ones: they compare, print, pickle and turn into dicts for JSON,
the network's step values included (0-based indices, as everywhere in the API):

    >>> import json
    >>> from neuronsim.files import load_example
    >>> from neuronsim.trace import Tracer
    >>> net = load_example("rnn-parity")
    >>> tracer = Tracer().attach(net)
    >>> sample = net.samples[5]
    >>> round(net.step(sample["input"], sample["target"], 0.5), 12)
    3.910401053722
    >>> record = tracer.sequences[0]
    >>> step = record.layers[0].neurons[1].steps[2]   # net.layers[0] neuron 1 at t = 3
    >>> round(step.delta, 9)
    -0.109882975
    >>> plain = record.as_dict()
    >>> plain["layers"][0]["neurons"][1]["steps"][2]["delta"] == step.delta
    True
    >>> json.loads(json.dumps(plain)) == plain
    True
"""

from ..core.errors import NeuronsimError
from ..core.optimizers import copy_state
from ..core.summation import sum_in_order
from . import gated
from .gated import is_gated
from .records import OverTime, ParameterRecord, Record, Recorder


class NeuronSeries(Record, OverTime):
    """Neuron j (0-based) of ``net.layers[layer]`` over one sequence.

    ``weights`` (w_jk), ``recurrent_weights`` (u_ji; None for a dense
    neuron) and ``bias`` as they were during the sequence; ``steps[t - 1]``
    is its :class:`~neuronsim.core.through_time.NeuronStep` of step t
    (inputs, z, output, derivative, previous, output_grad, delta,
    output_path, recurrent_path, delta_parts).  ``grad_totals``: this
    sequence's dE/dθ for each of ``weights``, ``recurrent_weights`` and the
    bias, summed over t in the order the network sums them (t = T..1, and
    by age for truncated BPTT), so they equal the network's gradient of a
    one-sequence batch exactly.  Update: the reduced batch gradient applied
    and the new values.
    """

    _fields = ("layer", "neuron", "weights", "bias", "steps", "recurrent_weights", "weight_totals",
               "recurrent_totals", "bias_total", "batch_weight_grads", "batch_recurrent_grads",
               "batch_bias_grad", "new_weights", "new_recurrent_weights", "new_bias", "applied",
               "penalty", "state_before", "state_after")

    def __init__(self, layer, neuron, weights, bias, steps, recurrent_weights=None,
                 weight_totals=None, recurrent_totals=None, bias_total=None,
                 batch_weight_grads=None, batch_recurrent_grads=None, batch_bias_grad=None,
                 new_weights=None, new_recurrent_weights=None, new_bias=None, applied=None,
                 penalty=None, state_before=None, state_after=None):
        self.layer = layer
        self.neuron = neuron
        self.weights = weights
        self.bias = bias
        self.steps = steps
        self.recurrent_weights = recurrent_weights
        self.weight_totals = weight_totals
        self.recurrent_totals = recurrent_totals
        self.bias_total = bias_total
        self.batch_weight_grads = batch_weight_grads
        self.batch_recurrent_grads = batch_recurrent_grads
        self.batch_bias_grad = batch_bias_grad
        self.new_weights = new_weights
        self.new_recurrent_weights = new_recurrent_weights
        self.new_bias = new_bias
        # An update by an optimizer, a penalty or clipping (``SequenceRecord.rule``):
        # g as applied per parameter name ("weights", "recurrent_weights", "bias"),
        # the penalty's share, and copies of ``optimizer_state`` before and after.
        self.applied = applied
        self.penalty = penalty
        self.state_before = state_before
        self.state_after = state_after

    @property
    def zs(self):
        return self._over_time("z")

    @property
    def derivatives(self):
        return self._over_time("derivative")

    @property
    def deltas(self):
        return self._over_time("delta")


class LayerSeries(Record):
    """``net.layers[layer]`` over one sequence: its kind ("dense",
    "recurrent", "lstm", "gru"), activation name, :class:`NeuronSeries` per
    neuron (an LSTM or GRU layer: a :class:`~neuronsim.trace.gated.UnitSeries`
    per unit) and, for a recurrent layer, ``states`` [a[0], ..., a[T]] (h for
    a gated layer).  A learned initial state adds ``initial_state_grad``
    (dE/da[0] of this sequence, Σ_j u_ji δ_j[1]) and, at the update, the value
    before, the reduced batch gradient and the new value; a gated layer keeps
    these by state name ("initial_state" h[0], "initial_cell" c[0]) in
    ``initial_grads``, ``old_initials``, ``batch_initial_grads``,
    ``new_initials`` and ``applied_initials``."""

    _fields = ("layer", "kind", "activation", "neurons", "states", "learn_initial_state",
               "initial_state_grad", "old_initial_state", "batch_initial_state_grad",
               "new_initial_state", "applied_initial_state_grad", "state_before", "state_after",
               "initial_grads", "old_initials", "batch_initial_grads", "new_initials",
               "applied_initials")

    def __init__(self, layer, kind, activation, neurons, states=None, learn_initial_state=False,
                 initial_state_grad=None, old_initial_state=None, batch_initial_state_grad=None,
                 new_initial_state=None, applied_initial_state_grad=None, state_before=None,
                 state_after=None, initial_grads=None, old_initials=None, batch_initial_grads=None,
                 new_initials=None, applied_initials=None):
        self.layer = layer
        self.kind = kind
        self.activation = activation
        self.neurons = neurons
        self.states = states
        self.learn_initial_state = learn_initial_state
        self.initial_state_grad = initial_state_grad
        self.old_initial_state = old_initial_state
        self.batch_initial_state_grad = batch_initial_state_grad
        self.new_initial_state = new_initial_state
        # g as applied, with ``SequenceRecord.rule``
        self.applied_initial_state_grad = applied_initial_state_grad
        # copies of the layer's optimizer_state (a learned a[0])
        self.state_before = state_before
        self.state_after = state_after
        # gated layers, by state name
        self.initial_grads = initial_grads
        self.old_initials = old_initials
        self.batch_initial_grads = batch_initial_grads
        self.new_initials = new_initials
        self.applied_initials = applied_initials

    @property
    def is_recurrent(self):
        """An Elman layer (a gated layer is :attr:`is_gated`)."""
        return self.kind == "recurrent"

    @property
    def is_gated(self):
        """An LSTM or GRU layer."""
        return is_gated(self)


class SequenceRecord(Record):
    """One sequence through the whole stack: forward pass, BPTT and the
    update if one followed.  ``layers[l]`` is the :class:`LayerSeries` of
    ``net.layers[l]``; ``inputs`` are x[1..T], ``outputs`` y[1..T];
    ``activation_params``: each layer's activation parameters (None: a new
    empty list)."""

    _fields = ("index", "inputs", "activations", "loss_name", "step_loss", "layers", "outputs",
               "paired_output", "targets", "step_losses", "loss", "truncation", "learning_rate",
               "batch_size", "reduction", "update_biases", "updated", "activation_params", "rule")

    def __init__(self, index, inputs, activations, loss_name, step_loss, layers, outputs,
                 paired_output=False, targets=None, step_losses=None, loss=None, truncation=None,
                 learning_rate=None, batch_size=None, reduction="mean", update_biases=True,
                 updated=False, activation_params=None, rule=None):
        self.index = index
        self.inputs = inputs
        self.activations = activations
        self.loss_name = loss_name
        self.step_loss = step_loss
        self.layers = layers
        self.outputs = outputs
        self.paired_output = paired_output
        self.targets = targets
        self.step_losses = step_losses
        self.loss = loss
        self.truncation = truncation
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.reduction = reduction
        self.update_biases = update_biases
        self.updated = updated
        self.activation_params = [] if activation_params is None else activation_params
        self.rule = rule   # an UpdateRule when the update is not plain w − η·g

    @property
    def steps(self):
        return len(self.inputs)

    @property
    def recurrent_layers(self):
        """0-based indices of the (Elman) recurrent layers."""
        return [series.layer for series in self.layers if series.is_recurrent]

    @property
    def gated_layers(self):
        """0-based indices of the LSTM and GRU layers."""
        return [series.layer for series in self.layers if series.is_gated]


def _parts(step, truncated):
    """The δ that the network added to the sums at this step: all of δ[t]
    (full BPTT), or each part by age (truncated); none if nothing reached it."""
    if step.delta is None:
        return []
    return list(step.delta_parts) if truncated else [step.delta]


class SequenceRecording(Recorder):
    """The hooks that record a :class:`SequenceRecord` per back-propagated
    sequence, for any stack of layers with a recurrent one.

    :class:`neuronsim.trace.tracer.Tracer` calls them for a network that
    reads sequences; :class:`neuronsim.trace.recurrent.RecurrentTracer` (the
    older name) is this recording alone, with the sequence renderers.
    ``keep=False`` with a ``sink`` hands each finished record to the sink
    and keeps nothing.  ``batches=True`` also keeps a
    :class:`~neuronsim.trace.records.BatchRecord` per update in ``batches``.
    """

    @property
    def sequences(self):
        """The finished :class:`SequenceRecord` objects, in order."""
        return self.records

    def on_forward(self, net):
        previous = self._current
        if previous is not None and previous.loss is None:   # a forward pass without BPTT
            self._current = None
            self._finish(previous)
        if not net.is_sequential:
            raise NeuronsimError("this network has no recurrent layer: trace it with "
                                 "neuronsim.trace.Tracer (one step, no time)")
        self.count += 1
        layers = []
        for l, layer in enumerate(net.layers):
            if is_gated(layer):
                series = LayerSeries(l, layer.kind, layer.activation.name,
                                     gated.unit_series(net, l, layer), net.states_of(l),
                                     layer.learn_initial_state)
                layers.append(series)
                continue
            neurons = [NeuronSeries(l, j, n.weights, n.bias, [step[l][j] for step in net.history],
                                    getattr(n, "recurrent_weights", None))
                       for j, n in enumerate(layer.neurons)]
            series = LayerSeries(l, layer.kind, layer.activation.name, neurons)
            if layer.is_recurrent:
                series.states = net.states_of(l)
                series.learn_initial_state = layer.learn_initial_state
            layers.append(series)
        self._current = SequenceRecord(
            index=self.count, inputs=net.inputs,
            activations=[layer.activation.name for layer in net.layers],
            activation_params=[dict(layer.activation.params) for layer in net.layers],
            loss_name=net.loss.name, step_loss=net.step_loss, layers=layers,
            outputs=net.step_outputs, paired_output=net._paired_output,
            reduction=net.reduction, update_biases=net.update_biases)

    def on_backward(self, net):
        record = self._current
        if record is None:
            return
        record.targets = net.targets
        record.step_losses = net.step_losses
        record.loss = net.last_loss
        record.truncation = net.last_truncation
        truncated = net.last_truncation is not None
        for series, layer in zip(record.layers, net.layers):
            if series.is_gated:
                for unit in series.neurons:
                    gated.add_totals(unit, truncated)
                if series.learn_initial_state:
                    series.initial_grads = {name: list(grads)
                                            for name, grads in layer.initial_grads.items()}
                continue
            for r in series.neurons:
                later_first = list(reversed(r.steps))
                parts = [(s, part) for s in later_first for part in _parts(s, truncated)]
                r.weight_totals = [sum_in_order(s.inputs[k] * part for s, part in parts)
                                   for k in range(len(r.weights))]
                r.bias_total = sum_in_order(part for _, part in parts)
                if series.is_recurrent:
                    r.recurrent_totals = [sum_in_order(s.previous[i] * part for s, part in parts)
                                          for i in range(len(r.recurrent_weights))]
            if series.is_recurrent and series.learn_initial_state:
                series.initial_state_grad = list(layer.initial_state_grad)
        self._pending.append(record)

    def before_update(self, net, learning_rate):
        record, n = self._start_update(net, learning_rate)
        if record is None:
            return
        for series, layer in zip(record.layers, net.layers):
            if series.is_gated:
                gated.before_update(series.neurons, layer, n, record.rule)
                if series.learn_initial_state:
                    series.old_initials = {name: list(layer.initial_value(name))
                                           for name in layer.STATES}
                    series.batch_initial_grads = {
                        name: [s / n for s in layer.initial_grad_sums[name]]
                        for name in layer.STATES}
                    if record.rule is not None:
                        series.state_before = copy_state(layer.optimizer_state)
                continue
            for r, x in zip(series.neurons, layer.neurons):
                r.batch_weight_grads = [s / n for s in x.weight_grad_sum]
                r.batch_bias_grad = x.bias_grad_sum / n
                if series.is_recurrent:
                    r.batch_recurrent_grads = [s / n for s in x.recurrent_grad_sum]
                if record.rule is not None:
                    r.state_before = copy_state(x.optimizer_state)
            if series.is_recurrent and series.learn_initial_state:
                series.old_initial_state = list(layer.initial_state or [0] * layer.size)
                series.batch_initial_state_grad = [s / n for s in layer.initial_state_grad_sum]
                if record.rule is not None:
                    series.state_before = copy_state(layer.optimizer_state)

    def after_update(self, net):
        record = self._end_update(net)
        if record is None:
            return
        rule = record.rule
        for series, layer in zip(record.layers, net.layers):
            if series.is_gated:
                gated.after_update(series.neurons, layer, rule)
                if series.learn_initial_state:
                    series.new_initials = {name: list(layer.initial_value(name))
                                           for name in layer.STATES}
                    if rule is not None:
                        series.applied_initials = {name: list(layer.batch_grad[name])
                                                   for name in layer.STATES}
                        series.state_after = copy_state(layer.optimizer_state)
                continue
            for r, x in zip(series.neurons, layer.neurons):
                r.new_weights, r.new_bias = x.weights, x.bias
                if series.is_recurrent:
                    r.new_recurrent_weights = x.recurrent_weights
                if rule is not None:
                    # the core's own numbers: g as applied, the penalty's share, the state
                    r.applied = dict(x.batch_grad)
                    r.penalty = dict(x.penalty_grad or {})
                    r.state_after = copy_state(x.optimizer_state)
            if series.is_recurrent and series.learn_initial_state:
                series.new_initial_state = list(layer.initial_state)
                if rule is not None:
                    series.applied_initial_state_grad = list(layer.batch_grad["initial_state"])
                    series.state_after = copy_state(layer.optimizer_state)
        self._finish_batch()

    # ------------------------------------------------------------- batches
    def _parameter_records(self, net, samples, divisor):
        """Layer by layer, each neuron's w, u and b, then the layer's learned a[0]:
        the terms are each sequence's totals over t (``weight_totals``,
        ``recurrent_totals``, ``bias_total``, ``initial_state_grad``), the total
        is the network's batch sum and the gradient Σ / divisor, as
        ``apply_update`` divides it."""
        parameters = []
        for l, layer in enumerate(net.layers):
            per_sequence = [sample.layers[l] for sample in samples]
            if is_gated(layer):
                parameters += gated.batch_parameters(net, l, layer, per_sequence, divisor)
                continue

            def add(j, kind, index, old, terms, total, updated=True, l=l):
                parameters.append(ParameterRecord(l, j, kind, index, old, terms, total, divisor,
                                                  total / divisor, updated=updated))

            for j, neuron in enumerate(layer.neurons):
                series = [s.neurons[j] for s in per_sequence]
                for k, (old, total) in enumerate(zip(neuron.weights, neuron.weight_grad_sum)):
                    add(j, "weight", k, old, [r.weight_totals[k] for r in series], total)
                if layer.is_recurrent:
                    for q, (old, total) in enumerate(zip(neuron.recurrent_weights,
                                                         neuron.recurrent_grad_sum)):
                        add(j, "recurrent_weight", q, old,
                            [r.recurrent_totals[q] for r in series], total)
                add(j, "bias", None, neuron.bias, [r.bias_total for r in series],
                    neuron.bias_grad_sum, net.update_biases)
            if layer.is_recurrent and layer.learn_initial_state:
                state = layer.initial_state or [0] * layer.size
                for i, (old, total) in enumerate(zip(state, layer.initial_state_grad_sum)):
                    add(i, "initial_state", None, old,
                        [s.initial_state_grad[i] for s in per_sequence], total)
        return parameters

    def _new_values(self, net, parameters):
        for p in parameters:
            layer = net.layers[p.layer]
            if p.kind.startswith("gate_"):
                p.new = gated.new_batch_value(layer, p)
                continue
            if p.kind == "initial_state":
                p.new = layer.initial_state[p.neuron]
                continue
            neuron = layer.neurons[p.neuron]
            if p.kind == "bias":
                p.new = neuron.bias
            elif p.kind == "recurrent_weight":
                p.new = neuron.recurrent_weights[p.index]
            else:
                p.new = neuron.weights[p.index]
