"""Activations and losses on numpy arrays, for the vectorized reference.

Samples (or sequences) are the **rows**: the last axis holds the units of a
layer, and softmax and the loss sums run over it.  Every activation keeps its
function next to its derivative, and every loss its per-row value next to its
dE/dA, as in :mod:`neuronsim.core.activations` and :mod:`neuronsim.core.losses`,
but written again here on arrays: the reference shares no code with the core,
only the names.

Activations (``g(Z)`` and ``g'(Z, A)``)::

    sigmoid      1 / (1 + e^-z)                      a (1 - a)
    tanh         tanh z                              1 - a²
    relu         max(z, 0)                           1 for z > 0, else 0 (the left-hand value at 0)
    leaky_relu   z for z > 0, else s z               1 for z > 0, else s (s = 0.01 unless given)
    linear       z                                   1
    softmax      e^(z_j - max z) / Σ_i e^(z_i - max z)   the diagonal a_j (1 - a_j); its backward
                                                     uses the full Jacobian:
                                                     δ_j = a_j (dA_j - Σ_i dA_i a_i)

Losses, per row, over the outputs j (0 ln 0 = 0)::

    half_sse              Σ ½(a - t)²                    dE/da = a - t
    sse                   Σ (a - t)²                     dE/da = 2(a - t)
    mse                   (1/n) Σ (a - t)²               dE/da = 2(a - t)/n
    binary_cross_entropy  -Σ [t ln a + (1-t) ln(1-a)]    dE/da = (a - t)/(a(1 - a))
    cross_entropy         -Σ t ln a                      dE/da = -t/a

When the loss is *paired* with the output activation (binary_cross_entropy
after sigmoid, cross_entropy after softmax) the output delta has a closed form
and E is computed from z, as in :mod:`neuronsim.core.losses`::

    sigmoid + binary_cross_entropy   Δ = A - T,      E = Σ t·softplus(-z) + (1-t)·softplus(z)
    softmax + cross_entropy          Δ = A Σt - T,   E = Σ t (logsumexp(z) - z)
"""

import numpy as np

# ---------------------------------------------------------------- activations


def _sigmoid(Z):
    """1 / (1 + e^-z) in two branches, so that e^x never overflows."""
    e = np.exp(-np.abs(Z))
    return np.where(Z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _softmax(Z):
    """e^(z_j - max z) / Σ_i e^(z_i - max z), row by row (over the last axis)."""
    E = np.exp(Z - Z.max(axis=-1, keepdims=True))
    return E / E.sum(axis=-1, keepdims=True)


def _diagonal(Z, A):
    """a (1 - a): sigmoid's g', and the diagonal of softmax's Jacobian."""
    return A * (1.0 - A)


def _relu(Z):
    return np.where(Z > 0, Z, 0.0)


def _relu_prime(Z, A):
    """1 for z > 0, else 0 (the left-hand value at the kink z = 0, as in torch)."""
    return np.where(Z > 0, 1.0, 0.0)


def _leaky_relu(slope):
    """g(Z) = z for z > 0, else s z, and g'(Z) = 1 for z > 0, else s (the left-hand value)."""
    return (lambda Z: np.where(Z > 0, Z, slope * Z),
            lambda Z, A: np.where(Z > 0, 1.0, slope))


#: name -> (g(Z), g'(Z, A)); leaky_relu's pair is made for its slope (:func:`_leaky_relu`).
ACTIVATIONS = {
    "sigmoid": (_sigmoid, _diagonal),
    "tanh": (np.tanh, lambda Z, A: 1.0 - A * A),
    "relu": (_relu, _relu_prime),
    "leaky_relu": _leaky_relu(0.01),
    "linear": (lambda Z: Z, lambda Z, A: np.ones_like(Z)),
    "softmax": (_softmax, _diagonal),
}
#: the parameters each activation takes (the others take none)
ACTIVATION_PARAMS = {"leaky_relu": ("slope",)}


class Activation:
    """An activation on arrays: ``g(Z)``, ``prime(Z, A)`` (g'), ``backward(dA, Z, A)``
    (Δ = dE/dZ), its ``name`` and leaky_relu's ``slope``.  Resolved from its name
    once (:func:`activation`), then called on every batch: ``g`` and ``prime``
    are the functions of the registry themselves."""

    def __init__(self, name, slope=0.01):
        if name not in ACTIVATIONS:
            raise ValueError(f"unknown activation {name!r} (known: {', '.join(ACTIVATIONS)})")
        self.name = name
        self.slope = float(slope)
        self.g, self.prime = _leaky_relu(self.slope) if name == "leaky_relu" else ACTIVATIONS[name]

    def backward(self, dA, Z, A, prime=None):
        """Δ = dE/dZ from dA = dE/dA: dA ⊙ g'(Z), or for softmax the full
        Jacobian, δ_j = a_j (dA_j - Σ_i dA_i a_i) in each row.  ``prime``:
        g'(Z) when it is already computed."""
        if self.name == "softmax":   # (the diagonal ``prime`` is not the whole Jacobian)
            return A * (dA - (dA * A).sum(axis=-1, keepdims=True))
        return dA * (self.prime(Z, A) if prime is None else prime)

    def __repr__(self):
        return f"Activation({self.name!r})"


#: one Activation per name with its default parameters (they are never changed)
_DEFAULTS = {name: Activation(name) for name in ACTIVATIONS}


def activation(spec):
    """The :class:`Activation` of ``spec``: an Activation, a name, a ``(name, params)``
    pair or a dict ``{"name"|"activation": name, "slope": s}``."""
    if isinstance(spec, str):   # the common case first: it is resolved once per layer and call
        return _DEFAULTS[spec] if spec in _DEFAULTS else Activation(spec)
    if isinstance(spec, Activation):
        return spec
    if isinstance(spec, tuple) and len(spec) == 2 and not spec[1] and spec[0] in _DEFAULTS:
        return _DEFAULTS[spec[0]]   # ("relu", {}), as network_arrays gives it
    if isinstance(spec, dict):
        params = dict(spec)
        name = params.pop("name", None) or params.pop("activation", None)
    else:
        name, params = spec
        params = dict(params)
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r} (known: {', '.join(ACTIVATIONS)})")
    allowed = ACTIVATION_PARAMS.get(name, ())
    for key in params:
        if key not in allowed:
            raise ValueError(f"activation {name!r} takes no parameter {key!r}")
    return Activation(name, **params)


