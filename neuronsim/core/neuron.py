"""One neuron: its weights, its bias and every quantity of the last step.

For neuron j of layer l (textbook notation, see docs/notation.md):

    z_j = Σ_k w_jk a_k + b_j          (forward_pass)
    a_j = g(z_j)
    δ_j = dE/dz_j = dE/da_j · g'(z_j) (back_prop)
    dE/dw_jk = a_k δ_j,  dE/db_j = δ_j

The Python attributes are 0-based: ``weights[k]`` is w_jk with k counted
from 0, while the trace labels count neurons from 1.

The neuron keeps the running sums of dE/dw and dE/db over the samples of the
current batch (``weight_grad_sum``, ``bias_grad_sum``); the network turns them
into a weight change in :meth:`apply_update` only after every delta of the
step has been computed.

Every Σ is added left to right, in the written order (``sum_in_order``,
neuronsim/core/summation.py), so the numbers are the same on every Python.

The per-connection work (the sums and the gradient loop) is written as one
expression each over whole lists, with no method call per connection: this
is the hot path of the simulator.  Two savings are worth a note, and each
lives in one section below:

* **Deferred batch sums.**  The products a_k δ of the batch's latest sample
  are added into the running sums only when another sample arrives.  In
  online learning (one sample per update) the update can then apply
  w - η·(a_k δ) directly, one pass over the weights instead of two; the
  numbers are the same either way.
* **A layer's neurons in one loop.**  :func:`forward_neurons`,
  :func:`back_prop_neurons` and :func:`update_neurons` run the lines of
  ``forward_pass``, ``back_prop`` and ``apply_update`` for every neuron of a
  layer in one loop (the layer calls them).  The lines and their order are the
  methods' own, so the numbers are identical; what is saved is two or three
  Python calls per neuron, which are most of a step in a small network.
  :func:`back_prop_update_neurons` goes one step further for
  ``Network.step`` (one online sample, nothing else in the batch): each
  neuron's δ, its share of Wᵀδ and its new weights in one pass.
"""

from operator import mul

from .summation import sum_in_order


def weight_gradients(inputs, delta):
    """dE/dw_k = a_k · δ for each input a_k (None when there is no δ yet)."""
    if delta is None:
        return None
    return [a * delta for a in inputs]


