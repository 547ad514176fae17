"""Gate neurons, and what LSTM and GRU layers share.

A gated recurrent layer (:mod:`neuronsim.core.lstm`, :mod:`neuronsim.core.gru`)
has n units; each unit has one gate neuron per gate.  Gate neuron j of gate q
(q = i, f, g, o for an LSTM; r, z, n for a GRU) sees the layer below at step t,
x[t], and its own layer's hidden state h[t-1]:

    z_qj[t] = Σ_k w_qj,k x_k[t] + b^x_qj  +  Σ_m u_qj,m h_m[t-1] + b^h_qj
    a_qj[t] = σ(z_qj[t])  (tanh for the LSTM cell candidate g and the GRU new gate n)

with two biases, as torch has them: b^x (``bias_ih``) on the input side and
b^h (``bias_hh``) on the recurrent side.  (The GRU's new gate scales its
recurrent side by the reset gate: see :mod:`neuronsim.core.gru`.)

Backward, a gate gets dE/da_qj[t] from its unit's formula and gives

    δ_qj[t] = dE/dz_qj[t] = dE/da_qj[t] · g'(z_qj[t])

and, as its gradients at step t, with δ^h the δ seen by the recurrent side
(δ^h = δ, except r_j δ for the GRU's new gate):

    dE/dw_qj,k += δ x_k[t],   dE/db^x_qj += δ,   dE/du_qj,m += δ^h h_m[t-1],   dE/db^h_qj += δ^h

Parameters are laid out as torch's: the gate neurons in gate order, each gate
a block of n rows, so ``weight_ih`` (4n × n_in for an LSTM, 3n × n_in for a GRU)
has row q·n + j = gate q of unit j; ``layer.neurons`` is that list of gate
neurons, in that order.
"""

from operator import mul

from .summation import sum_in_order
from .through_time import StepValues


