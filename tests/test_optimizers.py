"""Optimizers, penalties, clipping and schedules against torch.optim, float64, over
100 full-batch updates of a dense network and of a recurrent stack: every parameter
equal to 1e-12 relative.  torch's RNN has two biases: b_hh is 0 and frozen, so our one
bias b is b_ih (tests/test_stacks.py explains why)."""

import numpy as np
import pytest

from neuronsim import Network

torch = pytest.importorskip("torch")
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
    """recurrent (tanh, 3) -> recurrent (tanh, 2) -> dense (linear, 1), 3 sequences of 4
    steps, a target at every step."""
    torch.manual_seed(seed)
    rnn = torch.nn.RNN(2, 3, num_layers=1, nonlinearity="tanh", batch_first=True, dtype=f64)
    rnn2 = torch.nn.RNN(3, 2, num_layers=1, nonlinearity="tanh", batch_first=True, dtype=f64)
    linear = torch.nn.Linear(2, 1, dtype=f64)
    for r in (rnn, rnn2):
        with torch.no_grad():
            r.bias_hh_l0.zero_()
        r.bias_hh_l0.requires_grad_(False)
    X, Y = torch.randn(3, 4, 2, dtype=f64), torch.randn(3, 4, 1, dtype=f64)

    def layer(r):
        return {"type": "recurrent", "activation": "tanh",
                "weights": r.weight_ih_l0.detach().tolist(),
                "recurrent_weights": r.weight_hh_l0.detach().tolist(),
                "biases": r.bias_ih_l0.detach().tolist()}

    net = Network.from_spec({"inputs": 2, "loss": "half_sse", "layers": [
        layer(rnn), layer(rnn2), {"activation": "linear",
                                  "weights": linear.weight.detach().tolist(),
                                  "biases": linear.bias.detach().tolist()}]})

    def loss():
        out, _ = rnn(X)
        out, _ = rnn2(out)
        return 0.5 * ((linear(out) - Y) ** 2).sum() / len(X)

    params = [rnn.weight_ih_l0, rnn.weight_hh_l0, rnn.bias_ih_l0,
              rnn2.weight_ih_l0, rnn2.weight_hh_l0, rnn2.bias_ih_l0,
              linear.weight, linear.bias]
    weights = [rnn.weight_ih_l0, rnn.weight_hh_l0, rnn2.weight_ih_l0, rnn2.weight_hh_l0,
               linear.weight]
    samples = list(zip(X.numpy().tolist(), Y.numpy().tolist()))

    def ours_vs_torch():
        (W1, U1, b1), (W2, U2, b2), (W3, b3) = net.to_arrays()
        return [(W1, rnn.weight_ih_l0), (U1, rnn.weight_hh_l0), (b1, rnn.bias_ih_l0),
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
