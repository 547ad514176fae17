"""Recurrent neurons and BPTT: hand values, finite differences (full and truncated),
the update rule, the tracer tables, the gradient-flow table and the commands."""

import math
import random

import pytest

from neuronsim import Network
from neuronsim.cli.main import main
from neuronsim.core.recurrent import RecurrentNetwork
from neuronsim.files.bundled import example_path
from neuronsim.trace.recurrent import (
    RecurrentTracer,
    gradient_flow,
    render_gradient_flow,
    render_sequences,
    truncation_note,
)

H = 1e-6          # finite-difference step
FD_RTOL = 1e-6    # relative tolerance against finite differences

# (output activation, loss) of the dense output layer; None = no dense layers.
OUTPUTS = [("linear", "half_sse"), ("sigmoid", "binary_cross_entropy"),
           ("softmax", "cross_entropy"), ("tanh", "sse"), ("sigmoid", "mse"),
           ("softmax", "half_sse")]
RECURRENT = ["tanh", "sigmoid", "linear", {"activation": "leaky_relu", "slope": 0.2}]


def random_rnn(seed, steps=None, **options):
    """A random tiny recurrent network and one sequence (inputs, per-step targets).

    1-2 inputs, 1-3 recurrent neurons, 0-2 dense layers, 1-6 steps; targets
    at a random subset of steps (always the last).  Weights in [-1, 1].
    """
    rng = random.Random(seed)
    n_in, n = rng.randint(1, 2), rng.randint(1, 3)
    steps = steps or rng.randint(1, 6)
    n_dense = rng.randint(0, 2)
    sizes = [n] + [rng.randint(1, 3) for _ in range(n_dense)]
    recurrent = rng.choice(RECURRENT)
    if n_dense:
        output, loss = rng.choice(OUTPUTS)
        dense_acts = [rng.choice(["tanh", "sigmoid"]) for _ in range(n_dense - 1)] + [output]
    else:
        output, loss = recurrent, rng.choice(["half_sse", "sse", "mse"])
        dense_acts = []

    def uniform(*shape):
        if len(shape) == 1:
            return [rng.uniform(-1, 1) for _ in range(shape[0])]
        return [[rng.uniform(-1, 1) for _ in range(shape[1])] for _ in range(shape[0])]

    dense = [(uniform(o, i), uniform(o)) for i, o in zip(sizes, sizes[1:])]
    net = RecurrentNetwork.from_arrays(uniform(n, n_in), uniform(n, n), uniform(n), dense,
                                       recurrent, dense_acts, loss, **options)
    xs = [uniform(n_in) for _ in range(steps)]
    n_out = sizes[-1]
    targets = []
    for t in range(steps):
        if t < steps - 1 and rng.random() < 0.4:
            targets.append(None)
        elif loss == "cross_entropy":
            one_hot = [0.0] * n_out
            one_hot[rng.randrange(n_out)] = 1.0
            targets.append(one_hot)
        else:
            targets.append([rng.uniform(0.05, 0.95) for _ in range(n_out)])
    return net, xs, targets


def parameters(net):
    """(label, getter, setter) of every parameter, recurrent layer first."""
    out = []
    for j, neuron in enumerate(net.layers[0].neurons):
        for name in ("weights", "recurrent_weights"):
            for k in range(len(getattr(neuron, name))):
                out.append((f"layers[0].neurons[{j}].{name}[{k}]", neuron, name, k))
        out.append((f"layers[0].neurons[{j}].bias", neuron, "bias", None))
    for l, layer in enumerate(net.layers[1:], start=1):
        for j, neuron in enumerate(layer.neurons):
            for k in range(len(neuron.weights)):
                out.append((f"layers[{l}].neurons[{j}].weights[{k}]", neuron, "weights", k))
            out.append((f"layers[{l}].neurons[{j}].bias", neuron, "bias", None))
    return out


def _get(neuron, name, k):
    return getattr(neuron, name) if k is None else getattr(neuron, name)[k]


