"""The per-neuron Network of layer kinds against the numpy stack reference
(neuronsim.crosscheck.vectorized), to 1e-12 relative: every z, a and δ of every
layer at every step, each sequence's loss, and the batch gradients (with dE/da[0] of a
learned initial state), for stacks of dense and recurrent layers in any order, full and
truncated BPTT, many-to-many and many-to-one.

The reference itself is checked against torch in tests/test_vectorized_stack.py.
"""

import numpy as np
import pytest

from neuronsim import Network
from neuronsim.crosscheck.vectorized import stack_bptt

RTOL = 1e-12
M, T = 3, 5


def check(name, ours, theirs, rtol=RTOL):
    """|ours - theirs| <= 1e-13·max|theirs| + rtol·|theirs| everywhere, naming the worst entry."""
    ours, theirs = np.asarray(ours, dtype=float), np.asarray(theirs, dtype=float)
    assert ours.shape == theirs.shape, f"{name}: shape {ours.shape}, expected {theirs.shape}"
    assert np.all(np.isfinite(ours)) and np.all(np.isfinite(theirs)), f"{name}: not finite"
    assert theirs.size, f"{name}: nothing to compare"
    atol = 1e-13 * max(float(np.max(np.abs(theirs))), float(np.max(np.abs(ours))), 1e-300)
    errors = np.abs(ours - theirs)
    allowed = atol + rtol * np.abs(theirs)
    if not np.all(errors <= allowed):
        worst = np.unravel_index(int(np.argmax(errors / allowed)), errors.shape)
        raise AssertionError(f"{name}{list(worst)}: got {ours[worst]!r}, expected "
                             f"{theirs[worst]!r} (abs error {errors[worst]:.3g})")


# ---------------------------------------------------------------- stacks
# (layer kinds bottom first, (activation, width) per layer, loss, initial state)
STACKS = {
    "rnn2-linear": (["recurrent", "recurrent", "dense"],
                    [("tanh", 3), ("tanh", 3), ("linear", 2)], "half_sse", None),
    "dense-rnn-dense": (["dense", "recurrent", "dense"],
                        [("tanh", 4), ("tanh", 3), ("sigmoid", 2)], "binary_cross_entropy", None),
    "three-recurrent-softmax": (["recurrent", "recurrent", "recurrent", "dense"],
                                [("tanh", 3), ("relu", 4), ("tanh", 3), ("softmax", 3)],
                                "cross_entropy", None),
    "learned-h0": (["recurrent", "dense", "recurrent", "dense"],
                   [("tanh", 3), ("sigmoid", 4), ("tanh", 2), ("linear", 2)], "half_sse",
                   "learned"),
    "fixed-h0": (["dense", "recurrent", "recurrent", "dense"],
                 [({"name": "leaky_relu", "slope": 0.2}, 3), ("sigmoid", 3), ("tanh", 2),
                  ("softmax", 2)], "mse", "fixed"),
    "recurrent-on-top": (["dense", "recurrent"], [("tanh", 3), ("sigmoid", 2)],
                         "binary_cross_entropy", "learned"),
}
TRUNCATIONS = [None, 1, 2, 3, T, T + 1]


def random_stack(name, seed=0):
    """Our layer dicts (for the reference) and the same network as a file dict."""
    kinds, widths, loss, h0 = STACKS[name]
    rng = np.random.default_rng(seed)
    layers, file_layers, n_prev = [], [], 2
    for kind, (activation, n) in zip(kinds, widths):
        layer = {"kind": kind, "W": rng.uniform(-1, 1, (n, n_prev)), "b": rng.uniform(-1, 1, n),
                 "activation": activation}
        entry = {"activation": activation["name"] if isinstance(activation, dict) else activation,
                 "weights": layer["W"].tolist(), "biases": layer["b"].tolist()}
        if isinstance(activation, dict):
            entry["slope"] = activation["slope"]
        if kind == "recurrent":
            layer["U"] = rng.uniform(-1, 1, (n, n))
            entry.update({"type": "recurrent", "recurrent_weights": layer["U"].tolist()})
            if h0 is not None:
                layer["h0"] = rng.uniform(-0.5, 0.5, n)
                entry["initial_state"] = layer["h0"].tolist()
            layer["learn_h0"] = h0 == "learned"
            if h0 == "learned":
                entry["learn_initial_state"] = True
        layers.append(layer)
        file_layers.append(entry)
        n_prev = n
    return layers, file_layers, loss


