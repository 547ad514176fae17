"""The tracer: records every number of each step, per neuron.

A :class:`Tracer` observes a network; the network calls it at four points
(after the forward pass, after back_prop, before and after the weight
update), and only when ``tracer.enabled`` is true, so tracing costs one
attribute test per pass when it is off.  The core never formats text: the
records here are plain data, and :mod:`neuronsim.render.tables` turns them into
tables.

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
"""

from dataclasses import dataclass, field

PARAMETER_KINDS = ("weight", "bias")


@dataclass
class NeuronRecord:
    """One neuron in one step.  ``layer``/``neuron`` are 0-based Python indices.

    Forward: ``inputs`` (a_k of the layer before), ``weights``, ``bias``,
    ``z``, ``output`` (a), ``derivative`` (g'(z)).
    Backward: ``output_grad`` (dE/da), ``delta`` (dE/dz), ``downstream``:
    for a hidden neuron j the pairs (w_kj, δ_k) of the next layer that make
    dE/da_j = Σ_k w_kj δ_k; ``weight_grads`` (a_k δ), ``bias_grad`` (δ).
    Update (on the step that ends a batch): ``batch_weight_grads``,
    ``batch_bias_grad`` (the reduced gradient applied), ``new_weights``,
    ``new_bias``.
    """

    layer: int
    neuron: int
    inputs: list
    weights: list
    bias: object
    z: object
    output: object
    derivative: object
    output_grad: object = None
    delta: object = None
    downstream: list = None
    weight_grads: list = None
    bias_grad: object = None
    batch_weight_grads: list = None
    batch_bias_grad: object = None
    new_weights: list = None
    new_bias: object = None
    jacobian_sum: object = None   # softmax layers: Σ_i dE/da_i a_i over the whole layer
    # An update by an optimizer, a penalty or clipping (``StepRecord.rule``):
    # the g each parameter applied (after the penalty and clipping), the
    # penalty's share of it, and the optimizer state before and after (copies
    # of ``neuron.optimizer_state``, None before the first step).
    applied_weight_grads: list = None
    applied_bias_grad: object = None
    penalty_weight_grads: list = None
    state_before: dict = None
    state_after: dict = None


@dataclass
class StepRecord:
    """One sample's forward and backward pass, and the update if one followed.

    ``index`` counts recorded steps from 1.  ``layers[l][j]`` is the
    :class:`NeuronRecord` of ``net.layers[l].neurons[j]`` (only the neurons
    the tracer's filters keep).
    """

    index: int
    input: list
    activations: list          # activation name of each layer
    loss_name: str
    layers: list
    target: list = None
    outputs: list = None
    loss: object = None
    paired_output: bool = False
    learning_rate: object = None
    batch_size: int = None
    reduction: str = "mean"
    update_biases: bool = True
    updated: bool = False
    activation_params: list = field(default_factory=list)
    sizes: list = field(default_factory=list)   # neurons in each of net.layers
    rule: object = None   # an UpdateRule when the update is not plain w − η·g

    def neurons(self):
        """Every recorded neuron, in forward order."""
        return [record for layer in self.layers for record in layer]


@dataclass
class UpdateRule:
    """How an update beyond plain gradient descent moved the parameters.

    ``optimizer``: torch's name ("sgd", "rmsprop", "adagrad", "adam", "adamw"),
    None for θ − η·g with a penalty or clipping only; ``options``: its options
    in the numbers the core computed with; ``initial``: a fresh state (what a
    parameter starts from before its first step); ``penalty``, ``clip``:
    descriptions, or None.
    """

    optimizer: object
    options: dict
    initial: dict
    penalty: object = None
    clip: object = None
    clip_norm: object = None   # clipping by norm: the global norm N of the batch gradient
    # with a penalty: R = λ₁·Σ|w| + (λ₂/2)·Σw² of the weights the update starts
    # from (the core's net.penalty_value()), and those weights (w, then u), in order
    penalty_value: object = None
    penalty_weights: list = None


