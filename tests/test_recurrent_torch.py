"""The per-neuron BPTT against torch.nn.RNN (tanh, one layer, batch_first) + nn.Linear,
in float64: outputs, loss and every gradient to 1e-12 relative.

torch.nn.RNN has two bias vectors, b_ih and b_hh; only their sum enters
z[t], so our b = b_ih + b_hh and dE/db = dE/db_ih = dE/db_hh.  Truncated BPTT
is built in torch from its definition: for each E_t the state a[t-k] is
detached and the last k steps are run again from it.
"""

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="torch is optional (pip install torch==2.13.0)")

from neuronsim.core.recurrent import RecurrentNetwork  # noqa: E402

RTOL = 1e-12


def relative_error(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


def torch_model(seed, n_in, n, n_out):
    torch.manual_seed(seed)
    rnn = torch.nn.RNN(n_in, n, nonlinearity="tanh", num_layers=1, batch_first=True,
                       dtype=torch.float64)
    linear = torch.nn.Linear(n, n_out, dtype=torch.float64)
    return rnn, linear


def ours_from(rnn, linear, output, loss, **options):
    W = rnn.weight_ih_l0.detach().numpy()
    U = rnn.weight_hh_l0.detach().numpy()
    b = (rnn.bias_ih_l0 + rnn.bias_hh_l0).detach().numpy()
    dense = [(linear.weight.detach().numpy(), linear.bias.detach().numpy())]
    return RecurrentNetwork.from_arrays(W, U, b, dense, "tanh", output, loss, **options)


def step_loss(name, y, t):
    """E_t summed over a batch of rows, in torch."""
    if name == "half_sse":
        return 0.5 * ((y - t) ** 2).sum()
    if name == "binary_cross_entropy":   # sigmoid output, computed from z
        return torch.nn.functional.binary_cross_entropy_with_logits(y, t, reduction="sum")
    return torch.nn.functional.cross_entropy(y, t, reduction="sum")   # softmax output


OUTPUTS = {"half_sse": "linear", "binary_cross_entropy": "sigmoid", "cross_entropy": "softmax"}


def targets_for(loss, generator, batch, steps, n_out):
    if loss == "cross_entropy":
        return torch.eye(n_out, dtype=torch.float64)[
            torch.randint(0, n_out, (batch, steps), generator=generator)]
    return torch.rand(batch, steps, n_out, generator=generator, dtype=torch.float64)


def check(net, rnn, linear, X, T, mask, loss_value, outputs, loss):
    batch = X.shape[0]
    for p in (*rnn.parameters(), *linear.parameters()):
        p.grad = None
    ours_outputs, ours_losses = [], []
    for x, t, m in zip(X.numpy(), T.numpy(), mask):
        ours_outputs.append(net.forward_pass(x))
        ours_losses.append(net.back_prop([list(v) if keep else None for v, keep in zip(t, m)]))
    (dW, dU, db), (dV, dc) = net.gradient_arrays()
    loss_value.backward()
    out = outputs.detach()
    if OUTPUTS[loss] != "linear":
        out = torch.sigmoid(out) if loss == "binary_cross_entropy" else torch.softmax(out, -1)
    assert relative_error(ours_outputs, out.numpy()) <= RTOL
    assert relative_error(sum(ours_losses) / batch, loss_value.item()) <= RTOL
    assert relative_error(dW, rnn.weight_ih_l0.grad) <= RTOL
    assert relative_error(dU, rnn.weight_hh_l0.grad) <= RTOL
    assert relative_error(db, rnn.bias_ih_l0.grad) <= RTOL
    assert relative_error(db, rnn.bias_hh_l0.grad) <= RTOL
    assert relative_error(dV, linear.weight.grad) <= RTOL
    assert relative_error(dc, linear.bias.grad) <= RTOL


@pytest.mark.parametrize("loss", list(OUTPUTS))
@pytest.mark.parametrize("seed", range(4))
def test_full_bptt_matches_torch(seed, loss):
    n_in, n, n_out, batch, steps = 2, 3, 2, 3, 1 + seed + (seed // 2) * 2
    rnn, linear = torch_model(seed, n_in, n, n_out)
    generator = torch.Generator().manual_seed(100 + seed)
    X = torch.randn(batch, steps, n_in, generator=generator, dtype=torch.float64)
    T = targets_for(loss, generator, batch, steps, n_out)
    mask = np.ones((batch, steps), dtype=bool)
    if seed % 2:                      # many-to-one
        mask[:, :-1] = False
    H, _ = rnn(X)
    Y = linear(H)
    total = sum(step_loss(loss, Y[:, t], T[:, t]) for t in range(steps) if mask[0, t])
    net = ours_from(rnn, linear, OUTPUTS[loss], loss)
    check(net, rnn, linear, X, T, mask, total / batch, Y, loss)


@pytest.mark.parametrize("k", [1, 2, 3])
def test_truncated_bptt_matches_torch_by_definition(k):
    n_in, n, n_out, batch, steps = 2, 3, 2, 2, 5
    rnn, linear = torch_model(10 + k, n_in, n, n_out)
    generator = torch.Generator().manual_seed(k)
    X = torch.randn(batch, steps, n_in, generator=generator, dtype=torch.float64)
    T = targets_for("half_sse", generator, batch, steps, n_out)
    with torch.no_grad():
        H_full, _ = rnn(X)
    states = torch.cat([torch.zeros(batch, 1, n, dtype=torch.float64), H_full], dim=1)
    total = 0
    for t in range(1, steps + 1):
        start = max(0, t - k)
        h0 = states[:, start].detach().unsqueeze(0)      # a[t-k], a constant for E_t
        H, _ = rnn(X[:, start:t], h0)
        total = total + step_loss("half_sse", linear(H[:, -1]), T[:, t - 1])
    with torch.no_grad():
        Y = linear(H_full)
    net = ours_from(rnn, linear, "linear", "half_sse", truncation=k)
    check(net, rnn, linear, X, T, np.ones((batch, steps), dtype=bool), total / batch, Y,
          "half_sse")


@pytest.mark.parametrize("z_scale", [1.0, 40.0])
@pytest.mark.parametrize("seed", range(3))
def test_sigmoid_recurrent_output_with_bce_matches_torch(seed, z_scale):
    """No dense layer: sigmoid recurrent neurons are the output, binary
    cross-entropy from z (binary_cross_entropy_with_logits), written as an
    autograd loop since torch.nn.RNN has no sigmoid.  z_scale 40 saturates
    the outputs to 0 or 1 in float64: E and every gradient stay finite."""
    n_in, n, batch, steps = 2, 2, 2, 3
    generator = torch.Generator().manual_seed(seed)
    W = (z_scale * torch.randn(n, n_in, generator=generator, dtype=torch.float64))
    U = torch.randn(n, n, generator=generator, dtype=torch.float64)
    b = torch.randn(n, generator=generator, dtype=torch.float64)
    X = torch.sign(torch.randn(batch, steps, n_in, generator=generator, dtype=torch.float64))
    T = torch.rand(batch, steps, n, generator=generator, dtype=torch.float64)
    net = RecurrentNetwork.from_arrays(W.numpy(), U.numpy(), b.numpy(), activation="sigmoid",
                                       loss="binary_cross_entropy")
    W, U, b = (p.clone().requires_grad_(True) for p in (W, U, b))
    h = torch.zeros(batch, n, dtype=torch.float64)
    total = 0
    for t in range(steps):
        z = X[:, t] @ W.T + h @ U.T + b
        total = total + torch.nn.functional.binary_cross_entropy_with_logits(
            z, T[:, t], reduction="sum")
        h = torch.sigmoid(z)
    (total / batch).backward()
    losses = []
    for x, target in zip(X.numpy(), T.numpy()):
        net.forward_pass(x)
        losses.append(net.back_prop(target.tolist()))
    (dW, dU, db), = net.gradient_arrays()
    assert np.isfinite(losses).all() and np.isfinite(dW).all()
    assert relative_error(sum(losses) / batch, (total / batch).item()) <= RTOL
    assert relative_error(dW, W.grad) <= RTOL
    assert relative_error(dU, U.grad) <= RTOL
    assert relative_error(db, b.grad) <= RTOL
