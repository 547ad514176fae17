"""The numpy reference for stacks of layer kinds (neuronsim.crosscheck.vectorized: dense, recurrent, gated, stack)
against torch autograd (1e-12 relative), against central finite differences (1e-6)
and, for a stack without recurrence and one step, against the feed-forward reference.

Two torch computations check it, both float64:

* ``torch_modules``: ``nn.RNN`` (any ``num_layers``) and ``nn.Linear`` blocks run over
  the whole sequence; torch's two biases b_ih + b_hh are our b, and dE/db equals each.
  Outputs, loss and every gradient (with dE/dh0 for a learned initial state).
* ``torch_cells``: the same stack written step by step with torch tensors, whose
  pre-activations z keep their gradients: the deltas.

Truncated BPTT in torch is the definition itself: for each E_t, the state of every
recurrent layer at t-k is detached and the last k steps are run again from it; the
gradients of those E_t are summed.
"""

import numpy as np
import pytest
from catalogue import HIDDEN, PAIRINGS, random_network, random_samples
from strategies import move_off_kinks

from neuronsim.crosscheck import vectorized
from neuronsim.crosscheck.vectorized import (
    activation_backward,
    dense_backward,
    dense_forward,
    recurrent_backward,
    recurrent_forward,
    stack_bptt,
)

RTOL = 1e-12
RTOL_FD = 1e-6
ATOL_FD = 1e-8
M, T = 3, 5


def check(name, ours, theirs, rtol=RTOL, atol=None):
    """Every |ours - theirs| <= atol + rtol·|theirs|; atol defaults to 1e-13 of the
    largest magnitude (sums of a few terms in another order agree to a few ulps of
    their largest term).  The message names the entry and both numbers."""
    ours, theirs = np.asarray(ours, dtype=float), np.asarray(theirs, dtype=float)
    assert ours.shape == theirs.shape, f"{name}: shape {ours.shape}, expected {theirs.shape}"
    assert np.all(np.isfinite(ours)) and np.all(np.isfinite(theirs)), f"{name}: not finite"
    assert theirs.size, f"{name}: nothing to compare"
    if atol is None:
        atol = 1e-13 * max(float(np.max(np.abs(theirs))), float(np.max(np.abs(ours))), 1e-300)
    errors = np.abs(ours - theirs)
    allowed = atol + rtol * np.abs(theirs)
    if not np.all(errors <= allowed):
        worst = np.unravel_index(int(np.argmax(errors / allowed)), errors.shape)
        raise AssertionError(f"{name}{list(worst)}: got {ours[worst]!r}, expected "
                             f"{theirs[worst]!r} (abs error {errors[worst]:.3g})")


# ---------------------------------------------------------------- torch, shared
def torch_activation(torch, spec, Z):
    name = spec["name"] if isinstance(spec, dict) else spec
    if name == "leaky_relu":
        return torch.nn.functional.leaky_relu(Z, spec.get("slope", 0.01) if isinstance(spec, dict)
                                              else 0.01)
    return {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu,
            "linear": lambda z: z, "softmax": lambda z: torch.softmax(z, dim=-1)}[name](Z)


def torch_step_loss(torch, loss, A, Y, Z):
    """E_t per sequence (m,), written with torch's own functions."""
    F = torch.nn.functional
    if loss == "half_sse":
        return 0.5 * ((A - Y) ** 2).sum(-1)
    if loss == "sse":
        return ((A - Y) ** 2).sum(-1)
    if loss == "mse":
        return F.mse_loss(A, Y, reduction="none").mean(-1)
    if loss == "binary_cross_entropy":   # paired with a sigmoid output: from z
        return F.binary_cross_entropy_with_logits(Z, Y, reduction="none").sum(-1)
    if loss == "cross_entropy":          # paired with a softmax output: log-softmax of z
        return -(Y * F.log_softmax(Z, dim=-1)).sum(-1)
    raise ValueError(loss)


def step_weights(mask, step_loss):
    """Each step's weight in its sequence's loss (0 without a target)."""
    weight = mask.astype(float)
    if step_loss == "mean":
        weight = weight / mask.sum(axis=1, keepdims=True)
    return weight


