"""The cross-check quantities of a stack with LSTM or GRU layers, computed by torch.

Float64, autograd.  Each layer is torch's own cell, run one step at a time:
``nn.LSTMCell``, ``nn.GRUCell``, ``nn.RNNCell`` (tanh or relu; b_ih = b,
b_hh = 0) or ``nn.Linear`` and its activation module.  To read each gate's
δ = dE/dz from autograd, every cell takes at step t the input
[x[t], e[t]] with weights [W, I]: e[t] is a zero tensor (m, G·n) that adds
itself to the gates' input side, so dE/de[t] is the gates' δ in torch's
order (for the GRU's new gate the input side is z_n = W_n x + b^x_n +
r ⊙ (U_n h + b^h_n), whose δ is dE/dz_n).  A dense layer's δ is the
gradient retained on its z.  A learned h0 (and c0) is a leaf tensor.

Truncated BPTT with k steps is built from its definition, as in
:func:`neuronsim.crosscheck.torch_bridge.torch_stack_results`: E_t is
computed by running steps t-k+1..t again from the states of every recurrent
layer at t-k, detached (the initial states too when t = k).
"""

import numpy as np

from .torch_bridge import _activation_module, _sample_losses, _torch, bptt_runs
from .vectorized import is_paired

#: torch's cell class and number of gates of each kind
CELLS = {"lstm": ("LSTMCell", 4), "gru": ("GRUCell", 3), "recurrent": ("RNNCell", 1)}


def _cell(torch, kind, layer, arrays):
    """torch's cell for ``layer`` with the input weights [W, I] (see the module docstring)."""
    f64 = torch.float64
    name, gates = CELLS[kind]
    W, U = arrays[0], arrays[1]
    rows, n_in = W.shape
    n = rows // gates
    if kind == "recurrent":
        b_ih, b_hh = arrays[2], np.zeros(rows)
        g = layer.activation.name
        if g not in ("tanh", "relu"):
            raise ValueError(f"torch.nn.RNNCell has tanh and relu only, not {g}")
        cell = torch.nn.RNNCell(n_in + rows, n, nonlinearity=g, dtype=f64)
    else:
        b_ih, b_hh = arrays[2], arrays[3]
        cell = getattr(torch.nn, name)(n_in + rows, n, dtype=f64)
    with torch.no_grad():
        cell.weight_ih.copy_(torch.tensor(np.hstack([W, np.eye(rows)]), dtype=f64))
        cell.weight_hh.copy_(torch.tensor(U, dtype=f64))
        cell.bias_ih.copy_(torch.tensor(b_ih, dtype=f64))
        cell.bias_hh.copy_(torch.tensor(b_hh, dtype=f64))
    return cell, rows


def torch_gated_results(net, X, targets, mask):
    """The cross-check dict (``activations``, ``deltas``, ``dW``, ``dU``, ``db``,
    ``db_hh``, ``da0``, ``dc0``, ``loss``) of ``net``, any stack of dense,
    Elman, LSTM and GRU layers, by torch.  ``X`` (m, T, n_in), ``targets``
    (m, T, n_out), ``mask`` (m, T)."""
    torch = _torch()
    f64 = torch.float64
    m, steps, _ = X.shape
    stack, initial = [], []
    for layer, arrays in zip(net.layers, net.to_arrays()):
        if layer.kind == "dense":
            linear = torch.nn.Linear(arrays[0].shape[1], arrays[0].shape[0], dtype=f64)
            with torch.no_grad():
                linear.weight.copy_(torch.tensor(arrays[0], dtype=f64))
                linear.bias.copy_(torch.tensor(arrays[1], dtype=f64))
            stack.append(("dense", linear, _activation_module(torch.nn, layer.activation), 0))
            initial.append(())
            continue
        cell, rows = _cell(torch, layer.kind, layer, arrays)
        stack.append((layer.kind, cell, None, rows))
        names = ("initial_state", "initial_cell") if layer.kind == "lstm" else ("initial_state",)
        learn = bool(layer.learn_initial_state)
        values = [getattr(layer, name) for name in names]
        initial.append(tuple(
            torch.tensor([0.0] * layer.size if value is None
                         else [float(v) for v in value], dtype=f64).requires_grad_(learn)
            for value in values))
    inputs = torch.tensor(X, dtype=f64)
    goal = torch.tensor(targets, dtype=f64)
    weight = mask.astype(float)
    if net.step_loss == "mean":
        weight = weight / mask.sum(axis=1, keepdims=True)
    weight = torch.tensor(weight, dtype=f64)
    paired = is_paired(net.loss.name, net.layers[-1].activation.name)

    def run(start, stop, states, keep):
        """Steps start..stop-1 from ``states``; per step (the tensors whose grad is δ,
        activations, output z), and the last states."""
        states = list(states)
        record = []
        for s in range(start, stop):
            a, probes, activations = inputs[:, s], [], []
            for l, (kind, module, activation, rows) in enumerate(stack):
                if kind == "dense":
                    z = module(a)
                    a = z if activation is None else activation(z)
                    if keep:
                        z.retain_grad()
                    probes.append(z)
                else:
                    e = torch.zeros((m, rows), dtype=f64, requires_grad=keep)
                    x = torch.cat([a, e], dim=1)
                    if kind == "lstm":
                        h, c = module(x, tuple(states[l]))
                        states[l] = (h, c)
                    else:
                        h = module(x, states[l][0])
                        states[l] = (h,)
                    a = z = h
                    probes.append(e)
                activations.append(a)
            record.append((probes, activations, z))
        return record, states

    def loss_at(s, entry):
        _, activations, z = entry
        return (_sample_losses(torch, net.loss.name, paired, z, activations[-1], goal[:, s])
                * weight[:, s]).sum()

    start_states = [tuple(v.expand(m, len(v)) for v in states) for states in initial]
    forward, runs, total = bptt_runs(torch, run, steps, start_states, net.truncation, mask,
                                     loss_at, lambda state: tuple(v.detach() for v in state))
    total.backward()
    n = m if net.reduction == "mean" else 1
    activations = [torch.stack([step[1][l] for step in forward], dim=1).numpy()
                   for l in range(len(stack))]
    deltas = [np.zeros((m, steps, rows or activations[l].shape[2]))
              for l, (_, _, _, rows) in enumerate(stack)]
    for start, record in runs:
        for offset, (probes, _, _) in enumerate(record):
            for l, probe in enumerate(probes):
                if probe.grad is not None:
                    deltas[l][:, start + offset] += probe.grad.numpy()

    def grad(parameter, columns=None):
        value = np.zeros(tuple(parameter.shape)) if parameter.grad is None else \
            parameter.grad.numpy() / n
        return value if columns is None else value[:, :columns]

    results = {key: [] for key in ("dW", "dU", "db", "db_hh", "da0", "dc0")}
    for (kind, module, _, rows), states, layer in zip(stack, initial, net.layers):
        if kind == "dense":
            given = {"dW": grad(module.weight), "db": grad(module.bias)}
        else:
            given = {"dW": grad(module.weight_ih, module.weight_ih.shape[1] - rows),
                     "dU": grad(module.weight_hh), "db": grad(module.bias_ih)}
            if kind != "recurrent":
                given["db_hh"] = grad(module.bias_hh)
            if layer.learn_initial_state:
                given.update(zip(("da0", "dc0"), (grad(v) for v in states)))
        for key in results:
            results[key].append(given.get(key))
    results.update(activations=activations, deltas=deltas, loss=float(total.detach()) / n)
    return results