def update_rule(net):
    """The :class:`UpdateRule` of ``net``'s next update, None for plain w − η·g."""
    if net.optimizer is None and net.penalty is None and net.clip is None:
        return None
    optimizer = net.optimizer
    weights = None
    if net.penalty is not None:
        weights = [w for layer in net.layers for n in layer.neurons
                   for w in n.weights + getattr(n, "recurrent_weights", [])]
    return UpdateRule(
        optimizer=None if optimizer is None else optimizer.name,
        options={} if optimizer is None else dict(optimizer._numeric),
        initial={} if optimizer is None else optimizer.new_state(),
        penalty=None if net.penalty is None else net.penalty.to_spec(),
        clip=None if net.clip is None else net.clip.to_spec(),
        penalty_value=None if net.penalty is None else net.penalty_value(),
        penalty_weights=weights)


def copy_state(state):
    """A copy of ``neuron.optimizer_state`` (its dicts and lists; numbers are immutable)."""
    if state is None:
        return None
    out = {}
    for name, value in state.items():
        out[name] = [dict(s) for s in value] if isinstance(value, list) else dict(value)
    return out


@dataclass
class ParameterRecord:
    """One parameter over one batch step: its accumulated gradient and its update.

    ``layer``/``neuron`` are 0-based Python indices; ``kind`` is one of
    :data:`PARAMETER_KINDS` ("weight", with ``index`` k for w_jk, or "bias",
    ``index`` None).  A layer kind with other parameters (a recurrent weight,
    an initial state) adds its kind name and keeps the rest of the record;
    an LSTM or GRU layer's gate parameters also name their ``gate``
    ("input", "forget", ..., with ``neuron`` = the unit j), see
    :mod:`neuronsim.trace.gated`.

    ``terms[s]`` is dE_s/dp, the gradient of sample s of the batch alone (for a
    sequence: its total over the time steps); ``total`` is Σ_s dE_s/dp as the
    network summed it; ``divisor`` is n (the batch's samples) for
    ``reduction="mean"`` and 1 for ``"sum"``; ``gradient`` = total / divisor is
    the gradient the update applies; ``old`` and ``new`` are the value before
    and after p ← p − η·gradient.  ``updated`` is False for a bias the file
    keeps fixed (``update_biases: false``): then ``new == old``.
    """

    layer: int
    neuron: int
    kind: str
    index: object
    old: object
    terms: list
    total: object
    divisor: int
    gradient: object
    updated: bool = True
    new: object = None
    gate: str = None


@dataclass
class BatchRecord:
    """One batch step: each sample's record, then the sums and the one update.

    ``index`` counts batch steps from 1.  ``samples``: the records of the
    samples back-propagated since the previous update (for a feed-forward
    network, :class:`StepRecord` objects), in order; every one used the same
    weights.  ``size`` is n, the number of samples the network summed
    (``samples`` may hold fewer if the tracer was attached, or enabled, in the
    middle of a batch: ``unseen`` says how many it missed).  ``losses[s]`` is
    E_s of each recorded sample; ``loss`` is the batch loss, (Σ_s E_s)/n for
    ``reduction="mean"`` and Σ_s E_s for ``"sum"`` (None when samples are
    unseen).  ``parameters``: a :class:`ParameterRecord` per recorded weight
    and bias, in forward order (each neuron's weights, then its bias).
    """

    index: int
    samples: list
    size: int
    reduction: str
    divisor: int
    learning_rate: object
    update_biases: bool
    losses: list
    loss: object
    parameters: list
    updated: bool = False

    @property
    def unseen(self):
        """Samples in the network's sums that the tracer did not record."""
        return self.size - len(self.samples)