def truncated_window(t, k):
    """(first step run again, whether the initial state is still a variable) for E_t, 0-based t:
    with H[t-k] held constant the steps t-k+1..t are run from it."""
    if k is None:
        return 0, True
    start = t - k + 1
    return max(start, 0), start < 0


# ---------------------------------------------------------------- torch: nn.RNN + nn.Linear
class Blocks:
    """A stack of torch modules: ("rnn", num_layers, nonlinearity, hidden) or
    ("linear", activation, n_out); ``h0`` None, "fixed" or "learned"."""

    def __init__(self, torch, n_in, spec, h0=None, seed=0):
        torch.manual_seed(seed)
        self.torch, self.spec, self.modules, self.h0 = torch, spec, [], []
        n_prev = n_in
        for block in spec:
            if block[0] == "rnn":
                _, layers, nonlinearity, n = block
                module = torch.nn.RNN(n_prev, n, num_layers=layers, nonlinearity=nonlinearity,
                                      batch_first=True).double()
                init = None
                if h0 is not None:
                    init = torch.empty(layers, 1, n, dtype=torch.float64).uniform_(-0.8, 0.8)
                    init.requires_grad_(h0 == "learned")
                self.h0.append(init)
            else:
                n = block[2]
                module = torch.nn.Linear(n_prev, n).double()
                self.h0.append(None)
            with torch.no_grad():   # a little larger than torch's default, for longer paths
                for p in module.parameters():
                    p.uniform_(-0.9, 0.9)
            self.modules.append(module)
            n_prev = n
        self.learned = h0 == "learned"

    def layers(self):
        """Our layer dicts, from the modules' parameters."""
        layers = []
        for block, module, h0 in zip(self.spec, self.modules, self.h0):
            if block[0] == "rnn":
                for i in range(block[1]):
                    def get(name, module=module, i=i):
                        return getattr(module, f"{name}_l{i}").detach().numpy().copy()
                    layers.append({"kind": "recurrent", "W": get("weight_ih"), "U": get("weight_hh"),
                                   "b": get("bias_ih") + get("bias_hh"), "activation": block[2],
                                   "h0": None if h0 is None else h0[i, 0].detach().numpy().copy(),
                                   "learn_h0": self.learned})
            else:
                layers.append({"kind": "dense", "W": module.weight.detach().numpy().copy(),
                               "b": module.bias.detach().numpy().copy(), "activation": block[1]})
        return layers

    def initial_states(self, m, variable):
        """Per block: (num_layers, m, n) initial states, detached unless ``variable``."""
        states = []
        for block, h0 in zip(self.spec, self.h0):
            if block[0] != "rnn":
                states.append(None)
            elif h0 is None:
                states.append(self.torch.zeros(block[1], m, block[3], dtype=self.torch.float64))
            else:
                state = h0.expand(block[1], m, block[3]).contiguous()
                states.append(state if variable else state.detach())
        return states

    def run(self, X, states):
        """Forward through the blocks: (Z of the top layer or None, A of the top layer,
        each block's last state)."""
        A, Z, last = X, None, []
        for block, module, state in zip(self.spec, self.modules, states):
            if block[0] == "rnn":
                A, h_n = module(A, state)
                Z = None
                last.append(h_n)
            else:
                Z = module(A)
                A = torch_activation(self.torch, block[1], Z)
                last.append(None)
        return Z, A, last

    def gradients(self):
        """Per layer of ours, torch's gradients: (dW, db) or (dW, dU, db_ih, db_hh[, dh0])."""
        grads = []
        for block, module, h0 in zip(self.spec, self.modules, self.h0):
            if block[0] == "rnn":
                for i in range(block[1]):
                    def get(name, module=module, i=i):
                        return getattr(module, f"{name}_l{i}").grad.numpy().copy()
                    g = (get("weight_ih"), get("weight_hh"), get("bias_ih"), get("bias_hh"))
                    if self.learned:   # no gradient reaches h0 at all for k = 1
                        g += (np.zeros(block[3]) if h0.grad is None
                              else h0.grad[i, 0].numpy().copy(),)
                    grads.append(g)
            else:
                grads.append((module.weight.grad.numpy().copy(), module.bias.grad.numpy().copy()))
        return grads


