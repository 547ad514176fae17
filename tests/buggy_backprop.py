"""A user's vectorized backprop, correct or with one classic mistake switched on.

``user_backprop(weights, biases, X, Y, activations=..., loss=..., mistake=...)``
is written the way people write it: one row per sample, z = a W^T + b.  With
``mistake=None`` it is right (the diagnosis tests check that first); each
``mistake`` below is one bug from the textbooks' list, at ``layer`` (0-based,
as ``net.layers``) where that matters.  ``make(mistake, ...)`` gives the
``f(weights, biases, X, Y)`` that neuronsim.crosscheck.compare.compare calls.
"""

import functools

import numpy as np

MISTAKES = (
    "transposed", "batch_factor", "factor_2", "sign", "derivative_missing",
    "derivative_twice", "derivative_of_a", "derivative_of_z", "relu_at_zero",
    "updated_before_deltas", "softmax_on_combined", "deltas_over_m", "unexplained",
    "backward_transposed", "layer_skipped", "wrong_activations", "combined_shortcut",
    "outputs_mean", "bias_wrong_axis", "float32",
)
KEYS = ("activations", "deltas", "dW", "db", "loss")


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def g(name, z, slope):
    if name == "sigmoid":
        return sigmoid(z)
    if name == "tanh":
        return np.tanh(z)
    if name == "relu":
        return np.maximum(z, 0)
    if name == "leaky_relu":
        return np.where(z > 0, z, slope * z)
    if name == "linear":
        return z
    if name == "softmax":
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    raise ValueError(name)


def g_prime(name, z, a, slope, relu_at_zero=0.0):
    """g'(z) written in terms of a where the textbooks do."""
    if name == "sigmoid":
        return a * (1 - a)
    if name == "tanh":
        return 1 - a ** 2
    if name == "relu":
        return np.where(z > 0, 1.0, np.where(z == 0, relu_at_zero, 0.0))
    if name == "leaky_relu":
        return np.where(z > 0, 1.0, np.where(z == 0, relu_at_zero, slope))
    if name == "linear":
        return np.ones_like(z)
    raise ValueError(name)


def softmax_backward(dE_da, a):
    """δ_j = a_j (dE/da_j - Σ_i dE/da_i a_i), row by row."""
    return a * (dE_da - (dE_da * a).sum(axis=1, keepdims=True))