def _set(neuron, name, k, value):
    if k is None:
        setattr(neuron, name, value)
    else:
        values = list(getattr(neuron, name))
        values[k] = value
        setattr(neuron, name, values)


def analytic(net):
    """Gradients in the order of :func:`parameters`, from gradient_arrays."""
    arrays = net.gradient_arrays()
    dW, dU, db = arrays[0]
    out = []
    for j in range(net.layers[0].size):
        out += list(dW[j]) + list(dU[j]) + [db[j]]
    for dWl, dbl in arrays[1:]:
        for j in range(len(dbl)):
            out += list(dWl[j]) + [dbl[j]]
    return out


def numeric(net, loss_function):
    """Central differences of loss_function() over every parameter."""
    grads = []
    for label, neuron, name, k in parameters(net):
        value = _get(neuron, name, k)
        _set(neuron, name, k, value + H)
        plus = loss_function()
        _set(neuron, name, k, value - H)
        minus = loss_function()
        _set(neuron, name, k, value)
        grads.append((label, (plus - minus) / (2 * H)))
    return grads


def assert_close(net, numbers, seed, what):
    for (label, num), ana in zip(numbers, analytic(net)):
        scale = max(abs(num), abs(ana), 1e-3)
        assert abs(num - ana) <= FD_RTOL * scale, (
            f"seed {seed} {what} {label}: analytic {ana!r}, numeric {num!r}, "
            f"relative error {abs(num - ana) / scale:.2e}")


def truncated_loss(net, xs, targets, k, frozen_states):
    """The documented truncated objective: Σ_t E_t with a[t-k] held at ``frozen_states``.

    E_t is the loss of the last step of the subsequence x[t-k+1..t] started
    from a[t-k] of the unperturbed network (a[0] when t <= k); its
    derivative at the unperturbed weights is truncated BPTT's gradient.
    """
    scale = 1.0
    if net.step_loss == "mean":
        scale = 1.0 / sum(t is not None for t in targets)
    total = 0.0
    for t, target in enumerate(targets, start=1):
        if target is None:
            continue
        start = max(0, t - k)
        total += net.loss_of(xs[start:t], target, initial_state=frozen_states[start])
    return scale * total


# ------------------------------------------------------------------ by hand
def test_hand_computed_linear_neuron():
    # a[1] = 0.5·1 = 0.5, a[2] = 0.5·0 + 0.8·0.5 = 0.4; E = ½(0.5-0.5)² + ½(0.2-0.4)² = 0.02
    # δ[2] = 0.4 - 0.2 = 0.2, δ[1] = (0 + 0.8·0.2)·1 = 0.16
    net = RecurrentNetwork.from_arrays([[0.5]], [[0.8]], [0.0], activation="linear",
                                       loss="half_sse")
    outputs = net.forward_pass([[1.0], [0.0]])
    assert outputs == [[0.5], [pytest.approx(0.4, rel=1e-15)]]
    assert net.back_prop([[0.5], [0.2]]) == pytest.approx(0.02, rel=1e-14)
    assert net.history_of(0, 0, "delta") == pytest.approx([0.16, 0.2], rel=1e-14)
    assert net.history_of(0, 0, "output_path") == pytest.approx([0.0, 0.2], rel=1e-14)
    assert net.history_of(0, 0, "recurrent_path") == pytest.approx([0.16, 0.0], rel=1e-14)
    (dW, dU, db), = net.gradient_arrays()
    assert dW[0][0] == pytest.approx(0.16, rel=1e-14)          # 0.16·1 + 0.2·0
    assert dU[0][0] == pytest.approx(0.1, rel=1e-14)           # 0.16·0 + 0.2·0.5
    assert db[0] == pytest.approx(0.36, rel=1e-14)
    steps = [step[0][0] for step in net.history]   # each step's share of dE/dw: x[t] δ[t]
    assert [r.inputs[0] * r.delta for r in steps] == pytest.approx([0.16, 0.0], rel=1e-14)


