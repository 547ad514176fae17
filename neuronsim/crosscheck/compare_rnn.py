"""Cross-checking backpropagation through time: :func:`neuronsim.crosscheck.compare.compare`
for a :class:`~neuronsim.core.recurrent.RecurrentNetwork`.

The feed-forward machinery (rows, report, result files) lives in
:mod:`neuronsim.crosscheck.compare`; this module adds the recurrent batch, the
candidates (numpy BPTT, torch.nn.RNN, user code, .npz), the per-step rows
and the BPTT diagnosis.
"""

import os

import numpy as np

from ..core.errors import ShapeError
from ..core.labels import (
    bias_label,
    neuron_label,
    partial_label,
    symbol,
    weight_label,
    weight_superscript,
)
from .results import (
    RECURRENT_QUANTITIES,
    Report,
    Row,
    _against_name,
    _name_of,
    _number,
    _superscript,
    check_results,
    copy_network,
    entry_errors,
    load_results,
)

# Recurrent networks
# A RecurrentNetwork (neuronsim.core.recurrent) is checked step by step.  Arrays:
#   X (m, T, n_in): m sequences of T steps;
#   Y (m, T, n_out): a target per step (a row of NaNs = no target at that step),
#     or Y (m, n_out): the target of the last step only (many-to-one);
#   activations[l], deltas[l]: (m, T, n_l), layer l = 0 the recurrent layer;
#     deltas are dE/dz of each sequence's own loss (before the batch reduction);
#   dW[l], db[l], dU: the reduced batch gradient, as net.gradient_arrays().
# Computation order: a of every layer at t = 1, then at t = 2, ...; E; then
# backward from t = T: δ of the dense layers (output first) and of the
# recurrent layer at T, then at T-1, ...; then the gradients (sums over t) from
# the output layer back, the recurrent layer's dW, dU, db last.


def is_recurrent(net):
    """True for a network with a recurrent layer (it reads sequences)."""
    return getattr(net, "is_sequential", False)


def check_comparable(net):
    """This comparison lays out one recurrent first layer and dense layers after
    it; other stacks are refused in one line rather than compared wrongly."""
    kinds = [layer.kind for layer in net.layers]
    if kinds[0] != "recurrent" or "recurrent" in kinds[1:] or net.layers[0].learn_initial_state:
        raise ShapeError(
            "crosscheck compares a recurrent first layer (with a fixed initial state) "
            f"followed by dense layers; this network's layers are {', '.join(kinds)} "
            "(use gradcheck, or neuronsim.crosscheck.vectorized_stack, for other stacks)")