class Neuron:
    """A neuron with ``weights`` (one per input), ``bias`` and activation g.

    After ``forward_pass``: ``inputs`` (the a_k it saw), ``z``, ``output``
    (a = g(z)) and ``derivative`` (g'(z)).  After ``back_prop``:
    ``output_grad`` (dE/da), ``delta`` (dE/dz), and the properties
    ``weight_grads`` (dE/dw_k = a_k δ) and ``bias_grad`` (dE/db = δ).

    With an optimizer (neuronsim.core.optimizers), each parameter keeps its
    state: ``optimizer_state["weights"][k]`` for w_k and
    ``optimizer_state["bias"]`` for b, dicts with torch's names (exp_avg = m,
    exp_avg_sq = v, step = t, momentum_buffer, ...); ``batch_grad`` holds the
    g of the last update (after penalty and clipping) and ``penalty_grad``
    the penalty's share of it.  All None without an optimizer.
    """

    __slots__ = ("weights", "bias", "activation", "inputs", "z", "output",
                 "derivative", "output_grad", "delta", "bias_grad_sum",
                 "_summed", "_latest_inputs",
                 "optimizer_state", "batch_grad", "penalty_grad")

    def __init__(self, weights, bias, activation):
        self.weights = list(weights)
        self.bias = bias
        self.activation = activation
        self.inputs = None
        self.z = None
        self.output = None
        self.derivative = None
        self.output_grad = None
        self.delta = None
        self.optimizer_state = self.batch_grad = self.penalty_grad = None
        self.clear_grad_sums()

    def forward_pass(self, inputs):
        """z = Σ_k w_k a_k + b;  a = g(z);  also stores g'(z).  Returns a."""
        self.inputs = inputs
        self.z = z = sum_in_order(map(mul, self.weights, inputs)) + self.bias
        activation = self.activation
        self.output = a = activation.function(z)
        self.derivative = activation.derivative(z, a)
        return a

    def back_prop(self, output_grad):
        """δ = dE/da · g'(z); adds dE/dw_k = a_k δ and dE/db = δ to the batch sums.

        For element-wise activations.  A softmax neuron's δ needs the whole
        layer (its Jacobian is not diagonal): Layer.back_prop computes it.
        """
        self.output_grad = output_grad
        self.accumulate(output_grad * self.derivative)

    @property
    def weight_grads(self):
        """dE/dw_k = a_k · δ for this sample (the last back_prop); None before one."""
        return weight_gradients(self.inputs, self.delta)

    @property
    def bias_grad(self):
        """dE/db = δ for this sample (the last back_prop)."""
        return self.delta

    # ------------------------------------------------------------------
    # The batch sums, and the simulator's one speed trick (module docstring):
    # Σ_samples a_k δ is kept as ``_summed`` (the batch's earlier samples)
    # plus the latest sample's inputs (``_latest_inputs``) and δ (``delta``,
    # which only accumulate sets), added in only when another sample
    # arrives.  An online update (one sample) then applies w - η·(a_k δ) in
    # one pass over the weights, with the same numbers.  Everything that
    # reads or changes these fields is below; ``weight_grad_sum`` is the sum.
    # ------------------------------------------------------------------
    def accumulate(self, delta):
        """Store δ = dE/dz and add this sample to the batch sums:
        Σ dE/dw_k += a_k δ and Σ dE/db += δ.

        The weight sums are kept in two parts: ``_summed`` holds Σ a_k δ over
        the batch's earlier samples, and the latest sample's inputs and δ wait
        beside it; they are added in when the next sample arrives.  (Online
        learning then updates with a_k δ directly: see the module docstring.)
        ``weight_grad_sum`` always gives the whole sum.
        """
        if self._latest_inputs is not None:
            self._summed = self._sum_with_latest()   # (with the previous sample's δ)
        self.delta = delta
        self._latest_inputs = self.inputs
        self.bias_grad_sum += delta

    def _sum_with_latest(self):
        """The batch's Σ a_k δ: the sums so far plus the latest sample's products."""
        inputs, delta = self._latest_inputs, self.delta
        if self._summed is None:
            return [a * delta for a in inputs]
        return [s + a * delta for s, a in zip(self._summed, inputs)]

    @property
    def weight_grad_sum(self):
        """Σ over the batch's samples of dE/dw_k = a_k δ (zeros before any sample)."""
        if self._latest_inputs is None:
            return [0] * len(self.weights)
        return self._sum_with_latest()

    def apply_update(self, learning_rate, batch_size, update_bias=True):
        """w ← w - η · (Σ dE/dw) / n, the same for b; then clear the sums.

        ``batch_size`` is the n to divide by: the number of samples for a mean
        loss, 1 for a summed loss.
        """
        if self._latest_inputs is not None:
            if self._summed is None and batch_size == 1:
                # One sample: Σ dE/dw_k is the single product a_k δ.
                delta = self.delta
                self.weights = [w - learning_rate * (a * delta)
                                for w, a in zip(self.weights, self._latest_inputs)]
            else:
                self.weights = [w - learning_rate * (s / batch_size)
                                for w, s in zip(self.weights, self._sum_with_latest())]
        if update_bias:
            self.bias = self.bias - learning_rate * (self.bias_grad_sum / batch_size)
        self._summed = self._latest_inputs = None   # clear_grad_sums(), written out
        self.bias_grad_sum = 0

    def clear_grad_sums(self):
        """Start a new batch: every running gradient sum back to 0."""
        self._summed = None
        self._latest_inputs = None
        self.bias_grad_sum = 0

    def __repr__(self):
        return f"Neuron({len(self.weights)} inputs, {self.activation.name})"