def test_truncated_k1_has_no_recurrent_path_and_k_ge_T_is_full():
    net, xs, targets = random_rnn(3, steps=5)
    net.forward_pass(xs)
    net.back_prop(targets, truncation=1)
    assert all(r == 0 for j in range(net.layers[0].size)
               for r in net.history_of(0, j, "recurrent_path"))
    truncated = analytic(net)
    net._discard_batch()
    net.forward_pass(xs)
    net.back_prop(targets, truncation=5)
    at_length = analytic(net)
    net._discard_batch()
    net.forward_pass(xs)
    net.back_prop(targets, truncation=None)
    full = analytic(net)
    assert at_length == pytest.approx(full, rel=1e-12, abs=1e-15)
    assert truncated != pytest.approx(full, rel=1e-6)


# ------------------------------------------------------------------ finite differences
@pytest.mark.parametrize("seed", range(30))
def test_full_bptt_matches_finite_differences(seed):
    net, xs, targets = random_rnn(seed, step_loss="mean" if seed % 3 == 0 else "sum")
    net.forward_pass(xs)
    net.back_prop(targets)
    assert_close(net, numeric(net, lambda: net.loss_of(xs, targets)), seed, "full")


@pytest.mark.parametrize("seed", range(30))
def test_truncated_bptt_matches_its_definition(seed):
    net, xs, targets = random_rnn(100 + seed, step_loss="mean" if seed % 3 == 0 else "sum")
    k = 1 + seed % 3
    net.forward_pass(xs)
    frozen = [list(state) for state in net.states_of(0)]
    net.back_prop(targets, truncation=k)
    numbers = numeric(net, lambda: truncated_loss(net, xs, targets, k, frozen))
    assert_close(net, numbers, seed, f"truncated k={k}")


@pytest.mark.parametrize("steps", range(1, 7))
def test_each_sequence_length_full_and_truncated(steps):
    net, xs, targets = random_rnn(500 + steps, steps=steps)
    net.forward_pass(xs)
    frozen = [list(s) for s in net.states_of(0)]
    net.back_prop(targets)
    assert_close(net, numeric(net, lambda: net.loss_of(xs, targets)), steps, "full")
    net._discard_batch()
    net.forward_pass(xs)
    net.back_prop(targets, truncation=2)
    assert_close(net, numeric(net, lambda: truncated_loss(net, xs, targets, 2, frozen)),
                 steps, "truncated k=2")


def test_initial_state_is_used_and_finite_differences_hold():
    net, xs, targets = random_rnn(7, steps=4)
    state = [0.3 * (j + 1) for j in range(net.layers[0].size)]
    net.layers[0].initial_state = state
    net.forward_pass(xs)
    assert net.states_of(0)[0] == state
    net.back_prop(targets)
    assert_close(net, numeric(net, lambda: net.loss_of(xs, targets)), 7, "initial state")


# ------------------------------------------------------------------ paired loss, no dense layers
def random_paired_rnn(seed, steps=4, **options):
    """Sigmoid recurrent neurons that are the output, binary cross-entropy (paired)."""
    rng = random.Random(seed)
    n_in, n = rng.randint(1, 2), rng.randint(1, 3)

    def uniform(*shape):
        return [[rng.uniform(-1, 1) for _ in range(shape[1])] for _ in range(shape[0])]

    net = RecurrentNetwork.from_arrays(uniform(n, n_in), uniform(n, n), uniform(1, n)[0],
                                       activation="sigmoid", loss="binary_cross_entropy",
                                       **options)
    xs = uniform(steps, n_in)
    targets = [None if t < steps - 1 and rng.random() < 0.4
               else [rng.uniform(0.05, 0.95) for _ in range(n)] for t in range(steps)]
    return net, xs, targets