def sequence_batch(net, X, Y):
    """Check X, Y of a recurrent network; returns X, Y (float arrays), the
    targets (m, T, n_out; 0 where a step has none) and the mask (m, T)."""
    try:
        X = np.array(X, dtype=float)
        Y = np.array(Y, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ShapeError(f"X, Y: expected arrays of numbers ({exc})") from None
    n_in, n_out = net.n_inputs, net.n_outputs
    if X.ndim != 3 or X.shape[2] != n_in or 0 in X.shape:
        raise ShapeError(f"X: expected shape (m, T, {n_in}) (m sequences of T steps, "
                         f"m, T >= 1), got {X.shape}")
    m, steps, _ = X.shape
    if np.isnan(X).any():
        raise ShapeError("X: has NaN entries")
    if Y.shape == (m, n_out):                  # many-to-one: the last step's target
        if np.isnan(Y).any():
            raise ShapeError("Y: has NaN entries (only per-step targets may mark a step "
                             "without target by a row of NaNs)")
        targets = np.zeros((m, steps, n_out))
        targets[:, -1] = Y
        mask = np.zeros((m, steps), dtype=bool)
        mask[:, -1] = True
        return X, Y, targets, mask
    if Y.shape != (m, steps, n_out):
        raise ShapeError(f"Y: expected shape ({m}, {steps}, {n_out}) (a target per step) or "
                         f"({m}, {n_out}) (the last step's target), got {Y.shape}")
    missing = np.isnan(Y)
    mask = ~missing.all(axis=2)
    if (missing.any(axis=2) & mask).any():
        i, t = np.argwhere(missing.any(axis=2) & mask)[0]
        raise ShapeError(f"Y[{i}, {t}]: some entries are NaN; a step without target is a "
                         "row of NaNs only")
    if not mask.any(axis=1).all():
        i = int(np.argmin(mask.any(axis=1)))
        raise ShapeError(f"Y[{i}]: no step has a target")
    return X, Y, np.where(missing, 0.0, Y), mask


def sequence_arrays(samples):
    """X, Y arrays from a recurrent network file's samples (all of one length).

    A many-to-one sample's target goes to the last step; if every sample is
    many-to-one, Y is (m, n_out), else (m, T, n_out) with NaN rows for "no
    target".
    """
    if not samples:
        raise ShapeError("no samples")
    lengths = [len(sample["input"]) for sample in samples]
    if len(set(lengths)) > 1:
        i = next(i for i, n in enumerate(lengths) if n != lengths[0])
        raise ShapeError(f"the cross-check takes sequences of one length: samples[0] has "
                         f"{lengths[0]} steps, samples[{i}] has {lengths[i]}")
    steps = lengths[0]

    def per_step(target):
        return isinstance(target[0], (list, tuple)) or target[0] is None

    try:
        X = np.array([sample["input"] for sample in samples], dtype=float)
        if not any(per_step(sample["target"]) for sample in samples):
            return X, np.array([sample["target"] for sample in samples], dtype=float)
        rows = []
        for sample in samples:
            target = sample["target"]
            if not per_step(target):
                target = [None] * (steps - 1) + [target]
            rows.append([[np.nan] * len(next(v for v in target if v is not None))
                         if v is None else v for v in target])
        return X, np.array(rows, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ShapeError(f"samples: expected numbers ({exc})") from None


def _target_lists(Y, mask):
    """The targets of each sequence as RecurrentNetwork.back_prop takes them."""
    if Y.ndim == 2:
        return [row.tolist() for row in Y]
    return [[v.tolist() if keep else None for v, keep in zip(rows, keeps)]
            for rows, keeps in zip(Y, mask)]


class RecurrentBatch:
    """The per-neuron reference for a batch of sequences, arrays (m, T, n_l).

    ``activations``, ``deltas`` per layer (recurrent first); for the
    recurrent layer also ``output_paths`` (e[t] = ∂E_t/∂a[t]), ``output_grads``
    (dE/da[t] = e[t] + r[t]) and ``derivatives`` (g'(z[t])); ``states``
    (m, T+1, n: a[0..T]); ``step_losses`` (m, T, 0 where no target, times
    1/n_T for step_loss "mean"); ``dW``, ``db`` per layer, ``dU``; ``loss``.
    """

    def __init__(self, **fields):
        self.__dict__.update(fields)


def per_neuron_sequences(net, X, Y, mask):
    """Run every sequence through a copy of the recurrent ``net`` (BPTT with its
    own truncation); ``net`` itself is not touched."""
    check_comparable(net)
    copy = copy_network(net)
    per_step = {"output_paths": "output_path", "output_grads": "output_grad",
                "derivatives": "derivative", "deltas": "delta"}
    fields = {name: [] for name in ["states", "step_losses", *per_step]}
    dense = range(1, len(copy.layers))
    dense_a = [[] for _ in dense]
    dense_delta = [[] for _ in dense]
    sequence_losses = []
    for x, targets in zip(X, _target_lists(Y, mask)):
        copy.forward_pass(x.tolist())
        sequence_losses.append(copy.back_prop(targets))
        fields["states"].append(copy.states_of(0))
        for name, attribute in per_step.items():
            fields[name].append([[getattr(r, attribute) for r in step[0]]
                                 for step in copy.history])
        scale = 1.0 / sum(v is not None for v in copy.step_losses) \
            if copy.step_loss == "mean" else 1.0
        fields["step_losses"].append([0.0 if v is None else v * scale for v in copy.step_losses])
        for i, l in enumerate(dense):
            dense_a[i].append([[s.output for s in step[l]] for step in copy.history])
            dense_delta[i].append([[0.0 if s.delta is None else s.delta for s in step[l]]
                                   for step in copy.history])
    arrays = {name: np.array(rows, dtype=float) for name, rows in fields.items()}
    grads = copy.gradient_arrays()
    n = len(X) if copy.reduction == "mean" else 1
    return RecurrentBatch(
        inputs=X, mask=mask,
        activations=[arrays["states"][:, 1:]] + [np.array(a, dtype=float) for a in dense_a],
        deltas=[arrays["deltas"]] + [np.array(d, dtype=float) for d in dense_delta],
        states=arrays["states"], output_paths=arrays["output_paths"],
        output_grads=arrays["output_grads"], derivatives=arrays["derivatives"],
        step_losses=arrays["step_losses"],
        dW=[grads[0][0]] + [g for g, _ in grads[1:]], dU=grads[0][1],
        db=[grads[0][2]] + [g for _, g in grads[1:]],
        loss=float(sum(sequence_losses) / n))


# ---------------------------------------------------------------- the other side
def recurrent_candidate(net, X, Y, targets, mask, against):
    """The results dict of ``against`` for a recurrent network.

    A function is called as ``f(W, U, b, dense, X, Y)``: W (n, n_in) the
    recurrent layer's input weights (``torch.nn.RNN.weight_ih_l0``), U (n, n)
    its recurrent weights (row j = the weights into neuron j from each neuron
    of the layer at t-1, ``weight_hh_l0``), b (n,) its bias (torch's
    ``bias_ih_l0 + bias_hh_l0``), ``dense`` = [(W_l, b_l), ...] the dense
    layers, X (m, T, n_in) and Y as given (copies).
    """
    n_layers = len(net.layers)
    if isinstance(against, str) and against == "numpy":
        from .vectorized import recurrent_network_gradients

        return recurrent_network_gradients(net, X, targets, mask).as_dict()
    if isinstance(against, str) and against == "torch":
        return torch_recurrent_results(net, X, targets, mask)
    if callable(against):
        (W, U, b), dense = net.to_arrays()[0], net.to_arrays()[1:]
        results = against(W, U, b, [(Wl.copy(), bl.copy()) for Wl, bl in dense],
                          X.copy(), Y.copy())
        return check_results(results, n_layers, _name_of(against), RECURRENT_QUANTITIES)
    if isinstance(against, (str, os.PathLike)):
        return load_results(against, n_layers, recurrent=True)
    raise ValueError(f"against: expected 'numpy', 'torch', a function or an .npz path, "
                     f"got {against!r}")


def torch_recurrent_results(net, X, targets, mask):
    """The recurrent cross-check quantities computed by ``torch.nn.RNN`` + ``nn.Linear``.

    float64; the RNN gets b_ih = b, b_hh = 0.  The RNN is run one step at a
    time (``rnn(X[:, t:t+1], h)``) so that autograd's dE/da[t] of every
    state is kept; δ[t] = dE/da[t] · g'(z[t]).  Truncated BPTT with k steps is
    built from its definition: E_t is computed from the state a[t-k], detached.
    """
    from .torch_bridge import _activation_module, _sample_losses, _torch
    from .vectorized import is_paired

    torch = _torch()
    name = net.layers[0].activation.name
    if name not in ("tanh", "relu"):
        raise ValueError(f"torch.nn.RNN has tanh and relu recurrent layers only; this "
                         f"network's recurrent layer is {name}")
    f64 = torch.float64
    arrays = net.to_arrays()
    (W, U, b), dense = arrays[0], arrays[1:]
    m, steps, n_in = X.shape
    rnn = torch.nn.RNN(n_in, len(b), nonlinearity=name, batch_first=True, dtype=f64)
    linears = []
    with torch.no_grad():
        for parameter, value in ((rnn.weight_ih_l0, W), (rnn.weight_hh_l0, U),
                                 (rnn.bias_ih_l0, b), (rnn.bias_hh_l0, np.zeros_like(b))):
            parameter.copy_(torch.tensor(value, dtype=f64))
        for (Wl, bl), layer in zip(dense, net.layers[1:]):
            linear = torch.nn.Linear(Wl.shape[1], Wl.shape[0], dtype=f64)
            linear.weight.copy_(torch.tensor(Wl, dtype=f64))
            linear.bias.copy_(torch.tensor(bl, dtype=f64))
            linears.append((linear, _activation_module(torch.nn, layer.activation)))
    inputs = torch.tensor(X, dtype=f64)
    goal = torch.tensor(targets, dtype=f64)
    weight = mask.astype(float)
    if net.step_loss == "mean":
        weight = weight / mask.sum(axis=1, keepdims=True)
    weight = torch.tensor(weight, dtype=f64)
    initial = net.layers[0].initial_state
    h0 = torch.zeros(m, len(b), dtype=f64) if initial is None else \
        torch.tensor([float(v) for v in initial], dtype=f64).expand(m, len(b))
    paired = bool(dense) and is_paired(net.loss.name, net.layers[-1].activation.name)

    def run(start, stop, h, keep):
        states = []
        for s in range(start, stop):
            out, _ = rnn(inputs[:, s:s + 1], h.unsqueeze(0).contiguous())
            h = out[:, 0]
            if keep:
                h.retain_grad()
            states.append(h)
        return states

    def head(h, keep):
        zs, activations, a = [], [], h
        for linear, module in linears:
            z = linear(a)
            if keep:
                z.retain_grad()
            a = z if module is None else module(z)
            zs.append(z)
            activations.append(a)
        return zs, activations

    def step_loss(zs, activations, h, s):
        z, a = (zs[-1], activations[-1]) if linears else (h, h)
        return (_sample_losses(torch, net.loss.name, paired, z, a, goal[:, s])
                * weight[:, s]).sum()

    k = net.truncation
    runs, heads, total = [], {}, 0
    if k is None or k >= steps:
        states = run(0, steps, h0, True)
        runs.append((0, states))
        for s, h in enumerate(states):
            heads[s] = head(h, True)
            if mask[:, s].any():
                total = total + step_loss(*heads[s], h, s)
    else:
        with torch.no_grad():
            states = run(0, steps, h0, False)
        for s in range(steps):
            if not mask[:, s].any():
                continue
            start = max(0, s - k + 1)
            again = run(start, s + 1, h0 if start == 0 else states[start - 1].detach(), True)
            runs.append((start, again))
            heads[s] = head(again[-1], True)
            total = total + step_loss(*heads[s], again[-1], s)
    total.backward()
    with torch.no_grad():
        a_values = torch.stack([h.detach() for h in states], dim=1).numpy()
        dense_a = [torch.stack([head(h, False)[1][l] for h in states], dim=1).numpy()
                   for l in range(len(linears))]
    prime = 1.0 - a_values ** 2 if name == "tanh" else (a_values > 0).astype(float)
    dE_da = np.zeros_like(a_values)
    for start, again in runs:
        for offset, h in enumerate(again):
            if h.grad is not None:
                dE_da[:, start + offset] += h.grad.numpy()
    dense_deltas = [np.zeros_like(A) for A in dense_a]
    for s, (zs, _) in heads.items():
        for l, z in enumerate(zs):
            if z.grad is not None:
                dense_deltas[l][:, s] = z.grad.numpy()
    n = m if net.reduction == "mean" else 1

    def grad(parameter):
        return np.zeros(tuple(parameter.shape)) if parameter.grad is None else \
            parameter.grad.numpy() / n

    return {"activations": [a_values] + dense_a,
            "deltas": [dE_da * prime] + dense_deltas,
            "dW": [grad(rnn.weight_ih_l0)] + [grad(linear.weight) for linear, _ in linears],
            "dU": grad(rnn.weight_hh_l0),
            "db": [grad(rnn.bias_ih_l0)] + [grad(linear.bias) for linear, _ in linears],
            "loss": float(total.detach()) / n}


# ---------------------------------------------------------------- rows
def _u_label(j, i, convention):
    """u_ji^(2): into recurrent neuron j from neuron i of the layer at t-1.

    The superscript is 2 in both conventions: u feeds layer 2 (nielsen) and
    comes from layer 2 at t-1 (ng, superscript = the layer a weight comes from).
    """
    return "u" + symbol("w", (j + 1, i + 1), 2)[1:]


def build_recurrent_rows(reference, candidate, tolerance, atol, convention="nielsen"):
    """The rows of a recurrent network in computation order (see above)."""
    n_layers = len(reference.activations)
    steps = reference.mask.shape[1]
    rows = []

    def add(quantity, layer, step, name, ref, given, label_entry):
        row = Row(quantity, layer, name, ref, given, tolerance, atol, label_entry)
        row.step = step
        rows.append(row)

    # per-step arrays: a wrong shape fails once, at the first row of that layer
    sliced = {}
    for quantity in ("activations", "deltas"):
        given = candidate.get(quantity)
        for l in range(n_layers):
            expected = getattr(reference, quantity)[l].shape
            array = None if given is None else given[l]
            if array is not None and array.shape != expected and \
                    np.squeeze(array).shape == np.squeeze(np.empty(expected)).shape:
                array = array.reshape(expected)
            sliced[quantity, l] = array

    def step_row(quantity, l, s, symbol_name):
        array = sliced[quantity, l]
        ref = getattr(reference, quantity)[l]
        name = symbol_name + _superscript(l + 2) + f"[{s + 1}]"
        kind = "a" if quantity == "activations" else "delta"
        label = (lambda i, l=l, s=s:
                 f"{neuron_label(kind, l, i[1])}[{s + 1}] of X[{i[0]}]")
        if array is not None and array.shape != ref.shape:
            first = s == (0 if quantity == "activations" else steps - 1)
            add(quantity, l, None if first else s, name if not first else
                symbol_name + _superscript(l + 2), ref if first else ref[:, s],
                array if first else None, label)
            return
        add(quantity, l, s, name, ref[:, s], None if array is None else array[:, s], label)

    for s in range(steps):
        for l in range(n_layers):
            step_row("activations", l, s, "a")
    add("loss", None, None, "E", reference.loss, candidate.get("loss"), lambda i: "E")
    for s in range(steps - 1, -1, -1):
        for l in range(n_layers - 1, -1, -1):
            step_row("deltas", l, s, "δ")
    for l in range(n_layers - 1, -1, -1):
        sup = _superscript(weight_superscript(l, convention))
        given = candidate.get("dW")
        add("dW", l, None, "dE/dW" + sup, reference.dW[l], None if given is None else given[l],
            lambda i, l=l: partial_label(weight_label(l, i[0], i[1], convention)))
        if l == 0:
            add("dU", 0, None, "dE/dU" + _superscript(2), reference.dU, candidate.get("dU"),
                lambda i: partial_label(_u_label(i[0], i[1], convention)))
        given = candidate.get("db")
        add("db", l, None, "dE/db" + sup, reference.db[l], None if given is None else given[l],
            lambda i, l=l: partial_label(bias_label(l, i[0], convention)))
    return rows


# ---------------------------------------------------------------- diagnosis
def diagnose_recurrent(net, reference, X, targets, mask, row):
    """Findings that explain the first failing ``row`` of a recurrent
    cross-check, and the text for the report.

    Rebuilds the row's quantity the way each BPTT mistake would (from the
    reference values before it, which agree) and names those that reproduce
    the numbers: the recurrent term missing in z[t] or in δ[t], U the wrong way
    round, g' missing, a gradient with one step's contribution instead of the
    sum over t, a[t] instead of a[t-1] in dE/dU, BPTT truncated at another k
    (or full where the network truncates), a transposed gradient, and constant
    factors (m, T, 2, -1).
    """
    from .diagnosis import Finding
    from .vectorized_rnn import (
        _activation_spec,
        apply_activation,
        recurrent_network_gradients,
    )

    R, C = row.reference, row.candidate
    if row.shape_note:
        if C.T.shape == R.shape and np.allclose(C.T, R, rtol=max(row.tolerance, 1e-9),
                                                atol=max(row.atol, 1e-12)):
            finding = Finding("transposed", f"{row.name} is ours transposed ({row.shape_note}): "
                                            "write the gradient as Δᵀ A_prev, shape (n_l, n_(l-1))")
            return [finding], finding.message
        return ([Finding("shape", f"{row.name} has {row.shape_note}")],
                f"{row.name} has {row.shape_note}; fix the layout first (the arrays are "
                "(m, T, n_l) per layer, gradients in the shape of their parameters)")
    scale = float(np.max(np.abs(R))) if R.size else 0.0
    tolerance = max(row.tolerance, 1e-9)
    atol = max(row.atol, 1e-12 * max(1.0, scale if np.isfinite(scale) else 1.0))

    def close(variant):
        variant = np.asarray(variant, dtype=float)
        return variant.shape == C.shape and bool(
            np.all(entry_errors(C, variant) <= atol + tolerance * np.abs(variant)))

    m, steps = mask.shape
    n = m if net.reduction == "mean" else 1
    arrays = net.to_arrays()
    (W, U, b), dense = arrays[0], arrays[1:]
    specs = [_activation_spec(layer.activation) for layer in net.layers]
    states, D = reference.states, reference.deltas[0]
    truncation = net.truncation if net.truncation is None or net.truncation < steps else None
    method = "full BPTT" if truncation is None else f"BPTT truncated at k = {truncation}"
    variants = []          # (code, message, array), most specific first

    def truncations():
        for k in [None] + list(range(1, min(steps, 30))):
            if k == truncation:
                continue
            other = recurrent_network_gradients(net, X, targets, mask, truncation=k)
            if k is None:
                text = f"full BPTT, but the network uses {method}"
            else:
                text = (f"BPTT truncated at k = {k} step{'s' if k > 1 else ''} (each E_t "
                        f"followed back only {k} step{'s' if k > 1 else ''}), but the network "
                        f"uses {method}")
                if k == 1:
                    text += "; with k = 1 δ[t] has no recurrent path from t+1 at all"
            yield k, other, text

    q, l, s = row.quantity, row.layer, row.step
    t = None if s is None else s + 1
    if q == "activations" and l == 0:
        x, a_prev = X[:, s], states[:, s]
        g = specs[0]
        variants += [
            ("recurrent_term_missing", f"a⁽²⁾[{t}] is computed without the recurrent term: "
             "z[t] = W x[t] + b, the U a[t-1] part is missing",
             apply_activation(g, x @ W.T + b)),
            ("recurrent_transposed", f"z⁽²⁾[{t}] uses U the wrong way round: a[t-1] U (Uᵀ "
             "a[t-1]) instead of a[t-1] Uᵀ (row j of U = the weights into neuron j)",
             apply_activation(g, x @ W.T + a_prev @ U + b)),
            ("bias_missing", f"a⁽²⁾[{t}] is computed without the bias b",
             apply_activation(g, x @ W.T + a_prev @ U.T)),
            ("activation_missing", f"a⁽²⁾[{t}] = z[t]: the activation g is not applied",
             x @ W.T + a_prev @ U.T + b)]
    elif q == "activations":
        a_prev = reference.activations[l - 1][:, s]
        Wl, bl = dense[l - 1]
        variants += [
            ("bias_missing", f"{row.name} is computed without the bias",
             apply_activation(specs[l], a_prev @ Wl.T)),
            ("activation_missing", f"{row.name} = z: the activation is not applied",
             a_prev @ Wl.T + bl)]
    elif q == "loss":
        SL = reference.step_losses
        if mask[:, :-1].any():
            variants.append(("last_step_only", "E holds only the last step's loss E_T: the sum "
                             "over the time steps is missing", SL[:, -1].sum() / n))
        per_sequence = mask.sum(axis=1)
        if net.step_loss == "sum" and (per_sequence > 1).any():
            variants.append(("step_mean", "E is the mean over the steps with a target, but "
                             "the network sums them (step_loss \"sum\")",
                             (SL.sum(axis=1) / per_sequence).sum() / n))
        if net.step_loss == "mean" and (per_sequence > 1).any():
            variants.append(("step_sum", "E is the sum over the steps, but the network takes "
                             "their mean (step_loss \"mean\")",
                             (SL * per_sequence[:, None]).sum() / n))
    elif q == "deltas" and l == 0:
        e, g_prime = reference.output_paths[:, s], reference.derivatives[:, s]
        if s < steps - 1:
            variants.append(("recurrent_path_missing", f"δ⁽²⁾[{t}] has only the output path "
                             f"e[{t}] ⊙ g'(z[{t}]): the recurrent path from t+1, "
                             f"r_j[{t}] = Σ_i u_ij δ_i[{t + 1}] (δ[t+1] U in rows), is missing",
                             e * g_prime))
        variants.append(("derivative_missing", f"δ⁽²⁾[{t}] = dE/da[{t}] without ⊙ g'(z[{t}])",
                         reference.output_grads[:, s]))
        if truncation is None and s < steps - 1:
            variants.append(("recurrent_path_transposed", "the recurrent path uses U the wrong "
                             f"way round: δ[{t + 1}] Uᵀ instead of δ[{t + 1}] U "
                             "(r_j = Σ_i u_ij δ_i, a column of U)",
                             (e + D[:, s + 1] @ U.T) * g_prime))
        for k, other, text in truncations():
            variants.append(("truncation", f"δ⁽²⁾[{t}] is what {text}", other.deltas[:, s]))
    elif q in ("dW", "dU", "db"):
        if l == 0:
            inputs = {"dW": X, "dU": states[:, :-1], "db": None}[q]
            deltas = D
        else:
            inputs = states[:, 1:] if l == 1 else reference.activations[l - 1]
            inputs = None if q == "db" else inputs
            deltas = reference.deltas[l]

        def contribution(step, prev=None):
            prev = inputs if prev is None else prev
            if q == "db":
                return deltas[:, step].sum(axis=0) / n
            return deltas[:, step].T @ prev[:, step] / n

        if steps > 1:
            for step in range(steps - 1, -1, -1):
                where = ("the last step's" if step == steps - 1 else f"t = {step + 1}'s")
                variants.append(("one_step_only", f"{row.name} is only {where} contribution "
                                 f"(δ[{step + 1}] ...): the sum over the time steps "
                                 "t = 1..T is missing", contribution(step)))
        if q == "dU":
            variants.append(("same_step_state", "dE/dU uses a[t] where it needs a[t-1]: "
                             "dE/du_ji = Σ_t δ_j[t] a_i[t-1]",
                             sum(contribution(step, states[:, 1:]) for step in range(steps))))
        if R.ndim == 2 and R.shape[0] == R.shape[1]:
            variants.append(("transposed", f"{row.name} is ours transposed: write it as Δᵀ "
                             "A_prev (row j = the weights into neuron j)", R.T))
        if l == 0:
            for k, other, text in truncations():
                index = {"dW": 0, "dU": 1, "db": 2}[q]
                variants.append(("truncation", f"{row.name} is what {text}",
                                 other.grads[0][index]))
    for code, message, variant in variants:
        if close(variant) and not close(R):
            finding = Finding(code, message + ".")
            return [finding], finding.message
    findings = _factor_findings(Finding, R, C, close, m, steps)
    if findings:
        return findings, findings[0].message
    worst = ""
    if row.worst is not None:
        worst = (f" Compare the worst entry by hand: {row.worst_label}, neuronsim "
                 f"{_number(row.reference[row.worst])}, yours {_number(row.candidate[row.worst])}.")
    return [], (f"nothing here explains {row.name}: it is not the recurrent term missing or U "
                "the wrong way round (forward or backward), g' missing, one step's contribution "
                "instead of the sum over t, a[t] for a[t-1] in dE/dU, another truncation of "
                "BPTT, a transposed gradient, or a constant factor (m, T, 2, -1)." + worst)


def _factor_findings(Finding, R, C, close, m, steps):
    """A constant factor c with yours = c · ours, named when it is m, T, 2 or -1."""
    R = np.asarray(R, dtype=float)
    norm = float(np.sum(R * R))
    if not norm or not np.isfinite(norm) or not np.all(np.isfinite(C)):
        return []
    c = float(np.sum(C * R) / norm)
    if not c or not close(c * R):
        return []
    names = {m: f"m = {m} times ours: a sum over the batch where the network takes the mean",
             1 / m: f"1/m = 1/{m} times ours: a mean over the batch where the network sums",
             steps: f"T = {steps} times ours", 1 / steps: f"1/T = 1/{steps} times ours: a mean "
             "over the time steps where the network sums them",
             2.0: "2 times ours (the ½ of squared error?)", 0.5: "½ times ours (the ½ of "
             "squared error?)", -1.0: "-1 times ours: the sign is flipped"}
    for value, text in names.items():
        if value != 1 and abs(c - value) <= 1e-9 * abs(value):
            return [Finding("constant_factor", f"yours is {text}.")]
    if R.size == 1:        # any single number is some constant times another
        return []
    return [Finding("constant_factor", f"yours is a constant {c:.12g} times ours.")]


def compare_recurrent(net, X, Y, against="numpy", tolerance=1e-9, atol=1e-12,
                      convention="nielsen"):
    """:func:`compare` for a recurrent network (the array layout above)."""
    X, Y, targets, mask = sequence_batch(net, X, Y)
    reference = per_neuron_sequences(net, X, Y, mask)
    candidate = recurrent_candidate(net, X, Y, targets, mask, against)
    rows = build_recurrent_rows(reference, candidate, tolerance, atol, convention)
    failing = [row for row in rows if not row.ok]
    findings, diagnosis = [], ""
    if failing:
        findings, diagnosis = diagnose_recurrent(net, reference, X, targets, mask, failing[0])
    m, steps = mask.shape
    method = "full BPTT" if net.truncation is None else f"BPTT truncated at k = {net.truncation}"
    heading = [f"{m} sequence{'s' if m > 1 else ''} of {steps} step{'s' if steps > 1 else ''} "
               f"({method})",
               "layers as in the textbook (inputs = layer 1, net.layers[0], the recurrent layer, "
               "is layer 2); time steps t = 1..T; X[i] is sequence i (from 0)"]
    if convention == "ng":
        heading.append("convention ng: a weight's superscript is the layer it comes from; "
                       "the recurrent weights u_ji⁽²⁾ (dE/dU⁽²⁾) keep superscript 2, since "
                       "they come from layer 2 at t−1")
    name = ("torch (torch.nn.RNN + nn.Linear, autograd)" if isinstance(against, str)
            and against == "torch" else _against_name(against))
    return Report(rows, name, m, tolerance, atol, findings, diagnosis, heading)
