"""Recurrent (Elman) neurons and backpropagation through time (BPTT).

A :class:`RecurrentNetwork` is one recurrent layer followed by ordinary dense
:class:`~neuronsim.core.layer.Layer` objects that are applied at every time step.
Time steps count t = 1..T, as in the trace tables; the per-step Python lists
are 0-based, so ``neuron.zs[t - 1]`` is z_j[t].  For recurrent neuron j with
input weights w_jk, recurrent weights u_ji (one per neuron i of its own
layer) and bias b_j:

    forward:   z_j[t] = Σ_k w_jk x_k[t] + Σ_i u_ji a_i[t-1] + b_j,   a_j[t] = g(z_j[t])
               a[0] is the initial state (zeros unless given)
               y[t] = the dense layers applied to a[t]
    loss:      E = Σ_t E_t(y[t], target[t]) over the steps that have a target
               (``step_loss="sum"``, the default), or that sum / n_T with
               ``step_loss="mean"`` (n_T = the number of steps with a target)
    backward (full BPTT, t = T down to 1):
               dE/da_j[t] = e_j[t] + r_j[t]
                   e_j[t] = ∂E_t/∂a_j[t], the output path through the dense
                            layers at step t (Σ_m w_mj δ_m of the first dense
                            layer; 0 when step t has no target)
                   r_j[t] = Σ_i u_ij δ_i[t+1], the recurrent path (0 at t = T)
               δ_j[t] = dE/da_j[t] · g'(z_j[t])
               When the recurrent layer is the output layer (no dense layers)
               and the loss has a pairing with its activation (sigmoid with
               binary_cross_entropy), the output path goes straight to z as in
               the feed-forward network: δ_j[t] = (a_j[t] - t_j[t]) + r_j[t] ·
               g'(z_j[t]) (the first term times 1/n_T for ``step_loss="mean"``),
               and E_t is computed from z (``loss.paired_value``), so an output
               that rounds to 0 or 1 gives a finite E and δ.
    gradients: dE/dw_jk = Σ_t δ_j[t] x_k[t],  dE/du_ji = Σ_t δ_j[t] a_i[t-1],
               dE/db_j = Σ_t δ_j[t]; a dense weight's gradient is likewise the
               sum over t of a_k[t] δ_j[t]

**Truncated BPTT with k steps** (``truncation=k``) follows the gradient of
each E_t back at most k steps, through steps t, t-1, ..., t-k+1: a[t-k] is
held constant when E_t is differentiated.  The truncated gradient is

    g_k = Σ_t ∂E_t/∂θ  with a[t-k] fixed,

so k >= T gives full BPTT and k = 1 keeps only each step's own error.  It is
computed in the same single backward sweep by splitting δ_j[t] by age:
δ_j[t] = Σ_{a=0}^{k-1} δ_j^(a)[t], where δ^(a)[t] is the part that comes from
E_(t+a):

    δ_j^(0)[t] = e_j[t] g'(z_j[t]) (or the paired a_j[t] - t_j[t]),   δ_j^(a)[t] = (Σ_i u_ij δ_i^(a-1)[t+1]) g'(z_j[t])

hence r_j[t] = Σ_i u_ij (δ_i^(0)[t+1] + ... + δ_i^(k-2)[t+1]): the recurrent
path leaves out the part of δ[t+1] that has already travelled k-1 steps.

The dense layers are the core's Layer and Neuron objects: their state (the
last step only) is saved after each step's forward pass and put back before
that step's backward pass, so their own code computes their deltas and adds
their gradients to their batch sums.  No weight changes until
``update_weights``, after the whole sequence (or batch of sequences) has
been back-propagated.
"""

from dataclasses import dataclass
from operator import mul

from .errors import NumericalError, ShapeError
from .numbers import FLOAT
from .services import service
from .training import gradient_descent

REDUCTIONS = ("mean", "sum")
STEP_LOSSES = ("sum", "mean")


