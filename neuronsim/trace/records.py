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

Every record here is a :class:`Record`: plain data that compares, prints,
pickles and turns into dicts for JSON (``record.as_dict()``).  A step's
neuron records are made when first read, from the values the tracer took
while the network ran (:class:`StepRecord`).

    >>> from neuronsim.files import load_example
    >>> from neuronsim.trace import Tracer
    >>> net = load_example("mazur")
    >>> tracer = Tracer().attach(net)
    >>> round(net.step([0.05, 0.1], [0.01, 0.99], 0.5), 12)
    0.29837110876
    >>> step = tracer.steps[0]
    >>> record = step.layers[1][0]          # net.layers[1].neurons[0]: o1, textbook layer 3
    >>> round(record.delta, 9), round(step.as_dict()["layers"][1][0]["delta"], 9)
    (0.138498562, 0.138498562)
"""

from ..core.neuron import weight_gradients
from ..core.through_time import StepValues

PARAMETER_KINDS = ("weight", "bias")


class Record:
    """Plain data with named fields (``_fields``, in order): two records are equal
    when they are of one class and every field is equal; ``repr`` lists every
    field; :meth:`as_dict` turns a record, and the records, lists and dicts it
    holds, into dicts and lists (for JSON).  Records pickle and copy as any
    Python object.

    (Written out rather than made by :mod:`dataclasses`: importing that module
    took a third of ``neuronsim trace``'s start-up.)"""

    __slots__ = ()    # a subclass has a __dict__ unless it names its own __slots__
    _fields = ()
    __hash__ = None   # records change while their step runs

    def __eq__(self, other):
        if type(other) is not type(self):
            return NotImplemented
        return self._values() == other._values()

    def _values(self):
        """The fields' values, in order, as one tuple (compared as tuples are: a value
        is equal to itself, even a NaN)."""
        return tuple(getattr(self, name) for name in self._fields)

    def __repr__(self):
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._fields)
        return f"{type(self).__qualname__}({fields})"

    def as_dict(self):
        """Every field by name; records inside become dicts, tuples lists."""
        return {name: _plain(getattr(self, name)) for name in self._fields}


def _plain(value):
    """``value`` with every :class:`Record` in it as a dict, the network's step values
    (:class:`~neuronsim.core.through_time.StepValues`) as dicts of their slots, and
    tuples as lists."""
    if isinstance(value, Record):
        return value.as_dict()
    if isinstance(value, StepValues):
        return {name: _plain(getattr(value, name)) for name in value.__slots__}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


class NeuronRecord(Record):
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

    _fields = ("layer", "neuron", "inputs", "weights", "bias", "z", "output", "derivative",
               "output_grad", "delta", "downstream", "weight_grad_sums", "batch_divisor",
               "batch_bias_grad", "new_weights", "new_bias", "jacobian_sum",
               "applied_weight_grads", "applied_bias_grad", "penalty_weight_grads",
               "state_before", "state_after")

    # Every field after the forward values reads None until the tracer sets it.
    output_grad = delta = downstream = None
    # The update's gradient is batch_weight_grads = weight_grad_sums / batch_divisor
    # (weight_grad_sums None: one sample, whose sums are its weight_grads).
    weight_grad_sums = batch_divisor = batch_bias_grad = None
    new_weights = new_bias = None
    jacobian_sum = None   # softmax layers: Σ_i dE/da_i a_i over the whole layer
    # An update by an optimizer, a penalty or clipping (``StepRecord.rule``):
    # the g each parameter applied (after the penalty and clipping), the
    # penalty's share of it, and the optimizer state before and after (copies
    # of ``neuron.optimizer_state``, None before the first step).
    applied_weight_grads = applied_bias_grad = penalty_weight_grads = None
    state_before = state_after = None

    def __init__(self, layer, neuron, inputs, weights, bias, z, output, derivative):
        """The forward values; the tracer sets the others as the step goes on."""
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


class NetworkFacts(Record):
    """What a feed-forward step's tables need to know of the network that made
    it: each layer's activation name and parameters, the layer sizes, the loss
    and how the batch reduces it.

    A tracer follows one network over many steps, and these facts stay the
    same from step to step, so consecutive :class:`StepRecord` objects share
    one NetworkFacts until the network changes (the tracer checks it each
    step).  Nothing changes its lists after it is made.
    """

    _fields = ("activations", "activation_params", "sizes", "loss_name", "reduction",
               "update_biases", "paired_output")

    def __init__(self, activations, activation_params, sizes, loss_name, reduction,
                 update_biases, paired_output):
        self.activations = activations                # activation name of each layer
        self.activation_params = activation_params    # a copy of each one's parameters
        self.sizes = sizes                            # neurons in each of net.layers
        self.loss_name = loss_name
        self.reduction = reduction
        self.update_biases = update_biases
        self.paired_output = paired_output

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


