"""Hand-written flat networks in plain Python: the yardsticks for neuronsim's loops.

No object per neuron: a layer is a list of weight rows (row j = the weights
into neuron j, as W^(l) in docs/notation.md), a list of biases and an
activation name.  scripts/bench.py times neuronsim against these loops.

The rule of the yardstick: **the same floating-point operations as
neuronsim, in the same order, so that both end on bit-identical weights**
(bench.py checks this before it times anything); the speed comes only from
having no objects, no calls per neuron, no checks and no bookkeeping.  With
the ``half_sse`` loss E = ½ Σ_j (t_j - a_j)² and element-wise activations:

    forward:   z_j = ((w_j1 a_1 + w_j2 a_2) + ...) + b_j,   a_j = g(z_j)
    backward:  δ_j = (a_j - t_j) · g'(z_j) at the output,
               dE/da_k = ((w_1k δ_1 + w_2k δ_2) + ...)       (W before the update)
               δ_k = dE/da_k · g'(z_k) one layer down
    update:    w_jk ← w_jk - η · (a_k · δ_j),   b_j ← b_j - η · δ_j

The update is torch.optim.SGD's order of operations and neuronsim's: the
product a_k·δ_j first, then times η.  Precomputing η·δ_j once per neuron
saves a multiplication per weight but changes the last bit of some weights,
so it is not allowed here (:class:`PreviousFlatNetwork`, the yardstick before
issue 15, did it).  g'(z) may be computed any exact way (relu's δ is dE/da or
0.0, linear's is dE/da itself): those are per neuron, not per weight, and
equal to neuronsim's for every finite number.

How it is fast: one online step fuses the backward pass with the update
(each row's contribution to Wᵀδ is taken before the row is replaced) and
allocates nothing but the new rows and a few lists.  A layer whose fan-in is
at most ``small_fan_in`` (16) runs explicit loops, fused per neuron (z, g,
δ, Wᵀδ and the update in one pass): at small sizes the cost is the number
of calls, and in CPython 3.11 every list comprehension is a call.  Wider
layers use the fastest whole-list idioms: ``sum_in_order(map(mul, row, a))`` for z
and one list comprehension per row for Wᵀδ and for the update.
``python scripts/bench.py --shapes ...`` times the variants that lost
(other thresholds, loops or comprehensions everywhere, the previous
yardstick) side by side in its "flat variants" section.

:class:`FlatRecurrentNetwork` is the same for an Elman layer under dense
layers, one BPTT step per sequence (see its docstring).
"""

import math
from operator import mul

# Σ added left to right, as neuronsim adds it: the builtin sum() up to Python
# 3.11, a plain loop from 3.12 on, where sum() compensates float sums
# (neuronsim/core/summation.py says why).
from neuronsim.core.summation import sum_in_order

SMALL_FAN_IN = 16
ACTIVATIONS = ("sigmoid", "tanh", "relu", "linear")
_exp = math.exp
_tanh = math.tanh


def _sigmoid(z):
    """1 / (1 + e^-z) in two branches, so e^x never overflows (as neuronsim)."""
    if z >= 0.0:
        return 1.0 / (1.0 + _exp(-z))
    e = _exp(z)
    return e / (1.0 + e)


def _check_activations(activations, count):
    if isinstance(activations, str):
        activations = [activations] * count
    unknown = [name for name in activations if name not in ACTIVATIONS]
    if unknown:
        raise ValueError(f"unknown activation {unknown[0]!r} (known: {', '.join(ACTIVATIONS)})")
    return list(activations)


def _outputs(zs, kind):
    """a = g(z) for a list of z (a new list, except for linear)."""
    if kind == "relu":
        return [z if z > 0.0 else 0.0 for z in zs]
    if kind == "sigmoid":
        return list(map(_sigmoid, zs))
    if kind == "tanh":
        return list(map(_tanh, zs))
    return zs


def _deltas(grads, outputs, kind):
    """δ = dE/da · g'(z), with g'(z) from the outputs (relu: a > 0 iff z > 0)."""
    if kind == "relu":
        return [g if a > 0.0 else 0.0 for g, a in zip(grads, outputs)]
    if kind == "sigmoid":
        return [g * (a * (1.0 - a)) for g, a in zip(grads, outputs)]
    if kind == "tanh":
        return [g * (1.0 - a * a) for g, a in zip(grads, outputs)]
    return grads