class RecurrentNeuron:
    """A recurrent neuron: ``weights`` (w_jk, one per input), ``recurrent_weights``
    (u_ji, one per neuron of its layer), ``bias`` and activation g.

    Per time step (lists indexed t-1): ``inputs`` (x[t]), ``previous``
    (a[t-1] of the layer), ``zs``, ``outputs`` (a = g(z)), ``derivatives``
    (g'(z)); after back-propagation ``output_paths`` (e[t] = ∂E_t/∂a),
    ``recurrent_paths`` (r[t]), ``output_grads`` (dE/da = e + r) and
    ``deltas`` (dE/dz).  ``delta_parts[t-1][a]`` is δ^(a)[t] (truncated BPTT
    only, else None).  Batch sums: ``weight_grad_sum``,
    ``recurrent_grad_sum``, ``bias_grad_sum``.
    """

    __slots__ = ("weights", "recurrent_weights", "bias", "activation",
                 "inputs", "previous", "zs", "outputs", "derivatives",
                 "output_paths", "recurrent_paths", "output_grads", "deltas", "delta_parts",
                 "weight_grad_sum", "recurrent_grad_sum", "bias_grad_sum")

    def __init__(self, weights, recurrent_weights, bias, activation):
        self.weights = list(weights)
        self.recurrent_weights = list(recurrent_weights)
        self.bias = bias
        self.activation = activation
        self.start_sequence()
        self.clear_grad_sums()

    def start_sequence(self):
        """Forget the per-step values of the last sequence."""
        self.inputs, self.previous = [], []
        self.zs, self.outputs, self.derivatives = [], [], []
        self.output_paths = self.recurrent_paths = self.output_grads = None
        self.deltas = self.delta_parts = None

    def forward_step(self, x, previous):
        """z[t] = Σ_k w_k x_k[t] + Σ_i u_i a_i[t-1] + b;  a[t] = g(z[t]).  Returns a[t]."""
        z = (sum(map(mul, self.weights, x)) + sum(map(mul, self.recurrent_weights, previous))
             + self.bias)
        activation = self.activation
        a = activation.function(z)
        self.inputs.append(x)
        self.previous.append(previous)
        self.zs.append(z)
        self.outputs.append(a)
        self.derivatives.append(activation.derivative(z, a))
        return a

    def start_backward(self, truncated):
        steps = len(self.zs)
        self.output_paths = [None] * steps
        self.recurrent_paths = [None] * steps
        self.output_grads = [None] * steps
        self.deltas = [None] * steps
        self.delta_parts = [None] * steps if truncated else None

    def back_prop_step(self, index, output_path, recurrent_path, output_delta=None):
        """δ[t] = (e[t] + r[t]) · g'(z[t]) for t = index + 1; adds its gradients.

        With ``output_delta`` (∂E_t/∂z[t] given directly by a loss pairing,
        e.g. a - t for sigmoid with binary cross-entropy):
        δ[t] = output_delta + r[t] · g'(z[t]).
        dE/dw_k += δ[t] x_k[t],  dE/du_i += δ[t] a_i[t-1],  dE/db += δ[t].
        """
        output_grad = output_path + recurrent_path
        if output_delta is None:
            delta = output_grad * self.derivatives[index]
        else:
            delta = output_delta + recurrent_path * self.derivatives[index]
        self.output_paths[index] = output_path
        self.recurrent_paths[index] = recurrent_path
        self.output_grads[index] = output_grad
        self.deltas[index] = delta
        self.weight_grad_sum = [s + x * delta for s, x in zip(self.weight_grad_sum,
                                                             self.inputs[index])]
        self.recurrent_grad_sum = [s + a * delta for s, a in zip(self.recurrent_grad_sum,
                                                                self.previous[index])]
        self.bias_grad_sum += delta
        return delta

    # per-step contributions and their sums (this sequence only) -----------
    def weight_grad_steps(self):
        """[[δ[t] x_k[t] for k] for t = 1..T]: each step's share of dE/dw."""
        return [[x * d for x in xs] for xs, d in zip(self.inputs, self.deltas)]

    def recurrent_grad_steps(self):
        """[[δ[t] a_i[t-1] for i] for t = 1..T]: each step's share of dE/du."""
        return [[a * d for a in prev] for prev, d in zip(self.previous, self.deltas)]

    @property
    def weight_grads(self):
        """dE/dw_k = Σ_t δ[t] x_k[t] for the last sequence."""
        return [sum(column) for column in zip(*self.weight_grad_steps())]

    @property
    def recurrent_grads(self):
        """dE/du_i = Σ_t δ[t] a_i[t-1] for the last sequence."""
        return [sum(column) for column in zip(*self.recurrent_grad_steps())]

    @property
    def bias_grad(self):
        """dE/db = Σ_t δ[t] for the last sequence."""
        return sum(self.deltas)

    def apply_update(self, learning_rate, batch_size, update_bias=True):
        """w ← w - η · (Σ dE/dw) / n, the same for u and b; then clear the sums."""
        self.weights = [w - learning_rate * (s / batch_size)
                        for w, s in zip(self.weights, self.weight_grad_sum)]
        self.recurrent_weights = [u - learning_rate * (s / batch_size)
                                  for u, s in zip(self.recurrent_weights,
                                                  self.recurrent_grad_sum)]
        if update_bias:
            self.bias = self.bias - learning_rate * (self.bias_grad_sum / batch_size)
        self.clear_grad_sums()

    def clear_grad_sums(self):
        self.weight_grad_sum = [0] * len(self.weights)
        self.recurrent_grad_sum = [0] * len(self.recurrent_weights)
        self.bias_grad_sum = 0

    def __repr__(self):
        return (f"RecurrentNeuron({len(self.weights)} inputs, "
                f"{len(self.recurrent_weights)} recurrent, {self.activation.name})")