# ----------------------------------------------------------------------
# A layer's neurons in one loop (see the module docstring).  Each function
# is the method named in its docstring, written out for a list of neurons:
# the same lines in the same order, without a call per neuron.  Change the
# two together.
# ----------------------------------------------------------------------
def forward_neurons(neurons, inputs, activation):
    """Neuron.forward_pass for each neuron: z = Σ_k w_k a_k + b, a = g(z), g'(z).
    Returns the outputs [a_j]."""
    g, g_prime = activation.function, activation.derivative
    outputs = []
    for neuron in neurons:
        neuron.inputs = inputs
        neuron.z = z = sum_in_order(map(mul, neuron.weights, inputs)) + neuron.bias
        neuron.output = a = g(z)
        neuron.derivative = g_prime(z, a)
        outputs.append(a)
    return outputs


def back_prop_neurons(neurons, output_grads):
    """Neuron.back_prop (with Neuron.accumulate) for each neuron and its dE/da:
    δ = dE/da · g'(z), added to the batch sums."""
    for neuron, output_grad in zip(neurons, output_grads):
        neuron.output_grad = output_grad
        delta = output_grad * neuron.derivative
        if neuron._latest_inputs is not None:
            neuron._summed = neuron._sum_with_latest()   # (with the previous sample's δ)
        neuron.delta = delta
        neuron._latest_inputs = neuron.inputs
        neuron.bias_grad_sum += delta


def update_neurons(neurons, learning_rate, batch_size, update_bias=True):
    """Neuron.apply_update for each neuron; the online case (one sample, n = 1)
    written out, anything else by the method."""
    for neuron in neurons:
        inputs = neuron._latest_inputs
        if inputs is None or neuron._summed is not None or batch_size != 1:
            neuron.apply_update(learning_rate, batch_size, update_bias)
            continue
        delta = neuron.delta                 # Σ dE/dw_k is the single product a_k δ
        neuron.weights = [w - learning_rate * (a * delta)
                          for w, a in zip(neuron.weights, inputs)]
        if update_bias:
            neuron.bias = neuron.bias - learning_rate * (neuron.bias_grad_sum / batch_size)
        neuron._latest_inputs = None         # clear_grad_sums (_summed is None already)
        neuron.bias_grad_sum = 0


# Up to this many inputs, a new row of weights is built by an explicit loop: a
# list comprehension is a function call in CPython 3.11, which costs more than
# it saves on a short row.
NARROW = 16


def back_prop_update_neurons(neurons, output_grads, deltas, learning_rate, need_input_grads,
                             update_bias=True):
    """One online sample, fused per neuron: Neuron.back_prop (δ = dE/da · g'(z),
    or δ from ``deltas`` at a paired output, as Layer.set_deltas), the neuron's
    share of Layer.input_grads (Σ_j w_jk δ_j, with the weights before the update)
    and Neuron.apply_update with n = 1, in that order per neuron.

    Only for a step whose batch sums are empty (nothing back-propagated since
    the last update): then Σ dE/dw_k is the single product a_k δ and Σ dE/db is
    0 + δ, and the numbers are those of back_prop_neurons, input_grads and
    update_neurons one after the other.  What is saved is the second and third
    pass over the neurons and the weights.  Returns dE/da of the inputs, or None
    when not ``need_input_grads``.
    """
    fan_in = len(neurons[0].weights)
    grads = [0] * fan_in if need_input_grads else None
    wide = fan_in > NARROW
    for j, neuron in enumerate(neurons):
        neuron.output_grad = output_grad = output_grads[j]
        neuron.delta = delta = output_grad * neuron.derivative if deltas is None else deltas[j]
        inputs = neuron.inputs
        if grads is None and wide:           # (a comprehension is a call, but faster per weight)
            new = [w - learning_rate * (a * delta) for w, a in zip(neuron.weights, inputs)]
        elif grads is None:
            new = []
            for w, a in zip(neuron.weights, inputs):
                new.append(w - learning_rate * (a * delta))
        else:
            new = []
            for k, w in enumerate(neuron.weights):
                grads[k] += w * delta        # Wᵀδ, the row before it changes
                new.append(w - learning_rate * (inputs[k] * delta))
        neuron.weights = new
        if update_bias:   # Σ dE/db of one sample is 0 + δ (+0.0 for a δ of -0.0), n = 1
            neuron.bias = neuron.bias - learning_rate * ((neuron.bias_grad_sum + delta) / 1)
    return grads