def layer_activation(params):
    """A layer's resolved :class:`Activation`: ``params["g"]`` when its parameters
    were prepared (resolved once), else resolved from ``params["activation"]``."""
    return params.get("g") or activation(params["activation"])


def activation_name(spec):
    """The name in ``"tanh"``, ``{"name": "leaky_relu", "slope": s}`` or an Activation."""
    return activation(spec).name


def activate(spec, Z):
    """A = g(Z)."""
    return activation(spec).g(Z)


def activation_backward(spec, dA, Z, A):
    """Δ = dE/dZ from dE/dA: dA ⊙ g'(Z), or for softmax Δ_j = a_j (dA_j - Σ_i dA_i a_i).

    relu's g'(0) is 0 and leaky_relu's is the slope, the left-hand values, as in torch.
    """
    return activation(spec).backward(dA, Z, A)


# ---------------------------------------------------------------- losses
#: loss -> the output activation it is paired with (closed-form Δ, E from Z).
PAIRED_WITH = {"binary_cross_entropy": "sigmoid", "cross_entropy": "softmax"}
LOSSES = ("half_sse", "sse", "mse", "binary_cross_entropy", "cross_entropy")
#: the losses whose dE/dA divides by a, which may be 0 (inf or nan then, shown as such)
DIVIDING = ("binary_cross_entropy", "cross_entropy")


def is_paired(loss, output_activation):
    """True if ``loss`` after the activation named ``output_activation`` uses the
    closed-form output delta."""
    return PAIRED_WITH.get(loss) == output_activation


def check_loss(loss):
    """ValueError unless ``loss`` is a known loss name."""
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r} (known: {', '.join(LOSSES)})")


def _t_log(T, A):
    """t ln a, with 0 ln 0 = 0 (terms with t = 0 left out)."""
    return np.where(T != 0, T * np.log(np.where(T != 0, A, 1.0)), 0.0)


def _softplus(Z):
    """ln(1 + e^z) = max(z, 0) + ln(1 + e^-|z|)."""
    return np.maximum(Z, 0.0) + np.log1p(np.exp(-np.abs(Z)))


def step_loss_values(loss, paired, A, T, Z):
    """E of every row, from A (or from Z when paired)."""
    if loss == "half_sse":
        return 0.5 * ((T - A) ** 2).sum(axis=-1)
    if loss == "sse":
        return ((T - A) ** 2).sum(axis=-1)
    if loss == "mse":
        return ((T - A) ** 2).mean(axis=-1)
    if loss == "binary_cross_entropy":
        if paired:   # -ln σ(z) = softplus(-z), -ln(1 - σ(z)) = softplus(z)
            return (np.where(T != 0, T * _softplus(-Z), 0.0)
                    + np.where(T != 1, (1.0 - T) * _softplus(Z), 0.0)).sum(axis=-1)
        return -(_t_log(T, A) + _t_log(1.0 - T, 1.0 - A)).sum(axis=-1)
    if loss == "cross_entropy":
        if paired:   # -ln a_j = logsumexp(z) - z_j
            top = Z.max(axis=-1, keepdims=True)
            logsumexp = top + np.log(np.exp(Z - top).sum(axis=-1, keepdims=True))
            return np.where(T != 0, T * (logsumexp - Z), 0.0).sum(axis=-1)
        return -_t_log(T, A).sum(axis=-1)
    check_loss(loss)


def output_grad(loss, A, T):
    """dE/dA of the output layer (rows = samples)."""
    if loss == "half_sse":
        return A - T
    if loss == "sse":
        return 2.0 * (A - T)
    if loss == "mse":
        return 2.0 * (A - T) / A.shape[-1]
    if loss == "binary_cross_entropy":
        return (A - T) / (A * (1.0 - A))
    if loss == "cross_entropy":
        return -T / A
    check_loss(loss)


def paired_delta(loss, A, T):
    """Δ = dE/dZ of a paired output layer: A - T (sigmoid + BCE), A Σt - T (softmax + CE)."""
    if loss == "binary_cross_entropy":
        return A - T
    return A * T.sum(axis=-1, keepdims=True) - T