class GateNeuron:
    """One gate of one unit: ``weights`` (w, one per input), ``recurrent_weights``
    (u, one per unit of its layer), ``bias_ih`` (b^x), ``bias_hh`` (b^h) and
    activation g (sigmoid or tanh); ``gate`` is its gate's name.

    After a forward step: ``inputs`` (x[t]), ``previous`` (h[t-1]), ``z``,
    ``output`` (a = g(z)), ``derivative`` (g'(z)) and ``hidden_part``
    (Σ_m u_m h_m[t-1] + b^h).  After a backward step: ``output_grad`` (dE/da),
    ``delta`` (dE/dz) and ``hidden_delta`` (δ^h).  Batch sums:
    ``weight_grad_sum``, ``recurrent_grad_sum``, ``bias_ih_grad_sum``,
    ``bias_hh_grad_sum``.  With an optimizer: ``optimizer_state``,
    ``batch_grad``, ``penalty_grad`` as on a dense Neuron.
    """

    __slots__ = ("gate", "weights", "recurrent_weights", "bias_ih", "bias_hh", "activation",
                 "inputs", "previous", "z", "output", "derivative", "hidden_part",
                 "output_grad", "delta", "hidden_delta",
                 "weight_grad_sum", "recurrent_grad_sum", "bias_ih_grad_sum", "bias_hh_grad_sum",
                 "optimizer_state", "batch_grad", "penalty_grad")

    def __init__(self, gate, weights, recurrent_weights, bias_ih, bias_hh, activation):
        self.gate = gate
        self.weights = list(weights)
        self.recurrent_weights = list(recurrent_weights)
        self.bias_ih = bias_ih
        self.bias_hh = bias_hh
        self.activation = activation
        self.inputs = self.previous = self.z = self.output = self.derivative = None
        self.hidden_part = self.output_grad = self.delta = self.hidden_delta = None
        self.optimizer_state = self.batch_grad = self.penalty_grad = None
        self.clear_grad_sums()

    # ------------------------------------------------------------ forward
    def input_part(self, inputs):
        """Σ_k w_k x_k[t] + b^x."""
        return sum_in_order(map(mul, self.weights, inputs)) + self.bias_ih

    def recurrent_part(self, previous):
        """Σ_m u_m h_m[t-1] + b^h."""
        return sum_in_order(map(mul, self.recurrent_weights, previous)) + self.bias_hh

    def activate(self, inputs, previous, z, hidden_part):
        """Store x[t], h[t-1], z and the recurrent part; a = g(z), g'(z).  Returns a."""
        self.inputs, self.previous, self.z, self.hidden_part = inputs, previous, z, hidden_part
        activation = self.activation
        self.output = a = activation.function(z)
        self.derivative = activation.derivative(z, a)
        return a

    # ------------------------------------------------------------ backward
    def back_prop(self, output_grad, hidden_factor=None):
        """δ = dE/da · g'(z); δ^h = δ, or ``hidden_factor`` · δ (the GRU's r_j on
        its new gate).  Adds δ x_k, δ, δ^h h_m[t-1], δ^h to the batch sums.
        Returns δ."""
        self.output_grad = output_grad
        self.delta = delta = output_grad * self.derivative
        self.hidden_delta = hidden = delta if hidden_factor is None else hidden_factor * delta
        self.weight_grad_sum = [s + x * delta for s, x in zip(self.weight_grad_sum, self.inputs)]
        self.recurrent_grad_sum = [s + h * hidden for s, h in zip(self.recurrent_grad_sum,
                                                                  self.previous)]
        self.bias_ih_grad_sum += delta
        self.bias_hh_grad_sum += hidden
        return delta

    def apply_update(self, learning_rate, batch_size, update_bias=True):
        """θ ← θ - η · (Σ dE/dθ) / n for w, u, b^x and b^h; then clear the sums."""
        self.weights = [w - learning_rate * (s / batch_size)
                        for w, s in zip(self.weights, self.weight_grad_sum)]
        self.recurrent_weights = [u - learning_rate * (s / batch_size)
                                  for u, s in zip(self.recurrent_weights,
                                                  self.recurrent_grad_sum)]
        if update_bias:
            self.bias_ih = self.bias_ih - learning_rate * (self.bias_ih_grad_sum / batch_size)
            self.bias_hh = self.bias_hh - learning_rate * (self.bias_hh_grad_sum / batch_size)
        self.clear_grad_sums()

    def clear_grad_sums(self):
        self.weight_grad_sum = [0] * len(self.weights)
        self.recurrent_grad_sum = [0] * len(self.recurrent_weights)
        self.bias_ih_grad_sum = self.bias_hh_grad_sum = 0

    def update_entries(self, update_bias=True):
        """(owner, attribute, Σ dE/dθ, penalized) of w and u (penalized), b^x, b^h."""
        entries = [(self, "weights", self.weight_grad_sum, True),
                   (self, "recurrent_weights", self.recurrent_grad_sum, True)]
        if update_bias:
            entries += [(self, "bias_ih", self.bias_ih_grad_sum, False),
                        (self, "bias_hh", self.bias_hh_grad_sum, False)]
        return entries

    def __repr__(self):
        return (f"GateNeuron({self.gate}, {len(self.weights)} inputs, "
                f"{len(self.recurrent_weights)} recurrent, {self.activation.name})")


class GateStep(StepValues):
    """One gate neuron's values at one time step
    (``net.history[t - 1][l][j].gates[name]``): ``z``, ``output`` (a),
    ``derivative`` (g'(z)), ``hidden_part`` (Σ_m u_m h_m[t-1] + b^h);
    backward ``output_grad`` (dE/da), ``delta`` (dE/dz), ``hidden_delta`` (δ^h);
    ``delta_parts[a]`` is δ^(a)[t] (truncated BPTT only)."""

    __slots__ = ("z", "output", "derivative", "hidden_part", "output_grad", "delta",
                 "hidden_delta", "delta_parts")

    def __init__(self, z, output, derivative, hidden_part=None, output_grad=None, delta=None,
                 hidden_delta=None, delta_parts=None):
        self.z = z
        self.output = output
        self.derivative = derivative
        self.hidden_part = hidden_part
        self.output_grad = output_grad
        self.delta = delta
        self.hidden_delta = hidden_delta
        self.delta_parts = delta_parts

    def add_backward(self, age, output_grad, delta, hidden_delta):
        """All the backward values (age None), or add the part of age ``age``."""
        if age is None or self.delta_parts is None:
            self.output_grad, self.delta, self.hidden_delta = output_grad, delta, hidden_delta
            if age is not None:
                self.delta_parts = [delta]
            return
        self.output_grad += output_grad
        self.delta += delta
        self.hidden_delta += hidden_delta
        self.delta_parts.append(delta)


def add_part(record, age, **values):
    """Set each of ``values`` on ``record`` (full BPTT, or age 0: the first walk
    of a truncated step), or add it to what is there (a later age)."""
    first = not age
    for name, value in values.items():
        setattr(record, name, value if first else getattr(record, name) + value)