class FlatNetwork:
    """``weights[l][j][k]`` = w_jk of layer l (0-based), ``biases[l][j]`` = b_j."""

    def __init__(self, weights, biases, activations, small_fan_in=SMALL_FAN_IN):
        self.weights = [[[float(w) for w in row] for row in matrix] for matrix in weights]
        self.biases = [[float(b) for b in vector] for vector in biases]
        self.activations = _check_activations(activations, len(self.weights))
        self.small_fan_in = small_fan_in
        # (rows, biases, activation, explicit loops?): the step's view of the lists above
        self._layers = [(matrix, vector, kind, len(matrix[0]) <= small_fan_in)
                        for matrix, vector, kind in zip(self.weights, self.biases,
                                                        self.activations)]

    def forward(self, x):
        """a^(L) for input x."""
        a = x
        for rows, biases, kind, small in self._layers:
            if small:
                zs = []
                for row, b in zip(rows, biases):
                    z = 0.0
                    for w, v in zip(row, a):
                        z += w * v
                    zs.append(z + b)
            else:
                zs = [sum_in_order(map(mul, row, a)) + b for row, b in zip(rows, biases)]
            a = _outputs(zs, kind)
        return a

    def loss(self, x, target):
        """E = ½ Σ (t - a)² for one sample."""
        return sum_in_order((t - a) * (t - a) for a, t in zip(self.forward(x), target)) / 2

    def step(self, x, target, learning_rate):
        """One online step (forward, backward, fused update); returns E before it."""
        lr = learning_rate
        layers = self._layers
        inputs = []                # a^(l-1) of each layer
        outputs = []               # a^(l) of each layer
        a = x
        for rows, biases, kind, small in layers:
            inputs.append(a)
            if not small:
                a = _outputs([sum_in_order(map(mul, row, a)) + b for row, b in zip(rows, biases)],
                             kind)
            else:                  # z and g in one explicit loop per neuron
                out = []
                for row, b in zip(rows, biases):
                    z = 0.0
                    for w, v in zip(row, a):
                        z += w * v
                    z += b
                    if kind == "relu":
                        out.append(z if z > 0.0 else 0.0)
                    elif kind == "linear":
                        out.append(z)
                    elif kind == "tanh":
                        out.append(_tanh(z))
                    else:
                        out.append(_sigmoid(z))
                a = out
            outputs.append(a)
        value = 0.0
        grads = []                 # dE/da^(L) = a - t
        for o, t in zip(a, target):
            g = o - t
            value += g * g         # (a - t)² is (t - a)² exactly
            grads.append(g)
        value /= 2
        for l in range(len(layers) - 1, -1, -1):
            rows, biases, kind, small = layers[l]
            out, below = outputs[l], inputs[l]
            n_in = len(below)
            if small:              # δ_j, its share of Wᵀδ and the update of row j, fused
                new_grads = [0.0] * n_in if l else None
                for j in range(len(rows)):
                    g = grads[j]
                    if kind == "relu":
                        d = g if out[j] > 0.0 else 0.0
                    elif kind == "linear":
                        d = g
                    elif kind == "tanh":
                        o = out[j]
                        d = g * (1.0 - o * o)
                    else:
                        o = out[j]
                        d = g * (o * (1.0 - o))
                    row = rows[j]
                    new = []
                    if l:
                        for k in range(n_in):
                            w = row[k]
                            new_grads[k] += w * d
                            new.append(w - lr * (below[k] * d))
                    else:
                        for w, v in zip(row, below):
                            new.append(w - lr * (v * d))
                    rows[j] = new
                    biases[j] -= lr * d
                grads = new_grads
                continue
            deltas = _deltas(grads, out, kind)
            if l:                  # dE/da^(l-1) = Wᵀδ, before W changes
                d = deltas[0]
                grads = [w * d for w in rows[0]]
                for j in range(1, len(deltas)):
                    d = deltas[j]
                    grads = [s + w * d for s, w in zip(grads, rows[j])]
            for j, d in enumerate(deltas):
                rows[j] = [w - lr * (v * d) for w, v in zip(rows[j], below)]
                biases[j] -= lr * d
        return value