def forward_values(neuron):
    """What a tracer takes of a neuron after the forward pass, for :func:`neuron_records`:
    the tuple (inputs, weights, bias, z, output, g'(z))."""
    return (neuron.inputs, neuron.weights, neuron.bias, neuron.z, neuron.output,
            neuron.derivative)


def fused_pass_values(neuron):
    """What a tracer takes of a neuron after a fused online step's pass, for
    :func:`fill_fused_pass`: the tuple (dE/da, δ, new weights, new bias)."""
    return (neuron.output_grad, neuron.delta, neuron.weights, neuron.bias)


def neuron_records(forward, kept, sizes):
    """The :class:`NeuronRecord` lists of a step, layer by layer, from the values a
    tracer took after the forward pass (:attr:`StepRecord.layers`).

    ``forward``: for each neuron kept, in forward order, its
    :func:`forward_values`; ``kept``: their (layer, neuron) indices,
    0-based (None: every neuron of every layer, ``sizes[l]`` in layer l)."""
    if kept is None:
        kept = [(l, j) for l, size in enumerate(sizes) for j in range(size)]
    layers = [[] for _ in sizes]
    for (l, j), row in zip(kept, forward):
        layers[l].append(NeuronRecord(l, j, *row))
    return layers


def fill_fused_pass(layers, jacobian_sums, rows):
    """Complete every neuron's record of an online step the network ran as one
    pass per layer (``Tracer.on_fused_step``): what back_prop and the update of
    one sample record, with the same numbers.

    ``rows``: for each neuron, in forward order, its :func:`fused_pass_values`
    after the pass; ``jacobian_sums[l]``: layer l's
    Σ_i dE/da_i a_i (a softmax layer; else None).  Each record holds the
    weights of before the pass (the pass replaced each row with a new list),
    so a hidden neuron's downstream pairs (w_kj, δ_k) take w_kj and δ_k from
    the next layer's records.  The batch is this one sample: n = 1, and
    Σ dE/db = 0 + δ, as the network adds it."""
    records = [record for layer in layers for record in layer]
    for record, (output_grad, delta, new_weights, new_bias) in zip(records, rows):
        record.output_grad = output_grad
        record.delta = delta
        jacobian_sum = jacobian_sums[record.layer]
        if jacobian_sum is not None:
            record.jacobian_sum = jacobian_sum
        record.batch_divisor = 1
        record.batch_bias_grad = (0 + delta) / 1
        record.new_weights = new_weights
        record.new_bias = new_bias
    for layer, above in zip(layers, layers[1:]):
        for record in layer:
            j = record.neuron
            record.downstream = [(r.weights[j], r.delta) for r in above]


