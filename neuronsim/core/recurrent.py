"""Recurrent (Elman) neurons and layers.

A recurrent layer sees, at each time step t, the outputs of the layer below
at the same step, x[t], and its own outputs of the step before, a[t-1].
For recurrent neuron j with input weights w_jk, recurrent weights u_ji (one
per neuron i of its own layer) and bias b_j:

    forward:   z_j[t] = Σ_k w_jk x_k[t] + Σ_i u_ji a_i[t-1] + b_j,   a_j[t] = g(z_j[t])
               a[0] is the initial state (zeros unless given; fixed, or learned)
    backward:  dE/da_j[t] = e_j[t] + r_j[t]
                   e_j[t] = the output path: dE/da_j[t] from the layer above at
                            step t (Σ_m w_mj δ_m[t]; ∂E_t/∂a_j[t] at the output)
                   r_j[t] = Σ_i u_ij δ_i[t+1], the recurrent path (0 at t = T)
               δ_j[t] = dE/da_j[t] · g'(z_j[t])
               (at an output layer whose activation pairs with the loss, as
               sigmoid with binary_cross_entropy: δ_j[t] = (a_j[t] - t_j[t]) +
               r_j[t] · g'(z_j[t]), so an output that rounds to 0 or 1 stays finite)
    gradients: dE/dw_jk = Σ_t δ_j[t] x_k[t],  dE/du_ji = Σ_t δ_j[t] a_i[t-1],
               dE/db_j = Σ_t δ_j[t],  and for a learned initial state
               dE/da_i[0] = Σ_j u_ji δ_j[1]

The loop over time that calls these, with truncated BPTT, lives in
:mod:`neuronsim.core.through_time`: a recurrent layer is one more kind of
layer in a :class:`~neuronsim.core.network.Network`, anywhere in the stack.
The neuron itself holds the values of the current step only, exactly like a
dense :class:`~neuronsim.core.neuron.Neuron`; the network keeps each step's
values in ``net.history``.
"""

from operator import mul

from .network import Network
from .services import service
from .summation import sum_in_order
from .through_time import NeuronStep