def torch_modules(torch, blocks, X, Y, mask, loss, step_loss, reduction, truncation):
    """Loss, outputs and gradients from the torch modules (full or truncated BPTT)."""
    Xt, Yt = torch.tensor(X), torch.tensor(Y)
    weight = torch.tensor(step_weights(mask, step_loss))
    n = X.shape[0] if reduction == "mean" else 1
    Z, A, _ = blocks.run(Xt, blocks.initial_states(X.shape[0], True))
    step_values = torch.stack([torch_step_loss(torch, loss, A[:, t], Yt[:, t],
                                               None if Z is None else Z[:, t])
                               for t in range(X.shape[1])], dim=1)
    total = (step_values * weight).sum() / n
    if truncation is None:
        total.backward()
    else:
        for t in range(X.shape[1]):
            if not mask[:, t].any():
                continue
            start, h0_variable = truncated_window(t, truncation)
            states = blocks.initial_states(X.shape[0], h0_variable)
            if start > 0:
                with torch.no_grad():   # H[t-k] of every recurrent layer, a constant
                    states = blocks.run(Xt[:, :start], states)[2]
            Zw, Aw, _ = blocks.run(Xt[:, start:t + 1], states)
            E_t = torch_step_loss(torch, loss, Aw[:, -1], Yt[:, t],
                                  None if Zw is None else Zw[:, -1])
            ((E_t * weight[:, t]).sum() / n).backward()
    return float(total.detach()), A.detach().numpy(), blocks.gradients()


# ---------------------------------------------------------------- torch: step by step
def torch_cells(torch, layers, X, Y, mask, loss, step_loss, reduction, truncation):
    """The stack step by step in torch tensors; returns (loss, zs, activations, deltas,
    grads), the deltas read from z.grad (times n, to undo the batch reduction)."""
    m, steps = X.shape[:2]
    P = []
    for layer in layers:
        p = {name: torch.tensor(np.asarray(layer[name], dtype=float), requires_grad=True)
             for name in ("W", "U", "b") if name in layer}
        if layer["kind"] == "recurrent":
            h0 = np.zeros(p["W"].shape[0]) if layer.get("h0") is None else layer["h0"]
            p["h0"] = torch.tensor(np.asarray(h0, dtype=float),
                                   requires_grad=bool(layer.get("learn_h0")))
        P.append(p)
    Xt, Yt = torch.tensor(X), torch.tensor(Y)
    weight = torch.tensor(step_weights(mask, step_loss))
    n = m if reduction == "mean" else 1
    top = len(layers) - 1

    def run(first, last, states):
        """Steps first..last from the given states; per step the list of (z, a) per layer."""
        record = []
        for s in range(first, last + 1):
            A, row = Xt[:, s], []
            for l, (layer, p) in enumerate(zip(layers, P)):
                Z = A @ p["W"].T + p["b"]
                if layer["kind"] == "recurrent":
                    Z = Z + states[l] @ p["U"].T
                Z.retain_grad()
                A = torch_activation(torch, layer["activation"], Z)
                if layer["kind"] == "recurrent":
                    states[l] = A
                row.append((Z, A))
            record.append(row)
        return record

    def start_states(variable):
        return [None if p.get("h0") is None else
                (p["h0"] if variable else p["h0"].detach()).expand(m, -1) for p in P]

    def E(row, t):
        Z, A = row[top]
        return (torch_step_loss(torch, loss, A, Yt[:, t], Z) * weight[:, t]).sum() / n

    record = run(0, steps - 1, start_states(True))
    total = sum(E(record[t], t) for t in range(steps) if mask[:, t].any())
    deltas = [np.zeros((m, steps, p["W"].shape[0])) for p in P]
    if truncation is None:
        total.backward()
        for t, row in enumerate(record):
            for l, (Z, _) in enumerate(row):
                if Z.grad is not None:
                    deltas[l][:, t] = Z.grad.numpy() * n
    else:
        for t in range(steps):
            if not mask[:, t].any():
                continue
            start, h0_variable = truncated_window(t, truncation)
            states = start_states(h0_variable)
            if start > 0:   # H[t-k] of every recurrent layer, a constant
                states = [None if s is None else record[start - 1][l][1].detach()
                          for l, s in enumerate(states)]
            window = run(start, t, states)
            E(window[-1], t).backward()
            for s, row in zip(range(start, t + 1), window):
                for l, (Z, _) in enumerate(row):
                    if Z.grad is not None:
                        deltas[l][:, s] += Z.grad.numpy() * n
    zs = [np.stack([record[t][l][0].detach().numpy() for t in range(steps)], 1) for l in range(top + 1)]
    activations = [np.stack([record[t][l][1].detach().numpy() for t in range(steps)], 1)
                   for l in range(top + 1)]
    grads = []
    for layer, p in zip(layers, P):
        g = tuple(np.zeros(p[name].shape) if p[name].grad is None else p[name].grad.numpy()
                  for name in ("W", "U", "b") if name in p)
        if layer.get("learn_h0"):
            g += (p["h0"].grad.numpy() if p["h0"].grad is not None else np.zeros(p["h0"].shape),)
        grads.append(g)
    return float(total.detach()), zs, activations, deltas, grads