def test_saturated_sigmoid_output_without_dense_layers_is_finite():
    # z = 40: a rounds to 1.0, so dE/da = (1 - 0)/(1·0) = inf; the pairing gives
    # δ = a - t = 1 and E = softplus(40) = 40, as the feed-forward network does
    net = RecurrentNetwork.from_arrays([[40.0]], [[0.0]], [0.0], activation="sigmoid",
                                       loss="binary_cross_entropy")
    net.forward_pass([[1.0]])
    assert net.back_prop([[0.0]]) == 40.0
    assert net.history_of(0, 0, "delta") == [1.0]
    assert net.history_of(0, 0, "output_path") == [float("inf")]
    assert net.loss_of([[1.0]], [[0.0]]) == 40.0
    feed_forward = Network.from_arrays([[[40.0]]], [[0.0]], ["sigmoid"], "binary_cross_entropy")
    feed_forward.forward_pass([1.0])
    assert feed_forward.back_prop([0.0]) == 40.0
    assert feed_forward.layers[0].neurons[0].delta == 1.0
    # two steps: δ[1] = (a[1] - t[1]) + u·δ[2]·g'(z[1]), g'(40) = 0 in float64
    net = RecurrentNetwork.from_arrays([[40.0]], [[0.5]], [0.0], activation="sigmoid",
                                       loss="binary_cross_entropy")
    net.forward_pass([[1.0], [0.0]])
    assert net.back_prop([[0.0], [1.0]]) == pytest.approx(40.0 + math.log1p(math.exp(-0.5)),
                                                          rel=1e-15)
    a2 = 1 / (1 + math.exp(-0.5))
    assert net.history_of(0, 0, "delta") == [1.0, pytest.approx(a2 - 1.0, rel=1e-15)]
    (dW, dU, db), = net.gradient_arrays()
    assert dU[0][0] == pytest.approx(a2 - 1.0, rel=1e-15)      # δ[2]·a[1], a[1] = 1


def test_paired_output_delta_without_dense_layers_unsaturated():
    # δ[t] = (a[t] - t[t]) + u·δ[t+1]·a(1-a) exactly as the documented formula
    net = RecurrentNetwork.from_arrays([[0.5]], [[0.8]], [0.1], activation="sigmoid",
                                       loss="binary_cross_entropy")
    a1, = net.forward_pass([[1.0], [-1.0]])[0]
    a2, = net.step_outputs[1]
    net.back_prop([[0.3], [0.9]])
    d2 = a2 - 0.9
    d1 = (a1 - 0.3) + 0.8 * d2 * (a1 * (1 - a1))
    assert net.history_of(0, 0, "delta") == pytest.approx([d1, d2], rel=1e-15)


@pytest.mark.parametrize("seed", range(12))
def test_paired_output_without_dense_layers_matches_finite_differences(seed):
    step_loss = "mean" if seed % 2 else "sum"
    net, xs, targets = random_paired_rnn(seed, steps=1 + seed % 5, step_loss=step_loss)
    net.forward_pass(xs)
    frozen = [list(state) for state in net.states_of(0)]
    net.back_prop(targets)
    assert_close(net, numeric(net, lambda: net.loss_of(xs, targets)), seed, "paired full")
    k = 1 + seed % 3
    net._discard_batch()
    net.forward_pass(xs)
    net.back_prop(targets, truncation=k)
    assert_close(net, numeric(net, lambda: truncated_loss(net, xs, targets, k, frozen)),
                 seed, f"paired truncated k={k}")


