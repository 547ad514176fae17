"""The network: layers of any kind, a loss, and the steps of gradient descent.

One training step on a sample (x, t), in the order the textbook gives it:

1. ``forward_pass(x)``: a^(1) = x, then a^(l) = g(W^(l) a^(l-1) + b^(l)) layer
   by layer; returns the output list a^(L).
2. ``back_prop(t)``: δ^(L) = dE/da^(L) ⊙ g'(z^(L)), then
   δ^(l) = (W^(l+1)ᵀ δ^(l+1)) ⊙ g'(z^(l)) from the output back (a softmax
   layer multiplies by its full Jacobian instead of ⊙ g'(z)); each neuron
   adds dE/dw_jk = a_k δ_j and dE/db_j = δ_j to its batch sums.  Returns the
   sample's loss E.  No weight changes here.
3. ``update_weights(η)``: w ← w - η · (Σ dE/dw) / n over the n samples since
   the last update (``reduction="mean"``, the default), or w ← w - η · Σ dE/dw
   (``reduction="sum"``); then the sums are cleared.

Because every delta of the step exists before step 3 starts, weights never
change in the middle of a backward pass.

``train`` repeats these steps: online (batch_size=1), mini-batch, or
full-batch (batch_size=None).

The layers may be of any kind (``layer.kind``): dense
(:class:`~neuronsim.core.layer.Layer`) or recurrent
(:class:`~neuronsim.core.recurrent.RecurrentLayer`), in any order.  A network
with a recurrent layer reads a sequence: one sample is (x[1..T], targets),
``forward_pass`` and ``back_prop`` run the loop over time around the stack
and backpropagation through time (:mod:`neuronsim.core.through_time`), and
one step's values are kept per time step in ``history``.  Everything else
(the batch sums, the update, training) is the same for both.
"""

from .errors import NumericalError, ShapeError
from .labels import bias_label, neuron_label, weight_label
from .neuron import back_prop_update_neurons, forward_neurons
from .numbers import FLOAT
from .optimizers import Optimizer, OptimizerError, optimizer_update
from .regularization import Clip, Penalty
from .schedules import Schedule
from .services import service
from .summation import sum_in_order
from .through_time import (back_prop_through_time, check_truncation, forward_through_time,
                           sequence_of, step_targets_of)
from .training import checked_learning_rate, gradient_descent

REDUCTIONS = ("mean", "sum")
STEP_LOSSES = ("sum", "mean")


def _backward_value(record):
    """A record's δ = dE/dz, or an LSTM/GRU unit's dE/dh (its gates hold the δs)."""
    return record.delta if hasattr(record, "delta") else record.output_grad