class PreviousFlatNetwork:
    """The yardstick before issue 15, kept to be timed beside the new one.

    Comprehensions everywhere, a list of g'(z) per layer, Wᵀδ by columns,
    and the update w - (η δ_j) a_k: one multiplication per weight fewer than
    w - η (a_k δ_j), and weights that differ from neuronsim's in the last bit.
    """

    _functions = {
        "sigmoid": (lambda zs: list(map(_sigmoid, zs)),
                    lambda zs, outputs: [a * (1.0 - a) for a in outputs]),
        "tanh": (lambda zs: list(map(math.tanh, zs)),
                 lambda zs, outputs: [1.0 - a * a for a in outputs]),
        "relu": (lambda zs: [z if z > 0.0 else 0.0 for z in zs],
                 lambda zs, outputs: [1.0 if z > 0.0 else 0.0 for z in zs]),
        "linear": (lambda zs: zs, lambda zs, outputs: [1.0] * len(zs)),
    }

    def __init__(self, weights, biases, activations):
        self.weights = [[[float(w) for w in row] for row in matrix] for matrix in weights]
        self.biases = [[float(b) for b in vector] for vector in biases]
        self.activations = _check_activations(activations, len(self.weights))
        self._pairs = [self._functions[name] for name in self.activations]

    def forward(self, x):
        a = x
        for matrix, biases, (function, _) in zip(self.weights, self.biases, self._pairs):
            a = function([sum_in_order(map(mul, row, a)) + b for row, b in zip(matrix, biases)])
        return a

    def step(self, x, target, learning_rate):
        activations, derivatives = [x], []
        a = x
        for matrix, biases, (function, derivative) in zip(self.weights, self.biases,
                                                         self._pairs):
            zs = [sum_in_order(map(mul, row, a)) + b for row, b in zip(matrix, biases)]
            a = function(zs)
            activations.append(a)
            derivatives.append(derivative(zs, a))
        value = sum_in_order((t - o) * (t - o) for o, t in zip(a, target)) / 2
        output_grads = [o - t for o, t in zip(a, target)]
        for l in range(len(self.weights) - 1, -1, -1):
            deltas = list(map(mul, output_grads, derivatives[l]))
            matrix, biases, inputs = self.weights[l], self.biases[l], activations[l]
            if l:
                output_grads = [sum_in_order(map(mul, column, deltas)) for column in zip(*matrix)]
            for j, delta in enumerate(deltas):
                rate_delta = learning_rate * delta
                matrix[j] = [w - rate_delta * a_k for w, a_k in zip(matrix[j], inputs)]
                biases[j] -= rate_delta
        return value


