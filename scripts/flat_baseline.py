"""A hand-written flat network in plain Python: the yardstick for neuronsim's loops.

No object per neuron: each layer is a list of weight rows (row j = the
weights into neuron j, as W^(l) in docs/notation.md), a list of biases and an
activation name.  The loops are the fastest plain-Python idioms for the job
(``sum(map(mul, row, a))`` for a dot product, one list comprehension per row
for an update), which makes this the practical limit for per-neuron Python
code; scripts/bench.py compares neuronsim against it.

Same mathematics as neuronsim, for the element-wise activations and the
``half_sse`` loss E = ½ Σ_j (t_j - a_j)²:

    forward:   z^(l) = W^(l) a^(l-1) + b^(l),  a^(l) = g(z^(l))
    backward:  δ^(L) = (a^(L) - t) ⊙ g'(z^(L))
               δ^(l) = (W^(l+1)ᵀ δ^(l+1)) ⊙ g'(z^(l))     (with W^(l+1) before the update)
    update:    w_jk ← w_jk - (η δ_j) a_k,   b_j ← b_j - η δ_j

An online step fuses the update into the backward loop (no gradient is
stored): the one liberty a throw-away script may take and a reference may
not.  (η δ_j) a_k equals neuronsim's η (a_k δ_j) up to rounding.
"""

import math
from operator import mul


def _sigmoid(z):
    """1 / (1 + e^-z) in two branches, so e^x never overflows."""
    if z >= 0.0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def _relu_outputs(zs):
    return [z if z > 0.0 else 0.0 for z in zs]


def _relu_derivatives(zs, outputs):
    return [1.0 if z > 0.0 else 0.0 for z in zs]


# name: (g applied to a list of z, g' from the lists of z and a)
ACTIVATIONS = {
    "sigmoid": (lambda zs: list(map(_sigmoid, zs)),
                lambda zs, outputs: [a * (1.0 - a) for a in outputs]),
    "tanh": (lambda zs: list(map(math.tanh, zs)),
             lambda zs, outputs: [1.0 - a * a for a in outputs]),
    "relu": (_relu_outputs, _relu_derivatives),
    "linear": (lambda zs: zs,
               lambda zs, outputs: [1.0] * len(zs)),
}


class FlatNetwork:
    """``weights[l][j][k]`` = w_jk of layer l (0-based), ``biases[l][j]`` = b_j."""

    def __init__(self, weights, biases, activations):
        if isinstance(activations, str):
            activations = [activations] * len(weights)
        unknown = [name for name in activations if name not in ACTIVATIONS]
        if unknown:
            raise ValueError(f"unknown activation {unknown[0]!r} (known: {', '.join(ACTIVATIONS)})")
        self.weights = [[[float(w) for w in row] for row in matrix] for matrix in weights]
        self.biases = [[float(b) for b in vector] for vector in biases]
        self.activations = list(activations)
        self._functions = [ACTIVATIONS[name] for name in activations]

    def forward(self, x):
        """a^(L) for input x."""
        a = x
        for matrix, biases, (function, _) in zip(self.weights, self.biases, self._functions):
            a = function([sum(map(mul, row, a)) + b for row, b in zip(matrix, biases)])
        return a

    def loss(self, x, target):
        """E = ½ Σ (t - a)² for one sample."""
        return sum((t - a) * (t - a) for a, t in zip(self.forward(x), target)) / 2

    def step(self, x, target, learning_rate):
        """One online step (forward, backward, fused update); returns E before it."""
        activations = [x]          # a^(1) = x, then a^(l) of each layer
        derivatives = []           # g'(z^(l)) of each layer
        a = x
        for matrix, biases, (function, derivative) in zip(self.weights, self.biases,
                                                         self._functions):
            zs = [sum(map(mul, row, a)) + b for row, b in zip(matrix, biases)]
            a = function(zs)
            activations.append(a)
            derivatives.append(derivative(zs, a))
        value = sum((t - o) * (t - o) for o, t in zip(a, target)) / 2
        output_grads = [o - t for o, t in zip(a, target)]        # dE/da^(L)
        for l in range(len(self.weights) - 1, -1, -1):
            deltas = list(map(mul, output_grads, derivatives[l]))
            matrix, biases, inputs = self.weights[l], self.biases[l], activations[l]
            if l:  # dE/da^(l-1) = W^(l)ᵀ δ^(l), before W^(l) changes
                output_grads = [sum(map(mul, column, deltas)) for column in zip(*matrix)]
            for j, delta in enumerate(deltas):
                rate_delta = learning_rate * delta
                matrix[j] = [w - rate_delta * a_k for w, a_k in zip(matrix[j], inputs)]
                biases[j] -= rate_delta
        return value
