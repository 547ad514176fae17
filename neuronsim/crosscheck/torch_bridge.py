"""PyTorch bridge: a Network as an ``nn.Sequential`` and back (torch is optional).

The layout is the same on both sides: ``nn.Linear(n_(l-1), n_l).weight``
has shape (n_l, n_(l-1)), row j = the weights into neuron j, which is
``net.layers[l]``'s W^(l) (``net.to_arrays()``).  Each layer with weights
becomes a Linear layer followed by its activation module:

============  =================================  =============================
neuronsim     torch                              note
============  =================================  =============================
sigmoid       ``nn.Sigmoid()``
tanh          ``nn.Tanh()``
relu          ``nn.ReLU()``                      g'(0) = 0 on both sides
leaky_relu    ``nn.LeakyReLU(slope)``            g'(0) = slope on both sides
linear        (no module; ``nn.Identity`` read)
softmax       ``nn.Softmax(dim=-1)``             (dim=1 read as well)
============  =================================  =============================

Everything is float64.  The loss is not part of an ``nn.Sequential``:
``from_torch`` takes it by name.  A model that ends in a Linear layer (logits),
as written for ``nn.CrossEntropyLoss`` or ``nn.BCEWithLogitsLoss``, imported
with loss ``cross_entropy`` or ``binary_cross_entropy`` gets the output
activation those torch losses apply inside (softmax, sigmoid): that is the
loss the model was trained with, and neuronsim's cross-entropy needs
probabilities (ln a of a linear output is NaN for a ≤ 0).  :func:`torch_gradients` computes the
quantities :mod:`neuronsim.crosscheck.compare` compares, with autograd.
"""

import numpy as np

MISSING_TORCH = ("the PyTorch bridge needs the optional package torch: "
                 "pip install 'neuronsim[torch]' (CPU: pip install torch==2.13.0)")


def _torch():
    try:
        import torch
    except ImportError:
        raise ImportError(MISSING_TORCH) from None
    return torch


def _activation_module(nn, activation):
    name = activation.name
    if name == "sigmoid":
        return nn.Sigmoid()
    if name == "tanh":
        return nn.Tanh()
    if name == "relu":
        return nn.ReLU()
    if name == "leaky_relu":
        return nn.LeakyReLU(negative_slope=float(activation.params["slope"]))
    if name == "softmax":
        return nn.Softmax(dim=-1)
    if name == "linear":
        return None
    raise ValueError(f"activation {name!r} has no PyTorch module in the bridge")


def network_to_torch(net):
    """``nn.Sequential`` of float64 Linear layers and activations with the
    weights and biases of ``net`` (copies: training one leaves the other)."""
    torch = _torch()
    nn = torch.nn
    modules = []
    for layer, (W, b) in zip(net.layers, net.to_arrays()):
        linear = nn.Linear(W.shape[1], W.shape[0], dtype=torch.float64)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(W))
            linear.bias.copy_(torch.from_numpy(b))
        modules.append(linear)
        activation = _activation_module(nn, layer.activation)
        if activation is not None:
            modules.append(activation)
    return nn.Sequential(*modules)


def _activation_name(nn, module, where):
    """(name, params) of a supported activation module; ValueError otherwise."""
    if isinstance(module, nn.Sigmoid):
        return "sigmoid", {}
    if isinstance(module, nn.Tanh):
        return "tanh", {}
    if isinstance(module, nn.ReLU):
        return "relu", {}
    if isinstance(module, nn.LeakyReLU):
        return "leaky_relu", {"slope": float(module.negative_slope)}
    if isinstance(module, nn.Identity):
        return "linear", {}
    if isinstance(module, nn.Softmax):
        if module.dim not in (-1, 1):
            raise ValueError(f"{where}: Softmax(dim={module.dim}) is not over the features "
                             "(use dim=-1)")
        return "softmax", {}
    raise ValueError(f"{where}: {type(module).__name__} is not supported (expected Linear, "
                     "Sigmoid, Tanh, ReLU, LeakyReLU, Softmax or Identity)")


