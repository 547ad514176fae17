"""The network: layers, a loss, and the steps of gradient descent.

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
"""


from .errors import NumericalError, ShapeError
from .numbers import FLOAT
from .services import service
from .training import checked_learning_rate, gradient_descent

REDUCTIONS = ("mean", "sum")


class Network:
    """A feed-forward network of :class:`~neuronsim.core.layer.Layer` objects.

    ``layers[0]`` is the first layer with weights (textbook layer 2: the
    inputs are layer 1).  ``loss`` is a :class:`~neuronsim.core.losses.Loss`.
    """

    def __init__(self, layers, loss, *, reduction="mean", update_biases=True,
                 learning_rate=None, numbers=FLOAT, samples=None, name=None):
        if reduction not in REDUCTIONS:
            raise ValueError(f"reduction must be 'mean' or 'sum', not {reduction!r}")
        self.layers = list(layers)
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
        """Write the network file atomically (temporary file, then rename)."""
        service("save_spec")(self.to_spec(bias_layout=bias_layout), path)

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

    def _vector(self, values, length, what):
        """Check a sample vector's length and convert its numbers."""
        try:
            vector = [self.numbers.convert(v) for v in values]
        except (TypeError, ValueError) as exc:
            raise ShapeError(f"{what}: expected a list of {length} numbers ({exc})") from None
        if len(vector) != length:
            raise ShapeError(f"{what}: expected {length} numbers, got {len(vector)}")
        return vector

    # ----------------------------------------------------------- the step
    def forward_pass(self, x):
        """a^(1) = x; a^(l) = g(W^(l) a^(l-1) + b^(l)); returns a^(L) (a list)."""
        activations = self._vector(x, self.n_inputs, "input")
        self.inputs = activations
        for layer in self.layers:
            activations = layer.forward_pass(activations)
        self._fresh_forward = True
        tracer = self.tracer
        if tracer is not None and tracer.enabled:
            tracer.on_forward(self)
        return activations

    def back_prop(self, target):
        """Every δ and dE/dw of this sample, added to the batch sums; returns E.

        Call after ``forward_pass``.  Output layer: δ = dE/da ⊙ g'(z), or the
        paired delta a - t for sigmoid + binary_cross_entropy and softmax +
        cross_entropy (see :mod:`neuronsim.core.losses`).  Hidden layers:
        δ^(l) = (W^(l+1)ᵀ δ^(l+1)) ⊙ g'(z^(l)).
        """
        if not self._fresh_forward:
            raise RuntimeError("back_prop needs a forward_pass of its sample first: each "
                               "back_prop uses the z and a of the forward pass just before it, "
                               "with the weights that pass used")
        self._fresh_forward = False
        output_layer = self.layers[-1]
        outputs = output_layer.outputs
        target = self._vector(target, self.n_outputs, "target")
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

    def update_weights(self, learning_rate=None):
        """w ← w - η · (Σ dE/dw) / n for every weight (and bias, unless fixed).

        n is the number of samples back-propagated since the last update
        (1 for ``reduction="sum"``).  Clears the batch sums.  Does nothing
        if no sample was back-propagated.
        """
        if learning_rate is None:
            learning_rate = self.learning_rate
        learning_rate = self._check_learning_rate(learning_rate)
        if self.samples_in_batch == 0:
            return
        n = self.samples_in_batch if self.reduction == "mean" else 1
        tracer = self.tracer
        tracing = tracer is not None and tracer.enabled
        if tracing:
            tracer.before_update(self, learning_rate)
        for layer in self.layers:
            layer.apply_update(learning_rate, n, self.update_biases)
        self.samples_in_batch = 0
        self._fresh_forward = False   # z and a belong to the old weights now
        if tracing:
            tracer.after_update(self)

    def step(self, x, target, learning_rate=None):
        """One online step: forward, back_prop, update.  Returns the loss.

        (The update also applies any samples back-propagated earlier and not
        yet applied, as every update does.)"""
        self.forward_pass(x)
        value = self.back_prop(target)
        self.update_weights(learning_rate)
        return value

    def loss_of(self, x, target):
        """E for one sample without touching gradients or weights.

        It runs a forward pass, so every neuron's z, a and inputs then belong
        to ``x``; an attached tracer does not record it.
        """
        tracer, self.tracer = self.tracer, None
        try:
            outputs = self.forward_pass(x)
        finally:
            self.tracer = tracer
        target = self._vector(target, self.n_outputs, "target")
        if self._paired_output:
            return self.loss.paired_value([n.z for n in self.layers[-1].neurons], target)
        return self.loss.value(outputs, target)

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
        after each update (for progress bars).  A NaN or infinity stops training with a
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
        if not (is_finite(loss) and is_finite(sum(n.delta for n in self.layers[0].neurons))):
            self._raise_nonfinite(sample_index, epoch)   # (the sum can overflow: it checks)

    def _check_learning_rate(self, learning_rate):
        return checked_learning_rate(learning_rate, self.numbers)

    def _sample_pairs(self, samples):
        pairs = []
        for i, sample in enumerate(samples):
            if isinstance(sample, dict):
                x, t = sample.get("input"), sample.get("target")
            else:
                try:
                    x, t = sample
                except (TypeError, ValueError):
                    raise ShapeError(f"samples[{i}]: expected (input, target)") from None
            pairs.append((self._vector(x, self.n_inputs, f"samples[{i}].input"),
                          self._vector(t, self.n_outputs, f"samples[{i}].target")))
        return pairs

    def _discard_batch(self):
        for layer in self.layers:
            layer.clear_grad_sums()
        self.samples_in_batch = 0

    def _raise_nonfinite(self, sample_index, epoch):
        """Find the first NaN/infinity in computation order and raise."""
        from .labels import bias_label, neuron_label, weight_label

        is_finite = self.numbers.is_finite
        checks = []
        for l, layer in enumerate(self.layers):
            for j, neuron in enumerate(layer.neurons):
                checks.append((l, j, "weights", neuron.weights))
                checks.append((l, j, "bias", [neuron.bias]))
        for l, layer in enumerate(self.layers):
            for j, neuron in enumerate(layer.neurons):
                checks.append((l, j, "z", [neuron.z]))
                checks.append((l, j, "a", [neuron.output]))
        where = None
        for l, j, quantity, values in checks:
            bad = [k for k, v in enumerate(values) if not is_finite(v)]
            if bad:
                if quantity == "weights":
                    label = weight_label(l, j, bad[0])
                    quantity = f"weights[{bad[0]}]"
                elif quantity == "bias":
                    label = bias_label(l, j)
                else:
                    label = neuron_label(quantity, l, j)
                where = f"{quantity} of layers[{l}].neurons[{j}] ({label} = {values[bad[0]]})"
                break
        if where is None and not is_finite(self.last_loss):
            where = f"the loss E = {self.last_loss}"
        if where is None:
            for l in range(len(self.layers) - 1, -1, -1):
                for j, neuron in enumerate(self.layers[l].neurons):
                    if not is_finite(neuron.delta):
                        where = f"delta of layers[{l}].neurons[{j}] ({neuron_label('delta', l, j)})"
                        break
                if where:
                    break
        if where is None:
            return   # only the quick check's sum overflowed; every value is finite
        self._discard_batch()
        raise NumericalError(
            f"epoch {epoch}, samples[{sample_index}]: first non-finite value is {where}; "
            "training stopped (try a smaller learning rate)")

    # ----------------------------------------------------------- arrays
    def to_arrays(self):
        """[(W, b), ...] as float64 numpy arrays, W of shape (n_l, n_(l-1))."""
        import numpy as np

        return [(np.array([n.weights for n in layer.neurons], dtype=float),
                 np.array([n.bias for n in layer.neurons], dtype=float))
                for layer in self.layers]

    def gradient_arrays(self):
        """[(dW, db), ...]: the batch gradient the next update will apply.

        The sums of dE/dw and dE/db over the samples since the last update,
        divided by their number (``reduction="mean"``) or not (``"sum"``).
        """
        import numpy as np

        n = max(self.samples_in_batch, 1) if self.reduction == "mean" else 1
        return [(np.array([n_.weight_grad_sum for n_ in layer.neurons], dtype=float) / n,
                 np.array([n_.bias_grad_sum for n_ in layer.neurons], dtype=float) / n)
                for layer in self.layers]

    @classmethod
    def from_torch(cls, module, loss="half_sse", **options):
        """A network from an ``nn.Sequential`` of Linear layers and activations
        (see :mod:`neuronsim.crosscheck.torch_bridge`; needs the optional torch)."""
        return service("network_from_torch")(module, loss, **options)

    def to_torch(self):
        """This network as a float64 ``nn.Sequential`` (weights copied)."""
        return service("network_to_torch")(self)

    def __repr__(self):
        sizes = "-".join(str(s) for s in self.sizes)
        acts = ", ".join(layer.activation.name for layer in self.layers)
        return f"Network({sizes}; {acts}; loss {self.loss.name})"

    def _repr_html_(self):
        """Jupyter display: diagram and weight tables (see :mod:`neuronsim.render.notebook`)."""
        return service("network_html")(self)

    def draw(self, path=None, show="a", edges="weight", convention="nielsen", digits=3):
        """The diagram of :mod:`neuronsim.render.draw` as SVG text, or saved to ``path``
        (.svg, or .png with matplotlib); returns the text or the path."""
        if path is None:
            return service("draw_svg")(self, show, edges, convention, digits)
        return service("draw_save")(self, path, show, edges, convention, digits)