class FlatRecurrentNetwork:
    """An Elman layer (W, U, b, activation) under dense layers, one BPTT step per sequence.

    The same mathematics and order of operations as neuronsim's
    RecurrentLayer in a Network (neuronsim/core/recurrent.py,
    through_time.py), for full BPTT, ``half_sse`` summed over the steps and
    a target at every step; a[0] = 0:

        forward, t = 1..T:  z_j[t] = (Σ_k w_jk x_k[t] + Σ_i u_ji a_i[t-1]) + b_j
                            (each Σ added from the left; the Σ_i term is
                            left out at t = 1, where a[0] = 0 adds exactly 0)
                            then the dense layers as in FlatNetwork
        backward, t = T..1: dense layers as FlatNetwork (δ, Wᵀδ), their
                            gradient sums S ← S + a·δ;
                            r_j[t] = Σ_i u_ij δ_i[t+1] (added over i from the left; 0 at t = T),
                            δ_j[t] = (e_j[t] + r_j[t]) · g'(z_j[t]),
                            S_w ← S_w + x·δ, S_u ← S_u + a[t-1]·δ, S_b ← S_b + δ
        update:             w ← w - η · S for every parameter (one sequence, n = 1)

    ``dense`` is a list of (rows, biases); ``activation`` names g of the
    recurrent layer, ``dense_activations`` one name or one per dense layer.
    When every fan-in is at most ``small_fan_in`` the step runs explicit loops
    and adds into the gradient sums in place (faster at 4-r8-2); otherwise
    whole-list idioms (faster at 16-r32-4).  Both are bit-identical to neuronsim.
    """

    def __init__(self, weights, recurrent_weights, biases, dense, activation="tanh",
                 dense_activations="linear", small_fan_in=SMALL_FAN_IN):
        self.weights = [[float(w) for w in row] for row in weights]
        self.recurrent_weights = [[float(u) for u in row] for row in recurrent_weights]
        self.biases = [float(b) for b in biases]
        self.activation = _check_activations([activation], 1)[0]
        self.dense_weights = [[[float(w) for w in row] for row in matrix] for matrix, _ in dense]
        self.dense_biases = [[float(b) for b in vector] for _, vector in dense]
        self.dense_activations = _check_activations(dense_activations, len(dense))
        fan_ins = ([len(self.weights[0]), len(self.weights)]
                   + [len(matrix[0]) for matrix in self.dense_weights])
        self.small_fan_in = small_fan_in
        self.loops = max(fan_ins) <= self.small_fan_in

    def step(self, xs, targets, learning_rate):
        """One BPTT step on the sequence ``xs`` with a target per step; returns E."""
        if self.loops:
            return self._step_loops(xs, targets, learning_rate)
        lr = learning_rate
        W, U, b, kind = self.weights, self.recurrent_weights, self.biases, self.activation
        dense = list(zip(self.dense_weights, self.dense_biases, self.dense_activations))
        states = []                # a[t] of the recurrent layer, t = 1..T
        above = []                 # per t: [a of each dense layer]
        h = None
        for x in xs:
            if h is None:
                zs = [sum_in_order(map(mul, w, x)) + bj for w, bj in zip(W, b)]
            else:
                zs = [sum_in_order(map(mul, w, x)) + sum_in_order(map(mul, u, h)) + bj
                      for w, u, bj in zip(W, U, b)]
            h = _outputs(zs, kind)
            states.append(h)
            a, outs = h, []
            for rows, biases, dkind in dense:
                a = _outputs([sum_in_order(map(mul, row, a)) + c for row, c in zip(rows, biases)],
                             dkind)
                outs.append(a)
            above.append(outs)
        value = 0.0
        for outs, target in zip(above, targets):
            value += sum_in_order((t - y) * (t - y) for y, t in zip(outs[-1], target)) / 2
        # gradient sums, filled at t = T first (None: nothing added yet)
        dense_sums = [[None] * len(rows) for rows, _, _ in dense]
        dense_bias_sums = [[0.0] * len(rows) for rows, _, _ in dense]
        w_sums = [None] * len(W)
        u_sums = [None] * len(W)
        b_sums = [0.0] * len(W)
        columns = [list(column) for column in zip(*U)]   # u_ij for each j
        later = None               # δ[t+1] of the recurrent layer
        for t in range(len(xs) - 1, -1, -1):
            outs = above[t]
            grads = [y - target for y, target in zip(outs[-1], targets[t])]
            for l in range(len(dense) - 1, -1, -1):
                rows, _, dkind = dense[l]
                below = outs[l - 1] if l else states[t]
                deltas = _deltas(grads, outs[l], dkind)
                d = deltas[0]
                grads = [w * d for w in rows[0]]
                for j in range(1, len(deltas)):
                    d = deltas[j]
                    grads = [s + w * d for s, w in zip(grads, rows[j])]
                sums, bias_sums = dense_sums[l], dense_bias_sums[l]
                for j, d in enumerate(deltas):
                    s = sums[j]
                    sums[j] = ([v * d for v in below] if s is None
                               else [g + v * d for g, v in zip(s, below)])
                    bias_sums[j] += d
            if later is not None:  # e[t] + r[t]
                grads = [e + sum_in_order(map(mul, column, later)) for e, column in zip(grads, columns)]
            deltas = _deltas(grads, states[t], kind)
            x = xs[t]
            previous = states[t - 1] if t else None
            for j, d in enumerate(deltas):
                s = w_sums[j]
                w_sums[j] = [v * d for v in x] if s is None else [g + v * d
                                                                   for g, v in zip(s, x)]
                if previous is not None:
                    s = u_sums[j]
                    u_sums[j] = ([v * d for v in previous] if s is None
                                 else [g + v * d for g, v in zip(s, previous)])
                b_sums[j] += d
            later = deltas
        for j in range(len(W)):
            W[j] = [w - lr * s for w, s in zip(W[j], w_sums[j])]
            if u_sums[j] is not None:
                U[j] = [u - lr * s for u, s in zip(U[j], u_sums[j])]
            b[j] -= lr * b_sums[j]
        for (rows, biases, _), sums, bias_sums in zip(dense, dense_sums, dense_bias_sums):
            for j, s in enumerate(sums):
                rows[j] = [w - lr * g for w, g in zip(rows[j], s)]
                biases[j] -= lr * bias_sums[j]
        return value

    def _step_loops(self, xs, targets, lr):
        """step() in explicit loops, the gradient sums added in place (small layers)."""
        W, U, b, kind = self.weights, self.recurrent_weights, self.biases, self.activation
        dense = list(zip(self.dense_weights, self.dense_biases, self.dense_activations))
        n = len(b)
        states = []
        above = []
        h = None
        for x in xs:
            hn = []
            for j in range(n):
                z = 0.0
                for w, v in zip(W[j], x):
                    z += w * v
                if h is not None:
                    s = 0.0
                    for u, v in zip(U[j], h):
                        s += u * v
                    z += s
                z += b[j]
                if kind == "tanh":
                    hn.append(_tanh(z))
                elif kind == "relu":
                    hn.append(z if z > 0.0 else 0.0)
                elif kind == "linear":
                    hn.append(z)
                else:
                    hn.append(_sigmoid(z))
            h = hn
            states.append(h)
            a, outs = h, []
            for rows, biases, dkind in dense:
                out = []
                for row, c in zip(rows, biases):
                    z = 0.0
                    for w, v in zip(row, a):
                        z += w * v
                    z += c
                    if dkind == "linear":
                        out.append(z)
                    elif dkind == "tanh":
                        out.append(_tanh(z))
                    elif dkind == "relu":
                        out.append(z if z > 0.0 else 0.0)
                    else:
                        out.append(_sigmoid(z))
                outs.append(out)
                a = out
            above.append(outs)
        value = 0.0
        for outs, target in zip(above, targets):
            value += sum_in_order((t - y) * (t - y) for y, t in zip(outs[-1], target)) / 2
        dense_sums = [[[0.0] * len(rows[0]) for _ in rows] for rows, _, _ in dense]
        dense_bias_sums = [[0.0] * len(rows) for rows, _, _ in dense]
        n_in = len(W[0])
        w_sums = [[0.0] * n_in for _ in range(n)]
        u_sums = [[0.0] * n for _ in range(n)]
        b_sums = [0.0] * n
        later = None
        for t in range(len(xs) - 1, -1, -1):
            outs = above[t]
            grads = [y - tv for y, tv in zip(outs[-1], targets[t])]
            for l in range(len(dense) - 1, -1, -1):
                rows, _, dkind = dense[l]
                below = outs[l - 1] if l else states[t]
                out = outs[l]
                m = len(below)
                new = [0.0] * m
                sums, bias_sums = dense_sums[l], dense_bias_sums[l]
                for j in range(len(rows)):
                    g = grads[j]
                    if dkind == "linear":
                        d = g
                    elif dkind == "tanh":
                        o = out[j]
                        d = g * (1.0 - o * o)
                    elif dkind == "relu":
                        d = g if out[j] > 0.0 else 0.0
                    else:
                        o = out[j]
                        d = g * (o * (1.0 - o))
                    row = rows[j]
                    s = sums[j]
                    for k in range(m):
                        new[k] += row[k] * d
                        s[k] += below[k] * d
                    bias_sums[j] += d
                grads = new
            h = states[t]
            if later is not None:  # r_j = Σ_i u_ij δ_i[t+1], e[t] + r[t]
                r = [0.0] * n
                for i in range(n):
                    d = later[i]
                    row = U[i]
                    for j in range(n):
                        r[j] += row[j] * d
                grads = [e + rj for e, rj in zip(grads, r)]
            x = xs[t]
            previous = states[t - 1] if t else None
            deltas = []
            for j in range(n):
                g = grads[j]
                o = h[j]
                if kind == "tanh":
                    d = g * (1.0 - o * o)
                elif kind == "relu":
                    d = g if o > 0.0 else 0.0
                elif kind == "linear":
                    d = g
                else:
                    d = g * (o * (1.0 - o))
                deltas.append(d)
                s = w_sums[j]
                for k in range(n_in):
                    s[k] += x[k] * d
                if previous is not None:
                    s = u_sums[j]
                    for k in range(n):
                        s[k] += previous[k] * d
                b_sums[j] += d
            later = deltas
        for j in range(n):
            W[j] = [w - lr * s for w, s in zip(W[j], w_sums[j])]
            U[j] = [u - lr * s for u, s in zip(U[j], u_sums[j])]
            b[j] -= lr * b_sums[j]
        for (rows, biases, _), sums, bias_sums in zip(dense, dense_sums, dense_bias_sums):
            for j, s in enumerate(sums):
                rows[j] = [w - lr * g for w, g in zip(rows[j], s)]
                biases[j] -= lr * bias_sums[j]
        return value
