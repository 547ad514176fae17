"""The tracer: records every number of each step, per neuron, for any network.

A :class:`Tracer` observes a network; the network calls it at four points
(after the forward pass, after back_prop, before and after the weight
update), and only when ``tracer.enabled`` is true, so tracing costs one
attribute test per pass when it is off.  An online ``net.step`` of a
feed-forward network, which runs back_prop and the update as one pass per
layer, calls it twice: after the forward pass and, with every number of the
step, at the end (:meth:`Tracer.on_fused_step`).  The core never formats text: the
records are plain data, and ``tracer.render(...)`` turns them into tables.

One class for every network: a feed-forward network gives one
:class:`~neuronsim.trace.records.StepRecord` per sample (``tracer.steps``); a
network that reads sequences (a recurrent, LSTM or GRU layer anywhere in the
stack) gives one :class:`~neuronsim.trace.sequence.SequenceRecord` per sequence
(``tracer.sequences``, with per-time-step tables).  One renderer writes both:
:func:`neuronsim.render.tables.render_records`.  The records are defined
in :mod:`neuronsim.trace.records` and :mod:`neuronsim.trace.sequence`; the
first's names stay importable from here.  The second (and the LSTM/GRU records of
:mod:`neuronsim.trace.gated`) is imported when a sequence is first recorded, so
that a feed-forward trace does not load it.

Indices in records are the 0-based Python ones (``layer`` 0 is
``net.layers[0]``, textbook layer 2); renderers add the textbook labels.

With ``batches=True`` the tracer also keeps one :class:`BatchRecord` per
update (``tracer.batches``): the records of every sample back-propagated
since the last update, then each parameter's accumulated gradient (the
per-sample terms dE_s/dw, their sum and, for ``reduction="mean"``, the sum
divided by n), the batch loss and the single update w ← w − η·(Σ_s dE_s/dw)/n.

    >>> from neuronsim.files import load_example
    >>> net = load_example("mazur")
    >>> tracer = Tracer().attach(net)
    >>> net.step([0.05, 0.1], [0.01, 0.99], 0.5)
    0.2983711087600027
    >>> step = tracer.steps[0]
    >>> round(step.layers[1][0].delta, 9), round(step.layers[0][0].new_weights[0], 9)
    (0.138498562, 0.149780716)
    >>> rnn = load_example("rnn-parity")
    >>> tracer = Tracer().attach(rnn)
    >>> round(rnn.step([[1], [0]], [[1], [1]], 0.2), 9)
    2.729846982
    >>> len(tracer.sequences[0].layers[0].neurons[0].deltas)
    2
"""

from ..core.errors import NeuronsimError
from ..core.optimizers import copy_state
from ..core.summation import sum_in_order
from .records import (  # noqa: F401  (the records' names, importable from here as before)
    PARAMETER_KINDS,
    BatchRecord,
    NetworkFacts,
    NeuronRecord,
    ParameterRecord,
    Recorder,
    StepRecord,
    UpdateRule,
    forward_values,
    fused_pass_values,
    update_rule,
)

# What a tracer holds, in words, by ``Tracer.kind``.
_HOLDS = {"steps": "feed-forward steps", "sequences": "sequences"}