def test_trace_writes_the_paired_delta_of_a_recurrent_output():
    net = RecurrentNetwork.from_arrays([[0.5]], [[0.8]], [0.1], activation="sigmoid",
                                       loss="binary_cross_entropy")
    tracer = RecurrentTracer().attach(net)
    net.step([[1.0], [-1.0]], [[0.3], [0.9]], 0.1)
    record = tracer.sequences[0]
    assert record.paired_output
    d1, d2 = record.layers[0].neurons[0].deltas
    a1, a2 = record.layers[0].neurons[0].outputs
    text = render_sequences(tracer.sequences, digits=6)
    assert (f"δ₁⁽²⁾[2] = (a₁⁽²⁾[2] − t₁[2]) = ({a2:.6f} − 0.9) = {d2:.6f}".replace("-", "−")
            in text)
    assert ("δ₁⁽²⁾[1] = (a₁⁽²⁾[1] − t₁[1]) + (u₁₁⁽²⁾·δ₁⁽²⁾[2])·g'(z₁⁽²⁾[1]) = "
            f"({a1:.6f} − 0.3) + (0.8·({d2:.6f}))·{a1 * (1 - a1):.6f} = {d1:.6f}"
            .replace("-", "−") in text)
    assert "the output path goes straight to z" in text


# ------------------------------------------------------------------ targets and reductions
def test_many_to_one_is_a_last_step_target():
    net, xs, _ = random_rnn(11, steps=4)
    target = [0.3] * net.n_outputs
    net.forward_pass(xs)
    one = net.back_prop(target)
    grads_one = analytic(net)
    assert net.targets[:-1] == [None, None, None]
    net._discard_batch()
    net.forward_pass(xs)
    assert net.back_prop([None, None, None, target]) == one
    assert analytic(net) == grads_one


def test_step_loss_mean_divides_by_steps_with_targets():
    net, xs, targets = random_rnn(12, steps=5)
    n_targets = sum(t is not None for t in targets)
    net.forward_pass(xs)
    total = net.back_prop(targets)
    summed = analytic(net)
    net._discard_batch()
    net.step_loss = "mean"
    net.forward_pass(xs)
    assert net.back_prop(targets) == pytest.approx(total / n_targets, rel=1e-14)
    assert analytic(net) == pytest.approx([g / n_targets for g in summed], rel=1e-12, abs=1e-17)


def test_weights_change_only_in_update_and_batch_is_mean_of_sequences():
    net, xs, targets = random_rnn(13, steps=4)
    before = [a.tolist() for pair in net.to_arrays() for a in pair]
    sequences = [(xs, targets), (xs[::-1], targets)]
    single = []
    for seq_x, seq_t in sequences:
        net.forward_pass(seq_x)
        net.back_prop(seq_t)
        single.append(analytic(net))
        net._discard_batch()
    for seq_x, seq_t in sequences:
        net.forward_pass(seq_x)
        net.back_prop(seq_t)
    after = [a.tolist() for pair in net.to_arrays() for a in pair]
    assert after == before        # back_prop never touches a weight
    batch = analytic(net)
    assert batch == pytest.approx([(a + b) / 2 for a, b in zip(*single)], rel=1e-12, abs=1e-17)
    params = [float(_get(n, name, k)) for _, n, name, k in parameters(net)]
    net.update_weights(0.1)
    new = [float(_get(n, name, k)) for _, n, name, k in parameters(net)]
    assert new == [p - 0.1 * g for p, g in zip(params, batch)]
    assert all(g == 0 for g in analytic(net))


def test_same_seed_same_numbers():
    histories = []
    for _ in range(2):
        net = Network.from_spec(example_path("rnn"))
        histories.append(net.train(epochs=3, seed=5))
        histories.append([float(v) for pair in net.to_arrays() for a in pair for v in a.flat])
    assert histories[0] == histories[2] and histories[1] == histories[3]


def test_parity_example_learns():
    net = Network.from_spec(example_path("rnn"))
    assert net.is_sequential and net.layers[0].kind == "recurrent"
    history = net.train(epochs=60, seed=0)
    assert history[0] > 2.5 and history[-1] < 0.05
    assert all(b < a for a, b in zip(history[5:], history[6:]))