# ---------------------------------------------------------------- the cases
CASES = {
    # nn.RNN(num_layers=2, tanh) + nn.Linear, many-to-many
    "rnn2-linear": dict(spec=[("rnn", 2, "tanh", 3), ("linear", "linear", 2)], loss="half_sse"),
    # dense -> recurrent -> dense, sigmoid output with binary cross-entropy
    "dense-rnn-dense": dict(spec=[("linear", "tanh", 4), ("rnn", 1, "tanh", 3),
                                  ("linear", "sigmoid", 2)], loss="binary_cross_entropy"),
    # three recurrent layers in a row, one of them relu; softmax with cross-entropy
    "rnn-relu-rnn-softmax": dict(spec=[("rnn", 1, "tanh", 3), ("rnn", 1, "relu", 4),
                                       ("rnn", 1, "tanh", 3), ("linear", "softmax", 3)],
                                 loss="cross_entropy"),
    # many-to-one, the loss averaged over the steps with a target
    "many-to-one": dict(spec=[("rnn", 2, "tanh", 3), ("linear", "linear", 2)], loss="sse",
                        many_to_one=True, step_loss="mean"),
    # the batch loss a sum over the sequences; step loss a mean over steps with a target
    "reduction-sum": dict(spec=[("linear", {"name": "leaky_relu", "slope": 0.1}, 3),
                                ("rnn", 2, "tanh", 3), ("linear", "softmax", 2)],
                          loss="mse", reduction="sum", step_loss="mean"),
    # initial states: learned, and fixed but not zero
    "learned-h0": dict(spec=[("rnn", 2, "tanh", 3), ("linear", "tanh", 4), ("rnn", 1, "tanh", 2),
                             ("linear", "linear", 2)], loss="half_sse", h0="learned"),
    "fixed-h0": dict(spec=[("rnn", 2, "relu", 3), ("linear", "sigmoid", 2)],
                     loss="binary_cross_entropy", h0="fixed"),
    # a recurrent layer on top, no dense layer after it
    "rnn-on-top": dict(spec=[("linear", "sigmoid", 3), ("rnn", 2, "tanh", 2)], loss="half_sse",
                       h0="learned"),
}
TRUNCATIONS = [None, 1, 2, 3, T, T + 1]


def case_data(name, seed=0):
    case = CASES[name]
    rng = np.random.default_rng(seed + 10)
    n_in, n_out = 2, case["spec"][-1][-1]
    X = rng.uniform(-1, 1, (M, T, n_in))
    if case["loss"] == "cross_entropy":
        Y = np.eye(n_out)[rng.integers(0, n_out, (M, T))]
    else:
        Y = rng.uniform(0.05, 0.95, (M, T, n_out))
    if case.get("many_to_one"):
        mask = np.zeros((M, T), dtype=bool)
        mask[:, -1] = True
    else:
        mask = rng.random((M, T)) < 0.6
        mask[:, -1] = True
        mask[0, 1] = True
    options = {"loss": case["loss"], "step_loss": case.get("step_loss", "sum"),
               "reduction": case.get("reduction", "mean")}
    return case, n_in, X, Y, mask, options


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


