"""The per-neuron BPTT against the independent numpy BPTT, to 1e-12 relative."""

import random

import numpy as np
import pytest

from neuronsim.core.recurrent import RecurrentNetwork
from neuronsim.crosscheck.vectorized import rnn_bptt, rnn_forward

RTOL = 1e-12


def relative_error(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    scale = max(np.max(np.abs(b)), 1e-300)
    return float(np.max(np.abs(a - b)) / scale)


def random_case(seed):
    rng = np.random.default_rng(seed)
    py = random.Random(seed)
    n_in, n, steps, batch = py.randint(1, 3), py.randint(1, 4), py.randint(1, 6), py.randint(1, 3)
    n_dense = py.randint(0, 2)
    sizes = [n] + [py.randint(1, 3) for _ in range(n_dense)]
    activation = py.choice(["tanh", "sigmoid", "linear", "relu"])
    if n_dense:
        output, loss = py.choice([("linear", "half_sse"), ("sigmoid", "binary_cross_entropy"),
                                  ("softmax", "cross_entropy"), ("tanh", "sse"),
                                  ("softmax", "mse"), ("sigmoid", "half_sse")])
        dense_acts = [py.choice(["tanh", "sigmoid", "relu"]) for _ in range(n_dense - 1)]
        dense_acts.append(output)
    else:
        loss, dense_acts = py.choice(["half_sse", "sse", "mse"]), []
    params = [(rng.uniform(-1, 1, (n, n_in)), rng.uniform(-1, 1, (n, n)), rng.uniform(-1, 1, n))]
    params += [(rng.uniform(-1, 1, (o, i)), rng.uniform(-1, 1, o))
               for i, o in zip(sizes, sizes[1:])]
    X = rng.uniform(-1, 1, (batch, steps, n_in))
    if loss == "cross_entropy":
        targets = np.eye(sizes[-1])[rng.integers(0, sizes[-1], (batch, steps))]
    else:
        targets = rng.uniform(0.05, 0.95, (batch, steps, sizes[-1]))
    mask = rng.random((batch, steps)) < 0.6
    mask[:, -1] = True
    options = dict(truncation=py.choice([None, 1, 2, 3]), step_loss=py.choice(["sum", "mean"]),
                   reduction=py.choice(["mean", "sum"]))
    return params, X, targets, mask, activation, dense_acts, loss, options


def per_neuron(params, X, targets, mask, activation, dense_acts, loss, options,
               initial_state=None):
    (W, U, b), dense = params[0], params[1:]
    net = RecurrentNetwork.from_arrays(W, U, b, dense, activation, dense_acts, loss,
                                       initial_state=initial_state, **options)
    losses, outputs, deltas = [], [], []
    for x, t, m in zip(X, targets, mask):
        outputs.append(net.forward_pass(x))
        losses.append(net.back_prop([list(v) if keep else None for v, keep in zip(t, m)]))
        deltas.append([net.history_of(0, j, "delta") for j in range(net.layers[0].size)])
    n = len(X) if options["reduction"] == "mean" else 1
    return sum(losses) / n, outputs, net.gradient_arrays(), np.transpose(deltas, (0, 2, 1))


@pytest.mark.parametrize("seed", range(40))
def test_agrees_with_numpy(seed):
    params, X, targets, mask, activation, dense_acts, loss, options = random_case(seed)
    loss_value, outputs, grads, deltas = per_neuron(params, X, targets, mask, activation,
                                                    dense_acts, loss, options)
    ref = rnn_bptt(params, X, targets, mask, activation, dense_acts, loss, **options)
    where = f"seed {seed} ({activation}, {dense_acts}, {loss}, {options})"
    assert relative_error(loss_value, ref.loss) <= RTOL, where
    assert relative_error(outputs, ref.outputs) <= RTOL, where
    assert relative_error(deltas, ref.deltas) <= RTOL, where
    for l, (ours, theirs) in enumerate(zip(grads, ref.grads)):
        for name, a, b in zip(("dW", "dU", "db") if l == 0 else ("dW", "db"), ours, theirs):
            assert relative_error(a, b) <= RTOL, f"{where}: layer {l} {name}"


def test_initial_state_and_forward():
    params, X, targets, mask, activation, dense_acts, loss, options = random_case(3)
    state = np.linspace(-0.5, 0.5, params[0][0].shape[0])
    fwd = rnn_forward(params, X, activation, dense_acts, initial_state=state)
    assert np.array_equal(fwd.H[:, 0], np.broadcast_to(state, fwd.H[:, 0].shape))
    loss_value, outputs, grads, _ = per_neuron(params, X, targets, mask, activation,
                                               dense_acts, loss, options, state.tolist())
    ref = rnn_bptt(params, X, targets, mask, activation, dense_acts, loss,
                   initial_state=state, **options)
    assert relative_error(outputs, fwd.outputs) <= RTOL
    assert relative_error(loss_value, ref.loss) <= RTOL
    assert relative_error(grads[0][1], ref.grads[0][1]) <= RTOL


def test_truncation_at_least_T_is_full():
    params, X, targets, mask, activation, dense_acts, loss, options = random_case(8)
    steps = X.shape[1]
    full = rnn_bptt(params, X, targets, mask, activation, dense_acts, loss)
    at_t = rnn_bptt(params, X, targets, mask, activation, dense_acts, loss, truncation=steps)
    assert all(np.array_equal(a, b) for p, q in zip(full.grads, at_t.grads) for a, b in zip(p, q))


@pytest.mark.parametrize("seed", range(12))
def test_paired_recurrent_output_agrees_with_numpy(seed):
    # no dense layers, sigmoid recurrent neurons, binary cross-entropy: both
    # sides use δ[t] = (a - t) + r[t]·g'(z[t]) and E from z
    rng = np.random.default_rng(seed)
    n_in, n, steps, batch = 1 + seed % 2, 1 + seed % 3, 1 + seed % 5, 2
    params = [(rng.uniform(-1, 1, (n, n_in)), rng.uniform(-1, 1, (n, n)), rng.uniform(-1, 1, n))]
    X = rng.uniform(-1, 1, (batch, steps, n_in))
    targets = rng.uniform(0.05, 0.95, (batch, steps, n))
    mask = rng.random((batch, steps)) < 0.6
    mask[:, -1] = True
    options = dict(truncation=[None, 1, 2, 3][seed % 4], step_loss=["sum", "mean"][seed % 2],
                   reduction=["mean", "sum"][(seed // 2) % 2])
    args = (params, X, targets, mask, "sigmoid", [], "binary_cross_entropy")
    loss_value, outputs, grads, deltas = per_neuron(*args, options)
    ref = rnn_bptt(*args, **options)
    where = f"seed {seed} {options}"
    assert relative_error(loss_value, ref.loss) <= RTOL, where
    assert relative_error(deltas, ref.deltas) <= RTOL, where
    for name, a, b in zip(("dW", "dU", "db"), grads[0], ref.grads[0]):
        assert relative_error(a, b) <= RTOL, f"{where}: {name}"


def test_saturated_recurrent_output_is_finite_in_numpy():
    # z = 40 rounds a to 1: E = softplus(40) = 40 and δ = a - t = 1, not inf and nan
    params = [(np.array([[40.0]]), np.array([[0.5]]), np.array([0.0]))]
    X = np.array([[[1.0], [0.0]]])
    targets = np.array([[[0.0], [1.0]]])
    ref = rnn_bptt(params, X, targets, None, "sigmoid", [], "binary_cross_entropy")
    a2 = 1 / (1 + np.exp(-0.5))
    assert ref.loss == pytest.approx(40.0 + np.log1p(np.exp(-0.5)), rel=1e-15)
    assert ref.deltas[0, :, 0].tolist() == [1.0, pytest.approx(a2 - 1.0, rel=1e-15)]
    net = RecurrentNetwork.from_arrays(*params[0], activation="sigmoid",
                                       loss="binary_cross_entropy")
    net.forward_pass(X[0])
    assert net.back_prop(targets[0].tolist()) == pytest.approx(ref.loss, rel=1e-15)
    assert net.gradient_arrays()[0][1] == pytest.approx(ref.grads[0][1], rel=1e-15)