def test_shape_errors_name_the_place():
    net, xs, targets = random_rnn(14, steps=3)
    with pytest.raises(ValueError, match=r"one per time step"):
        net.forward_pass([0.1] * net.n_inputs)
    net.forward_pass(xs)
    with pytest.raises(ValueError, match=r"expected 3 vectors"):
        net.back_prop([targets[-1]] * 2)
    with pytest.raises(ValueError, match="no step has a target"):
        net.back_prop([None, None, None])
    with pytest.raises(ValueError, match="truncation"):
        net.back_prop(targets, truncation=0)


# ------------------------------------------------------------------ tracer
def test_trace_records_and_tables_show_the_numbers():
    net = RecurrentNetwork.from_arrays([[0.5], [-0.3]], [[0.1, 0.4], [-0.2, 0.3]], [0.0, 0.1],
                                       [([[0.7, -0.6]], [0.05])], "tanh", "sigmoid",
                                       "binary_cross_entropy")
    tracer = RecurrentTracer().attach(net)
    net.step([[1], [0], [1]], [[1], None, [0]], 0.5)
    record = tracer.sequences[0]
    assert record.layers[0].neurons[0].deltas == net.history_of(0, 0, "delta")
    # δ[t] = (output path + recurrent path) · g'(z)
    for t in range(3):
        r = record.layers[0].neurons[1]
        assert r.deltas[t] == (r.output_paths[t] + r.recurrent_paths[t]) * r.derivatives[t]
    text = render_sequences(tracer.sequences, digits=6)
    assert "targets at steps 1, 3; full BPTT" in text
    assert "δ₁⁽²⁾[2] = ((0) + (u₁₁⁽²⁾·δ₁⁽²⁾[3] + u₂₁⁽²⁾·δ₂⁽²⁾[3]))·g'(z₁⁽²⁾[2])" in text
    assert "(0.1·0.348016 + (−0.2)·(−0.355436)))·0.998929 = 0.105775" in text
    # contribution table: w₁₁⁽²⁾ row, per step and total
    row = next(line for line in text.splitlines() if line.startswith("w₁₁⁽²⁾ "))
    assert row.split()[1:] == ["−0.205681", "0", "0.348016", "0.142336"]
    assert "E = E[1] + E[3] = 0.47714 + 0.963988 = 1.44113" in text
    for fmt in ("markdown", "latex", "html"):
        assert "0.105775" in render_sequences(tracer.sequences, format=fmt, digits=6)


def test_trace_truncated_shows_the_carried_part():
    net, xs, targets = random_rnn(21, steps=4, truncation=2)
    tracer = RecurrentTracer().attach(net)
    net.forward_pass(xs)
    net.back_prop(targets)
    tracer.flush()
    text = render_sequences(tracer.sequences)
    assert "truncated BPTT, k = 2 steps back" in text
    assert "δ̃₁⁽²⁾[4]" in text
    assert ("Truncated BPTT (k = 2): δ̃[t+1] is the part of δ[t+1] that comes from E[t+1]; "
            "the part from E[t+2] has already travelled 1 step back and stops there.") in text


def test_truncation_note_names_the_right_losses_for_every_k():
    assert truncation_note(None, 4) == ("Full BPTT: the recurrent path carries all of "
                                        "δ[t+1], which comes from the losses E[t+1] to E[T].")
    assert truncation_note(1, 4) == ("Truncated BPTT with k = 1: no recurrent path, each "
                                     "δ[t] comes from E[t] only.")
    assert truncation_note(2, 4) == (
        "Truncated BPTT (k = 2): δ̃[t+1] is the part of δ[t+1] that comes from E[t+1]; the "
        "part from E[t+2] has already travelled 1 step back and stops there.")
    assert truncation_note(3, 4) == (
        "Truncated BPTT (k = 3): δ̃[t+1] is the part of δ[t+1] that comes from E[t+1] and "
        "E[t+2]; the part from E[t+3] has already travelled 2 steps back and stops there.")
    assert truncation_note(4, 6) == (
        "Truncated BPTT (k = 4): δ̃[t+1] is the part of δ[t+1] that comes from E[t+1] to "
        "E[t+3]; the part from E[t+4] has already travelled 3 steps back and stops there.")
    assert truncation_note(4, 4).endswith(
        "  Here k >= T = 4: nothing is cut, the same as full BPTT.")
    assert "E[t+1] .. E[t+1]" not in truncation_note(2, 4)


