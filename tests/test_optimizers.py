"""Optimizers, penalties, clipping and schedules against torch.optim, float64, over
100 full-batch updates of a dense network and of a recurrent stack: every parameter
equal to 1e-12 relative.  torch's RNN has two biases: b_hh is 0 and frozen, so our one
bias b is b_ih (tests/test_stacks.py explains why)."""

import numpy as np
import pytest

from neuronsim import Network

torch = pytest.importorskip("torch")
torch.set_num_threads(1)   # tiny tensors: threads only cost time
f64 = torch.float64
RTOL = 1e-12
STEPS = 100

TORCH_OPTIMIZERS = {"sgd": "SGD", "rmsprop": "RMSprop", "adagrad": "Adagrad", "adam": "Adam",
                    "adamw": "AdamW"}
TORCH_SCHEDULES = {"step": "StepLR", "exponential": "ExponentialLR",
                   "cosine": "CosineAnnealingLR", "linear": "LinearLR"}


def relative_error(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


# ------------------------------------------------------------------ the two networks
def dense_pair(seed=0):
    """2-3-2 tanh/linear, 4 samples, half_sse (mean over the batch)."""
    torch.manual_seed(seed)
    layers = [torch.nn.Linear(2, 3, dtype=f64), torch.nn.Linear(3, 2, dtype=f64)]
    X, Y = torch.randn(4, 2, dtype=f64), torch.randn(4, 2, dtype=f64)
    net = Network.from_arrays([l.weight.detach().numpy() for l in layers],
                              [l.bias.detach().numpy() for l in layers],
                              activations=["tanh", "linear"], loss="half_sse")

    def loss():
        out = layers[1](torch.tanh(layers[0](X)))
        return 0.5 * ((out - Y) ** 2).sum() / len(X)

    params = [p for l in layers for p in l.parameters()]
    weights = [l.weight for l in layers]
    samples = list(zip(X.numpy().tolist(), Y.numpy().tolist()))

    def ours_vs_torch():
        arrays = net.to_arrays()
        return [(a, l.weight) for a, l in zip([a[0] for a in arrays], layers)] + \
               [(a, l.bias) for a, l in zip([a[1] for a in arrays], layers)]

    return net, samples, params, weights, loss, ours_vs_torch


def recurrent_pair(seed=1):
    """recurrent (tanh, 3, a learned a[0]) -> recurrent (tanh, 2) -> dense (linear, 1),
    2 sequences of 3 steps, a target at every step."""
    torch.manual_seed(seed)
    rnn = torch.nn.RNN(2, 3, num_layers=1, nonlinearity="tanh", batch_first=True, dtype=f64)
    rnn2 = torch.nn.RNN(3, 2, num_layers=1, nonlinearity="tanh", batch_first=True, dtype=f64)
    linear = torch.nn.Linear(2, 1, dtype=f64)
    for r in (rnn, rnn2):
        with torch.no_grad():
            r.bias_hh_l0.zero_()
        r.bias_hh_l0.requires_grad_(False)
    X, Y = torch.randn(2, 3, 2, dtype=f64), torch.randn(2, 3, 1, dtype=f64)
    h0 = torch.nn.Parameter(0.5 * torch.randn(3, dtype=f64))   # a learned a[0]

    def layer(r):
        return {"type": "recurrent", "activation": "tanh",
                "weights": r.weight_ih_l0.detach().tolist(),
                "recurrent_weights": r.weight_hh_l0.detach().tolist(),
                "biases": r.bias_ih_l0.detach().tolist()}

    first = dict(layer(rnn), initial_state=h0.detach().tolist(), learn_initial_state=True)
    net = Network.from_spec({"inputs": 2, "loss": "half_sse", "layers": [
        first, layer(rnn2), {"activation": "linear",
                                  "weights": linear.weight.detach().tolist(),
                                  "biases": linear.bias.detach().tolist()}]})

    def loss():
        out, _ = rnn(X, h0.expand(1, len(X), 3))
        out, _ = rnn2(out)
        return 0.5 * ((linear(out) - Y) ** 2).sum() / len(X)

    params = [h0, rnn.weight_ih_l0, rnn.weight_hh_l0, rnn.bias_ih_l0,
              rnn2.weight_ih_l0, rnn2.weight_hh_l0, rnn2.bias_ih_l0,
              linear.weight, linear.bias]
    weights = [rnn.weight_ih_l0, rnn.weight_hh_l0, rnn2.weight_ih_l0, rnn2.weight_hh_l0,
               linear.weight]
    samples = list(zip(X.numpy().tolist(), Y.numpy().tolist()))

    def ours_vs_torch():
        (W1, U1, b1, a0), (W2, U2, b2), (W3, b3) = net.to_arrays()
        return [(a0, h0), (W1, rnn.weight_ih_l0), (U1, rnn.weight_hh_l0), (b1, rnn.bias_ih_l0),
                (W2, rnn2.weight_ih_l0), (U2, rnn2.weight_hh_l0), (b2, rnn2.bias_ih_l0),
                (W3, linear.weight), (b3, linear.bias)]

    return net, samples, params, weights, loss, ours_vs_torch


PAIRS = {"dense": dense_pair, "recurrent": recurrent_pair}


def run_both(kind, name, options, lr, *, schedule=None, clip=None, penalty=None,
             epochs=STEPS):
    """Train ours (full batch, no shuffle) and torch the same way; compare every parameter."""
    net, samples, params, weights, loss, ours_vs_torch = PAIRS[kind]()
    if kind == "recurrent":
        lr = lr / 4   # a smaller step keeps training smooth: rounding is not amplified
    if name is not None:
        net.set_optimizer(name, **options)
    if schedule:
        net.set_schedule(schedule[0], **schedule[1])
    if clip:
        net.set_clip(**clip)
    if penalty:
        net.set_penalty(**penalty)
    net.train(samples, epochs=epochs, learning_rate=lr, batch_size=None, shuffle=False)

    torch_options = dict(options)
    if "betas" in torch_options:
        torch_options["betas"] = tuple(torch_options["betas"])
    optimizer_class = getattr(torch.optim, TORCH_OPTIMIZERS[name or "sgd"])
    optimizer = optimizer_class(params, lr=lr, foreach=False, **torch_options)
    scheduler = None
    if schedule:
        scheduler = getattr(torch.optim.lr_scheduler, TORCH_SCHEDULES[schedule[0]])(
            optimizer, **schedule[1])
    for _ in range(epochs):
        optimizer.zero_grad()
        total = loss()
        if penalty:
            total = (total + penalty.get("l1", 0) * sum(w.abs().sum() for w in weights)
                     + penalty.get("l2", 0) / 2 * sum((w ** 2).sum() for w in weights))
        total.backward()
        if clip and "max_norm" in clip:
            torch.nn.utils.clip_grad_norm_(params, clip["max_norm"], foreach=False)
        if clip and "value" in clip:
            torch.nn.utils.clip_grad_value_(params, clip["value"], foreach=False)
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
    for ours, theirs in ours_vs_torch():
        error = relative_error(ours, theirs.detach())
        assert error <= RTOL, (kind, name, options, error)
    if scheduler is not None:
        assert net.schedule.lr == pytest.approx(scheduler.get_last_lr()[0], rel=1e-15)
    return net


CASES = [
    ("sgd", {}, 0.1), ("sgd", {"momentum": 0.9}, 0.05),
    ("sgd", {"momentum": 0.9, "dampening": 0.3}, 0.05),
    ("sgd", {"momentum": 0.8, "nesterov": True}, 0.05),
    ("sgd", {"momentum": 0.9, "weight_decay": 0.01}, 0.05),
    # RMSprop's step g/√v is about ±η whatever the size of g: near a minimum, where g
    # changes sign, the rounding of a tiny g decides the sign; a small η stays away
    ("rmsprop", {}, 0.002), ("rmsprop", {"centered": True}, 0.002),
    ("rmsprop", {"momentum": 0.5}, 0.001),
    ("rmsprop", {"centered": True, "momentum": 0.5, "weight_decay": 0.01, "alpha": 0.9}, 0.001),
    ("adagrad", {}, 0.05), ("adagrad", {"lr_decay": 0.01}, 0.05),
    ("adagrad", {"initial_accumulator_value": 0.1, "weight_decay": 0.01, "eps": 1e-6}, 0.05),
    ("adam", {}, 0.01), ("adam", {"amsgrad": True}, 0.01),
    ("adam", {"weight_decay": 0.01, "betas": [0.8, 0.99]}, 0.01),
    ("adamw", {}, 0.01), ("adamw", {"amsgrad": True, "weight_decay": 0.1}, 0.01),
]


@pytest.mark.parametrize("kind", ["dense", "recurrent"])
@pytest.mark.parametrize("name, options, lr", CASES)
def test_optimizer_equals_torch_over_100_steps(kind, name, options, lr):
    run_both(kind, name, options, lr)


SCHEDULE_CASES = [
    ("step", {"step_size": 7, "gamma": 0.5}), ("exponential", {"gamma": 0.97}),
    ("cosine", {"T_max": 30, "eta_min": 0.001}), ("cosine", {"T_max": 100}),
    ("linear", {"start_factor": 0.25, "end_factor": 1.0, "total_iters": 20}),
]


@pytest.mark.parametrize("kind", ["dense", "recurrent"])
@pytest.mark.parametrize("schedule", SCHEDULE_CASES, ids=lambda s: s[0])
def test_schedule_equals_torch_lr_scheduler(kind, schedule):
    run_both(kind, "adam", {}, 0.02, schedule=schedule)


@pytest.mark.parametrize("kind", ["dense", "recurrent"])
@pytest.mark.parametrize("clip", [{"max_norm": 0.05}, {"max_norm": 100.0}, {"value": 0.02}],
                         ids=["norm", "norm-unused", "value"])
def test_clipping_equals_torch_nn_utils(kind, clip):
    run_both(kind, "sgd", {"momentum": 0.9}, 0.05, clip=clip)


@pytest.mark.parametrize("kind", ["dense", "recurrent"])
@pytest.mark.parametrize("penalty", [{"l2": 0.01}, {"l1": 0.003}, {"l1": 0.002, "l2": 0.02}],
                         ids=["l2", "l1", "both"])
def test_penalty_equals_a_torch_loss_with_the_penalty(kind, penalty):
    net = run_both(kind, "adam", {}, 0.01, penalty=penalty)
    first = net.layers[0].neurons[0]      # the penalty's share: weights only
    assert set(first.penalty_grad) == ({"weights"} if kind == "dense"
                                       else {"weights", "recurrent_weights"})
    assert net.penalty_value() > 0


def test_penalty_and_clipping_without_an_optimizer_are_torch_sgd():
    run_both("dense", None, {}, 0.1, penalty={"l2": 0.05}, clip={"max_norm": 0.1})


def test_without_an_optimizer_nothing_changes_and_no_state_is_kept():
    net, samples, *_ = dense_pair()
    net.train(samples, epochs=5, learning_rate=0.1)
    for layer in net.layers:
        for neuron in layer.neurons:
            assert neuron.optimizer_state is None and neuron.batch_grad is None
    assert net.optimizer is net.schedule is net.clip is net.penalty is None


# ------------------------------------------------------------------ by hand
def test_one_adam_step_by_hand():
    """One weight, g = 0.5, η = 0.1: m = 0.05, v = 0.00025, m̂ = 0.5, v̂ = 0.25,
    θ ← θ − η·m̂/(√v̂ + ε)."""
    net = Network.from_arrays([[[2.0]]], [[0.0]], activations="linear", loss="half_sse",
                              update_biases=False)
    net.set_optimizer("adam")
    net.forward_pass([1.0])
    net.back_prop([1.5])            # dE/dw = (2 - 1.5)·1 = 0.5
    net.update_weights(0.1)
    neuron = net.layers[0].neurons[0]
    state = neuron.optimizer_state["weights"][0]
    assert state["step"] == 1
    assert state["exp_avg"] == pytest.approx(0.05, rel=1e-15)
    assert state["exp_avg_sq"] == pytest.approx(0.00025, rel=1e-15)
    assert neuron.weights[0] == pytest.approx(2.0 - 0.1 * 0.5 / (0.5 + 1e-8), rel=1e-15)


def test_momentum_by_hand_and_exact_in_fraction_mode():
    """SGD momentum 1/2, g = 1/2 twice at θ = 2 - ...: b₁ = g, b₂ = μ·b₁ + g."""
    from fractions import Fraction
    net = Network.from_arrays([[["2"]]], [["0"]], activations="linear", loss="half_sse",
                              update_biases=False, numbers="fraction")
    net.set_optimizer("sgd", momentum=0.5)
    net.forward_pass([1])
    net.back_prop([Fraction(3, 2)])       # g = 1/2
    net.update_weights(Fraction(1, 10))   # b = 1/2, θ = 2 - 1/20
    neuron = net.layers[0].neurons[0]
    assert neuron.optimizer_state["weights"][0]["momentum_buffer"] == Fraction(1, 2)
    assert neuron.weights[0] == Fraction(39, 20)
    net.forward_pass([1])
    net.back_prop([Fraction(3, 2)])       # g = 39/20 - 3/2 = 9/20; b = 1/4 + 9/20 = 7/10
    net.update_weights(Fraction(1, 10))
    assert neuron.optimizer_state["weights"][0]["momentum_buffer"] == Fraction(7, 10)
    assert neuron.weights[0] == Fraction(39, 20) - Fraction(7, 100)


def test_fraction_mode_refuses_square_roots_in_one_sentence():
    from neuronsim.core.errors import NeuronsimError
    net = Network.from_arrays([[["2"]]], [["0"]], activations="linear", loss="half_sse",
                              numbers="fraction")
    with pytest.raises(NeuronsimError, match="square roots.*precise"):
        net.set_optimizer("adam")
    with pytest.raises(NeuronsimError, match="cos"):
        net.set_schedule("cosine", T_max=3)
    net.set_schedule("step", step_size=2, gamma=0.5)   # exact


@pytest.mark.parametrize("name, options", [
    ("adam", {"amsgrad": True}), ("adamw", {}), ("rmsprop", {"centered": True, "momentum": 0.5}),
    ("adagrad", {"lr_decay": 0.01}), ("sgd", {"momentum": 0.9, "nesterov": True})])
def test_precise_mode_agrees_with_float(name, options):
    nets = []
    for numbers in ("float", "precise:40"):
        net, samples, *_ = dense_pair()
        net = Network.from_spec(net.to_spec(), numbers=numbers)
        net.set_optimizer(name, **options).set_schedule("cosine", T_max=10)
        net.set_clip(max_norm=0.5)
        net.train(samples, epochs=10, learning_rate=0.01, batch_size=None, shuffle=False)
        nets.append(net)
    assert relative_error(nets[1].to_arrays()[0][0], nets[0].to_arrays()[0][0]) <= 1e-13
    assert "mpf" in type(nets[1].layers[0].neurons[0].weights[0]).__name__
    assert "mpf" in type(nets[1].schedule.lr).__name__


def one_step(name, **options):
    """w = 2, x = 1, t = 1.5: g = dE/dw = 0.5; one update with η = 0.1."""
    net = Network.from_arrays([[[2.0]]], [[0.0]], activations="linear", loss="half_sse",
                              update_biases=False)
    net.set_optimizer(name, **options)
    net.forward_pass([1.0])
    net.back_prop([1.5])
    net.update_weights(0.1)
    neuron = net.layers[0].neurons[0]
    return neuron.weights[0], neuron.optimizer_state["weights"][0]


def test_first_steps_of_rmsprop_and_adagrad_by_hand():
    w, state = one_step("rmsprop")            # v = 0.01·0.5² = 0.0025, √v = 0.05
    assert state["square_avg"] == pytest.approx(0.0025, rel=1e-14)
    assert w == pytest.approx(2 - 0.1 * 0.5 / (0.05 + 1e-8), rel=1e-15)
    w, state = one_step("adagrad")            # G = 0.25, √G = 0.5
    assert state == {"step": 1, "sum": 0.25}
    assert w == pytest.approx(2 - 0.1 * 0.5 / (0.5 + 1e-10), rel=1e-15)
    w, state = one_step("adamw")              # θ·(1 − 0.1·0.01) first, then Adam's step
    assert w == pytest.approx(2 * (1 - 0.001) - 0.1 * 0.5 / (0.5 + 1e-8), rel=1e-15)
    w, state = one_step("sgd", momentum=0.9, nesterov=True)   # b = g; g + μ·b = 0.95
    assert state == {"momentum_buffer": 0.5} and w == pytest.approx(2 - 0.1 * 0.95, rel=1e-15)