@pytest.mark.parametrize("truncation", TRUNCATIONS)
@pytest.mark.parametrize("name", list(CASES))
def test_against_torch_modules(torch, name, truncation):
    """Outputs, loss and every gradient against nn.RNN/nn.Linear under autograd."""
    case, n_in, X, Y, mask, options = case_data(name)
    blocks = Blocks(torch, n_in, case["spec"], case.get("h0"))
    ours = stack_bptt(blocks.layers(), X, Y, mask, truncation=truncation, **options)
    loss, outputs, grads = torch_modules(torch, blocks, X, Y, mask, truncation=truncation,
                                         **options)
    check("outputs", ours.outputs, outputs)
    check("loss", ours.loss, loss)
    assert len(ours.grads) == len(grads)
    for l, (mine, theirs) in enumerate(zip(ours.grads, grads)):
        if len(theirs) == 2:
            check(f"dW[{l}]", mine[0], theirs[0])
            check(f"db[{l}]", mine[1], theirs[1])
            continue
        check(f"dW[{l}]", mine[0], theirs[0])
        check(f"dU[{l}]", mine[1], theirs[1])
        check(f"db[{l}] vs bias_ih", mine[2], theirs[2])
        check(f"db[{l}] vs bias_hh", mine[2], theirs[3])
        assert len(mine) == len(theirs) - 1
        if len(theirs) == 5:
            check(f"dh0[{l}]", mine[3], theirs[4])


@pytest.mark.parametrize("truncation", TRUNCATIONS)
@pytest.mark.parametrize("name", list(CASES))
def test_deltas_against_torch_steps(torch, name, truncation):
    """z, a and δ = dE/dz of every layer at every step against torch tensors run step by
    step (δ of each sequence's own loss; for truncation, the parts the definition keeps)."""
    case, n_in, X, Y, mask, options = case_data(name, seed=1)
    layers = Blocks(torch, n_in, case["spec"], case.get("h0"), seed=1).layers()
    ours = stack_bptt(layers, X, Y, mask, truncation=truncation, **options)
    loss, zs, activations, deltas, grads = torch_cells(torch, layers, X, Y, mask,
                                                       truncation=truncation, **options)
    check("loss", ours.loss, loss)
    for l in range(len(layers)):
        check(f"zs[{l}]", ours.zs[l], zs[l])
        check(f"activations[{l}]", ours.activations[l], activations[l])
        check(f"deltas[{l}]", ours.deltas[l], deltas[l])
        for i, (mine, theirs) in enumerate(zip(ours.grads[l], grads[l])):
            check(f"grads[{l}][{i}]", mine, theirs)


# ---------------------------------------------------------------- more stacks, step by step
def random_layers(rng, kinds, n_in, activations, h0=None):
    layers, n_prev = [], n_in
    for kind, (activation, n) in zip(kinds, activations):
        layer = {"kind": kind, "W": rng.uniform(-1, 1, (n, n_prev)), "b": rng.uniform(-1, 1, n),
                 "activation": activation}
        if kind == "recurrent":
            layer["U"] = rng.uniform(-1, 1, (n, n))
            layer["h0"] = None if h0 is None else rng.uniform(-0.5, 0.5, n)
            layer["learn_h0"] = h0 == "learned"
        layers.append(layer)
        n_prev = n
    return layers


STACKS = {
    # a sigmoid recurrent output layer paired with binary cross-entropy (δ = a - t at its step)
    "recurrent-sigmoid-output": (["dense", "recurrent"],
                                 ["tanh", ("sigmoid", 2)], "binary_cross_entropy", "learned"),
    "leaky-recurrent-between-dense": (["dense", "dense", "recurrent", "dense"],
                                      ["sigmoid", "tanh", {"name": "leaky_relu", "slope": 0.2},
                                       ("linear", 2)], "half_sse", "fixed"),
    # cross-entropy with targets that do not sum to 1: δ = a Σt - t, not a - t
    "softmax-soft-targets": (["dense", "recurrent", "dense"],
                             ["relu", "tanh", ("softmax", 3)], "cross_entropy", "learned"),
    "softmax-unpaired": (["recurrent", "recurrent", "dense"],
                         ["sigmoid", "linear", ("softmax", 3)], "half_sse", None),
}