def test_ng_convention_keeps_superscript_2_on_recurrent_weights():
    net = RecurrentNetwork.from_arrays([[0.5, -0.1], [-0.3, 0.2]], [[0.1, 0.4], [-0.2, 0.3]],
                                       [0.0, 0.1], [([[0.7, -0.6]], [0.05])], "tanh", "sigmoid",
                                       "binary_cross_entropy")
    tracer = RecurrentTracer().attach(net)
    net.step([[1, 0], [0, 1]], [[1], [0]], 0.5)
    for convention in ("ng", "nielsen"):
        text = render_sequences(tracer.sequences, digits=6, convention=convention)
        assert "u₁₂⁽¹⁾" not in text and "u₁₂⁽³⁾" not in text
        rows = [line.split() for line in text.splitlines() if line.startswith("u₁₂⁽²⁾ ")]
        # contributions per step and total; update: old, dE/du, η, new = 0.4 + 0.5·0.0634472
        assert rows == [["u₁₂⁽²⁾", "0", "−0.0634472", "−0.0634472"],
                        ["u₁₂⁽²⁾", "0.4", "−0.0634472", "0.5", "0.431724"]]
        assert ("u_ji carries superscript (2) in both conventions: it feeds layer 2 (nielsen) "
                "and comes from layer 2 at t−1 (ng).") in text
    ng = render_sequences(tracer.sequences, digits=6, convention="ng")
    # input weights and the dense layer's weights follow the ng rule (one less)
    assert "w₁₂⁽¹⁾·a₂⁽¹⁾[1]" in ng and "w₁₁⁽²⁾·δ₁⁽³⁾[2]" in ng
    assert "u₁₁⁽²⁾·δ₁⁽²⁾[2] + u₂₁⁽²⁾·δ₂⁽²⁾[2]" in ng


def test_gradient_flow_vanishes_and_explodes():
    flow = gradient_flow(length=12, recurrent_weight=1.5)
    assert flow["steps"] == list(range(12, 0, -1))
    # linear: δ[t] = u^(T-t) exactly (dE/da[T] = 1)
    assert flow["linear"] == pytest.approx([1.5 ** i for i in range(12)], rel=1e-12)
    assert flow["sigmoid"][-1] < 1e-4 * flow["sigmoid"][0]      # vanishes (u·g' <= 0.375)
    assert flow["linear"][-1] > 80 * flow["linear"][0]          # explodes
    text = render_gradient_flow(flow, recurrent_weight=1.5)
    assert "|δ[t]| tanh" in text and "86.5" in text


# ------------------------------------------------------------------ commands
def test_demo_rnn(capsys):
    assert main(["demo", "rnn", "--digits", "6"]) == 0
    out = capsys.readouterr().out
    assert "one training step on the sequence 1, 0, 1, 1" in out
    assert "Backward pass through time" in out and "t = 4" in out
    assert "sequences of length 8: 256 of 256 right at every step" in out
    losses = [float(line.split()[1]) for line in out.splitlines()
              if line.strip() and line.split()[0] in ("1", "50", "100") and len(line.split()) == 2]
    assert losses[0] > 1 and losses[-1] < 0.02


def test_rnn_trace_and_train_commands(capsys, tmp_path):
    spec = example_path("rnn")
    assert main(["rnn-trace", spec, "--sample", "12", "--truncation", "2",
                 "--times", "4", "--digits", "5"]) == 0
    out = capsys.readouterr().out
    assert "truncated BPTT, k = 2 steps back" in out and "t = 4" in out and "t = 3\n" not in out
    saved = tmp_path / "trained.json"
    assert main(["rnn-train", spec, "--epochs", "5", "--save", str(saved)]) == 0
    assert "saved the trained network" in capsys.readouterr().out
    net = RecurrentNetwork.from_spec(saved)
    assert net.layers[0].size == 4
    assert main(["rnn-gradient-flow", "--length", "5"]) == 0
    assert "|δ[t]| sigmoid" in capsys.readouterr().out