def user_backprop(weights, biases, X, Y, *, activations, loss="half_sse", reduction="mean",
                  slope=0.01, mistake=None, layer=None, learning_rate=0.5, keys=KEYS):
    dtype = np.float32 if mistake == "float32" else float      # single precision throughout
    X, Y = np.asarray(X, dtype), np.asarray(Y, dtype)
    weights = [np.array(W, dtype) for W in weights]
    biases = [np.array(b, dtype) for b in biases]
    m, L = len(X), len(weights)
    n_out = Y.shape[1]

    def here(name, l):
        return mistake == name and (layer is None or layer == l)

    zs, acts = [], [X]
    for W, b, name in zip(weights, biases, activations):
        z = acts[-1] @ W.T + b
        zs.append(z)
        acts.append(g(name, z, slope))
    a, t = acts[-1], Y

    if loss == "half_sse":
        sample_loss = 0.5 * ((t - a) ** 2).sum(axis=1)
        dE_da = 2 * (a - t) if mistake == "factor_2" else a - t
    elif loss == "sse":
        sample_loss = ((t - a) ** 2).sum(axis=1)
        dE_da = 2 * (a - t)
    elif loss == "mse":
        sample_loss = ((t - a) ** 2).sum(axis=1) / n_out
        dE_da = 2 * (a - t) / n_out
    elif loss == "binary_cross_entropy":
        sample_loss = -(t * np.log(a) + (1 - t) * np.log(1 - a)).sum(axis=1)
        dE_da = (a - t) / (a * (1 - a))
    elif loss == "cross_entropy":
        sample_loss = -(t * np.log(a)).sum(axis=1)
        dE_da = -t / a
    else:
        raise ValueError(loss)
    if mistake == "sign":
        dE_da = -dE_da
    if mistake == "deltas_over_m":
        dE_da = dE_da / m
    if mistake == "outputs_mean":                   # E = mean over the outputs, not the sum
        sample_loss = sample_loss / n_out
        dE_da = dE_da / n_out

    def backward(l, grad):
        """δ^(l) from dE/da^(l), with this layer's mistake if any."""
        name, z, a = activations[l], zs[l], acts[l + 1]
        if here("derivative_missing", l):
            return grad
        if name == "softmax":
            return softmax_backward(grad, a)
        if here("derivative_of_a", l):
            s = g(name, a, slope)             # g applied to a: g'(a) instead of g'(z)
            return grad * (s * (1 - s) if name == "sigmoid" else 1 - s ** 2)
        if here("derivative_of_z", l):
            return grad * (z * (1 - z) if name == "sigmoid" else 1 - z ** 2)
        prime = g_prime(name, z, a, slope, relu_at_zero=1.0 if here("relu_at_zero", l) else 0.0)
        if here("derivative_twice", l):
            return grad * prime * prime
        return grad * prime

    output = activations[-1]
    if (loss, output) in (("binary_cross_entropy", "sigmoid"), ("cross_entropy", "softmax")):
        delta = a - t                                   # targets one-hot for cross_entropy
        if mistake == "softmax_on_combined":
            delta = softmax_backward(delta, a)
        if here("derivative_twice", L - 1):
            delta = delta * a * (1 - a)
        if here("derivative_missing", L - 1):
            delta = dE_da
    elif mistake == "combined_shortcut":
        delta = a - t                                   # softmax + CE's shortcut, any loss
    else:
        delta = backward(L - 1, dE_da)

    n = m if reduction == "mean" and mistake != "batch_factor" else 1
    deltas, dW, db = [None] * L, [None] * L, [None] * L
    if mistake == "layer_skipped":                      # filled in by the loop, or left at 0
        deltas = [np.zeros_like(A) for A in acts[1:]]
        dW = [np.zeros_like(W) for W in weights]
        db = [np.zeros_like(b) for b in biases]
    last = 0 if mistake != "layer_skipped" else 1       # range(L - 1, 0, -1): off by one
    for l in range(L - 1, last - 1, -1):
        deltas[l] = delta
        if mistake == "deltas_over_m":
            dW[l] = delta.T @ acts[l]           # the 1/m is already in δ
            db[l] = delta.sum(axis=0)
        elif here("wrong_activations", l):
            dW[l] = delta.T @ acts[l + 1] / n   # the layer's own output, not the one before
            db[l] = delta.sum(axis=0) / n
        else:
            dW[l] = (acts[l].T @ delta if here("transposed", l) else delta.T @ acts[l]) / n
            db[l] = delta.sum(axis=0) / n
        if here("bias_wrong_axis", l):
            db[l] = delta.sum(axis=1) / n       # one number per sample, not per neuron
        if mistake == "updated_before_deltas":
            weights[l] = weights[l] - learning_rate * dW[l]
        if l > last:
            if here("backward_transposed", l - 1):
                grad = delta @ weights[l].T     # W where Wᵀ belongs (BACKWARD_TRANSPOSED_LINE)
            else:
                grad = delta @ weights[l]
            delta = backward(l - 1, grad)
    if mistake == "unexplained":
        dW[0] = dW[0].copy()
        dW[0][0, 0] += 0.0123
    results = {"activations": acts[1:], "deltas": deltas, "dW": dW, "db": db,
               "loss": sample_loss.sum() / n}
    return {key: results[key] for key in keys}


def make(mistake=None, **options):
    """f(weights, biases, X, Y) with the mistake switched on (see user_backprop)."""
    function = functools.partial(user_backprop, mistake=mistake, **options)
    function.__name__ = function.__qualname__ = f"user_backprop[{mistake}]"
    function.__module__ = __name__
    return function