class RecurrentLayer:
    """An Elman layer: ``neurons`` (:class:`RecurrentNeuron`) that see the
    inputs x[t] and the layer's own outputs a[t-1].

    ``states`` is [a[0], a[1], ..., a[T]] after a forward pass;
    ``initial_state`` is a[0] (None means zeros).
    """

    __slots__ = ("neurons", "activation", "initial_state", "states")

    def __init__(self, neurons, activation, initial_state=None):
        self.neurons = list(neurons)
        self.activation = activation
        self.initial_state = None if initial_state is None else list(initial_state)
        self.states = None

    @classmethod
    def from_weights(cls, weights, recurrent_weights, biases, activation, initial_state=None):
        """Rows j of ``weights`` (n, n_in) and ``recurrent_weights`` (n, n) feed neuron j."""
        neurons = [RecurrentNeuron(w, u, b, activation)
                   for w, u, b in zip(weights, recurrent_weights, biases)]
        return cls(neurons, activation, initial_state)

    @property
    def size(self):
        return len(self.neurons)

    @property
    def n_inputs(self):
        return len(self.neurons[0].weights)

    @property
    def outputs(self):
        """a[T], the last state (None before a forward pass)."""
        return None if not self.states else self.states[-1]

    def start_sequence(self, initial_state=None):
        state = initial_state if initial_state is not None else self.initial_state
        if state is None:
            state = [0] * self.size   # int 0 fits every number system
        self.states = [list(state)]
        for neuron in self.neurons:
            neuron.start_sequence()

    def forward_step(self, x):
        """a[t] from x[t] and a[t-1]; returns a[t] (a list)."""
        previous = self.states[-1]
        state = [neuron.forward_step(x, previous) for neuron in self.neurons]
        self.states.append(state)
        return state

    def back_prop(self, output_paths, truncation=None, output_deltas=None):
        """Every δ[t], t = T..1, from the output paths e[t] (a list per step).

        ``output_deltas`` (a list per step, or None): ∂E_t/∂z[t] from a loss
        pairing, used instead of e[t] · g'(z[t]) when this layer is the
        output layer.  ``truncation`` None is full BPTT; k >= 1 is truncated
        BPTT (module docstring).  Returns nothing; the deltas are in the neurons.
        """
        neurons = self.neurons
        steps = len(self.states) - 1
        truncated = truncation is not None
        for neuron in neurons:
            neuron.start_backward(truncated)
        for index in range(steps - 1, -1, -1):
            recurrent_paths = self._recurrent_paths(index, steps, truncation)
            direct = None if output_deltas is None else output_deltas[index]
            for j, neuron in enumerate(neurons):
                neuron.back_prop_step(index, output_paths[index][j], recurrent_paths[j],
                                      None if direct is None else direct[j])
            if truncated:
                self._split_by_age(index, steps, output_paths[index], truncation, direct)

    def _recurrent_paths(self, index, steps, truncation):
        """r_j[t] = Σ_i u_ij δ_i[t+1] (full), or over the parts of δ[t+1] younger than k-1."""
        neurons = self.neurons
        if index == steps - 1:
            return [0] * len(neurons)
        if truncation is None:
            later = [n.deltas[index + 1] for n in neurons]
        else:
            later = [sum(n.delta_parts[index + 1][:truncation - 1]) for n in neurons]
        return [sum(n.recurrent_weights[j] * d for n, d in zip(neurons, later))
                for j in range(len(neurons))]

    def _split_by_age(self, index, steps, output_path, truncation, output_delta=None):
        """δ^(0)[t] = e[t] g'(z[t]) (or the paired output delta);
        δ^(a)[t] = (Σ_i u_ij δ_i^(a-1)[t+1]) g'(z[t])."""
        neurons = self.neurons
        ages = min(truncation, steps - index)
        for j, neuron in enumerate(neurons):
            derivative = neuron.derivatives[index]
            parts = [output_path[j] * derivative if output_delta is None else output_delta[j]]
            for age in range(1, ages):
                carried = sum(n.recurrent_weights[j] * n.delta_parts[index + 1][age - 1]
                              for n in neurons)
                parts.append(carried * derivative)
            neuron.delta_parts[index] = parts

    def apply_update(self, learning_rate, batch_size, update_bias=True):
        for neuron in self.neurons:
            neuron.apply_update(learning_rate, batch_size, update_bias)

    def clear_grad_sums(self):
        for neuron in self.neurons:
            neuron.clear_grad_sums()

    def __repr__(self):
        return f"RecurrentLayer({self.n_inputs} -> {self.size}, {self.activation.name})"