def test_command_errors_are_one_line(capsys, tmp_path):
    spec = example_path("rnn")
    assert main(["rnn-trace", spec, "--sample", "99"]) == 2
    assert "--sample 99: the file has samples 1 to 16" in capsys.readouterr().err
    bad = tmp_path / "bad.json"
    bad.write_text('{"inputs": 1, "layers": [{"type": "recurrent", "size": 2, '
                   '"recurrent_weights": [[1]]}]}')
    assert main(["rnn-trace", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("neuronsim: error: ") and "recurrent_weights" in err
    assert main(["rnn-trace", spec, "--times", "9"]) == 2
    assert "time step 9" in capsys.readouterr().err


def test_rnn_commands_take_the_bundled_example_by_name(capsys, tmp_path):
    by_path = main(["rnn-trace", example_path("rnn"), "--digits", "6"]), capsys.readouterr()
    for name in ("rnn-parity", "rnn"):
        assert main(["rnn-trace", name, "--digits", "6"]) == 0
        assert capsys.readouterr().out == by_path[1].out
    assert main(["rnn-train", "rnn-parity", "--epochs", "2", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("training rnn-parity: 16 sequences, full BPTT")
    assert main(["rnn-trace", "no-such-example"]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_rnn_learning_rate_takes_fractions_like_the_other_commands(capsys):
    assert main(["rnn-trace", "rnn", "--learning-rate", "1/2", "--sections", "update",
                 "--digits", "6"]) == 0
    fraction = capsys.readouterr().out
    assert "Update after the whole sequence (η = 0.5)" in fraction
    assert main(["rnn-trace", "rnn", "--learning-rate", "0.5", "--sections", "update",
                 "--digits", "6"]) == 0
    assert capsys.readouterr().out == fraction
    assert main(["rnn-train", "rnn", "--learning-rate", "1/4", "--epochs", "1",
                 "--quiet"]) == 0
    assert "learning rate 0.25," in capsys.readouterr().out
    for bad, message in (("0", "--learning-rate: must be a finite number greater than 0, "
                               "got 0"),
                         ("abc", "--learning-rate: expected a number or a fraction such as "
                                 "1/2, got 'abc'"),
                         ("1/0", "--learning-rate: expected a number or a fraction such as "
                                 "1/2, got '1/0'")):
        assert main(["rnn-trace", "rnn", "--learning-rate", bad]) == 2
        assert capsys.readouterr().err == f"neuronsim: error: {message}\n"


def test_rnn_gradient_flow_length_is_capped(capsys):
    for length in ("0", "1001", "100000000"):
        assert main(["rnn-gradient-flow", "--length", length]) == 2
        assert capsys.readouterr().err == (f"neuronsim: error: --length: expected 1 to 1000, "
                                           f"got {length}\n")
    assert main(["rnn-gradient-flow", "--length", "1000", "--recurrent-weight", "0.5"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[2].split()[0] == "1000"     # first row t = T = 1000
    assert main(["rnn-gradient-flow", "--digits", "0"]) == 2
    assert "--digits: expected 1 to 17, got 0" in capsys.readouterr().err


def test_module_docstring_examples():
    import doctest

    import neuronsim.trace.recurrent

    result = doctest.testmod(neuronsim.trace.recurrent, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def test_gradient_flow_plot(tmp_path):
    pytest.importorskip("matplotlib", reason="plotting is optional (pip install matplotlib)")
    from neuronsim.trace.recurrent import plot_gradient_flow

    path = tmp_path / "flow.png"
    plot_gradient_flow(gradient_flow(length=6), str(path))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