def torch_layers(module):
    """[(linear, (name, params)), ...] read from an ``nn.Sequential`` (or one Linear)."""
    torch = _torch()
    nn = torch.nn
    children = list(module) if isinstance(module, nn.Sequential) else [module]
    layers = []
    for index, child in enumerate(children):
        where = f"module[{index}]"
        if isinstance(child, nn.Linear):
            layers.append([child, ("linear", {})])
            continue
        if not layers:
            raise ValueError(f"{where}: expected a Linear layer first, got {type(child).__name__}")
        name, params = _activation_name(nn, child, where)
        if layers[-1][1][0] != "linear":
            raise ValueError(f"{where}: two activations in a row ({layers[-1][1][0]} then "
                             f"{name}); each Linear layer takes at most one")
        layers[-1][1] = (name, params)
    if not layers:
        raise ValueError("module: no Linear layer found")
    return [tuple(entry) for entry in layers]


# The output activation a torch loss applies to logits inside itself.
LOGITS_ACTIVATION = {"cross_entropy": ("softmax", "nn.CrossEntropyLoss"),
                     "binary_cross_entropy": ("sigmoid", "nn.BCEWithLogitsLoss")}


def network_from_torch(module, loss="half_sse", **options):
    """A Network with the weights of ``module`` (an ``nn.Sequential`` of Linear
    layers and supported activations).  ``loss`` and the other keywords are
    those of ``Network.from_arrays``.  Linear layers without bias get zero
    biases; if none has a bias, ``update_biases`` defaults to False.

    A module whose last layer is a bare Linear (logits) with loss
    "cross_entropy" gets a softmax output layer, with "binary_cross_entropy" a
    sigmoid one: what ``nn.CrossEntropyLoss`` and ``nn.BCEWithLogitsLoss``
    compute from logits, so E, δ = a - t and every gradient equal torch's.
    An output activation that cannot give probabilities (ReLU, Tanh,
    LeakyReLU) with those losses is refused.
    """
    from ..core.network import Network

    layers = torch_layers(module)
    with_bias = [linear.bias is not None for linear, _ in layers]
    if any(with_bias) and not all(with_bias):
        raise ValueError("module: some Linear layers have bias=False and some not; "
                         "neuronsim updates all biases or none")
    if not any(with_bias):
        options.setdefault("update_biases", False)
    weights, biases, activations = [], [], []
    for linear, (name, params) in layers:
        W = linear.weight.detach().cpu().double().numpy()
        weights.append(W.tolist())
        if linear.bias is None:
            biases.append([0.0] * W.shape[0])
        else:
            biases.append(linear.bias.detach().cpu().double().numpy().tolist())
        activations.append(dict(params, activation=name) if params else name)
    if loss in LOGITS_ACTIVATION:
        implied, torch_loss = LOGITS_ACTIVATION[loss]
        last = layers[-1][1][0]
        if last == "linear":
            activations[-1] = implied      # the logits model of torch_loss
        elif last not in ("softmax", "sigmoid"):
            raise ValueError(
                f"module: the last layer ends in {last}, which cannot give the probabilities "
                f"{loss} takes the logarithm of; end the model in a Linear layer (logits, as "
                f"for {torch_loss}; neuronsim then adds the {implied} that {torch_loss} "
                f"applies) or in nn.{'Softmax(dim=-1)' if implied == 'softmax' else 'Sigmoid()'}")
    return Network.from_arrays(weights, biases, activations, loss, **options)


def _sample_losses(torch, loss, paired, z, a, t):
    """Per-sample E (one per row), from z for the two paired losses
    (the same formulas as neuronsim.core.losses, written in torch)."""
    if loss == "half_sse":
        return 0.5 * ((t - a) ** 2).sum(dim=1)
    if loss == "sse":
        return ((t - a) ** 2).sum(dim=1)
    if loss == "mse":
        return ((t - a) ** 2).sum(dim=1) / a.shape[1]
    if loss == "binary_cross_entropy":
        if paired:
            # PyTorch's own Σ softplus(z) - t z, whose backward is exactly σ(z) - t
            # (a hand-written max(z, 0) + ln(1 + e^-|z|) has a wrong subgradient at z = 0).
            return torch.nn.functional.binary_cross_entropy_with_logits(
                z, t, reduction="none").sum(dim=1)
        zero = torch.zeros_like(a)
        first = torch.where(t != 0, t * torch.log(a), zero)
        second = torch.where(t != 1, (1 - t) * torch.log(1 - a), zero)
        return -(first + second).sum(dim=1)
    if loss == "cross_entropy":
        if paired:
            logsumexp = torch.logsumexp(z, dim=1, keepdim=True)
            return torch.where(t != 0, t * (logsumexp - z), torch.zeros_like(z)).sum(dim=1)
        return -torch.where(t != 0, t * torch.log(a), torch.zeros_like(a)).sum(dim=1)
    raise ValueError(f"loss {loss!r} has no PyTorch formula in the bridge")