class RecurrentNeuron:
    """A recurrent neuron: ``weights`` (w_jk, one per input), ``recurrent_weights``
    (u_ji, one per neuron of its layer), ``bias`` and activation g.

    After ``forward_pass`` at step t: ``inputs`` (x[t]), ``previous`` (a[t-1]
    of its layer), ``z``, ``output`` (a = g(z)), ``derivative`` (g'(z)).
    After ``back_prop`` at step t: ``output_path`` (e[t]), ``recurrent_path``
    (r[t]), ``output_grad`` (dE/da = e + r) and ``delta`` (dE/dz).  Batch
    sums: ``weight_grad_sum``, ``recurrent_grad_sum``, ``bias_grad_sum``.
    With an optimizer: ``optimizer_state`` (also ``["recurrent_weights"][i]``
    for u_i), ``batch_grad`` and ``penalty_grad``, as on a dense Neuron.
    """

    __slots__ = ("weights", "recurrent_weights", "bias", "activation",
                 "inputs", "previous", "z", "output", "derivative",
                 "output_path", "recurrent_path", "output_grad", "delta",
                 "weight_grad_sum", "recurrent_grad_sum", "bias_grad_sum",
                 "optimizer_state", "batch_grad", "penalty_grad")

    def __init__(self, weights, recurrent_weights, bias, activation):
        self.weights = list(weights)
        self.recurrent_weights = list(recurrent_weights)
        self.bias = bias
        self.activation = activation
        self.inputs = self.previous = self.z = self.output = self.derivative = None
        self.output_path = self.recurrent_path = self.output_grad = self.delta = None
        self.optimizer_state = self.batch_grad = self.penalty_grad = None
        self.clear_grad_sums()

    def forward_pass(self, inputs, previous):
        """z[t] = Σ_k w_k x_k[t] + Σ_i u_i a_i[t-1] + b;  a[t] = g(z[t]).  Returns a[t]."""
        self.inputs = inputs
        self.previous = previous
        self.z = z = (sum_in_order(map(mul, self.weights, inputs))
                      + sum_in_order(map(mul, self.recurrent_weights, previous)) + self.bias)
        activation = self.activation
        self.output = a = activation.function(z)
        self.derivative = activation.derivative(z, a)
        return a

    def back_prop(self, output_path, recurrent_path, output_delta=None):
        """δ[t] = (e[t] + r[t]) · g'(z[t]); adds this step's gradients to the sums.

        With ``output_delta`` (∂E_t/∂z[t] given directly by a loss pairing):
        δ[t] = output_delta + r[t] · g'(z[t]).
        dE/dw_k += δ[t] x_k[t],  dE/du_i += δ[t] a_i[t-1],  dE/db += δ[t].
        """
        self.output_path = output_path
        self.recurrent_path = recurrent_path
        self.output_grad = output_grad = output_path + recurrent_path
        if output_delta is None:
            delta = output_grad * self.derivative
        else:
            delta = output_delta + recurrent_path * self.derivative
        self.delta = delta
        self.weight_grad_sum = [s + x * delta for s, x in zip(self.weight_grad_sum,
                                                             self.inputs)]
        self.recurrent_grad_sum = [s + a * delta for s, a in zip(self.recurrent_grad_sum,
                                                                self.previous)]
        self.bias_grad_sum += delta
        return delta

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
    layer below at step t and their own layer's outputs a[t-1].

    ``initial_state`` is a[0] (None means zeros); with
    ``learn_initial_state`` it is a parameter like the weights: dE/da[0] is
    summed over the batch in ``initial_state_grad_sum`` and updated with
    them.  During a sequence ``state`` is the latest a[t] and
    ``start_state`` the a[0] the sequence started from.  With an optimizer,
    a learned a[0] keeps its state in ``optimizer_state["initial_state"][i]``
    (and ``batch_grad``, ``penalty_grad`` as on a neuron).
    """

    kind = "recurrent"
    is_recurrent = True
    __slots__ = ("neurons", "activation", "initial_state", "learn_initial_state", "state",
                 "start_state", "initial_state_grad", "initial_state_grad_sum",
                 "_later_deltas", "_step_deltas", "_truncation",
                 "optimizer_state", "batch_grad", "penalty_grad")

    def __init__(self, neurons, activation, initial_state=None, learn_initial_state=False):
        self.neurons = list(neurons)
        self.activation = activation
        self.initial_state = None if initial_state is None else list(initial_state)
        self.learn_initial_state = learn_initial_state
        self.state = self.start_state = None
        self.initial_state_grad = None
        self._later_deltas = self._step_deltas = self._truncation = None
        self.optimizer_state = self.batch_grad = self.penalty_grad = None
        self.clear_grad_sums()

    @classmethod
    def from_weights(cls, weights, recurrent_weights, biases, activation, initial_state=None,
                     learn_initial_state=False):
        """Rows j of ``weights`` (n, n_in) and ``recurrent_weights`` (n, n) feed neuron j."""
        neurons = [RecurrentNeuron(w, u, b, activation)
                   for w, u, b in zip(weights, recurrent_weights, biases)]
        return cls(neurons, activation, initial_state, learn_initial_state)

    @property
    def size(self):
        return len(self.neurons)

    @property
    def n_inputs(self):
        return len(self.neurons[0].weights)

    @property
    def outputs(self):
        """a[t] of the step the neurons hold (None before a forward pass)."""
        if self.state is None:
            return None
        return [neuron.output for neuron in self.neurons]

    # ------------------------------------------------------------ forward
    def start_sequence(self, initial_state=None):
        """a[0]: ``initial_state`` if given, else the layer's own (zeros if None)."""
        state = initial_state if initial_state is not None else self.initial_state
        if state is None:
            state = [0] * self.size   # int 0 fits every number system
        self.state = self.start_state = list(state)

    def forward_pass(self, inputs):
        """a[t] from the layer below's x[t] and this layer's a[t-1]; returns a[t]."""
        previous = self.state
        self.state = [neuron.forward_pass(inputs, previous) for neuron in self.neurons]
        return self.state

    def remember_step(self):
        return [NeuronStep(n.inputs, n.z, n.output, n.derivative, n.previous)
                for n in self.neurons]

    def recall_step(self, records):
        for neuron, record in zip(self.neurons, records):
            neuron.inputs, neuron.previous = record.inputs, record.previous
            neuron.z, neuron.output = record.z, record.output
            neuron.derivative = record.derivative

    # ------------------------------------------------------------ backward
    def start_back_prop(self, truncation=None):
        """Before step T: no δ[T+1] yet.  ``truncation``: None or k (as BPTT)."""
        self._later_deltas = None
        self._step_deltas = []
        self._truncation = truncation

    def recurrent_paths(self, age=None):
        """r_j[t] = Σ_i u_ij δ_i[t+1] for each neuron j.

        Full BPTT (``age`` None): all of δ[t+1].  Truncated BPTT: the part
        of age ``age`` - 1 of δ[t+1], which becomes age ``age`` at step t
        (0 for age 0: a step's own error has no recurrent path).
        """
        later = self._later_deltas
        neurons = self.neurons
        if later is None or age == 0:
            return [0] * len(neurons)
        deltas = later[0] if age is None else later[age - 1]
        return [sum_in_order(n.recurrent_weights[j] * d for n, d in zip(neurons, deltas))
                for j in range(len(neurons))]

    def back_prop_step(self, output_grads, need_input_grads, age, records, output_deltas=None):
        """δ[t] (or its part of age ``age``) of every neuron; returns dE/da of the
        layer below at step t (Σ_j w_jk δ_j), or None if not needed.

        ``output_grads`` (e[t]) is None when nothing comes from above.
        """
        recurrent_paths = self.recurrent_paths(age)
        if output_grads is None:
            output_grads = [0] * len(self.neurons)
        for j, (neuron, record) in enumerate(zip(self.neurons, records)):
            neuron.back_prop(output_grads[j], recurrent_paths[j],
                             None if output_deltas is None else output_deltas[j])
            record.add_backward(age, neuron.output_grad, neuron.delta, neuron.output_path,
                                neuron.recurrent_path)
        self._step_deltas.append([n.delta for n in self.neurons])
        return self.input_grads() if need_input_grads else None

    def end_step(self):
        """Step t is done: its δ (by age, if truncated) is δ[t+1] for step t-1."""
        self._later_deltas, self._step_deltas = self._step_deltas, []

    def end_back_prop(self):
        """After step 1: dE/da[0] = Σ_j u_ji δ_j[1] (truncated: the parts that may
        still travel one more step), added to its batch sum."""
        k = self._truncation
        if k is None:
            grads = self.recurrent_paths()
        else:   # the parts of δ[1] younger than k-1 (ages 0..k-2) reach a[0]
            ages = range(1, min(len(self._later_deltas), k - 1) + 1)
            grads = [0] * self.size
            for age in ages:
                grads = [g + r for g, r in zip(grads, self.recurrent_paths(age))]
        self.initial_state_grad = grads
        self.initial_state_grad_sum = [s + g for s, g in zip(self.initial_state_grad_sum,
                                                             grads)]

    def input_grads(self):
        """dE/dx_k[t] of the layer below: Σ_j w_jk δ_j[t] (that is, Wᵀ δ)."""
        grads = [0] * self.n_inputs
        for neuron in self.neurons:
            delta = neuron.delta
            grads = [g + w * delta for g, w in zip(grads, neuron.weights)]
        return grads

    # ------------------------------------------------------------ parameters
    def parameter_names(self):
        """The names of :meth:`parameters`, in order: each neuron's attributes, and
        the layer's ``initial_state`` when it is learned."""
        names = ("weights", "recurrent_weights", "bias")
        return names + ("initial_state",) if self.learn_initial_state else names

    def parameters(self):
        """(W, U, b), and a[0] when it is learned."""
        neurons = self.neurons
        values = ([n.weights for n in neurons], [n.recurrent_weights for n in neurons],
                  [n.bias for n in neurons])
        if self.learn_initial_state:
            values += (self.initial_state or [0] * len(neurons),)
        return values

    def gradient_sums(self):
        """(Σ dE/dW, Σ dE/dU, Σ dE/db), and Σ dE/da[0] when a[0] is learned."""
        neurons = self.neurons
        sums = ([n.weight_grad_sum for n in neurons], [n.recurrent_grad_sum for n in neurons],
                [n.bias_grad_sum for n in neurons])
        if self.learn_initial_state:
            sums += (self.initial_state_grad_sum,)
        return sums

    def apply_update(self, learning_rate, batch_size, update_bias=True):
        """Every neuron's w, u and b; a[0] ← a[0] - η · (Σ dE/da[0]) / n if learned."""
        for neuron in self.neurons:
            neuron.apply_update(learning_rate, batch_size, update_bias)
        if self.learn_initial_state:
            state = self.initial_state or [0] * self.size
            self.initial_state = [a - learning_rate * (s / batch_size)
                                  for a, s in zip(state, self.initial_state_grad_sum)]
        self.initial_state_grad_sum = [0] * self.size

    def clear_grad_sums(self):
        for neuron in self.neurons:
            neuron.clear_grad_sums()
        self.initial_state_grad_sum = [0] * len(self.neurons)

    def update_entries(self, update_bias=True):
        """What an optimizer updates: (owner, attribute, Σ dE/dθ, penalized) for
        each neuron's w (penalized), u (penalized) and b, and a learned a[0]."""
        entries = []
        for n in self.neurons:
            entries.append((n, "weights", n.weight_grad_sum, True))
            entries.append((n, "recurrent_weights", n.recurrent_grad_sum, True))
            if update_bias:
                entries.append((n, "bias", n.bias_grad_sum, False))
        if self.learn_initial_state:
            if self.initial_state is None:
                self.initial_state = [0] * self.size
            entries.append((self, "initial_state", self.initial_state_grad_sum, False))
        return entries

    def __repr__(self):
        return f"RecurrentLayer({self.n_inputs} -> {self.size}, {self.activation.name})"