class Recorder:
    """What every tracer shares: attaching to a network, and handing on records.

    A record is finished when the update of its batch comes (or at
    ``flush``); then it is kept in ``records`` (unless ``keep=False``) and
    handed to ``sink`` if one is given (for streaming to disk).

    With ``batches=True`` each update also becomes a :class:`BatchRecord`
    in ``batches`` (unless ``keep=False``): the batch's records and the
    :class:`ParameterRecord` objects that a subclass makes in
    ``_parameter_records`` (and completes in ``_new_values``).
    """

    def __init__(self, enabled=True, keep=True, sink=None, batches=False):
        self.enabled = enabled
        self.keep = keep
        self.sink = sink
        self.record_batches = batches
        self.records = []
        self.batches = []
        self.count = 0
        self.batch_count = 0
        self._current = None
        self._pending = []   # records of the current batch, waiting for the update
        self._batch = None   # the BatchRecord of the update under way

    def attach(self, net):
        """Start observing ``net``; returns the tracer."""
        net.tracer = self
        return self

    @staticmethod
    def detach(net):
        net.tracer = None

    def clear(self):
        self.records = []
        self.batches = []
        self.count = 0
        self.batch_count = 0
        self._current = None
        self._pending = []
        self._batch = None

    def _finish(self, record):
        if self.keep:
            self.records.append(record)
        if self.sink is not None:
            self.sink(record)

    def _finish_batch(self):
        """The update came: every record of the batch is complete."""
        for pending in self._pending:
            self._finish(pending)
        self._pending = []
        self._current = None

    # ------------------------------------------------------------- batches
    def _open_batch(self, net, learning_rate):
        """Before the update: the batch's samples, losses and accumulated gradients.

        n = ``net.samples_in_batch``; the divisor is n for a mean loss and 1
        for a summed one, as in the network's update.
        """
        if not self.record_batches or not self._pending:
            return
        size = net.samples_in_batch
        divisor = size if net.reduction == "mean" else 1
        samples = list(self._pending)
        losses = [sample.loss for sample in samples]
        loss = None
        if len(samples) == size:
            total = 0
            for value in losses:
                total += value
            loss = total / size if net.reduction == "mean" else total
        self.batch_count += 1
        self._batch = BatchRecord(
            index=self.batch_count, samples=samples, size=size,
            reduction=net.reduction, divisor=divisor, learning_rate=learning_rate,
            update_biases=net.update_biases, losses=losses, loss=loss,
            parameters=self._parameter_records(net, samples, divisor))

    def _close_batch(self, net):
        """After the update: the new value of every parameter; the batch is kept."""
        batch = self._batch
        if batch is None:
            return
        self._new_values(net, batch.parameters)
        batch.updated = True
        if self.keep:
            self.batches.append(batch)
        self._batch = None

    def _parameter_records(self, net, samples, divisor):
        """The :class:`ParameterRecord` list of one batch (each layer kind's tracer)."""
        raise NotImplementedError

    def _new_values(self, net, parameters):
        """Fill in ``new`` of each parameter after the update."""
        raise NotImplementedError

    def flush(self):
        """Hand over records still waiting for an update (a batch not yet applied)."""
        current = self._current
        for pending in self._pending:
            self._finish(pending)
        if current is not None and all(current is not p for p in self._pending):
            self._finish(current)
        self._pending = []
        self._current = None


