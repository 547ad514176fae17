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

The per-connection work (the sums and the gradient loop) is written as one
expression each over whole lists, with no method call per connection: this
is the hot path of the simulator.
"""

from operator import mul


class Neuron:
    """A neuron with ``weights`` (one per input), ``bias`` and activation g.

    After ``forward_pass``: ``inputs`` (the a_k it saw), ``z``, ``output``
    (a = g(z)) and ``derivative`` (g'(z)).  After ``back_prop``:
    ``output_grad`` (dE/da), ``delta`` (dE/dz), and the properties
    ``weight_grads`` (dE/dw_k = a_k δ) and ``bias_grad`` (dE/db = δ).
    """

    __slots__ = ("weights", "bias", "activation", "inputs", "z", "output",
                 "derivative", "output_grad", "delta",
                 "weight_grad_sum", "bias_grad_sum")

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
        self.clear_grad_sums()

    def forward_pass(self, inputs):
        """z = Σ_k w_k a_k + b;  a = g(z);  also stores g'(z).  Returns a."""
        self.inputs = inputs
        self.z = z = sum(map(mul, self.weights, inputs)) + self.bias
        activation = self.activation
        self.output = a = activation.function(z)
        self.derivative = activation.derivative(z, a)
        return a

    def back_prop(self, output_grad):
        """δ = dE/da · g'(z); adds dE/dw_k = a_k δ and dE/db = δ to the batch sums."""
        self.output_grad = output_grad
        self.accumulate(output_grad * self.derivative)

    def accumulate(self, delta):
        """Store δ = dE/dz and add a_k δ to each weight's sum, δ to the bias's."""
        self.delta = delta
        self.weight_grad_sum = [s + a * delta for s, a in zip(self.weight_grad_sum, self.inputs)]
        self.bias_grad_sum += delta

    @property
    def weight_grads(self):
        """dE/dw_k = a_k · δ for this sample (the last back_prop)."""
        delta = self.delta
        return [a * delta for a in self.inputs]

    @property
    def bias_grad(self):
        """dE/db = δ for this sample (the last back_prop)."""
        return self.delta

    def apply_update(self, learning_rate, batch_size, update_bias=True):
        """w ← w - η · (Σ dE/dw) / n, the same for b; then clear the sums.

        ``batch_size`` is the n to divide by: the number of samples for a mean
        loss, 1 for a summed loss.
        """
        self.weights = [w - learning_rate * (s / batch_size)
                        for w, s in zip(self.weights, self.weight_grad_sum)]
        if update_bias:
            self.bias = self.bias - learning_rate * (self.bias_grad_sum / batch_size)
        self.clear_grad_sums()

    def clear_grad_sums(self):
        """Start a new batch: every running gradient sum back to 0."""
        self.weight_grad_sum = [0] * len(self.weights)
        self.bias_grad_sum = 0

    def __repr__(self):
        return f"Neuron({len(self.weights)} inputs, {self.activation.name})"