class RecurrentNetwork(Network):
    """A :class:`~neuronsim.core.network.Network` whose first layer is recurrent:
    ``RecurrentNetwork(recurrent, dense, loss, ...)`` is
    ``Network([recurrent] + dense, loss, ...)``.  Kept for the constructor
    and :meth:`from_arrays` of earlier versions; any stack of layers is a
    plain Network."""

    def __init__(self, recurrent, dense, loss, **options):
        super().__init__([recurrent] + list(dense), loss, **options)

    @classmethod
    def from_arrays(cls, weights, recurrent_weights, biases=None, dense=(), activation="tanh",
                    dense_activations="linear", loss="half_sse", **options):
        """Build from arrays: W (n, n_in), U (n, n), b (n), then ``dense`` as
        [(W, b), ...] with W of shape (n_l, n_(l-1)) as in ``Network.from_arrays``.

        ``dense_activations`` is one name for every dense layer or a list.
        Other keywords (``reduction``, ``step_loss``, ``truncation``,
        ``update_biases``, ``learning_rate``, ``initial_state``,
        ``learn_initial_state``, ``samples``, ``name``, ``numbers``) are as in
        network files (docs/spec.md).  Returns a Network.
        """
        return service("recurrent_network_from_arrays")(
            weights, recurrent_weights, biases, dense, activation, dense_activations, loss,
            options)