def keep_part(record, age, name, value):
    """Truncated BPTT: append the part of age ``age`` of a value to the list
    ``record.<name>`` (a new list at age 0); full BPTT (age None) keeps none.
    The trace writes what step t+1 carries back from these parts."""
    if age is None:
        return
    if age == 0:
        setattr(record, name, [value])
    else:
        getattr(record, name).append(value)


class GatedLayer:
    """What LSTM and GRU layers share: the gate neurons in torch's order, the
    parameters in torch's layout, the state carried forward (h, and c for an
    LSTM) and backward (dE/dh[t-1], and dE/dc[t-1]) by truncated-BPTT age.

    A subclass sets ``kind``, ``GATES`` (gate names in torch's order),
    ``STATES`` (the carried vectors' attribute names: ``("initial_state",)``,
    and ``"initial_cell"`` for an LSTM), and writes ``forward_pass``,
    ``remember_step``, ``recall_step`` and ``back_prop_step``.
    """

    is_recurrent = True
    GATES = ()
    STATES = ("initial_state",)

    def __init__(self, gates, activation, initial_states=None, learn_initial_state=False):
        self.gates = {name: list(gates[name]) for name in self.GATES}
        self.neurons = [n for name in self.GATES for n in self.gates[name]]
        self.activation = activation
        initial_states = initial_states or {}
        for name in self.STATES:
            value = initial_states.get(name)
            setattr(self, name, None if value is None else list(value))
        self.learn_initial_state = learn_initial_state
        self.state = self.start_state = None
        self.initial_grads = None
        self._later = self._step = self._truncation = None
        self.optimizer_state = self.batch_grad = self.penalty_grad = None
        self.clear_grad_sums()

    @classmethod
    def from_weights(cls, weight_ih, weight_hh, bias_ih, bias_hh, activations,
                     initial_states=None, learn_initial_state=False):
        """Torch's layout: row q·n + j of ``weight_ih`` (G·n × n_in), ``weight_hh``
        (G·n × n), ``bias_ih`` and ``bias_hh`` (G·n) is gate q of unit j, q in
        ``GATES`` order.  ``activations``: {"sigmoid": ..., "tanh": ...} objects."""
        rows = len(weight_ih)
        n = rows // len(cls.GATES)
        gates = {}
        for q, name in enumerate(cls.GATES):
            g = activations[cls.GATE_ACTIVATIONS[name]]
            gates[name] = [GateNeuron(name, weight_ih[q * n + j], weight_hh[q * n + j],
                                      bias_ih[q * n + j], bias_hh[q * n + j], g)
                           for j in range(n)]
        return cls(gates, activations["tanh"], initial_states, learn_initial_state)

    @property
    def size(self):
        return len(self.gates[self.GATES[0]])

    @property
    def n_inputs(self):
        return len(self.neurons[0].weights)

    @property
    def outputs(self):
        """h[t] of the step the neurons hold (None before a forward pass)."""
        return None if self.state is None else list(self.state)

    def initial_value(self, name):
        """h[0] (``"initial_state"``) or c[0] (``"initial_cell"``): zeros if None."""
        value = getattr(self, name)
        return [0] * self.size if value is None else value

    # ------------------------------------------------------------ backward in time
    def start_back_prop(self, truncation=None):
        """Before step T: nothing carried from step T+1.  ``truncation``: None or k."""
        self._later = None
        self._step = []
        self._truncation = truncation

    def carried(self, age=None):
        """What step t+1 sends back to step t, as a tuple of vectors (dE/dh[t],
        and dE/dc[t] through the forget gate for an LSTM); None if nothing:
        at t = T, or for age 0.  Full BPTT: all of it; truncated: the part of
        age ``age`` - 1 at step t+1, which is of age ``age`` at step t."""
        later = self._later
        if later is None or age == 0:
            return None
        return later[0] if age is None else later[age - 1]

    def recurrent_paths(self):
        """Σ_q Σ_m u_qm,j δ^h_qm[t] for each unit j: dE/dh_j[t-1] through every
        gate's recurrent weights (Uᵀ δ^h in matrix form)."""
        grads = [0] * self.size
        for neuron in self.neurons:
            delta = neuron.hidden_delta
            grads = [g + u * delta for g, u in zip(grads, neuron.recurrent_weights)]
        return grads

    def input_grads(self):
        """dE/dx_k[t] of the layer below: Σ_q Σ_j w_qj,k δ_qj[t] (Wᵀ δ)."""
        grads = [0] * self.n_inputs
        for neuron in self.neurons:
            delta = neuron.delta
            grads = [g + w * delta for g, w in zip(grads, neuron.weights)]
        return grads

    def replace_sent_back(self, hidden_grads):
        """Replace dE/dh[t-1], what the step just walked sends back to step t-1
        (read there by :meth:`carried`), keeping the rest (an LSTM's dE/dc[t-1]).

        The correct walk never needs this: U does not change during it.  It is
        the hook of ``hand.mistakes``' early update, where U changes at step t
        and dE/dh[t-1] must go through the changed U."""
        self._step[-1] = (hidden_grads,) + tuple(self._step[-1][1:])

    def end_step(self):
        """Step t is done: what it sends back (by age) goes to step t-1."""
        self._later, self._step = self._step, []

    def end_back_prop(self):
        """After step 1: dE/dh[0] (and dE/dc[0]) is what step 1 sends back;
        truncated to k: its parts of ages 0..k-2 (older parts stop at h[0])."""
        k = self._truncation
        later = self._later or []
        parts = later[:1] if k is None else later[:max(0, min(len(later), k - 1))]
        grads = [[0] * self.size for _ in self.STATES]
        for part in parts:
            grads = [[g + p for g, p in zip(gs, ps)] for gs, ps in zip(grads, part)]
        self.initial_grads = dict(zip(self.STATES, grads))
        self.initial_grad_sums = {name: [s + g for s, g in zip(self.initial_grad_sums[name],
                                                               self.initial_grads[name])]
                                  for name in self.STATES}

    # ------------------------------------------------------------ parameters
    def parameter_names(self):
        """("weights", "recurrent_weights", "bias_ih", "bias_hh") in torch's layout
        (weight_ih, weight_hh, bias_ih, bias_hh), then the learned initial
        state(s)."""
        names = ("weights", "recurrent_weights", "bias_ih", "bias_hh")
        return names + self.STATES if self.learn_initial_state else names

    def parameters(self):
        """(W_ih, W_hh, b_ih, b_hh) with rows in torch's order, then h[0] (and c[0])
        when learned."""
        neurons = self.neurons
        values = ([n.weights for n in neurons], [n.recurrent_weights for n in neurons],
                  [n.bias_ih for n in neurons], [n.bias_hh for n in neurons])
        if self.learn_initial_state:
            values += tuple(self.initial_value(name) for name in self.STATES)
        return values

    def gradient_sums(self):
        """The sums of dE/dθ of :meth:`parameters`, in the same layout."""
        neurons = self.neurons
        sums = ([n.weight_grad_sum for n in neurons], [n.recurrent_grad_sum for n in neurons],
                [n.bias_ih_grad_sum for n in neurons], [n.bias_hh_grad_sum for n in neurons])
        if self.learn_initial_state:
            sums += tuple(self.initial_grad_sums[name] for name in self.STATES)
        return sums

    def apply_update(self, learning_rate, batch_size, update_bias=True):
        """Every gate neuron's w, u, b^x, b^h; a learned h[0] (c[0]) likewise."""
        for neuron in self.neurons:
            neuron.apply_update(learning_rate, batch_size, update_bias)
        if self.learn_initial_state:
            for name in self.STATES:
                setattr(self, name, [v - learning_rate * (s / batch_size)
                                     for v, s in zip(self.initial_value(name),
                                                     self.initial_grad_sums[name])])
        self.initial_grad_sums = {name: [0] * self.size for name in self.STATES}

    def clear_grad_sums(self):
        for neuron in self.neurons:
            neuron.clear_grad_sums()
        self.initial_grad_sums = {name: [0] * self.size for name in self.STATES}

    def update_entries(self, update_bias=True):
        """What an optimizer updates: each gate neuron's w, u (penalized), b^x,
        b^h, and a learned h[0] (c[0]), owned by the layer."""
        entries = [entry for n in self.neurons for entry in n.update_entries(update_bias)]
        if self.learn_initial_state:
            for name in self.STATES:
                setattr(self, name, list(self.initial_value(name)))
                entries.append((self, name, self.initial_grad_sums[name], False))
        return entries

    def __repr__(self):
        return f"{type(self).__name__}({self.n_inputs} -> {self.size})"
