"""The records every tracer keeps, and what the tracers share.

A feed-forward step is a :class:`StepRecord` with one :class:`NeuronRecord`
per neuron; a batch step adds a :class:`BatchRecord` with a
:class:`ParameterRecord` per parameter; an update beyond plain gradient
descent is described by an :class:`UpdateRule`.  :class:`Recorder` is the
part of a tracer that does not depend on the network's kind: attaching,
finishing records at the update, batches.  The sequence records are in
:mod:`neuronsim.trace.sequence`; :class:`neuronsim.trace.tracer.Tracer`
records either kind.

Indices in records are the 0-based Python ones (``layer`` 0 is
``net.layers[0]``, textbook layer 2); renderers add the textbook labels.
"""

from dataclasses import dataclass

from ..core.neuron import weight_gradients

PARAMETER_KINDS = ("weight", "bias")


@dataclass(init=False)
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

    ``weight_grads``, ``bias_grad`` and ``batch_weight_grads`` are computed
    when read, from the numbers the record holds (a_k δ, as
    ``Neuron.weight_grads``; δ; Σ_s/n, as the update divides): the same bits
    as computing them while the step runs, without a list per neuron per step
    that nobody may read.  The lists a record holds (``inputs``, ``weights``,
    ``weight_grad_sums``) are the network's own, which it replaces and never
    changes in place.
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
    # The update's gradient is batch_weight_grads = weight_grad_sums / batch_divisor
    # (weight_grad_sums None: one sample, whose sums are its weight_grads).
    weight_grad_sums: list = None
    batch_divisor: object = None
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

    def __init__(self, layer, neuron, inputs, weights, bias, z, output, derivative):
        """The forward values.  Every later field reads None (the class's
        default) until the tracer sets it: a tracer makes a record per neuron
        per step, so it stores only what the step has given."""
        self.layer = layer
        self.neuron = neuron
        self.inputs = inputs
        self.weights = weights
        self.bias = bias
        self.z = z
        self.output = output
        self.derivative = derivative

    @property
    def bias_grad(self):
        """dE/db = δ of this sample."""
        return self.delta

    @property
    def weight_grads(self):
        """dE/dw_k = a_k · δ of this sample (None before back_prop)."""
        return weight_gradients(self.inputs, self.delta)

    @property
    def batch_weight_grads(self):
        """The gradient the update applied, (Σ_s dE_s/dw_k) / n (None without an update)."""
        divisor = self.batch_divisor
        if divisor is None:
            return None
        sums = self.weight_grad_sums
        if sums is None:
            sums = self.weight_grads
        return [s / divisor for s in sums]


@dataclass
class NetworkFacts:
    """What a feed-forward step's tables need to know of the network that made
    it: each layer's activation name and parameters, the layer sizes, the loss
    and how the batch reduces it.

    A tracer follows one network over many steps, and these facts stay the
    same from step to step, so consecutive :class:`StepRecord` objects share
    one NetworkFacts until the network changes (the tracer checks it each
    step).  Nothing changes its lists after it is made.
    """

    activations: list          # activation name of each layer
    activation_params: list    # a copy of each activation's parameters (leaky_relu's slope)
    sizes: list                # neurons in each of net.layers
    loss_name: str
    reduction: str
    update_biases: bool
    paired_output: bool

    @classmethod
    def of(cls, net):
        names, params, sizes = [], [], []
        for layer in net.layers:
            activation = layer.activation
            names.append(activation.name)
            params.append(dict(activation.params))
            sizes.append(len(layer.neurons))
        return cls(names, params, sizes, net.loss.name, net.reduction, net.update_biases,
                   net._paired_output)


@dataclass
class StepRecord:
    """One sample's forward and backward pass, and the update if one followed.

    ``index`` counts recorded steps from 1.  ``layers[l][j]`` is the
    :class:`NeuronRecord` of ``net.layers[l].neurons[j]`` (only the neurons
    the tracer's filters keep).  ``network``: the :class:`NetworkFacts` of the
    network that made the step; its fields read as the step's own
    (``step.activations``, ``step.loss_name``, ...).
    """

    index: int
    input: list
    layers: list
    outputs: list
    network: NetworkFacts
    target: list = None
    loss: object = None
    learning_rate: object = None
    batch_size: int = None
    updated: bool = False
    rule: object = None   # an UpdateRule when the update is not plain w − η·g

    @property
    def activations(self):
        """The activation name of each layer."""
        return self.network.activations

    @property
    def activation_params(self):
        """Each layer's activation parameters (leaky_relu's slope), a dict per layer."""
        return self.network.activation_params

    @property
    def sizes(self):
        """The number of neurons in each of net.layers."""
        return self.network.sizes

    @property
    def loss_name(self):
        return self.network.loss_name

    @property
    def reduction(self):
        """"mean" or "sum": how the batch's losses (and gradients) are reduced."""
        return self.network.reduction

    @property
    def update_biases(self):
        return self.network.update_biases

    @property
    def paired_output(self):
        """True when the output's δ is the paired a - t (sigmoid + binary cross-entropy,
        softmax + cross-entropy)."""
        return self.network.paired_output

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


class OverTime:
    """What a neuron's (or an LSTM/GRU unit's) record over one sequence reads
    across its ``steps`` (``steps[t - 1]``: the network's record of step t):
    each quantity for t = 1..T.  ``outputs`` are a_j[t] (h_j[t] for a gated
    unit), ``output_grads`` dE/da_j[t], ``output_paths`` the part of it from
    the layer above at t, ``recurrent_paths`` the part from t+1."""

    def _over_time(self, quantity):
        return [getattr(step, quantity) for step in self.steps]

    @property
    def outputs(self):
        return self._over_time("output")

    @property
    def output_grads(self):
        return self._over_time("output_grad")

    @property
    def output_paths(self):
        return self._over_time("output_path")

    @property
    def recurrent_paths(self):
        return self._over_time("recurrent_path")


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

    @property
    def current(self):
        """The record of the step under way (its forward pass, or forward and
        backward, done; finished at the update), or None."""
        return self._current

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

    # ------------------------------------------------------------- updates
    def _start_update(self, net, learning_rate):
        """Before the update: the batch's record, then what the current record keeps
        of the update (η, the batch's size, the :class:`UpdateRule`).  Returns the
        current record (None: nothing recorded) and the divisor n of the reduced
        gradient Σ/n (n for a mean loss, 1 for a summed one)."""
        self._open_batch(net, learning_rate)
        record = self._current
        if record is None:
            return None, 1
        record.learning_rate = learning_rate
        record.batch_size = net.samples_in_batch
        record.updated = True
        record.rule = update_rule(net)
        return record, (net.samples_in_batch if net.reduction == "mean" else 1)

    def _end_update(self, net):
        """After the update: the batch's new values, and clipping's norm N on the
        current record's rule.  Returns the current record (None: nothing recorded)."""
        self._close_batch(net)
        record = self._current
        if record is not None and record.rule is not None and net.clip is not None:
            record.rule.clip_norm = net.clip.last_norm
        return record

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