def stack_case(name, seed=3):
    kinds, activations, loss, h0 = STACKS[name]
    rng = np.random.default_rng(seed)
    widths = [3] * (len(kinds) - 1)
    specs = [(a, w) for a, w in zip(activations[:-1], widths)] + [activations[-1]]
    layers = random_layers(rng, kinds, 2, specs, h0)
    X = rng.uniform(-1, 1, (M, T, 2))
    Y = rng.uniform(0.05, 0.95, (M, T, activations[-1][1]))
    mask = rng.random((M, T)) < 0.5
    mask[:, -1] = True
    return layers, X, Y, mask, loss


@pytest.mark.parametrize("truncation", TRUNCATIONS)
@pytest.mark.parametrize("name", list(STACKS))
def test_more_stacks_against_torch_steps(torch, name, truncation):
    layers, X, Y, mask, loss = stack_case(name)
    for step_loss, reduction in (("sum", "mean"), ("mean", "sum")):
        options = dict(loss=loss, step_loss=step_loss, reduction=reduction, truncation=truncation)
        ours = stack_bptt(layers, X, Y, mask, **options)
        total, _, activations, deltas, grads = torch_cells(torch, layers, X, Y, mask, **options)
        check("loss", ours.loss, total)
        for l in range(len(layers)):
            check(f"activations[{l}]", ours.activations[l], activations[l])
            check(f"deltas[{l}]", ours.deltas[l], deltas[l])
            for i, (mine, theirs) in enumerate(zip(ours.grads[l], grads[l])):
                check(f"grads[{l}][{i}]", mine, theirs)


# ---------------------------------------------------------------- truncation, plainly
def test_truncation_keeps_each_steps_own_error_for_k_1():
    """k = 1: no recurrent path, so δ[t] of a one-neuron recurrent output layer is
    (a[t] - target[t]) g'(z[t]) and dE/dh0 is 0 (H[0] is held constant for E_1)."""
    rng = np.random.default_rng(5)
    layers = random_layers(rng, ["recurrent"], 1, [("tanh", 1)], "learned")
    X, Y = rng.uniform(-1, 1, (1, 4, 1)), rng.uniform(-0.5, 0.5, (1, 4, 1))
    result = stack_bptt(layers, X, Y, np.ones((1, 4), bool), "half_sse", truncation=1)
    A = result.activations[0]
    check("deltas", result.deltas[0], (A - Y) * (1 - A ** 2))
    assert result.grads[0][3].tolist() == [0.0]


def test_weights_full_from_k_equal_T_initial_state_from_k_T_plus_1():
    """k = T already gives the full weight gradients; dE/dh0 needs one more step,
    since for E_T the state H[T-k] = H[0] is then the constant."""
    layers, X, Y, mask, loss = stack_case("recurrent-sigmoid-output")
    full = stack_bptt(layers, X, Y, mask, loss)
    at_T = stack_bptt(layers, X, Y, mask, loss, truncation=T)
    after = stack_bptt(layers, X, Y, mask, loss, truncation=T + 1)
    for l, (g_full, g_T, g_after) in enumerate(zip(full.grads, at_T.grads, after.grads)):
        for i in range(3 if len(g_full) == 4 else len(g_full)):
            check(f"grads[{l}][{i}] k=T", g_T[i], g_full[i])
        for i in range(len(g_full)):
            check(f"grads[{l}][{i}] k=T+1", g_after[i], g_full[i])
    recurrent = [g for g in full.grads if len(g) == 4]
    assert recurrent
    assert not np.allclose(at_T.grads[1][3], full.grads[1][3])


def test_full_initial_state_gradient_is_U_transpose_delta_1():
    """dE/dh0_j = Σ_i u_ij δ_i[1] (summed over the sequences, divided by m)."""
    layers, X, Y, mask, loss = stack_case("recurrent-sigmoid-output")
    result = stack_bptt(layers, X, Y, mask, loss)
    U = layers[1]["U"]
    check("dh0", result.grads[1][3], (result.deltas[1][:, 0] @ U).sum(axis=0) / M)