class Network:
    """A network of layers: :class:`~neuronsim.core.layer.Layer` objects, and
    :class:`~neuronsim.core.recurrent.RecurrentLayer` objects anywhere.

    ``layers[0]`` is the first layer with weights (textbook layer 2: the
    inputs are layer 1).  ``loss`` is a :class:`~neuronsim.core.losses.Loss`.
    With a recurrent layer: ``step_loss`` ("sum" or "mean") combines the
    steps of one sequence, ``truncation`` None is full BPTT and k >= 1
    truncated BPTT (:mod:`neuronsim.core.through_time`).
    """

    def __init__(self, layers, loss, *, reduction="mean", update_biases=True,
                 learning_rate=None, numbers=FLOAT, samples=None, name=None,
                 step_loss="sum", truncation=None):
        if reduction not in REDUCTIONS:
            raise ValueError(f"reduction must be 'mean' or 'sum', not {reduction!r}")
        if step_loss not in STEP_LOSSES:
            raise ValueError(f"step_loss must be 'sum' or 'mean', not {step_loss!r}")
        check_truncation(truncation)
        self.layers = list(layers)
        self.is_sequential = any(layer.is_recurrent for layer in self.layers)
        self.step_loss = step_loss
        self.truncation = truncation
        self.loss = loss
        self.reduction = reduction
        self.update_biases = update_biases
        self.learning_rate = learning_rate
        self.numbers = numbers
        self.samples = list(samples or [])
        self.name = name
        self.tracer = None
        self.samples_in_batch = 0
        self.inputs = None       # a^(1) = x of the last forward pass
        self._fresh_forward = False   # a forward pass waits for its back_prop
        self.target = None       # t of the last back_prop
        self.last_loss = None
        # a network that reads sequences keeps, per time step t = 1..T:
        self.history = None      # history[t-1][l][j]: NeuronStep of neuron j, layers[l]
        self.step_outputs = None  # y[t]
        self.targets = None      # target[t] (None: no target at step t)
        self.step_losses = None  # E_t (None: no target at step t)
        self.last_truncation = None
        # beyond plain gradient descent (neuronsim.core.optimizers); None: not used
        self.optimizer = None    # Optimizer: θ ← optimizer(θ, g) instead of θ − η·g
        self.schedule = None     # Schedule: η per epoch
        self.clip = None         # Clip: g clipped by norm or value before the update
        self.penalty = None      # Penalty: λ₁·Σ|w| + (λ₂/2)·Σw² added to the loss
        self._paired_output = (loss.paired_with is not None
                               and loss.paired_with == self.layers[-1].activation.name)

    # ----------------------------------------------------------- building
    @classmethod
    def from_arrays(cls, weights, biases=None, activations="sigmoid", loss="half_sse", *,
                    bias_layout="separate", **options):
        """Build a network from weight matrices.

        ``weights[i]`` is W^(i+2) in textbook numbering (inputs are layer 1),
        of shape (neurons of the layer, its inputs): row j holds the weights
        into neuron j (as numpy ``W @ a`` and ``torch.nn.Linear.weight``);
        nested lists or numpy arrays.  ``biases[i]`` has one entry per neuron
        (zeros if None).
        ``activations`` is one name for every layer or a list, one per layer
        (a dict such as ``{"name": "leaky_relu", "slope": 0.1}`` sets a
        parameter).  With ``bias_layout="first_column"`` each row is
        [w_j0, w_j1, ...] where w_j0 is the bias (on a constant input a_0 = 1)
        and ``biases`` must be None.  Other keywords (``reduction``,
        ``update_biases``, ``learning_rate``, ``samples``, ``name``,
        ``numbers``) are as in network files (docs/spec.md).
        """
        return service("network_from_arrays")(weights, biases, activations, loss,
                                              bias_layout, options)

    @classmethod
    def from_spec(cls, path_or_dict, numbers="float"):
        """Build a network from a network file (path) or its parsed dict."""
        return service("load_network")(path_or_dict, numbers=numbers)

    load = from_spec

    def to_spec(self, bias_layout="separate"):
        """The network as a network-file dict (docs/spec.md), exact floats."""
        return service("spec_from_network")(self, bias_layout=bias_layout)

    def save(self, path, bias_layout="separate"):
        """Write the network file atomically (temporary file, then rename); a
        non-finite parameter is refused by its place and nothing is written."""
        service("save_network")(self, path, bias_layout)

    # ----------------------------------------------------------- shape
    @property
    def n_inputs(self):
        return self.layers[0].n_inputs

    @property
    def n_outputs(self):
        return self.layers[-1].size

    @property
    def sizes(self):
        """Neurons per layer, inputs first, as in Nielsen's ``sizes``: entry i is
        the size of textbook layer i+1 (so ``sizes[0]`` is the input layer)."""
        return [self.n_inputs] + [layer.size for layer in self.layers]

    @property
    def recurrent_layers(self):
        """The recurrent layers, in order (empty for a feed-forward network)."""
        return [layer for layer in self.layers if layer.is_recurrent]

    def vector(self, values, length, what):
        """Check a sample vector's length and convert its numbers."""
        if self.is_sequential:   # sequences come as numpy arrays too
            if hasattr(values, "tolist"):
                values = values.tolist()
            if not isinstance(values, (list, tuple)):
                raise ShapeError(f"{what}: expected a list of {length} numbers, got {values!r}")
        try:
            vector = list(map(self.numbers.convert, values))
        except (TypeError, ValueError) as exc:
            raise ShapeError(f"{what}: expected a list of {length} numbers ({exc})") from None
        if len(vector) != length:
            raise ShapeError(f"{what}: expected {length} numbers, got {len(vector)}")
        return vector

    # ----------------------------------------------------------- the step
    def forward_pass(self, x, initial_state=None):
        """a^(1) = x; a^(l) = g(W^(l) a^(l-1) + b^(l)); returns a^(L) (a list).

        With a recurrent layer, ``x`` is a sequence [x[1], ..., x[T]] and the
        result is [y[1], ..., y[T]]; ``initial_state`` overrides a[0] for this
        sequence: a vector (one recurrent layer) or one per recurrent layer.
        """
        if self.is_sequential:
            return self._forward_sequence(x, initial_state)
        activations = self.vector(x, self.layers[0].n_inputs, "input")
        self.inputs = activations
        for layer in self.layers:
            activations = layer.forward_pass(activations)
        self._fresh_forward = True
        tracer = self.tracer
        if tracer is not None and tracer.enabled:
            tracer.on_forward(self)
        return activations

    def back_prop(self, target, truncation="default"):
        """Every δ and dE/dw of this sample, added to the batch sums; returns E.

        Call after ``forward_pass``.  Output layer: δ = dE/da ⊙ g'(z), or the
        paired delta a - t for sigmoid + binary_cross_entropy and softmax +
        cross_entropy (see :mod:`neuronsim.core.losses`).  Hidden layers:
        δ^(l) = (W^(l+1)ᵀ δ^(l+1)) ⊙ g'(z^(l)).

        With a recurrent layer: backpropagation through time for the last
        forward pass; ``target`` is a list of T vectors (None for steps
        without a target) or one vector for the last step; ``truncation``
        None is full BPTT, k truncated BPTT (default: the network's).
        """
        if self.is_sequential:
            return self._back_prop_sequence(target, truncation)
        if not self._fresh_forward:
            raise RuntimeError("back_prop needs a forward_pass of its sample first: each "
                               "back_prop uses the z and a of the forward pass just before it, "
                               "with the weights that pass used")
        self._fresh_forward = False
        output_layer = self.layers[-1]
        outputs = output_layer.outputs
        target = self.vector(target, len(output_layer.neurons), "target")
        loss = self.loss
        output_grads = loss.output_grads(outputs, target)
        several = len(self.layers) > 1
        if self._paired_output:
            zs = [neuron.z for neuron in output_layer.neurons]
            value = loss.paired_value(zs, target)
            grads = output_layer.set_deltas(loss.paired_delta(outputs, target),
                                            output_grads, several)
        else:
            value = loss.value(outputs, target)
            grads = output_layer.back_prop(output_grads, several)
        for index in range(len(self.layers) - 2, -1, -1):
            grads = self.layers[index].back_prop(grads, index > 0)
        self.samples_in_batch += 1
        self.target = target
        self.last_loss = value
        tracer = self.tracer
        if tracer is not None and tracer.enabled:
            tracer.on_backward(self)
        return value

    # ----------------------------------------------------------- sequences
    def _forward_sequence(self, xs, initial_state):
        """a[t] of every layer and y[t] for t = 1..T (neuronsim.core.through_time)."""
        xs = sequence_of(self, xs)
        recurrent = self.recurrent_layers
        states = [None] * len(recurrent)
        if initial_state is not None:
            given = [initial_state] if len(recurrent) == 1 else list(initial_state)
            if len(given) != len(recurrent):
                raise ShapeError(f"initial_state: expected one vector per recurrent layer "
                                 f"({len(recurrent)}), got {len(given)}")
            states = [self.vector(state, layer.size, "initial_state")
                      for state, layer in zip(given, recurrent)]
        self.inputs = xs
        self.step_outputs = forward_through_time(self, xs, states)
        self.targets = self.step_losses = self.last_loss = None
        self._fresh_forward = True
        tracer = self.tracer
        if tracer is not None and tracer.enabled:
            tracer.on_forward(self)
        return self.step_outputs

    def _back_prop_sequence(self, targets, truncation):
        """BPTT for the last forward pass; returns the sequence's loss E."""
        if not self._fresh_forward:
            raise RuntimeError("back_prop needs a forward_pass of its sequence first: each "
                               "back_prop uses the z and a of the forward pass just before it, "
                               "with the weights that pass used")
        if truncation == "default":
            truncation = self.truncation
        check_truncation(truncation)
        targets = step_targets_of(self, targets, len(self.step_outputs))
        self._fresh_forward = False
        step_losses = back_prop_through_time(self, targets, truncation)
        values = [v for v in step_losses if v is not None]
        total = sum_in_order(values)
        self.last_loss = total / len(values) if self.step_loss == "mean" else total
        self.targets = targets
        self.step_losses = step_losses
        self.last_truncation = truncation
        self.samples_in_batch += 1
        tracer = self.tracer
        if tracer is not None and tracer.enabled:
            tracer.on_backward(self)
        return self.last_loss

    def history_of(self, layer_index, neuron_index, quantity):
        """One neuron's ``quantity`` ("z", "output", "derivative", "delta",
        "output_grad", "output_path", "recurrent_path", ...) at t = 1..T of
        the last sequence: ``[history[t-1][layer_index][neuron_index].quantity]``."""
        return [getattr(step[layer_index][neuron_index], quantity) for step in self.history]

    def states_of(self, layer_index):
        """[a[0], a[1], ..., a[T]] of ``layers[layer_index]`` over the last
        sequence (a[0]: the state it started from, for a recurrent layer)."""
        layer = self.layers[layer_index]
        start = [layer.start_state] if layer.is_recurrent else []
        return start + [[record.output for record in step[layer_index]]
                        for step in self.history]

    def output_error(self, target, scale=1):
        """At the output layer (its current values) for one sample or step:
        E, ``scale`` · dE/da, and ``scale`` · the paired δ = dE/dz (None
        unless the loss pairs with the output activation)."""
        loss = self.loss
        output_layer = self.layers[-1]
        outputs = output_layer.outputs
        grads = [g * scale for g in loss.output_grads(outputs, target)]
        if not self._paired_output:
            return loss.value(outputs, target), grads, None
        zs = [neuron.z for neuron in output_layer.neurons]
        deltas = [d * scale for d in loss.paired_delta(outputs, target)]
        return loss.paired_value(zs, target), grads, deltas

    def update_weights(self, learning_rate=None):
        """w ← w - η · (Σ dE/dw) / n for every weight (and bias, unless fixed).

        n is the number of samples back-propagated since the last update
        (1 for ``reduction="sum"``).  Clears the batch sums.  Does nothing
        if no sample was back-propagated.  With an optimizer, a penalty or
        clipping, each parameter moves as :func:`~neuronsim.core.optimizers.optimizer_update`
        says; with a schedule, η is the schedule's rate.
        """
        if learning_rate is None:
            learning_rate = self.learning_rate
        learning_rate = checked_learning_rate(learning_rate, self.numbers)
        if self.samples_in_batch == 0:
            return
        n = self.samples_in_batch if self.reduction == "mean" else 1
        if self.schedule is not None:
            learning_rate = self.schedule.rate(learning_rate)
        plain = self.optimizer is None and self.clip is None and self.penalty is None
        tracer = self.tracer
        tracing = tracer is not None and tracer.enabled
        if tracing:
            tracer.before_update(self, learning_rate)
        if plain:
            for layer in self.layers:
                layer.apply_update(learning_rate, n, self.update_biases)
        else:
            optimizer_update(self, learning_rate, n)
        self.samples_in_batch = 0
        self._fresh_forward = False   # z and a belong to the old weights now
        if tracing:
            tracer.after_update(self)

    # ------------------------------------------------ beyond gradient descent
    def set_optimizer(self, name=None, **options):
        """Update with torch.optim's optimizer ``name`` ("sgd", "rmsprop",
        "adagrad", "adam", "adamw") and its options by torch's names, for
        example ``set_optimizer("adam", betas=(0.9, 0.99))``; the rate is the
        learning rate (docs/optimizers.md).  None: plain gradient descent.
        Every parameter's state starts afresh.  Returns the network."""
        self.optimizer = None if name is None else Optimizer(name, **options).bind(self.numbers)
        self._forget_optimizer_state()
        return self

    def set_schedule(self, name=None, **options):
        """η per epoch as torch.optim.lr_scheduler: "step" (step_size, gamma),
        "exponential" (gamma), "cosine" (T_max, eta_min), "linear" (start_factor,
        end_factor, total_iters); None: a constant rate.  Returns the network."""
        self.schedule = None if name is None else Schedule(name, **options).bind(self.numbers)
        return self

    def set_clip(self, max_norm=None, value=None):
        """Clip each batch gradient by its global 2-norm (``max_norm``) or by
        ``value``, as torch.nn.utils; neither: no clipping.  Returns the network."""
        if max_norm is None and value is None:
            self.clip = None
            return self
        clip = Clip(max_norm, value)
        if clip.max_norm is not None and getattr(self.numbers, "exact", False):
            raise OptimizerError("clip max_norm: numbers='fraction' cannot hold the square "
                                 "root of the norm; clip by value, or use numbers='precise'")
        self.clip = clip
        return self

    def set_penalty(self, l1=0, l2=0):
        """Add λ₁·Σ|w| + (λ₂/2)·Σw² over the weights to the loss (0, 0: none).
        Returns the network."""
        self.penalty = Penalty(l1, l2).bind(self.numbers) if (l1 or l2) else None
        return self

    def penalty_value(self):
        """R = λ₁·Σ|w| + (λ₂/2)·Σw² of the current weights (0 without a penalty)."""
        if self.penalty is None:
            return 0
        weights = [w for layer in self.layers for n in layer.neurons
                   for w in n.weights + getattr(n, "recurrent_weights", [])]
        return self.penalty.value(weights)

    def _forget_optimizer_state(self):
        for layer in self.layers:
            if layer.is_recurrent:
                layer.optimizer_state = None
            for neuron in layer.neurons:
                neuron.optimizer_state = None

    def end_epoch(self):
        """The end of a training epoch: the schedule's next rate (if any)."""
        if self.schedule is not None:
            self.schedule.step()

    def step(self, x, target, learning_rate=None):
        """One online step: forward, back_prop, update.  Returns the loss.

        (The update also applies any samples back-propagated earlier and not
        yet applied, as every update does.)  When nothing else waits in the
        batch and nothing reads or changes the gradient between back_prop and
        the update (:meth:`_can_fuse_step`; a tracer of every neuron is told the
        step's numbers after it), the step runs as :meth:`_fused_step`, with the
        same numbers."""
        if self._can_fuse_step():
            rate = self.learning_rate if learning_rate is None else learning_rate
            try:
                rate = checked_learning_rate(rate, self.numbers)
            except ValueError:
                pass   # the steps below raise it, at the same point as ever
            else:
                return self._fused_step(x, target, rate)
        self.forward_pass(x)
        value = self.back_prop(target)
        self.update_weights(learning_rate)
        return value

    def _can_fuse_step(self):
        """Can this step's back_prop and update run as one pass per layer?  Yes for
        a feed-forward network with empty batch sums and plain gradient descent:
        the update then needs nothing but the sample's own δ and a_k.  A recording
        tracer must say it can follow such a step (``follows_fused_steps``: it
        is told the step's numbers once the pass is done, as
        ``on_fused_step``).  (A softmax layer that is not a paired output is
        found by the fused step's forward pass, which then hands over to
        back_prop and update_weights.)"""
        if (self.is_sequential or self.samples_in_batch or self.optimizer is not None
                or self.clip is not None or self.penalty is not None):
            return False
        tracer = self.tracer
        return (tracer is None or not tracer.enabled
                or getattr(tracer, "follows_fused_steps", False))

    def _fused_step(self, x, target, learning_rate):
        """forward_pass(x), back_prop(target) and update_weights(η) of one online
        sample (``learning_rate`` checked), with the numbers of those three
        methods: the layers' neurons are run by the functions of neuron.py's
        "A layer's neurons in one loop" section directly, and each layer's δ,
        Wᵀδ and update are one pass (back_prop_update_neurons).  A recording
        tracer (one that ``follows_fused_steps``) gets ``on_forward`` after the
        forward pass and ``on_fused_step`` at the end.  Returns E."""
        layers = self.layers
        n_inputs = len(layers[0].neurons[0].weights)   # (Layer.n_inputs, without its call)
        self.inputs = activations = self.vector(x, n_inputs, "input")
        fused = True
        for layer in layers:                      # Layer.forward_pass
            activation = layer.activation
            if activation.is_layerwise:           # softmax: z first, then a
                activations = layer.forward_pass(activations)
                fused = fused and layer is layers[-1] and self._paired_output
            else:
                layer.outputs = activations = forward_neurons(layer.neurons, activations,
                                                              activation)
        tracer = self.tracer
        if tracer is not None and not tracer.enabled:
            tracer = None
        if tracer is not None:
            tracer.on_forward(self)
        if not fused:   # a softmax δ needs its layer's Jacobian (Layer.back_prop)
            self._fresh_forward = True
            value = self.back_prop(target)
            self.update_weights(learning_rate)
            return value
        self._fresh_forward = False               # (back_prop consumes the forward pass)
        output_layer = layers[-1]
        target = self.vector(target, len(output_layer.neurons), "target")
        loss = self.loss
        output_grads = loss.output_grads(activations, target)
        if self._paired_output:
            value = loss.paired_value([neuron.z for neuron in output_layer.neurons], target)
            deltas = loss.paired_delta(activations, target)
        else:
            value = loss.value(activations, target)
            deltas = None
        if self.schedule is not None:
            learning_rate = self.schedule.rate(learning_rate)
        update_bias = self.update_biases
        index = len(layers) - 1
        grads = back_prop_update_neurons(output_layer.neurons, output_grads, deltas,
                                         learning_rate, index > 0, update_bias)
        while index > 0:
            index -= 1
            grads = back_prop_update_neurons(layers[index].neurons, grads, None,
                                             learning_rate, index > 0, update_bias)
        self.target = target
        self.last_loss = value
        if tracer is not None:
            tracer.on_fused_step(self, learning_rate)
        return value

    def loss_of(self, x, target, initial_state=None):
        """E for one sample (or sequence) without touching gradients or weights.

        It runs a forward pass, so every neuron's z, a and inputs then belong
        to ``x``; an attached tracer does not record it.
        """
        tracer, self.tracer = self.tracer, None
        try:
            outputs = self.forward_pass(x, initial_state)
        finally:
            self.tracer = tracer
        if self.is_sequential:
            return self._sequence_loss(target)
        target = self.vector(target, self.n_outputs, "target")
        if self._paired_output:
            return self.loss.paired_value([n.z for n in self.layers[-1].neurons], target)
        return self.loss.value(outputs, target)

    def loss_over(self, samples=None):
        """E over ``samples`` (default: the file's): the mean of each sample's
        :meth:`loss_of` (their sum for ``reduction="sum"``), as a batch would weigh
        them, with the current weights and no penalty.  Nothing is updated; the
        forward passes leave the last sample's values in the neurons."""
        pairs = self.sample_pairs(self.samples if samples is None else samples)
        total = 0.0
        for x, t in pairs:
            total += self.loss_of(x, t)
        return total / len(pairs) if self.reduction == "mean" else total

    def _sequence_loss(self, targets):
        """E of the last forward pass's sequence (no gradients)."""
        targets = step_targets_of(self, targets, len(self.step_outputs))
        values = []
        for index, target in enumerate(targets):
            if target is not None:
                self.layers[-1].recall_step(self.history[index][-1])
                values.append(self.output_error(target)[0])
        total = sum_in_order(values)
        return total / len(values) if self.step_loss == "mean" else total

    # ----------------------------------------------------------- training
    def train(self, samples=None, epochs=1, learning_rate=None, batch_size=1,
              shuffle=True, seed=0, stop_loss=None, on_epoch=None, on_batch=None):
        """Gradient descent over ``samples``; returns the loss of each epoch.

        ``samples``: a list of (input, target) pairs or {"input", "target"}
        dicts (default: the samples of the network file).  ``batch_size=1`` is
        online learning, ``None`` full batch, anything else mini-batch; the
        last batch of an epoch may be smaller.  ``shuffle`` reorders the
        samples every epoch with ``random.Random(seed)`` (the default seed 0 makes
        every run the same; pass ``seed=None`` for a different order each run;
        each call starts the generator afresh, so ``train(epochs=1)`` in a loop
        repeats one order: pass a different seed each time for fresh ones).  An epoch's loss is
        the mean of its per-sample losses (the sum with ``reduction="sum"``),
        each taken before its batch's update.  Training stops early once an
        epoch's loss is <= ``stop_loss``.  ``on_epoch(epoch, loss)`` is called
        after each epoch (1-based), ``on_batch(epoch, samples_done, loss_so_far)``
        after each update (for progress bars).  The update is the network's optimizer's,
        with its penalty and clipping, if set (``set_optimizer`` ...); a schedule steps
        at the end of each epoch.  A NaN or infinity stops training with a
        :class:`~neuronsim.core.errors.NumericalError` naming where it appeared.
        """
        pairs = self._sample_pairs(self.samples if samples is None else samples)
        if learning_rate is None:
            learning_rate = self.learning_rate
        return gradient_descent(self, pairs, epochs, learning_rate, batch_size, shuffle, seed,
                                stop_loss, on_epoch, on_batch, self._check_sample)

    def _check_sample(self, loss, sample_index, epoch):
        """Stop at the first NaN or infinity (a quick test, then a full search)."""
        is_finite = self.numbers.is_finite
        if self.is_sequential:
            first = sum_in_order(_backward_value(r) for step in self.history for r in step[0])
        else:
            first = sum_in_order(n.delta for n in self.layers[0].neurons)
        if not (is_finite(loss) and is_finite(first)):
            self._raise_nonfinite(sample_index, epoch)   # (the sum can overflow: it checks)

    def _sample_pairs(self, samples):
        """(input, target) pairs from dicts or pairs, checked and converted."""
        pairs = []
        for i, sample in enumerate(samples):
            if isinstance(sample, dict):
                x, t = sample.get("input"), sample.get("target")
            else:
                try:
                    x, t = sample
                except (TypeError, ValueError):
                    raise ShapeError(f"samples[{i}]: expected (input, target)") from None
            if self.is_sequential:
                xs = sequence_of(self, x, f"samples[{i}].input")
                pairs.append((xs, step_targets_of(self, t, len(xs), f"samples[{i}].target")))
            else:
                pairs.append((self.vector(x, self.n_inputs, f"samples[{i}].input"),
                              self.vector(t, self.n_outputs, f"samples[{i}].target")))
        return pairs

    sample_pairs = _sample_pairs

    def _discard_batch(self):
        for layer in self.layers:
            layer.clear_grad_sums()
        self.samples_in_batch = 0

    def _raise_nonfinite(self, sample_index, epoch):
        """Find the first NaN/infinity in computation order and raise."""
        where = self._first_nonfinite()
        if where is None:
            return   # only the quick check's sum overflowed; every value is finite
        self._discard_batch()
        raise NumericalError(
            f"epoch {epoch}, samples[{sample_index}]: first non-finite value is {where}; "
            "training stopped (try a smaller learning rate)")

    def _first_nonfinite(self):
        """Where the first NaN or infinity is, in computation order: the
        parameters, the forward pass (step by step), the loss, the backward
        pass (from the output layer back; from the last step back)."""
        is_finite = self.numbers.is_finite
        for l, layer in enumerate(self.layers):
            for j, neuron in enumerate(layer.neurons):
                bad = [k for k, w in enumerate(neuron.weights) if not is_finite(w)]
                if bad:
                    k = bad[0]
                    return (f"weights[{k}] of layers[{l}].neurons[{j}] "
                            f"({weight_label(l, j, k)} = {neuron.weights[k]})")
                if not is_finite(getattr(neuron, "bias", 0)):   # (a gate's biases show in z)
                    return (f"bias of layers[{l}].neurons[{j}] "
                            f"({bias_label(l, j)} = {neuron.bias})")
        # one step of a feed-forward network: the neurons hold its values
        steps = self.history if self.is_sequential else [[layer.neurons for layer in self.layers]]

        def at(t):
            return f" at t = {t}" if self.is_sequential else ""

        for t, step in enumerate(steps, start=1):
            for l, values in enumerate(step):
                for j, value in enumerate(values):
                    # (an LSTM or GRU unit's record has no z: its gates' z are inside it)
                    for quantity, number in (("z", getattr(value, "z", None)),
                                             ("a", value.output)):
                        if number is not None and not is_finite(number):
                            return (f"{quantity} of layers[{l}].neurons[{j}]{at(t)} "
                                    f"({neuron_label(quantity, l, j)} = {number})")
        if not is_finite(self.last_loss):
            return f"the loss E = {self.last_loss}"
        for t in range(len(steps), 0, -1):
            for l in range(len(self.layers) - 1, -1, -1):
                for j, value in enumerate(steps[t - 1][l]):
                    delta = _backward_value(value)
                    if delta is not None and not is_finite(delta):
                        return (f"delta of layers[{l}].neurons[{j}]{at(t)} "
                                f"({neuron_label('delta', l, j)})")
        return None

    # ----------------------------------------------------------- arrays
    def to_arrays(self):
        """[(W, b), ...] as float64 numpy arrays, W of shape (n_l, n_(l-1)); a
        recurrent layer gives (W, U, b), and (W, U, b, a0) when a[0] is learned."""
        import numpy as np

        return [tuple(np.array(values, dtype=float) for values in layer.parameters())
                for layer in self.layers]

    def gradient_arrays(self):
        """[(dW, db), ...]: the batch gradient the next update will apply
        (recurrent layers: (dW, dU, db), and dE/da[0] too when it is learned).

        The sums of dE/dw and dE/db over the samples since the last update,
        divided by their number (``reduction="mean"``) or not (``"sum"``).
        """
        import numpy as np

        n = max(self.samples_in_batch, 1) if self.reduction == "mean" else 1
        return [tuple(np.array(sums, dtype=float) / n for sums in layer.gradient_sums())
                for layer in self.layers]

    @classmethod
    def from_torch(cls, module, loss="half_sse", **options):
        """A network from an ``nn.Sequential`` of Linear layers and activations, or
        a ``StackModule`` with ``nn.RNN``, ``nn.LSTM`` or ``nn.GRU`` layers (see
        :mod:`neuronsim.crosscheck.torch_bridge`; needs the optional torch)."""
        return service("network_from_torch")(module, loss, **options)

    def to_torch(self, **options):
        """This network as a float64 ``nn.Sequential`` (weights copied), or a
        ``StackModule`` of ``nn.RNN`` / ``nn.LSTM`` / ``nn.GRU`` and Linear layers
        when it has a recurrent layer (option ``batch_first``, default True)."""
        return service("network_to_torch")(self, **options)

    def __repr__(self):
        """Sizes from the inputs on; a recurrent layer's size is written r4, an
        LSTM's lstm4 and a GRU's gru4 (whose activations are fixed: named by kind)."""
        def prefix(layer):
            if not layer.is_recurrent:
                return ""
            return "r" if layer.kind == "recurrent" else layer.kind

        sizes = "-".join([str(self.n_inputs)] + [prefix(layer) + str(layer.size)
                                                 for layer in self.layers])
        acts = ", ".join(layer.kind if hasattr(layer, "gates") else layer.activation.name
                         for layer in self.layers)
        return f"Network({sizes}; {acts}; loss {self.loss.name})"

    def _repr_html_(self):
        """Jupyter display: diagram and weight tables (see :mod:`neuronsim.render.notebook`)."""
        return service("network_html")(self)

    def draw(self, path=None, show="a", edges="weight", convention="nielsen", digits=3, *,
             width=None):
        """The diagram of :mod:`neuronsim.render.draw` as SVG text, or saved to ``path``
        (.svg, or .png with matplotlib); ``width`` in pixels (None: room for the
        labels).  Returns the text or the path."""
        if path is None:
            return service("draw_svg")(self, show, edges, convention, digits, width=width)
        return service("draw_save")(self, path, show, edges, convention, digits, width=width)

    def widget(self, **options):
        """An ipywidgets stepper and editor of this network for Jupyter
        (:mod:`neuronsim.classroom.widget`; needs ``pip install "neuronsim[notebook]"``).
        Every number it shows is this network's own."""
        return service("widget")(self, **options)

    # ----------------------------------------------------------- copies
    def copy(self, *, batch=True, rule=True):
        """An independent copy of this network, without a tracer (this network
        keeps its own): the parameters (a learned initial state too), the
        settings, the samples and, by default, everything else: the values of
        the last pass (``history`` of a sequence), the optimizer with every
        parameter's state, the schedule at its epoch, clipping, the penalty,
        and the batch under way (the gradient sums of the samples
        back-propagated since the last update) with the g that update applied.

        ``batch=False``: the copy starts afresh: a new batch (every gradient sum
        0, ``samples_in_batch`` 0, no g or clipping norm of a last update) and
        no pass (``history`` and the last inputs, targets and loss None: a
        forward pass comes first), so one sample run on it gives that sample's
        gradient alone.  ``rule=False``: the copy updates by plain gradient
        descent, w − η·g: no optimizer, schedule, clipping or penalty, and no
        optimizer state.  The number system is shared (it holds no state).
        """
        from copy import deepcopy   # here, not at the top: only copies need it (start-up time)

        memo = {id(self.tracer): None, id(self.numbers): self.numbers}
        if not batch and self.history is not None:
            memo[id(self.history)] = None      # (the longest part; not copied to be dropped)
        copy = deepcopy(self, memo)
        owners = [owner for layer in copy.layers
                  for owner in list(layer.neurons) + ([layer] if layer.is_recurrent else [])]
        if not batch:
            for layer in copy.layers:
                layer.clear_grad_sums()
            copy.samples_in_batch = 0
            for owner in owners:
                owner.batch_grad = owner.penalty_grad = None
            if copy.clip is not None:
                copy.clip.last_norm = None
            copy.inputs = copy.target = copy.last_loss = copy.last_truncation = None
            copy.history = copy.step_outputs = copy.targets = copy.step_losses = None
            copy._fresh_forward = False
        if not rule:
            copy.optimizer = copy.schedule = copy.clip = copy.penalty = None
            for owner in owners:
                owner.optimizer_state = owner.batch_grad = owner.penalty_grad = None
        return copy