def torch_gradients(net, X, Y):
    """The cross-check quantities of ``net`` on (X, Y), computed by PyTorch.

    The sum of the per-sample losses is back-propagated by autograd, so
    z.grad is each sample's δ = dE/dz; dW and db are the parameter gradients
    divided by m for ``reduction="mean"``.  Returns the dict that
    :func:`neuronsim.crosscheck.compare.compare` reads (numpy arrays).
    """
    torch = _torch()
    from .vectorized import is_paired

    model = network_to_torch(net)
    layers = torch_layers(model)
    a = torch.tensor(np.asarray(X, dtype=float), dtype=torch.float64)
    t = torch.tensor(np.asarray(Y, dtype=float), dtype=torch.float64)
    zs, activations = [], []
    modules = list(model)
    position = 0
    for linear, (name, _) in layers:
        z = modules[position](a)
        position += 1
        z.retain_grad()
        if name != "linear":
            a = modules[position](z)
            position += 1
        else:
            a = z
        zs.append(z)
        activations.append(a)
    paired = is_paired(net.loss.name, layers[-1][1][0])
    losses = _sample_losses(torch, net.loss.name, paired, zs[-1], activations[-1], t)
    total = losses.sum()
    total.backward()
    n = len(X) if net.reduction == "mean" else 1
    return {
        "activations": [a.detach().numpy() for a in activations],
        "deltas": [z.grad.numpy() for z in zs],
        "dW": [linear.weight.grad.numpy() / n for linear, _ in layers],
        "db": [linear.bias.grad.numpy() / n for linear, _ in layers],
        "loss": float(total.detach()) / n,
    }


