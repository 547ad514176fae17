"""Cross-check someone's vectorized backprop against the per-neuron simulator.

``compare(net, X, Y, against=...)`` runs the batch (X, Y) through the
per-neuron network (the reference) and through ``against``:

``"numpy"``
    the independent matrix implementation :mod:`neuronsim.crosscheck.vectorized`;
``"torch"``
    the same network as a float64 PyTorch model, gradients by autograd
    (needs the optional ``torch`` package, :mod:`neuronsim.crosscheck.torch_bridge`);
a callable ``f(weights, biases, X, Y)``
    your code: ``weights[l]`` of shape (n_l, n_(l-1)) (row j = weights into
    neuron j, as ``W @ a`` and ``torch.nn.Linear.weight``), ``biases[l]`` of
    shape (n_l,), X of shape (m, n_in), Y of shape (m, n_out).  It returns a
    dict with any of ``"activations"`` (a list with one (m, n_l) array per
    layer), ``"deltas"`` (dE/dz per sample, same shapes), ``"dW"``, ``"db"``
    (the reduced batch gradient: mean over the batch, or the sum for
    ``reduction="sum"``) and ``"loss"`` (the batch loss);
a path to an ``.npz`` file
    the same quantities saved with :func:`save_results` (keys
    ``activations_0``, ``deltas_0``, ``dW_0``, ``db_0``, ... and ``loss``).

Every quantity is compared at every layer in **computation order**: the
forward pass layer by layer, then the loss, then backward from the output
layer (δ, dW, db of layer L, then of layer L-1, ...).  The first row that
fails is the *first divergence*; everything after it inherits the error, so
that is where to look, and :mod:`neuronsim.crosscheck.diagnosis` tests the classic
mistakes there.

An entry passes when |yours - ours| <= atol + tolerance · |ours|.  Layers are
numbered as in the textbook (inputs = layer 1, so ``net.layers[0]`` is layer
2); lists in the dicts and rows of X are 0-based.

A network with a recurrent layer (any stack of dense and recurrent layers) is
compared step by step (:func:`compare_recurrent`, :mod:`neuronsim.crosscheck.compare_rnn`;
docs/checking.md, "Stacks"): X (m, T, n_in), Y (m, T, n_out) with NaN rows for
steps without a target or (m, n_out) for the last step; rows per time step,
per layer, and dU, dE/da[0] for recurrent layers; "numpy" is
:func:`neuronsim.crosscheck.vectorized.stack_bptt`, "torch" one
``torch.nn.RNN`` per recurrent layer and ``nn.Linear`` + activation per dense
layer; a function is called as ``f(layers, X, Y)`` (or ``f(W, U, b, dense,
X, Y)`` for one recurrent first layer followed by dense layers).
"""

import os

import numpy as np

from ..core.errors import ShapeError
from ..core.summation import sum_in_order
from .compare_rnn import compare_recurrent, is_recurrent, sequence_arrays
from .diagnosis import diagnose, float32_finding, later_rows
from .results import (
    QUANTITIES,
    Report,
    _against_name,
    _name_of,
    _superscript,
    build_rows,
    check_results,
    load_results,
    save_results,
)
from .usercode import call_user_function, shape_hint
from .vectorized import BatchGradients, network_arrays, network_gradients

# compare() is the entry point; the result-file helpers are re-exported for users.
__all__ = ["compare", "per_neuron_batch", "batch_arrays", "candidate_results", "check_results",
           "load_results", "save_results", "sequence_arrays", "is_recurrent", "QUANTITIES"]


# ---------------------------------------------------------------- the reference
def per_neuron_batch(net, X, Y):
    """Run every sample through a copy of ``net``, one neuron at a time.

    Returns the per-sample z, a, g'(z), dE/da and δ of each layer, the
    gradient the next update would apply (``gradient_arrays``) and the batch
    loss, in the layout of :class:`neuronsim.crosscheck.vectorized.BatchGradients`.
    ``net`` itself is not touched.
    """
    X, Y = batch_arrays(net, X, Y)
    copy = net.copy(batch=False)
    L = len(copy.layers)
    fields = {name: [[] for _ in range(L)] for name in ("z", "output", "derivative",
                                                        "output_grad", "delta")}
    sample_losses = []
    for x, t in zip(X, Y):
        copy.forward_pass(x.tolist())
        sample_losses.append(copy.back_prop(t.tolist()))
        for l, layer in enumerate(copy.layers):
            for name, rows in fields.items():
                rows[l].append([getattr(neuron, name) for neuron in layer.neurons])
    grads = copy.gradient_arrays()
    n = len(X) if copy.reduction == "mean" else 1
    arrays = {name: [np.array(rows, dtype=float) for rows in per_layer]
              for name, per_layer in fields.items()}
    return BatchGradients(
        inputs=X, zs=arrays["z"], activations=arrays["output"],
        derivatives=arrays["derivative"], output_grads=arrays["output_grad"],
        deltas=arrays["delta"], dW=[dW for dW, _ in grads], db=[db for _, db in grads],
        sample_losses=np.array(sample_losses, dtype=float),
        loss=float(sum_in_order(sample_losses) / n), targets=Y)