@dataclass
class DenseStep:
    """A dense neuron's values at one time step (kept by the network).

    ``inputs``, ``z``, ``output``, ``derivative`` from the forward pass;
    ``output_grad`` (dE/da) and ``delta`` (dE/dz) from the backward pass
    (None when the step has no target).
    """

    inputs: list
    z: object
    output: object
    derivative: object
    output_grad: object = None
    delta: object = None


class RecurrentNetwork:
    """A recurrent layer followed by dense layers applied at every time step.

    ``layers[0]`` is the :class:`RecurrentLayer` (textbook layer 2: the inputs
    are layer 1) and ``layers[1:]`` are the dense layers (``dense``).
    ``truncation`` None is full BPTT, k >= 1 truncated BPTT (module
    docstring).  ``reduction`` is over the sequences of a batch, as in
    :class:`~neuronsim.core.network.Network`; ``step_loss`` is over the steps of one
    sequence.
    """

    def __init__(self, recurrent, dense, loss, *, reduction="mean", step_loss="sum",
                 truncation=None, update_biases=True, learning_rate=None, numbers=FLOAT,
                 samples=None, name=None):
        if reduction not in REDUCTIONS:
            raise ValueError(f"reduction must be 'mean' or 'sum', not {reduction!r}")
        if step_loss not in STEP_LOSSES:
            raise ValueError(f"step_loss must be 'sum' or 'mean', not {step_loss!r}")
        _check_truncation(truncation)
        self.recurrent = recurrent
        self.dense = list(dense)
        self.loss = loss
        self.reduction = reduction
        self.step_loss = step_loss
        self.truncation = truncation
        self.update_biases = update_biases
        self.learning_rate = learning_rate
        self.numbers = numbers
        self.samples = list(samples or [])
        self.name = name
        self.tracer = None
        self.samples_in_batch = 0
        self.inputs = None
        self.targets = None
        self.step_outputs = None
        self.dense_steps = None
        self.step_losses = None
        self.last_loss = None
        self.last_truncation = None
        # the output layer's activation and the loss pair up (the recurrent
        # layer itself when there are no dense layers)
        self._paired_output = (loss.paired_with is not None
                               and loss.paired_with == self.layers[-1].activation.name)

    # ----------------------------------------------------------- building
    @classmethod
    def from_arrays(cls, weights, recurrent_weights, biases=None, dense=(), activation="tanh",
                    dense_activations="linear", loss="half_sse", **options):
        """Build from arrays: W (n, n_in), U (n, n), b (n), then ``dense`` as
        [(W, b), ...] with W of shape (n_l, n_(l-1)) as in ``Network.from_arrays``.

        ``dense_activations`` is one name for every dense layer or a list.
        Other keywords (``reduction``, ``step_loss``, ``truncation``,
        ``update_biases``, ``learning_rate``, ``initial_state``, ``samples``,
        ``name``, ``numbers``) are as in network files (docs/spec.md).
        """
        return service("recurrent_network_from_arrays")(
            weights, recurrent_weights, biases, dense, activation, dense_activations, loss,
            options)

    @classmethod
    def from_spec(cls, path_or_dict, numbers="float"):
        """Build from a network file (path) or its parsed dict."""
        return service("load_recurrent_network")(path_or_dict, numbers=numbers)

    def to_spec(self):
        """The network as a network-file dict (docs/spec.md), exact floats."""
        return service("spec_from_recurrent_network")(self)

    def save(self, path):
        """Write the network file atomically (temporary file, then rename)."""
        service("save_spec")(self.to_spec(), path)

    # ----------------------------------------------------------- shape
    @property
    def layers(self):
        """[recurrent layer, dense layers...]; ``layers[l]`` is textbook layer l+2."""
        return [self.recurrent] + self.dense

    @property
    def n_inputs(self):
        return self.recurrent.n_inputs

    @property
    def n_outputs(self):
        return self.layers[-1].size

    @property
    def sizes(self):
        return [self.n_inputs] + [layer.size for layer in self.layers]

    def _vector(self, values, length, what):
        if hasattr(values, "tolist"):
            values = values.tolist()
        if not isinstance(values, (list, tuple)):
            raise ShapeError(f"{what}: expected a list of {length} numbers, got {values!r}")
        try:
            vector = [self.numbers.convert(v) for v in values]
        except (TypeError, ValueError):
            raise ShapeError(f"{what}: expected a list of {length} numbers") from None
        if len(vector) != length:
            raise ShapeError(f"{what}: expected {length} numbers, got {len(vector)}")
        return vector

    def _sequence(self, xs, what="input"):
        """A list of input vectors, one per time step."""
        if hasattr(xs, "tolist"):
            xs = xs.tolist()
        if not isinstance(xs, (list, tuple)) or not xs:
            raise ShapeError(f"{what}: expected a list of input vectors, one per time step")
        if not all(isinstance(x, (list, tuple)) or hasattr(x, "tolist") for x in xs):
            raise ShapeError(f"{what}: expected a list of input vectors, one per time step "
                             f"(for one input write [[0], [1], ...])")
        return [self._vector(x, self.n_inputs, f"{what}[{t}]") for t, x in enumerate(xs)]

    def _step_targets(self, target, steps, what="target"):
        """Targets per step: a list of T vectors (None = no target at that step),
        or one vector, which is the target of the last step (many-to-one)."""
        if hasattr(target, "tolist"):
            target = target.tolist()
        if not isinstance(target, (list, tuple)) or not target:
            raise ShapeError(f"{what}: expected a vector (for the last step) or a list of "
                             "vectors, one per time step")
        if all(not isinstance(v, (list, tuple)) and v is not None and not hasattr(v, "tolist")
               for v in target):
            last = self._vector(target, self.n_outputs,
                                f"{what} (one vector: the target of the last step)")
            return [None] * (steps - 1) + [last]
        if len(target) != steps:
            raise ShapeError(f"{what}: expected {steps} vectors (one per time step) or one "
                             f"vector for the last step, got {len(target)}")
        out = [None if v is None else self._vector(v, self.n_outputs, f"{what}[{t}]")
               for t, v in enumerate(target)]
        if all(v is None for v in out):
            raise ShapeError(f"{what}: no step has a target")
        return out

    # ----------------------------------------------------------- the step
    def forward_pass(self, xs, initial_state=None):
        """a[t] and y[t] for t = 1..T; returns [y[1], ..., y[T]] (lists).

        ``initial_state`` a[0] overrides the layer's (zeros unless given).
        """
        xs = self._sequence(xs)
        if initial_state is not None:
            initial_state = self._vector(initial_state, self.recurrent.size, "initial_state")
        self.inputs = xs
        self.recurrent.start_sequence(initial_state)
        outputs, dense_steps = [], []
        for x in xs:
            y = self.recurrent.forward_step(x)
            saved = []
            for layer in self.dense:
                y = layer.forward_pass(y)
                saved.append([DenseStep(n.inputs, n.z, n.output, n.derivative)
                              for n in layer.neurons])
            outputs.append(y)
            dense_steps.append(saved)
        self.step_outputs = outputs
        self.dense_steps = dense_steps
        self.targets = self.step_losses = self.last_loss = None
        tracer = self.tracer
        if tracer is not None and tracer.enabled:
            tracer.on_forward(self)
        return outputs

    def back_prop(self, targets, truncation="default"):
        """BPTT for the last forward pass: every δ[t] and the gradients, added
        to the batch sums; returns the sequence's loss E.

        ``targets``: a list of T vectors (None for steps without a target) or
        one vector for the last step.  ``truncation``: None for full BPTT, k
        for truncated BPTT; default the network's ``truncation``.
        """
        if self.step_outputs is None:
            raise RuntimeError("back_prop needs a forward_pass first")
        if truncation == "default":
            truncation = self.truncation
        _check_truncation(truncation)
        steps = len(self.step_outputs)
        targets = self._step_targets(targets, steps)
        scale = 1
        if self.step_loss == "mean":
            scale = self.numbers.convert(1) / sum(t is not None for t in targets)
        zeros = [0] * self.recurrent.size
        # the recurrent layer is the output layer with a paired loss: δ from z directly
        direct = not self.dense and self._paired_output
        output_paths, output_deltas, step_losses = [], [], []
        for index, target in enumerate(targets):
            if target is None:
                output_paths.append(zeros)
                output_deltas.append(zeros)
                step_losses.append(None)
            else:
                value, path, deltas = self._output_path(index, target, scale)
                output_paths.append(path)
                output_deltas.append(deltas)
                step_losses.append(value)
        self.recurrent.back_prop(output_paths, truncation, output_deltas if direct else None)
        values = [v for v in step_losses if v is not None]
        total = sum(values)
        self.last_loss = total / len(values) if self.step_loss == "mean" else total
        self.targets = targets
        self.step_losses = step_losses
        self.last_truncation = truncation
        self.samples_in_batch += 1
        tracer = self.tracer
        if tracer is not None and tracer.enabled:
            tracer.on_backward(self)
        return self.last_loss

    def _output_path(self, index, target, scale):
        """E_t, e[t] = ∂(scale · E_t)/∂a[t] through the dense layers at step t,
        and (no dense layers, paired loss) the recurrent layer's output delta
        ∂(scale · E_t)/∂z[t], else None.

        The dense neurons get back their step-t values, then the core's Layer
        code computes their deltas (times ``scale``: 1, or 1/n_T for a mean
        over steps) and adds their gradients.
        """
        loss = self.loss
        outputs = self.step_outputs[index]
        if not self.dense:
            path = [g * scale for g in loss.output_grads(outputs, target)]
            if not self._paired_output:
                return loss.value(outputs, target), path, None
            zs = [n.zs[index] for n in self.recurrent.neurons]
            deltas = [d * scale for d in loss.paired_delta(outputs, target)]
            return loss.paired_value(zs, target), path, deltas
        saved = self.dense_steps[index]
        for layer, states in zip(self.dense, saved):
            for neuron, state in zip(layer.neurons, states):
                neuron.inputs, neuron.z = state.inputs, state.z
                neuron.output, neuron.derivative = state.output, state.derivative
            layer.outputs = [state.output for state in states]
        output_layer = self.dense[-1]
        output_grads = [g * scale for g in loss.output_grads(outputs, target)]
        if self._paired_output:
            value = loss.paired_value([s.z for s in saved[-1]], target)
            deltas = [d * scale for d in loss.paired_delta(outputs, target)]
            grads = output_layer.set_deltas(deltas, output_grads)
        else:
            value = loss.value(outputs, target)
            grads = output_layer.back_prop(output_grads)
        for layer in reversed(self.dense[:-1]):
            grads = layer.back_prop(grads)
        for layer, states in zip(self.dense, saved):
            for neuron, state in zip(layer.neurons, states):
                state.output_grad, state.delta = neuron.output_grad, neuron.delta
        return value, grads, None

    def update_weights(self, learning_rate=None):
        """w ← w - η · (Σ dE/dw) / n for every weight, recurrent weight and bias.

        n is the number of sequences back-propagated since the last update
        (1 for ``reduction="sum"``).  Does nothing if there was none.
        """
        if learning_rate is None:
            learning_rate = self.learning_rate
        if learning_rate is None:
            raise ValueError("no learning rate: pass one or set learning_rate in the network file")
        if self.samples_in_batch == 0:
            return
        learning_rate = self.numbers.convert(learning_rate)
        n = self.samples_in_batch if self.reduction == "mean" else 1
        tracer = self.tracer
        tracing = tracer is not None and tracer.enabled
        if tracing:
            tracer.before_update(self, learning_rate)
        for layer in self.layers:
            layer.apply_update(learning_rate, n, self.update_biases)
        self.samples_in_batch = 0
        if tracing:
            tracer.after_update(self)

    def step(self, xs, targets, learning_rate=None):
        """Forward, BPTT over the whole sequence, then one update.  Returns E."""
        self.forward_pass(xs)
        value = self.back_prop(targets)
        self.update_weights(learning_rate)
        return value

    def loss_of(self, xs, targets, initial_state=None):
        """E of one sequence without touching gradients or weights."""
        tracer, self.tracer = self.tracer, None
        try:
            outputs = self.forward_pass(xs, initial_state)
        finally:
            self.tracer = tracer
        targets = self._step_targets(targets, len(outputs))
        values = []
        for index, target in enumerate(targets):
            if target is None:
                continue
            if self._paired_output:
                zs = ([s.z for s in self.dense_steps[index][-1]] if self.dense
                      else [n.zs[index] for n in self.recurrent.neurons])
                values.append(self.loss.paired_value(zs, target))
            else:
                values.append(self.loss.value(outputs[index], target))
        total = sum(values)
        return total / len(values) if self.step_loss == "mean" else total

    # ----------------------------------------------------------- training
    def train(self, samples=None, epochs=1, learning_rate=None, batch_size=1,
              shuffle=True, seed=0, stop_loss=None, on_epoch=None, on_batch=None):
        """Gradient descent over sequences; returns the loss of each epoch.

        As :meth:`neuronsim.core.network.Network.train` (the same loop,
        :func:`neuronsim.core.training.gradient_descent`), with one sample = one
        sequence (``{"input": [x[1], ...], "target": ...}`` or a pair).
        """
        pairs = self.sample_pairs(self.samples if samples is None else samples)
        if learning_rate is None:
            learning_rate = self.learning_rate
        return gradient_descent(self, pairs, epochs, learning_rate, batch_size, shuffle, seed,
                                stop_loss, on_epoch, on_batch, self._check_sample)

    def _check_sample(self, loss, index, epoch):
        """Stop at the first NaN or infinity, naming where it appeared."""
        is_finite = self.numbers.is_finite
        first = self.recurrent.neurons
        if not (is_finite(loss) and all(is_finite(sum(n.deltas)) for n in first)):
            where = self._first_nonfinite()
            if where is None:
                return   # only a sum overflowed; every value is finite
            self._discard_batch()
            raise NumericalError(f"epoch {epoch}, samples[{index}]: {where}; "
                                 "training stopped (try a smaller learning rate)")

    def sample_pairs(self, samples):
        """(inputs, targets) pairs from dicts or pairs, checked and converted."""
        pairs = []
        for i, sample in enumerate(samples):
            if isinstance(sample, dict):
                xs, ts = sample.get("input"), sample.get("target")
            else:
                try:
                    xs, ts = sample
                except (TypeError, ValueError):
                    raise ShapeError(f"samples[{i}]: expected (inputs, targets)") from None
            xs = self._sequence(xs, f"samples[{i}].input")
            pairs.append((xs, self._step_targets(ts, len(xs), f"samples[{i}].target")))
        return pairs

    def _first_nonfinite(self):
        """Where the first NaN or infinity of the last sequence is, in computation order."""
        is_finite = self.numbers.is_finite
        for t, state in enumerate(self.recurrent.states[1:], start=1):
            for j, a in enumerate(state):
                z = self.recurrent.neurons[j].zs[t - 1]
                if not (is_finite(z) and is_finite(a)):
                    return f"first non-finite value is z or a of layers[0].neurons[{j}] at t = {t}"
        if not is_finite(self.last_loss):
            return f"the loss E = {self.last_loss}"
        for j, neuron in enumerate(self.recurrent.neurons):
            for t, delta in enumerate(neuron.deltas, start=1):
                if not is_finite(delta):
                    return f"first non-finite value is delta of layers[0].neurons[{j}] at t = {t}"
        return None

    def _discard_batch(self):
        for layer in self.layers:
            layer.clear_grad_sums()
        self.samples_in_batch = 0

    # ----------------------------------------------------------- arrays
    def to_arrays(self):
        """[(W, U, b), (W, b), ...]: the recurrent layer's input weights W (n, n_in),
        recurrent weights U (n, n) and biases, then each dense layer's (W, b)."""
        import numpy as np

        neurons = self.recurrent.neurons
        arrays = [(np.array([n.weights for n in neurons], dtype=float),
                   np.array([n.recurrent_weights for n in neurons], dtype=float),
                   np.array([n.bias for n in neurons], dtype=float))]
        return arrays + [(np.array([n.weights for n in layer.neurons], dtype=float),
                          np.array([n.bias for n in layer.neurons], dtype=float))
                         for layer in self.dense]

    def gradient_arrays(self):
        """[(dW, dU, db), (dW, db), ...]: the batch gradient the next update applies
        (sums over the sequences since the last update, divided by their number
        for ``reduction="mean"``)."""
        import numpy as np

        n = max(self.samples_in_batch, 1) if self.reduction == "mean" else 1
        neurons = self.recurrent.neurons
        arrays = [(np.array([x.weight_grad_sum for x in neurons], dtype=float) / n,
                   np.array([x.recurrent_grad_sum for x in neurons], dtype=float) / n,
                   np.array([x.bias_grad_sum for x in neurons], dtype=float) / n)]
        return arrays + [(np.array([x.weight_grad_sum for x in layer.neurons], dtype=float) / n,
                          np.array([x.bias_grad_sum for x in layer.neurons], dtype=float) / n)
                         for layer in self.dense]

    def __repr__(self):
        sizes = "-".join([str(self.n_inputs), f"r{self.recurrent.size}"]
                         + [str(layer.size) for layer in self.dense])
        acts = ", ".join(layer.activation.name for layer in self.layers)
        return f"RecurrentNetwork({sizes}; {acts}; loss {self.loss.name})"


def _check_truncation(truncation):
    if truncation is None:
        return
    if not isinstance(truncation, int) or isinstance(truncation, bool) or truncation < 1:
        raise ValueError(f"truncation must be None (full BPTT) or a whole number k >= 1, "
                         f"not {truncation!r}")