class Tracer(Recorder):
    """Records :class:`StepRecord` objects (``steps``) for an attached network.

    ``layers`` and ``neurons``: optional collections of 0-based indices that
    restrict what is recorded (a wide network need not flood memory or the
    screen).  ``keep=False`` with a ``sink`` callable hands each finished
    step to the sink and keeps nothing (for streaming to disk).
    ``batches=True`` also keeps a :class:`BatchRecord` per update in
    ``batches`` (rendered by :meth:`render_batches`).
    """

    def __init__(self, enabled=True, layers=None, neurons=None, keep=True, sink=None,
                 batches=False):
        super().__init__(enabled, keep, sink, batches)
        self.layer_filter = None if layers is None else set(layers)
        self.neuron_filter = None if neurons is None else set(neurons)

    @property
    def steps(self):
        """The finished :class:`StepRecord` objects, in order."""
        return self.records

    # ------------------------------------------------------------- filters
    def _neuron_indices(self, layer):
        return [j for j in range(layer.size)
                if self.neuron_filter is None or j in self.neuron_filter]

    def _records(self):
        step = self._current
        for layer_records in step.layers:
            yield from layer_records

    # ------------------------------------------------------------- hooks
    def on_forward(self, net):
        """Called by ``net.forward_pass``: snapshot z, a and g'(z) of every neuron."""
        if net.is_sequential:
            from ..core.errors import NeuronsimError

            raise NeuronsimError("this network has a recurrent layer: trace its sequences with "
                                 "neuronsim.trace.recurrent.RecurrentTracer (tables per time "
                                 "step)")
        if self._current is not None and self._current.loss is None:
            self._finish(self._current)  # a forward pass without back_prop
        self.count += 1
        layers = []
        for l in range(len(net.layers)):
            layer = net.layers[l]
            if self.layer_filter is not None and l not in self.layer_filter:
                layers.append([])
                continue
            layers.append([
                NeuronRecord(l, j, n.inputs, n.weights, n.bias, n.z, n.output, n.derivative)
                for j, n in ((j, layer.neurons[j]) for j in self._neuron_indices(layer))])
        self._current = StepRecord(
            index=self.count, input=net.inputs,
            activations=[layer.activation.name for layer in net.layers],
            activation_params=[dict(layer.activation.params) for layer in net.layers],
            loss_name=net.loss.name, layers=layers,
            outputs=list(net.layers[-1].outputs), reduction=net.reduction,
            sizes=[layer.size for layer in net.layers],
            update_biases=net.update_biases, paired_output=net._paired_output)

    def on_backward(self, net):
        """Called by ``net.back_prop``: snapshot dE/da, δ and the gradients."""
        step = self._current
        if step is None:
            return
        step.target = net.target
        step.loss = net.last_loss
        layers = net.layers
        jacobian_sums = [sum(n.output_grad * n.output for n in layer.neurons)
                         if layer.activation.is_layerwise else None for layer in layers]
        for record in self._records():
            neuron = layers[record.layer].neurons[record.neuron]
            record.jacobian_sum = jacobian_sums[record.layer]
            record.output_grad = neuron.output_grad
            record.delta = neuron.delta
            record.weight_grads = neuron.weight_grads
            record.bias_grad = neuron.bias_grad
            if record.layer + 1 < len(layers):
                j = record.neuron
                record.downstream = [(n.weights[j], n.delta)
                                     for n in layers[record.layer + 1].neurons]
        self._pending.append(step)  # finished when its batch's update comes

    def before_update(self, net, learning_rate):
        """Called by ``net.update_weights`` before any weight changes."""
        self._open_batch(net, learning_rate)
        step = self._current
        if step is None:
            return
        n = net.samples_in_batch if net.reduction == "mean" else 1
        step.learning_rate = learning_rate
        step.batch_size = net.samples_in_batch
        step.updated = True
        step.rule = update_rule(net)
        layers = net.layers
        for record in self._records():
            neuron = layers[record.layer].neurons[record.neuron]
            record.batch_weight_grads = [s / n for s in neuron.weight_grad_sum]
            record.batch_bias_grad = neuron.bias_grad_sum / n
            if step.rule is not None:
                record.state_before = copy_state(neuron.optimizer_state)

    def after_update(self, net):
        """Called by ``net.update_weights`` after the update: the new weights."""
        self._close_batch(net)
        step = self._current
        if step is None:
            return
        layers = net.layers
        if step.rule is not None and net.clip is not None:
            step.rule.clip_norm = net.clip.last_norm
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
        divides it)."""
        parameters = []
        layers = net.layers
        recorded = [sample.neurons() for sample in samples]
        for place, record in enumerate(recorded[0]):
            l, j = record.layer, record.neuron
            neuron = layers[l].neurons[j]
            per_sample = [neurons[place] for neurons in recorded]
            sums = neuron.weight_grad_sum
            for k, (old, total) in enumerate(zip(neuron.weights, sums)):
                parameters.append(ParameterRecord(
                    l, j, "weight", k, old, [r.weight_grads[k] for r in per_sample],
                    total, divisor, total / divisor))
            total = neuron.bias_grad_sum
            parameters.append(ParameterRecord(
                l, j, "bias", None, neuron.bias, [r.bias_grad for r in per_sample],
                total, divisor, total / divisor, updated=net.update_biases))
        return parameters

    def _new_values(self, net, parameters):
        layers = net.layers
        for parameter in parameters:
            neuron = layers[parameter.layer].neurons[parameter.neuron]
            parameter.new = (neuron.bias if parameter.kind == "bias"
                             else neuron.weights[parameter.index])

    def render(self, **options):
        """All kept steps as tables (see :func:`neuronsim.render.tables.render_trace`)."""
        from ..render.tables import render_trace

        self.flush()
        return render_trace(self.steps, **options)

    def render_batches(self, **options):
        """The kept batch steps as tables (see
        :func:`neuronsim.render.tables.render_batches`; needs ``batches=True``)."""
        from ..render.tables import render_batches

        if not self.record_batches:
            raise ValueError("this tracer records no batches: create it with "
                             "Tracer(batches=True)")
        return render_batches(self.batches, **options)

    def _repr_html_(self):
        """Jupyter display: the first steps as HTML tables (see :mod:`neuronsim.render.notebook`)."""
        from ..render.notebook import tracer_html

        return tracer_html(self)
