"""A layer: a list of neurons that all see the same inputs.

For layer l with inputs a^(l-1) (textbook notation, docs/notation.md):

    forward:   a_j^(l) = g(Σ_k w_jk^(l) a_k^(l-1) + b_j^(l))      for each neuron j
    backward:  δ_j^(l) = dE/da_j^(l) · g'(z_j^(l))
               dE/da_k^(l-1) = Σ_j w_jk^(l) δ_j^(l)   (handed to the layer before)

The second backward line is the (W^(l)ᵀ δ^(l)) of the matrix form: it is
what the previous layer multiplies by its own g'(z) to get its deltas.

A Layer is one *kind* of layer (``kind = "dense"``); the network walks a
list of layers of any kind through the same few methods (docs/architecture.md):
forward_pass, back_prop (or set_deltas at a paired output), apply_update,
and, in a network that reads sequences, remember_step / recall_step /
back_prop_step (neuronsim.core.through_time).

The layer runs its neurons' forward pass, back_prop and update through
:func:`~neuronsim.core.neuron.forward_neurons`, ``back_prop_neurons`` and
``update_neurons``: the neuron methods' lines, written out for the whole layer
in one loop (one call per layer instead of one per neuron; see neuron.py).
"""

from operator import mul

from .neuron import Neuron, back_prop_neurons, forward_neurons, update_neurons
from .summation import sum_in_order
from .through_time import NeuronStep


class Layer:
    """``neurons``: list of :class:`Neuron`; ``activation`` shared by all of them."""

    kind = "dense"
    is_recurrent = False
    __slots__ = ("neurons", "activation", "outputs")

    def __init__(self, neurons, activation):
        self.neurons = list(neurons)
        self.activation = activation
        self.outputs = None

    @classmethod
    def from_weights(cls, weights, biases, activation):
        """Build a layer from rows of weights (row j = weights into neuron j)."""
        return cls([Neuron(row, b, activation) for row, b in zip(weights, biases)], activation)

    @property
    def size(self):
        return len(self.neurons)

    @property
    def n_inputs(self):
        return len(self.neurons[0].weights)

    def forward_pass(self, inputs):
        """Run every neuron on ``inputs``; return the list of outputs a_j.

        For each neuron j (Neuron.forward_pass): z_j = Σ_k w_jk a_k + b_j,
        a_j = g(z_j), and g'(z_j).
        """
        activation = self.activation
        if activation.is_layerwise:
            return self._forward_layerwise(inputs)
        self.outputs = outputs = forward_neurons(self.neurons, inputs, activation)
        return outputs

    def _forward_layerwise(self, inputs):
        """Softmax: every a_j needs every z of the layer, so z first, then a."""
        neurons = self.neurons
        zs = []
        for neuron in neurons:
            neuron.inputs = inputs
            neuron.z = sum_in_order(map(mul, neuron.weights, inputs)) + neuron.bias   # as Neuron
            zs.append(neuron.z)
        outputs = self.activation.function(zs)
        for neuron, a in zip(neurons, outputs):
            neuron.output = a
            neuron.derivative = self.activation.derivative(neuron.z, a)
        self.outputs = outputs
        return outputs

    def back_prop(self, output_grads, need_input_grads=True):
        """Deltas from dE/da of each neuron; return dE/da of the inputs.

        δ_j = dE/da_j · g'(z_j) for element-wise activations.  For softmax
        the full Jacobian gives δ_j = a_j (dE/da_j - Σ_i dE/da_i a_i).
        Returns [Σ_j w_jk δ_j for each input k], or None if not needed
        (the first layer's inputs are the data).
        """
        neurons = self.neurons
        if self.activation.is_layerwise:
            jacobian_sum = sum_in_order(g * a for g, a in zip(output_grads, self.outputs))  # Σ_i dE/da_i a_i
            for neuron, grad in zip(neurons, output_grads):
                neuron.output_grad = grad
                neuron.accumulate(neuron.output * (grad - jacobian_sum))
        else:
            back_prop_neurons(neurons, output_grads)   # each Neuron.back_prop
        return self.input_grads() if need_input_grads else None

    def set_deltas(self, deltas, output_grads, need_input_grads=True):
        """Output layer with a paired loss: δ = dE/dz given directly.

        ``output_grads`` (dE/da) are stored for display only.
        """
        for neuron, delta, grad in zip(self.neurons, deltas, output_grads):
            neuron.output_grad = grad
            neuron.accumulate(delta)
        return self.input_grads() if need_input_grads else None

    def input_grads(self):
        """dE/da_k of the layer's inputs: Σ_j w_jk δ_j (that is, Wᵀ δ), summed over j in order."""
        grads = [0] * len(self.neurons[0].weights)
        for neuron in self.neurons:
            delta = neuron.delta
            for k, w in enumerate(neuron.weights):
                grads[k] += w * delta
        return grads

    def apply_update(self, learning_rate, batch_size, update_bias=True):
        """Every neuron: w ← w - η · (Σ dE/dw) / n (see Neuron.apply_update)."""
        update_neurons(self.neurons, learning_rate, batch_size, update_bias)

    def clear_grad_sums(self):
        for neuron in self.neurons:
            neuron.clear_grad_sums()

    def update_entries(self, update_bias=True):
        """What an optimizer updates: (owner, attribute, Σ dE/dθ, penalized) for
        each neuron's weights (penalized) and bias (neuronsim.core.optimizers)."""
        entries = []
        for n in self.neurons:
            entries.append((n, "weights", n.weight_grad_sum, True))
            if update_bias:
                entries.append((n, "bias", n.bias_grad_sum, False))
        return entries

    def parameter_names(self):
        """The names of :meth:`parameters`, in order: each neuron's attributes."""
        return ("weights", "bias")

    def parameters(self):
        """(W, b): the rows of weights (row j = into neuron j) and the biases."""
        return [n.weights for n in self.neurons], [n.bias for n in self.neurons]

    def gradient_sums(self):
        """(Σ dE/dW, Σ dE/db) over the samples since the last update."""
        return ([n.weight_grad_sum for n in self.neurons],
                [n.bias_grad_sum for n in self.neurons])

    # ------------------------------------------------- one time step of a sequence
    def remember_step(self):
        """Each neuron's forward values of this time step, as NeuronStep records."""
        return [NeuronStep(n.inputs, n.z, n.output, n.derivative) for n in self.neurons]

    def recall_step(self, records):
        """Give each neuron back its forward values of one time step."""
        for neuron, record in zip(self.neurons, records):
            neuron.inputs, neuron.z = record.inputs, record.z
            neuron.output, neuron.derivative = record.output, record.derivative
        self.outputs = [record.output for record in records]

    def back_prop_step(self, output_grads, need_input_grads, age, records, output_deltas=None):
        """back_prop (or set_deltas, with a paired output's δ) at one time step;
        stores dE/da and δ in the step's ``records``."""
        if output_deltas is None:
            grads = self.back_prop(output_grads, need_input_grads)
        else:
            grads = self.set_deltas(output_deltas, output_grads, need_input_grads)
        for neuron, record in zip(self.neurons, records):
            record.add_backward(age, neuron.output_grad, neuron.delta)
        return grads

    def __repr__(self):
        return f"Layer({self.n_inputs} -> {self.size}, {self.activation.name})"