class StepRecord(Record):
    """One sample's forward and backward pass, and the update if one followed.

    ``index`` counts recorded steps from 1.  ``layers[l][j]`` is the
    :class:`NeuronRecord` of ``net.layers[l].neurons[j]`` (only the neurons
    the tracer's filters keep).  ``network``: the :class:`NetworkFacts` of the
    network that made the step; its fields read as the step's own
    (``step.activations``, ``step.loss_name``, ...).  ``rule``: an
    :class:`UpdateRule` when the update is not plain w − η·g.

    A tracer makes its steps with :meth:`from_values`: the step keeps the values
    the tracer took while the network ran, and makes its records from them when
    ``layers`` is first read; they have the same numbers whenever that is.
    This is tracing's speed trick, in one place: a record is a Python object
    made and filled field by field, thousands of machine instructions per
    neuron per step, for every step, read or not; a tuple of the same values
    costs a few hundred.  (The values are numbers, all immutable, and the
    network's lists, which it replaces and never changes in place.)
    """

    _fields = ("index", "input", "layers", "outputs", "network", "target", "loss",
               "learning_rate", "batch_size", "updated", "rule")

    # What back_prop and the update add reads as these until then.
    target = loss = learning_rate = batch_size = rule = None
    updated = False

    def __init__(self, index, input, layers, outputs, network, target=None, loss=None,
                 learning_rate=None, batch_size=None, updated=False, rule=None):
        self.index = index
        self.input = input
        self._layers = layers
        self.outputs = outputs
        self.network = network
        self.target = target
        self.loss = loss
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.updated = updated
        self.rule = rule
        self._taken = None

    @classmethod
    def from_values(cls, index, input, outputs, network, forward, kept=None):
        """A step whose records are made when first read, from ``forward``: the
        :func:`forward_values` of each neuron kept, in forward order; ``kept``:
        their (layer, neuron) indices (None: every neuron)."""
        step = cls.__new__(cls)
        step.index = index
        step.input = input
        step._layers = None
        step.outputs = outputs
        step.network = network
        # (forward, kept, the fused pass or None) while layers is None: one attribute,
        # read once, so that two threads reading layers at once both make whole records
        step._taken = (forward, kept, None)
        return step

    @property
    def layers(self):
        """The :class:`NeuronRecord` lists, one per layer of the network."""
        layers = self._layers
        if layers is None:
            taken = self._taken
            if taken is None:            # made meanwhile, by another thread
                return self._layers
            forward, kept, fused = taken
            layers = neuron_records(forward, kept, self.network.sizes)
            if fused is not None:
                fill_fused_pass(layers, *fused)
            self._layers = layers
            self._taken = None
        return layers

    def add_fused_pass(self, jacobian_sums, rows):
        """The values of an online step's pass (:func:`fused_pass_values` of each
        neuron, in forward order), for :func:`fill_fused_pass`."""
        taken = self._taken
        if taken is not None:
            self._taken = (taken[0], taken[1], (jacobian_sums, rows))
        else:
            fill_fused_pass(self._layers, jacobian_sums, rows)

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


class UpdateRule(Record):
    """How an update beyond plain gradient descent moved the parameters.

    ``optimizer``: torch's name ("sgd", "rmsprop", "adagrad", "adam", "adamw"),
    None for θ − η·g with a penalty or clipping only; ``options``: its options
    in the numbers the core computed with; ``initial``: a fresh state (what a
    parameter starts from before its first step); ``penalty``, ``clip``:
    descriptions, or None.
    """

    _fields = ("optimizer", "options", "initial", "penalty", "clip", "clip_norm",
               "penalty_value", "penalty_weights")

    def __init__(self, optimizer, options, initial, penalty=None, clip=None, clip_norm=None,
                 penalty_value=None, penalty_weights=None):
        self.optimizer = optimizer
        self.options = options
        self.initial = initial
        self.penalty = penalty
        self.clip = clip
        self.clip_norm = clip_norm   # clipping by norm: the global norm N of the batch gradient
        # with a penalty: R = λ₁·Σ|w| + (λ₂/2)·Σw² of the weights the update starts
        # from (the core's net.penalty_value()), and those weights (w, then u), in order
        self.penalty_value = penalty_value
        self.penalty_weights = penalty_weights


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


class ParameterRecord(Record):
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

    _fields = ("layer", "neuron", "kind", "index", "old", "terms", "total", "divisor",
               "gradient", "updated", "new", "gate")

    def __init__(self, layer, neuron, kind, index, old, terms, total, divisor, gradient,
                 updated=True, new=None, gate=None):
        self.layer = layer
        self.neuron = neuron
        self.kind = kind
        self.index = index
        self.old = old
        self.terms = terms
        self.total = total
        self.divisor = divisor
        self.gradient = gradient
        self.updated = updated
        self.new = new
        self.gate = gate


class BatchRecord(Record):
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

    _fields = ("index", "samples", "size", "reduction", "divisor", "learning_rate",
               "update_biases", "losses", "loss", "parameters", "updated")

    def __init__(self, index, samples, size, reduction, divisor, learning_rate, update_biases,
                 losses, loss, parameters, updated=False):
        self.index = index
        self.samples = samples
        self.size = size
        self.reduction = reduction
        self.divisor = divisor
        self.learning_rate = learning_rate
        self.update_biases = update_biases
        self.losses = losses
        self.loss = loss
        self.parameters = parameters
        self.updated = updated

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
        """The update came: every record of the batch is complete.  (The batch is
        taken off the pending list before it is handed on, so that a sink that
        raises cannot make a record kept or handed on twice.)"""
        pending, self._pending = self._pending, []
        self._current = None
        for record in pending:
            self._finish(record)

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
        current, pending = self._current, self._pending
        self._current, self._pending = None, []
        for record in pending:
            self._finish(record)
        if current is not None and all(current is not p for p in pending):
            self._finish(current)