# ---------------------------------------------------------------- finite differences
def test_against_finite_differences():
    """Every dW, dU, db and dh0 of a dense → recurrent → recurrent → dense stack,
    full BPTT, against central differences of the loss."""
    rng = np.random.default_rng(7)
    layers = random_layers(rng, ["dense", "recurrent", "recurrent", "dense"], 2,
                           [("tanh", 3), ("sigmoid", 3), ("tanh", 2), ("sigmoid", 2)], "learned")
    layers[2]["learn_h0"] = False
    layers[2]["h0"] = rng.uniform(-0.5, 0.5, 2)
    X = rng.uniform(-1, 1, (2, 4, 2))
    Y = rng.uniform(0.05, 0.95, (2, 4, 2))
    mask = np.array([[True, False, True, True], [False, True, False, True]])
    options = dict(loss="binary_cross_entropy", step_loss="mean", reduction="mean")
    result = stack_bptt(layers, X, Y, mask, **options)
    h = 1e-6
    compared = 0
    for l, layer in enumerate(layers):
        names = (["W", "b"] if layer["kind"] == "dense" else
                 ["W", "U", "b"] + (["h0"] if layer.get("learn_h0") else []))
        for name, analytic in zip(names, result.grads[l]):
            numeric = np.zeros_like(analytic)
            for index in np.ndindex(analytic.shape):
                values = []
                for sign in (1, -1):
                    shifted = [dict(L) for L in layers]
                    array = np.array(layer[name], dtype=float)
                    array[index] += sign * h
                    shifted[l][name] = array
                    values.append(stack_bptt(shifted, X, Y, mask, **options).loss)
                numeric[index] = (values[0] - values[1]) / (2 * h)
                compared += 1
            check(f"{name}[{l}]", analytic, numeric, rtol=RTOL_FD, atol=ATOL_FD)
    assert compared == 6 + 3 + 9 + 9 + 3 + 3 + 6 + 4 + 2 + 4 + 2


# ---------------------------------------------------------------- the one-step case
@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("output,loss", PAIRINGS)
@pytest.mark.parametrize("hidden", HIDDEN)
def test_feed_forward_is_the_one_step_case(output, loss, hidden, reduction):
    """No recurrent layer, T = 1: the same a, δ, dW, db and loss as the feed-forward
    reference neuronsim.crosscheck.vectorized.network_gradients."""
    n_out = 3 if output == "softmax" else 2
    net = random_network([3, 4, 3, n_out], hidden, output, loss, seed=4, reduction=reduction)
    samples = random_samples(3, n_out, output, loss, 5, seed=104)
    move_off_kinks(net, [x for x, _ in samples])
    X = np.array([x for x, _ in samples], dtype=float)
    Y = np.array([t for _, t in samples], dtype=float)
    expected = vectorized.network_gradients(net, X, Y)
    layers = []
    for (W, b), layer in zip(net.to_arrays(), net.layers):
        params = {k: float(v) for k, v in layer.activation.params.items()}
        layers.append({"kind": "dense", "W": W, "b": b,
                       "activation": dict(params, name=layer.activation.name) if params
                       else layer.activation.name})
    ours = stack_bptt(layers, X[:, None], Y[:, None], np.ones((len(X), 1), bool), loss,
                      reduction=reduction)
    check("loss", ours.loss, expected.loss)
    for l in range(len(layers)):
        check(f"activations[{l}]", ours.activations[l][:, 0], expected.activations[l])
        check(f"deltas[{l}]", ours.deltas[l][:, 0], expected.deltas[l])
        check(f"dW[{l}]", ours.grads[l][0], expected.dW[l])
        check(f"db[{l}]", ours.grads[l][1], expected.db[l])