# ---------------------------------------------------------------- stacks over time
def torch_stack_results(net, X, targets, mask):
    """The cross-check quantities of a network that reads sequences, computed by torch.

    Float64.  Each recurrent layer is an ``nn.RNN`` (tanh or relu) with
    b_ih = b and b_hh = 0, each dense layer an ``nn.Linear`` and its activation
    module.  The stack is run one step at a time (``rnn(a[:, None], h)``) so
    that autograd keeps dE/da[t] of every recurrent state and dE/dz[t] of
    every dense layer; a recurrent layer's δ[t] = dE/da[t] ⊙ g'(z[t]).  A
    learned initial state is a leaf tensor with ``requires_grad``.

    Truncated BPTT with k steps is built from its definition: E_t is
    computed by running steps t-k+1..t again from the states a[t-k] of every
    recurrent layer, detached (a[0] too when t = k); for t < k it reaches a[0].
    ``X`` (m, T, n_in), ``targets`` (m, T, n_out), ``mask`` (m, T).
    """
    from .vectorized import is_paired

    torch = _torch()
    f64 = torch.float64
    m, steps, _ = X.shape
    stack = []          # per layer: (kind, module, activation module or None)
    initial = []        # per layer: a[0] as a tensor (recurrent), else None
    for l, (layer, arrays) in enumerate(zip(net.layers, net.to_arrays())):
        W, b = arrays[0], arrays[2] if layer.kind == "recurrent" else arrays[1]
        if layer.kind == "recurrent":
            name = layer.activation.name
            if name not in ("tanh", "relu"):
                raise ValueError(f"torch.nn.RNN has tanh and relu recurrent layers only; this "
                                 f"network's layer {l + 2} (net.layers[{l}]) is {name}")
            rnn = torch.nn.RNN(W.shape[1], W.shape[0], nonlinearity=name, batch_first=True,
                               dtype=f64)
            with torch.no_grad():
                for parameter, value in ((rnn.weight_ih_l0, W), (rnn.weight_hh_l0, arrays[1]),
                                         (rnn.bias_ih_l0, b), (rnn.bias_hh_l0, np.zeros_like(b))):
                    parameter.copy_(torch.tensor(value, dtype=f64))
            stack.append(("recurrent", rnn, name))
            state = layer.initial_state
            a0 = torch.tensor(np.zeros(len(b)) if state is None
                              else [float(v) for v in state], dtype=f64)
            initial.append(a0.requires_grad_(bool(layer.learn_initial_state)))
        else:
            linear = torch.nn.Linear(W.shape[1], W.shape[0], dtype=f64)
            with torch.no_grad():
                linear.weight.copy_(torch.tensor(W, dtype=f64))
                linear.bias.copy_(torch.tensor(b, dtype=f64))
            stack.append(("dense", linear, _activation_module(torch.nn, layer.activation)))
            initial.append(None)
    inputs = torch.tensor(X, dtype=f64)
    goal = torch.tensor(targets, dtype=f64)
    weight = mask.astype(float)
    if net.step_loss == "mean":
        weight = weight / mask.sum(axis=1, keepdims=True)
    weight = torch.tensor(weight, dtype=f64)
    top = net.layers[-1]
    paired = is_paired(net.loss.name, top.activation.name)

    def run(start, stop, states, keep):
        """Steps start..stop-1 from ``states`` (a[start] of each recurrent layer);
        returns per step the (zs, activations) of every layer, and the last states."""
        states = list(states)
        record = []
        for s in range(start, stop):
            a, zs, activations = inputs[:, s], [], []
            for l, (kind, module, activation) in enumerate(stack):
                if kind == "recurrent":
                    out, _ = module(a[:, None], states[l][None].contiguous())
                    a = z = out[:, 0]
                    states[l] = a
                else:
                    z = module(a)
                    a = z if activation is None else activation(z)
                if keep:
                    z.retain_grad()
                zs.append(z)
                activations.append(a)
            record.append((zs, activations))
        return record, states

    def loss_at(s, zs, activations):
        return (_sample_losses(torch, net.loss.name, paired, zs[-1], activations[-1],
                               goal[:, s]) * weight[:, s]).sum()

    start_states = [None if a0 is None else a0.expand(m, len(a0)) for a0 in initial]
    k = net.truncation
    with torch.no_grad():
        forward, _ = run(0, steps, start_states, False)
    runs, total = [], 0
    if k is None or k > steps:
        record, _ = run(0, steps, start_states, True)
        runs.append((0, record))
        for s in range(steps):
            if mask[:, s].any():
                total = total + loss_at(s, *record[s])
    else:
        # the state after each step, without gradients, to hold constant
        after = []
        with torch.no_grad():
            states = list(start_states)
            for s in range(steps):
                _, states = run(s, s + 1, states, False)
                after.append(states)
        for s in range(steps):
            if not mask[:, s].any():
                continue
            start = s - k + 1          # a[start] (0-based: state after step start-1) is constant
            if start > 0:
                states = [None if a is None else a.detach() for a in after[start - 1]]
            elif start == 0:
                states = [None if a is None else a.detach() for a in start_states]
            else:
                states = start_states
            record, _ = run(max(start, 0), s + 1, states, True)
            runs.append((max(start, 0), record))
            total = total + loss_at(s, *record[-1])
    total.backward()
    n = m if net.reduction == "mean" else 1
    activations = [torch.stack([step[1][l] for step in forward], dim=1).numpy()
                   for l in range(len(stack))]
    deltas = [np.zeros_like(A) for A in activations]
    for start, record in runs:
        for offset, (zs, _) in enumerate(record):
            for l, z in enumerate(zs):
                if z.grad is not None:
                    deltas[l][:, start + offset] += z.grad.numpy()
    for l, (kind, _, name) in enumerate(stack):
        if kind == "recurrent":   # z.grad was dE/da[t] there: δ = dE/da ⊙ g'(z), from a
            A = activations[l]
            deltas[l] = deltas[l] * (1.0 - A ** 2 if name == "tanh" else (A > 0).astype(float))

    def grad(parameter):
        return np.zeros(tuple(parameter.shape)) if parameter.grad is None else \
            parameter.grad.numpy() / n

    results = {"activations": activations, "deltas": deltas, "dW": [], "dU": [], "db": [],
               "da0": [], "loss": float(total.detach()) / n}
    for (kind, module, _), a0, layer in zip(stack, initial, net.layers):
        if kind == "recurrent":
            results["dW"].append(grad(module.weight_ih_l0))
            results["dU"].append(grad(module.weight_hh_l0))
            results["db"].append(grad(module.bias_ih_l0))
            results["da0"].append(grad(a0) if layer.learn_initial_state else None)
        else:
            results["dW"].append(grad(module.weight))
            results["dU"].append(None)
            results["db"].append(grad(module.bias))
            results["da0"].append(None)
    return results