def batch_arrays(net, X, Y):
    """X, Y as float arrays of shapes (m, n_in), (m, n_out); ShapeError otherwise."""
    try:
        X = np.array(X, dtype=float, ndmin=2)
        Y = np.array(Y, dtype=float, ndmin=2)
    except (TypeError, ValueError) as exc:
        raise ShapeError(f"X, Y: expected arrays of numbers ({exc})") from None
    if X.ndim != 2 or X.shape[1] != net.n_inputs:
        raise ShapeError(f"X: expected shape (m, {net.n_inputs}), got {X.shape}")
    if Y.shape != (X.shape[0], net.n_outputs):
        raise ShapeError(f"Y: expected shape ({X.shape[0]}, {net.n_outputs}), got {Y.shape}")
    if X.shape[0] == 0:
        raise ShapeError("X: expected at least one sample")
    for name, array in (("X", X), ("Y", Y)):
        refuse_non_finite(name, array)
    return X, Y


def refuse_non_finite(name, array):
    """ShapeError naming the first NaN or infinite entry of a batch array."""
    bad = ~np.isfinite(array)
    if bad.any():
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ShapeError(f"{name}[{', '.join(map(str, index))}] is {array[index]}: the batch "
                         "must be finite numbers (a NaN would be compared with NaN)")


# ---------------------------------------------------------------- the other side
def candidate_results(net, X, Y, against):
    """The dict of quantities computed by ``against`` (see the module docstring)."""
    if isinstance(against, str) and against == "numpy":
        with np.errstate(all="ignore"):      # a NaN is reported in the table, not warned
            return network_gradients(net, X, Y).as_dict()
    if isinstance(against, str) and against == "torch":
        from .torch_bridge import torch_gradients

        return torch_gradients(net, X, Y)
    if callable(against):
        arrays = network_arrays(net)
        weights = [W.copy() for W in arrays["weights"]]
        biases = [b.copy() for b in arrays["biases"]]
        hint = shape_hint([("X", X.shape)] + [(f"weights[{l}] = W" + _superscript(l + 2),
                                                 W.shape) for l, W in enumerate(weights)])
        results = call_user_function(against, (weights, biases, X.copy(), Y.copy()), hint)
        return check_results(results, len(net.layers), _name_of(against))
    if isinstance(against, (str, os.PathLike)):
        return load_results(against, len(net.layers))
    raise ValueError(f"against: expected 'numpy', 'torch', a function or an .npz path, "
                     f"got {against!r}")


def compare(net, X, Y, against="numpy", tolerance=1e-9, atol=1e-12, convention="nielsen"):
    """Compare ``against`` with the per-neuron network on the batch (X, Y).

    Returns a :class:`Report`.  ``tolerance`` is relative, ``atol`` an
    absolute floor: an entry passes if both sides are finite and |yours - ours|
    <= atol + tolerance·|ours|.  ``convention`` ("nielsen" or "ng") picks the
    weight superscripts in labels.  An exception raised by a function given as
    ``against`` becomes a :class:`neuronsim.crosscheck.usercode.UserCodeError`.
    """
    if not tolerance >= 0 or not atol >= 0:
        raise ValueError(f"tolerance and atol must be >= 0, got {tolerance} and {atol}")
    if is_recurrent(net):
        return compare_recurrent(net, X, Y, against, tolerance, atol, convention)
    X, Y = batch_arrays(net, X, Y)
    reference = per_neuron_batch(net, X, Y)
    candidate = candidate_results(net, X, Y, against)
    rows = build_rows(reference, candidate, len(net.layers), tolerance, atol, convention)
    failing = [row for row in rows if not row.ok]
    findings, diagnosis, later = [], "", []
    if failing:
        findings, diagnosis = diagnose(net, reference, candidate, rows, failing[0])
        later = later_rows(rows, failing[0], findings, "deltas" in candidate,
                           lambda row: diagnose(net, reference, candidate, rows, row))
        extra = float32_finding(rows, tolerance, atol)
        if extra is not None:
            findings.append(extra)
            diagnosis = f"{diagnosis} {extra.message}"
    return Report(rows, _against_name(against), len(X), tolerance, atol, findings, diagnosis,
                  later=later)