# ---------------------------------------------------------------- one step of each kind
def test_one_step_pairs_compose():
    """The per-kind pairs on one step: dense_backward(recurrent ...) gives the
    same numbers as the formulas written out."""
    rng = np.random.default_rng(9)
    rec = {"W": rng.uniform(-1, 1, (3, 2)), "U": rng.uniform(-1, 1, (3, 3)),
           "b": rng.uniform(-1, 1, 3), "activation": "tanh"}
    dense = {"W": rng.uniform(-1, 1, (2, 3)), "b": rng.uniform(-1, 1, 2), "activation": "linear"}
    X, H_prev, dA = rng.uniform(-1, 1, (4, 2)), rng.uniform(-1, 1, (4, 3)), rng.uniform(-1, 1, (4, 2))
    H, rec_cache = recurrent_forward(rec, X, H_prev)
    A, dense_cache = dense_forward(dense, H)
    check("H", H, np.tanh(X @ rec["W"].T + H_prev @ rec["U"].T + rec["b"]))
    check("A", A, H @ dense["W"].T + dense["b"])
    dH, dense_grads = dense_backward(dA, dense_cache)
    check("dense dW", dense_grads["W"], dA.T @ H)
    dX, dH_prev, grads = recurrent_backward(dH, rec_cache)
    delta = (dA @ dense["W"]) * (1 - H ** 2)
    check("delta", grads["Z"], delta)
    check("dU", grads["U"], delta.T @ H_prev)
    check("dH_prev", dH_prev, delta @ rec["U"])
    check("dX", dX, delta @ rec["W"])
    check("softmax Jacobian", activation_backward("softmax", dA, None, np.array([[0.2, 0.8]] * 4)),
          np.array([[0.2, 0.8]] * 4) * (dA - (dA * np.array([[0.2, 0.8]] * 4)).sum(1, keepdims=True)))


@pytest.mark.parametrize("layers,message", [
    ([{"kind": "conv", "W": np.ones((1, 2)), "b": np.ones(1), "activation": "tanh"}], "kind"),
    ([{"kind": "dense", "W": np.ones((1, 3)), "b": np.ones(1), "activation": "tanh"}], "W must"),
    ([{"kind": "recurrent", "W": np.ones((2, 2)), "U": np.ones((2, 2)), "b": np.ones(2),
       "activation": "softmax"}], "softmax"),
    ([{"kind": "recurrent", "W": np.ones((2, 2)), "U": np.ones((2, 1)), "b": np.ones(2),
       "activation": "tanh"}], "U must"),
])
def test_bad_layers_are_named(layers, message):
    with pytest.raises(ValueError, match=message) as error:
        stack_bptt(layers, np.zeros((1, 2, 2)), np.zeros((1, 2, layers[0]["W"].shape[0])),
                   np.ones((1, 2), bool), "half_sse")
    assert "layers[0]" in str(error.value)


def test_bad_options_are_refused():
    layers = [{"kind": "recurrent", "W": np.ones((1, 1)), "U": np.ones((1, 1)), "b": np.ones(1),
               "activation": "tanh"}]
    X, Y = np.zeros((2, 3, 1)), np.zeros((2, 3, 1))
    no_target = np.array([[False, False, True], [False, False, False]])
    with pytest.raises(ValueError, match="at least one step with a target"):
        stack_bptt(layers, X, Y, no_target, "half_sse", step_loss="mean")
    with pytest.raises(ValueError, match="truncation"):
        stack_bptt(layers, X, Y, np.ones((2, 3), bool), "half_sse", truncation=0)
    with pytest.raises(ValueError, match="truncation"):
        stack_bptt(layers, X, Y, np.ones((2, 3), bool), "half_sse", truncation="2")
    with pytest.raises(ValueError, match="targets must have shape"):
        stack_bptt(layers, X, np.zeros((2, 3, 2)), np.ones((2, 3), bool), "half_sse")
    with pytest.raises(ValueError, match="unknown loss"):
        stack_bptt(layers, X, Y, np.ones((2, 3), bool), "hinge")
    # step_loss "sum": a sequence without a target simply adds 0
    result = stack_bptt(layers, X + 0.5, Y + 0.2, no_target, "half_sse", reduction="sum")
    assert result.sequence_losses[1] == 0.0 and result.sequence_losses[0] > 0
    assert not np.any(result.deltas[0][1])