class Tracer(Recorder):
    """Records every step of an attached network: :class:`StepRecord` objects
    (``steps``) for a feed-forward network, :class:`~neuronsim.trace.sequence.SequenceRecord`
    objects (``sequences``) for a network that reads sequences.

    ``kind`` says which ("steps" or "sequences", None before the first
    forward pass); one tracer holds one kind (``clear()`` empties it for the
    other).  ``layers`` and ``neurons``: optional collections of 0-based
    indices that restrict what a feed-forward step records (a wide network
    need not flood memory or the screen); a sequence records every neuron,
    and ``render(layers=..., neurons=...)`` narrows its tables.
    ``keep=False`` with a ``sink`` callable hands each finished record to the
    sink and keeps nothing (for streaming to disk).  ``batches=True`` also
    keeps a :class:`BatchRecord` per update in ``batches`` (rendered by
    :meth:`render_batches`).
    """

    def __init__(self, enabled=True, layers=None, neurons=None, keep=True, sink=None,
                 batches=False):
        super().__init__(enabled, keep, sink, batches)
        self.layer_filter = None if layers is None else set(layers)
        self.neuron_filter = None if neurons is None else set(neurons)
        self.kind = None
        self._facts = None   # (NetworkFacts, activations) of the last step, shared while they hold
        # A subclass that records in on_backward or the update hooks is called by them:
        # its network's online steps then run as the three separate calls.
        kind = type(self)
        self._own_hooks = all(getattr(kind, hook) is getattr(Tracer, hook)
                              for hook in ("on_backward", "before_update", "after_update"))

    @property
    def steps(self):
        """The finished :class:`StepRecord` objects, in order."""
        return self.records

    @property
    def sequences(self):
        """The finished :class:`~neuronsim.trace.sequence.SequenceRecord` objects, in order."""
        return self.records

    def clear(self):
        super().clear()
        self.kind = None

    def _holds(self, net):
        """"sequences" for a network that reads sequences, else "steps"; one tracer
        holds one kind, and filters restrict feed-forward steps only."""
        kind = "sequences" if net.is_sequential else "steps"
        if self.kind is not None and kind != self.kind:
            raise NeuronsimError(f"this tracer holds {_HOLDS[self.kind]}, this network makes "
                                 f"{_HOLDS[kind]}: trace it with a new Tracer (or "
                                 "tracer.clear() first)")
        if kind == "sequences" and (self.layer_filter is not None
                                    or self.neuron_filter is not None):
            raise NeuronsimError("Tracer(layers=..., neurons=...) restricts feed-forward steps; "
                                 "a sequence records every neuron: narrow its tables with "
                                 "tracer.render(layers=..., neurons=...)")
        self.kind = kind
        return kind

    # ------------------------------------------------------------- filters
    def _neuron_indices(self, layer):
        if self.neuron_filter is None:
            return range(layer.size)
        return [j for j in range(layer.size) if j in self.neuron_filter]

    def _records(self):
        """The current step's neuron records, layer after layer, in one list."""
        return [record for layer_records in self._current.layers for record in layer_records]

    # ------------------------------------------------------------- hooks
    def on_forward(self, net):
        """Called by ``net.forward_pass``: snapshot z, a and g'(z) of every neuron
        (a sequence: every neuron's steps, :class:`SequenceRecording`)."""
        if self._holds(net) == "sequences":
            from .sequence import SequenceRecording

            return SequenceRecording.on_forward(self, net)
        previous = self._current
        if previous is not None and previous.loss is None:   # a forward pass without back_prop
            self._current = None
            self._finish(previous)
        self.count += 1
        facts = self._network_facts(net)
        forward = []    # forward_values of each neuron: see StepRecord
        kept = None
        if self.layer_filter is None and self.neuron_filter is None:
            for layer in net.layers:
                for neuron in layer.neurons:
                    forward.append(forward_values(neuron))
        else:
            kept = [(l, j) for l, layer in enumerate(net.layers)
                    if self.layer_filter is None or l in self.layer_filter
                    for j in self._neuron_indices(layer)]
            for l, j in kept:
                forward.append(forward_values(net.layers[l].neurons[j]))
        self._current = StepRecord.from_values(self.count, net.inputs,
                                               list(net.layers[-1].outputs), facts, forward, kept)

    def _network_facts(self, net):
        """The :class:`NetworkFacts` of ``net`` for this step: the last step's, while the
        network has the same layers, activations, loss and reduction (an Activation
        is fixed when made, so the same object has the same name and parameters)."""
        if self._facts is not None:
            facts, activations = self._facts
            layers = net.layers
            if (len(layers) == len(activations) and net.loss.name == facts.loss_name
                    and net.reduction == facts.reduction
                    and net.update_biases == facts.update_biases
                    and net._paired_output == facts.paired_output):
                for layer, activation, size in zip(layers, activations, facts.sizes):
                    if layer.activation is not activation or len(layer.neurons) != size:
                        break
                else:
                    return facts
        facts = NetworkFacts.of(net)
        self._facts = (facts, [layer.activation for layer in net.layers])
        return facts

    def on_backward(self, net):
        """Called by ``net.back_prop``: snapshot dE/da, δ and the gradients."""
        if net.is_sequential:
            from .sequence import SequenceRecording

            return SequenceRecording.on_backward(self, net)
        step = self._current
        if step is None:
            return
        step.target = net.target
        step.loss = net.last_loss
        layers = net.layers
        jacobian_sums = [sum_in_order(n.output_grad * n.output for n in layer.neurons)
                         if layer.activation.is_layerwise else None for layer in layers]
        for record in self._records():
            neuron = layers[record.layer].neurons[record.neuron]
            record.jacobian_sum = jacobian_sums[record.layer]
            record.output_grad = neuron.output_grad
            record.delta = neuron.delta
            if record.layer + 1 < len(layers):   # (w_kj, δ_k), the weights before the update
                j = record.neuron
                record.downstream = [(n.weights[j], n.delta)
                                     for n in layers[record.layer + 1].neurons]
        self._pending.append(step)  # finished when its batch's update comes

    def before_update(self, net, learning_rate):
        """Called by ``net.update_weights`` before any weight changes."""
        if net.is_sequential:
            from .sequence import SequenceRecording

            return SequenceRecording.before_update(self, net, learning_rate)
        step, n = self._start_update(net, learning_rate)
        if step is None:
            return
        layers = net.layers
        # One sample in the batch: Σ_s a_k δ is that sample's a_k δ, which the
        # record computes from its own a_k and δ (weight_grad_sum would compute
        # the same products again).
        single = net.samples_in_batch == 1
        for record in self._records():
            neuron = layers[record.layer].neurons[record.neuron]
            if not single or record.delta is None:
                record.weight_grad_sums = neuron.weight_grad_sum
            record.batch_divisor = n
            record.batch_bias_grad = neuron.bias_grad_sum / n
            if step.rule is not None:
                record.state_before = copy_state(neuron.optimizer_state)

    # ------------------------------------------------------------- a fused step
    @property
    def follows_fused_steps(self):
        """Can this tracer record an online step that runs as one pass per layer
        (``Network._fused_step``)?  Yes when it records every neuron and no
        batches: :meth:`on_fused_step` then has every number it needs.  (A
        filter may leave out the next layer's weights a hidden neuron's
        ``downstream`` needs; a batch record reads the sums before the update;
        a subclass with its own on_backward or update hooks wants them called.)"""
        return (self._own_hooks and self.layer_filter is None and self.neuron_filter is None
                and not self.record_batches)

    def on_fused_step(self, net, learning_rate):
        """Called by ``Network._fused_step`` after its pass (one per layer: δ, Wᵀδ
        and the update of one online sample), when :attr:`follows_fused_steps`:
        records what on_backward, before_update and after_update record for the
        same step, with the same numbers (:func:`~neuronsim.trace.records.fill_fused_pass`
        completes the records from these)."""
        step = self._current
        if step is None:
            return
        step.target = net.target
        step.loss = net.last_loss
        step.learning_rate = learning_rate
        step.batch_size = 1
        step.updated = True
        jacobian_sums = []
        rows = []       # fused_pass_values of each neuron
        for layer in net.layers:
            neurons = layer.neurons
            jacobian_sums.append(sum_in_order(n.output_grad * n.output for n in neurons)
                                 if layer.activation.is_layerwise else None)
            for neuron in neurons:
                rows.append(fused_pass_values(neuron))
        step.add_fused_pass(jacobian_sums, rows)
        self._pending.append(step)
        self._finish_batch()

    def after_update(self, net):
        """Called by ``net.update_weights`` after the update: the new weights."""
        if net.is_sequential:
            from .sequence import SequenceRecording

            return SequenceRecording.after_update(self, net)
        step = self._end_update(net)
        if step is None:
            return
        layers = net.layers
        for record in self._records():
            neuron = layers[record.layer].neurons[record.neuron]
            record.new_weights = neuron.weights
            record.new_bias = neuron.bias
            if step.rule is not None:
                # the core's own numbers: g as applied, the penalty's share, the state
                applied = neuron.batch_grad
                record.applied_weight_grads = list(applied["weights"])
                record.applied_bias_grad = applied.get("bias")
                share = neuron.penalty_grad or {}
                record.penalty_weight_grads = share.get("weights")
                record.state_after = copy_state(neuron.optimizer_state)
        self._finish_batch()

    # ------------------------------------------------------------- batches
    def _parameter_records(self, net, samples, divisor):
        """Each recorded neuron's weights, then its bias: dE_s/dp of every sample
        (``weight_grads[k]`` = a_k δ and ``bias_grad`` = δ of that sample's
        record), the network's Σ and Σ / divisor (as ``Neuron.apply_update``
        divides it).  A sequence: :meth:`SequenceRecording._parameter_records`."""
        if net.is_sequential:
            from .sequence import SequenceRecording

            return SequenceRecording._parameter_records(self, net, samples, divisor)
        parameters = []
        layers = net.layers
        recorded = [sample.neurons() for sample in samples]
        for place, record in enumerate(recorded[0]):
            l, j = record.layer, record.neuron
            neuron = layers[l].neurons[j]
            per_sample = [neurons[place] for neurons in recorded]
            terms = [r.weight_grads for r in per_sample]   # each sample's a_k δ, once
            sums = neuron.weight_grad_sum
            for k, (old, total) in enumerate(zip(neuron.weights, sums)):
                parameters.append(ParameterRecord(
                    l, j, "weight", k, old, [grads[k] for grads in terms],
                    total, divisor, total / divisor))
            total = neuron.bias_grad_sum
            parameters.append(ParameterRecord(
                l, j, "bias", None, neuron.bias, [r.bias_grad for r in per_sample],
                total, divisor, total / divisor, updated=net.update_biases))
        return parameters

    def _new_values(self, net, parameters):
        if net.is_sequential:
            from .sequence import SequenceRecording

            return SequenceRecording._new_values(self, net, parameters)
        layers = net.layers
        for parameter in parameters:
            neuron = layers[parameter.layer].neurons[parameter.neuron]
            parameter.new = (neuron.bias if parameter.kind == "bias"
                             else neuron.weights[parameter.index])

    def render(self, **options):
        """All kept records as tables (:func:`neuronsim.render.tables.render_records`:
        feed-forward steps, or sequences per time step, which also take ``times``)."""
        from ..render.tables import render_records

        self.flush()
        sequences = self.kind == "sequences"
        return render_records(self.sequences if sequences else self.steps,
                              sequences=sequences, **options)

    def render_batches(self, **options):
        """The kept batch steps as tables (:func:`neuronsim.render.tables.render_records`;
        needs ``batches=True``)."""
        from ..render.tables import render_records

        if not self.record_batches:
            raise ValueError("this tracer records no batches: create it with "
                             "Tracer(batches=True)")
        return render_records(self.batches, sequences=self.kind == "sequences", **options)

    def _repr_html_(self):
        """Jupyter display: the first steps (or sequences) as HTML tables."""
        if self.kind == "sequences":
            from ..render.tables import sequences_html

            return sequences_html(self)
        from ..render.notebook import tracer_html

        return tracer_html(self)