def data(loss, n_out, seed, many_to_one=False):
    rng = np.random.default_rng(seed + 100)
    X = rng.uniform(-1, 1, (M, T, 2))
    if loss == "cross_entropy":
        Y = np.eye(n_out)[rng.integers(0, n_out, (M, T))]
    else:
        Y = rng.uniform(0.05, 0.95, (M, T, n_out))
    if many_to_one:
        mask = np.zeros((M, T), dtype=bool)
    else:
        mask = rng.random((M, T)) < 0.6
        mask[0, 1] = True
    mask[:, -1] = True
    return X, Y, mask


def run_network(file_layers, loss, X, Y, mask, many_to_one, **options):
    """back_prop every sequence; per sequence its loss and history (z, a, δ per step,
    layer, neuron); the batch gradients at the end."""
    net = Network.from_spec({"inputs": X.shape[2], "layers": file_layers, "loss": loss,
                             **options})
    losses, zs, outputs, deltas = [], [], [], []
    for x, y, m in zip(X, Y, mask):
        net.forward_pass([list(v) for v in x])
        if many_to_one:
            targets = list(y[-1])
        else:
            targets = [list(v) if keep else None for v, keep in zip(y, m)]
        losses.append(net.back_prop(targets))
        history = net.history
        zs.append([[[r.z for r in layer] for layer in step] for step in history])
        outputs.append([[[r.output for r in layer] for layer in step] for step in history])
        # δ is None where no gradient reaches a neuron (a layer above every recurrent
        # layer at a step without a target); the reference writes 0 there
        deltas.append([[[0.0 if r.delta is None else r.delta for r in layer] for layer in step]
                       for step in history])
    return net, losses, zs, outputs, deltas


def per_layer(values, l):
    """values[i][t][l][j] -> array (m, T, n_l)."""
    return np.array([[step[l] for step in sequence] for sequence in values], dtype=float)


@pytest.mark.parametrize("truncation", TRUNCATIONS)
@pytest.mark.parametrize("name", list(STACKS))
@pytest.mark.parametrize("variant", ["many-to-many", "many-to-one", "mean-steps-sum-batch"])
def test_network_matches_stack_reference(name, truncation, variant):
    layers, file_layers, loss = random_stack(name)
    many_to_one = variant == "many-to-one"
    X, Y, mask = data(loss, layers[-1]["W"].shape[0], seed=1, many_to_one=many_to_one)
    options = {"truncation": truncation, "step_loss": "sum", "reduction": "mean"}
    if variant == "mean-steps-sum-batch":
        options.update(step_loss="mean", reduction="sum")
    expected = stack_bptt(layers, X, Y, mask, loss, **options)
    net, losses, zs, outputs, deltas = run_network(file_layers, loss, X, Y, mask, many_to_one,
                                                   **options)
    check("sequence losses", losses, expected.sequence_losses)
    grads = net.gradient_arrays()
    assert len(grads) == len(layers)
    for l in range(len(layers)):
        check(f"z[{l}]", per_layer(zs, l), expected.zs[l])
        check(f"a[{l}]", per_layer(outputs, l), expected.activations[l])
        check(f"delta[{l}]", per_layer(deltas, l), expected.deltas[l])
        assert len(grads[l]) == len(expected.grads[l]), f"layer {l}: {len(grads[l])} gradients"
        for i, (ours, theirs) in enumerate(zip(grads[l], expected.grads[l])):
            check(f"gradient_arrays()[{l}][{i}]", ours, theirs)
