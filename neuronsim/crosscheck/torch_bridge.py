"""PyTorch bridge: a Network as a torch module and back (torch is optional).

The layout is the same on both sides: ``nn.Linear(n_(l-1), n_l).weight``
has shape (n_l, n_(l-1)), row j = the weights into neuron j, which is
``net.layers[l]``'s W^(l) (``net.to_arrays()``).  Each dense layer becomes a
Linear layer followed by its activation module:

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

A recurrent layer is one layer of ``nn.RNN`` (nonlinearity "tanh" or
"relu"): W = ``weight_ih_lk``, U = ``weight_hh_lk``.  torch's RNN has two bias
vectors, b_ih and b_hh, where neuronsim's recurrent layer has one: importing
sums them (b = b_ih + b_hh), exporting puts b in b_ih and zeros in b_hh.  The
forward pass is the same; the gradient of E with respect to b_ih, to b_hh and
to b are equal (each enters z the same way), so an SGD step in torch moves
each of the two by η·g and their sum by 2·η·g, where neuronsim moves b by
η·g (freeze b_hh, or halve its learning rate, to train the same way).
An ``nn.RNN(num_layers=k)`` is k recurrent layers in a row; exporting writes
one ``nn.RNN(num_layers=1)`` per recurrent layer.

An LSTM or GRU layer is one layer of ``nn.LSTM`` / ``nn.GRU``, mapped exactly:
the same four arrays (``weight_ih_lk``, ``weight_hh_lk``, ``bias_ih_lk``,
``bias_hh_lk``, rows in torch's gate order; no bias: zeros), both ways.  A
StackModule holds an LSTM's h0 in ``initial_state_<index>`` and its c0 in
``initial_cell_<index>`` (both learned, or both fixed).

A network without a recurrent layer is exported as an ``nn.Sequential``.  A
network with one is exported as a :class:`StackModule` (``nn.RNN`` returns
(output, h_n), so an ``nn.Sequential`` cannot chain it): its ``layers`` run in
order, each ``nn.RNN`` handing its output sequence to the next module, and
``forward(X)`` returns the output sequence (m, T, n_out) for
``batch_first=True`` (the default, as neuronsim's X), (T, m, n_out) otherwise.
It also holds a recurrent layer's initial state a[0] when it is not zero or is
learned (a parameter ``initial_state_<index>`` then).  ``from_torch`` reads a
StackModule, an ``nn.Sequential`` of the same modules (read only: torch cannot
run it), or one Linear or RNN.

Everything is float64.  The loss is not part of a module:
``from_torch`` takes it by name.  A model that ends in a Linear layer (logits),
as written for ``nn.CrossEntropyLoss`` or ``nn.BCEWithLogitsLoss``, imported
with loss ``cross_entropy`` or ``binary_cross_entropy`` gets the output
activation those torch losses apply inside (softmax, sigmoid): that is the
loss the model was trained with, and neuronsim's cross-entropy needs
probabilities (ln a of a linear output is NaN for a ≤ 0).  :func:`torch_gradients`
and :func:`torch_stack_results` compute the quantities
:mod:`neuronsim.crosscheck.compare` compares, with autograd.
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


def network_to_torch(net, batch_first=True):
    """The network as float64 torch modules with its weights (copies: training
    one leaves the other): an ``nn.Sequential`` of Linear layers and
    activations, or a :class:`StackModule` when it has a recurrent layer
    (``batch_first`` is that of its ``nn.RNN`` modules)."""
    torch = _torch()
    nn = torch.nn
    f64 = torch.float64
    modules, initial_states = [], {}
    for l, (layer, arrays) in enumerate(zip(net.layers, net.to_arrays())):
        if layer.kind in ("lstm", "gru"):
            modules.append(_gated_module(torch, layer, arrays, batch_first, len(modules),
                                         initial_states))
            continue
        if layer.kind == "recurrent":
            name = layer.activation.name
            if name not in ("tanh", "relu"):
                raise ValueError(f"net.layers[{l}]: torch.nn.RNN has tanh and relu recurrent "
                                 f"layers only, not {name}")
            W, U, b = arrays[:3]
            rnn = nn.RNN(W.shape[1], W.shape[0], nonlinearity=name, batch_first=batch_first,
                         dtype=f64)
            with torch.no_grad():
                for parameter, value in ((rnn.weight_ih_l0, W), (rnn.weight_hh_l0, U),
                                         (rnn.bias_ih_l0, b),
                                         (rnn.bias_hh_l0, np.zeros_like(b))):
                    parameter.copy_(torch.from_numpy(np.ascontiguousarray(value)))
            if layer.learn_initial_state or layer.initial_state is not None:
                state = layer.initial_state or [0.0] * len(b)
                initial_states[len(modules)] = (
                    torch.tensor([[float(v) for v in state]], dtype=f64),
                    bool(layer.learn_initial_state))
            modules.append(rnn)
            continue
        W, b = arrays
        linear = nn.Linear(W.shape[1], W.shape[0], dtype=f64)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(W))
            linear.bias.copy_(torch.from_numpy(b))
        modules.append(linear)
        activation = _activation_module(nn, layer.activation)
        if activation is not None:
            modules.append(activation)
    if not net.is_sequential:
        return nn.Sequential(*modules)
    return stack_module_class()(modules, initial_states)


def _gated_module(torch, layer, arrays, batch_first, index, initial_states):
    """An nn.LSTM or nn.GRU (one layer) with the layer's four arrays (torch's layout
    already); its initial state (h0, and c0) into ``initial_states[index]``."""
    f64 = torch.float64
    W, U, b_ih, b_hh = arrays[:4]
    make = torch.nn.LSTM if layer.kind == "lstm" else torch.nn.GRU
    module = make(W.shape[1], layer.size, batch_first=batch_first, dtype=f64)
    with torch.no_grad():
        for parameter, value in ((module.weight_ih_l0, W), (module.weight_hh_l0, U),
                                 (module.bias_ih_l0, b_ih), (module.bias_hh_l0, b_hh)):
            parameter.copy_(torch.from_numpy(np.ascontiguousarray(value)))
    states = [getattr(layer, name) for name in layer.STATES]
    if layer.learn_initial_state or any(state is not None for state in states):
        h0, *c0 = [torch.tensor([[float(v) for v in layer.initial_value(name)]], dtype=f64)
                   for name in layer.STATES]
        initial_states[index] = (h0, bool(layer.learn_initial_state)) + tuple(c0)
    return module


_STACK_MODULE = []


def stack_module_class():
    """The class :class:`StackModule` (made on first use, since torch is optional)."""
    if _STACK_MODULE:
        return _STACK_MODULE[0]
    torch = _torch()
    nn = torch.nn

    class StackModule(nn.Module):
        """Layers run in order; each ``nn.RNN`` hands its output sequence (not h_n) on.

        ``StackModule(modules, initial_states={})``: ``modules`` a list of
        ``nn.Linear``, ``nn.RNN``, ``nn.LSTM``, ``nn.GRU`` and activation modules;
        ``initial_states`` maps the index of a recurrent module in ``modules`` to
        (a0, learned), or (h0, learned, c0) for an nn.LSTM, each of shape
        (num_layers, hidden_size): parameters ``initial_state_<index>`` (and
        ``initial_cell_<index>``) when learned, buffers otherwise (zeros when
        not given, as torch).  ``forward(X)`` returns the output sequence of
        the last module.
        """

        def __init__(self, modules, initial_states=None):
            super().__init__()
            self.layers = nn.ModuleList(modules)
            for index, (a0, learned, *c0) in (initial_states or {}).items():
                for name, value in zip(("initial_state", "initial_cell"), [a0] + c0):
                    if learned:
                        self.register_parameter(f"{name}_{index}", nn.Parameter(value.clone()))
                    else:
                        self.register_buffer(f"{name}_{index}", value.clone())

        def initial_state(self, index):
            """a[0] (h[0]) of the recurrent module at ``index`` (num_layers, hidden),
            or None (zeros)."""
            return getattr(self, f"initial_state_{index}", None)

        def initial_cell(self, index):
            """c[0] of the nn.LSTM at ``index`` (num_layers, hidden), or None (zeros)."""
            return getattr(self, f"initial_cell_{index}", None)

        def forward(self, X):
            for index, module in enumerate(self.layers):
                if isinstance(module, nn.RNNBase):
                    batch = X.shape[0] if module.batch_first else X.shape[1]

                    def batched(a0):
                        if a0 is None or X.dim() != 3:
                            return a0
                        return a0[:, None, :].expand(a0.shape[0], batch,
                                                     a0.shape[1]).contiguous()

                    state = batched(self.initial_state(index))
                    if isinstance(module, nn.LSTM) and state is not None:
                        cell = batched(self.initial_cell(index))
                        state = (state, torch.zeros_like(state) if cell is None else cell)
                    X, _ = module(X, state)
                else:
                    X = module(X)
            return X

    _STACK_MODULE.append(StackModule)
    return StackModule


def __getattr__(name):
    """``StackModule`` is made when first asked for (it needs torch)."""
    if name == "StackModule":
        return stack_module_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
    entries = torch_entries(module)
    if any(kind != "dense" for kind, *_ in entries):
        raise ValueError("module: has a recurrent module; read it with torch_entries")
    return [(linear, activation) for _, linear, activation, _ in entries]


def _children(module):
    """The modules of a StackModule, an nn.Sequential or one module, with their
    index there, and the initial state of each nn.RNN (None: zeros)."""
    torch = _torch()
    nn = torch.nn
    if isinstance(module, nn.Sequential):
        return [(index, child, None) for index, child in enumerate(module)]
    layers = getattr(module, "layers", None)
    if isinstance(layers, nn.ModuleList) and hasattr(module, "initial_state"):
        return [(index, child, module.initial_state(index)) for index, child in enumerate(layers)]
    return [(0, module, None)]


def _gated_entries(nn, module, where, h0, c0):
    """One (kind, module, (kind, {}), (k, h0_k, learned, c0_k)) entry per layer k of an
    nn.LSTM ("lstm") or nn.GRU ("gru")."""
    kind = "lstm" if isinstance(module, nn.LSTM) else "gru"
    name = type(module).__name__
    if module.bidirectional:
        raise ValueError(f"{where}: a bidirectional nn.{name} is not supported (neuronsim's "
                         "layers run forward in time)")
    if module.num_layers > 1 and module.dropout:
        raise ValueError(f"{where}: nn.{name}(dropout={module.dropout}): neuronsim has no "
                         "dropout; use dropout=0")
    if getattr(module, "proj_size", 0):
        raise ValueError(f"{where}: nn.LSTM(proj_size={module.proj_size}) is not supported")
    shape = (module.num_layers, module.hidden_size)
    for state, what in ((h0, "initial state"), (c0, "initial cell")):
        if state is not None and tuple(state.shape) != shape:
            raise ValueError(f"{where}: the {what} has shape {tuple(state.shape)}, expected "
                             f"{shape}")
    learned = any(s is not None and bool(s.requires_grad) for s in (h0, c0))
    return [(kind, module, (kind, {}), (k, None if h0 is None else h0[k], learned,
                                        None if c0 is None else c0[k]))
            for k in range(module.num_layers)]


def _rnn_entries(nn, rnn, where, a0):
    """One ("recurrent", rnn, (name, {}), (k, a0_k, learned)) entry per layer k of an nn.RNN."""
    if rnn.bidirectional:
        raise ValueError(f"{where}: a bidirectional nn.RNN is not supported (neuronsim's "
                         "recurrent layer runs forward in time)")
    if rnn.num_layers > 1 and rnn.dropout:
        raise ValueError(f"{where}: nn.RNN(dropout={rnn.dropout}): neuronsim has no dropout; "
                         "use dropout=0")
    if a0 is not None and tuple(a0.shape) != (rnn.num_layers, rnn.hidden_size):
        raise ValueError(f"{where}: the initial state has shape {tuple(a0.shape)}, expected "
                         f"({rnn.num_layers}, {rnn.hidden_size})")
    name = rnn.nonlinearity
    learned = a0 is not None and bool(a0.requires_grad)
    return [("recurrent", rnn, (name, {}), (k, None if a0 is None else a0[k], learned))
            for k in range(rnn.num_layers)]


def torch_entries(module):
    """The layers of ``module`` (a StackModule, an ``nn.Sequential`` or one Linear or
    RNN): [("dense", linear, (name, params), None) or ("recurrent", rnn, (name, {}),
    (k, a0 or None, learned)), ...], one entry per layer of neuronsim's network."""
    torch = _torch()
    nn = torch.nn
    entries = []
    for index, child, a0 in _children(module):
        where = f"module[{index}]"
        if isinstance(child, nn.Linear):
            entries.append(["dense", child, ("linear", {}), None])
            continue
        if isinstance(child, nn.RNN):
            entries += [list(entry) for entry in _rnn_entries(nn, child, where, a0)]
            continue
        if isinstance(child, (nn.LSTM, nn.GRU)):
            c0 = module.initial_cell(index) if hasattr(module, "initial_cell") else None
            entries += [list(entry) for entry in _gated_entries(nn, child, where, a0, c0)]
            continue
        if isinstance(child, nn.RNNBase):
            raise ValueError(f"{where}: {type(child).__name__} is not supported (expected "
                             "Linear, RNN, Sigmoid, Tanh, ReLU, LeakyReLU, Softmax or Identity)")
        if not entries:
            raise ValueError(f"{where}: expected a Linear layer first (or an RNN), got "
                             f"{type(child).__name__}")
        name, params = _activation_name(nn, child, where)
        if entries[-1][0] != "dense":
            raise ValueError(f"{where}: {type(child).__name__} after an "
                             f"nn.{type(entries[-1][1]).__name__}: a recurrent layer's "
                             "activation is its own (put a Linear layer between)")
        if entries[-1][2][0] != "linear":
            raise ValueError(f"{where}: two activations in a row ({entries[-1][2][0]} then "
                             f"{name}); each Linear layer takes at most one")
        entries[-1][2] = (name, params)
    if not entries:
        raise ValueError("module: no Linear layer found")
    return [tuple(entry) for entry in entries]


# The output activation a torch loss applies to logits inside itself.
LOGITS_ACTIVATION = {"cross_entropy": ("softmax", "nn.CrossEntropyLoss"),
                     "binary_cross_entropy": ("sigmoid", "nn.BCEWithLogitsLoss")}


def network_from_torch(module, loss="half_sse", **options):
    """A Network with the weights of ``module`` (an ``nn.Sequential`` of Linear
    layers and supported activations; with ``nn.RNN`` layers, a
    :class:`StackModule` or an ``nn.Sequential`` of the same modules).
    ``loss`` and the other keywords are those of ``Network.from_arrays`` (and,
    with a recurrent layer, of network files: ``step_loss``, ``truncation``).
    Layers without bias get zero biases; if none has a bias,
    ``update_biases`` defaults to False.  An ``nn.RNN``'s two biases are
    summed: b = b_ih + b_hh (module docstring).

    A module whose last layer is a bare Linear (logits) with loss
    "cross_entropy" gets a softmax output layer, with "binary_cross_entropy" a
    sigmoid one: what ``nn.CrossEntropyLoss`` and ``nn.BCEWithLogitsLoss``
    compute from logits, so E, δ = a - t and every gradient equal torch's.
    An output activation that cannot give probabilities (ReLU, Tanh,
    LeakyReLU, a recurrent layer) with those losses is refused.
    """
    from ..core.network import Network

    entries = torch_entries(module)
    with_bias = [_has_bias(kind, layer) for kind, layer, _, _ in entries]
    if any(with_bias) and not all(with_bias):
        which = "Linear" if all(kind == "dense" for kind, *_ in entries) else "Linear and RNN"
        raise ValueError(f"module: some {which} layers have bias=False and some not; "
                         "neuronsim updates all biases or none")
    if not any(with_bias):
        options.setdefault("update_biases", False)
    activations = [dict(params, activation=name) if params else name
                   for _, _, (name, params), _ in entries]
    if loss in LOGITS_ACTIVATION:
        implied, torch_loss = LOGITS_ACTIVATION[loss]
        last = entries[-1][2][0]
        if last == "linear" and entries[-1][0] == "dense":
            activations[-1] = implied      # the logits model of torch_loss
        elif last not in ("softmax", "sigmoid"):
            raise ValueError(
                f"module: the last layer ends in {last}, which cannot give the probabilities "
                f"{loss} takes the logarithm of; end the model in a Linear layer (logits, as "
                f"for {torch_loss}; neuronsim then adds the {implied} that {torch_loss} "
                f"applies) or in nn.{'Softmax(dim=-1)' if implied == 'softmax' else 'Sigmoid()'}")
    if all(kind == "dense" for kind, *_ in entries):
        weights, biases = [], []
        for _, linear, _, _ in entries:
            W = linear.weight.detach().cpu().double().numpy()
            weights.append(W.tolist())
            biases.append([0.0] * W.shape[0] if linear.bias is None
                          else linear.bias.detach().cpu().double().numpy().tolist())
        return Network.from_arrays(weights, biases, activations, loss, **options)
    layers = [_layer_spec(kind, layer, state, activation)
              for (kind, layer, _, state), activation in zip(entries, activations)]
    numbers = options.pop("numbers", "float")
    first = layers[0]["gates"][next(iter(layers[0]["gates"]))] if "gates" in layers[0] else layers[0]
    spec = dict(options, inputs=len(first["weights"][0]), loss=loss, layers=layers)
    return Network.from_spec(spec, numbers=numbers)


def _has_bias(kind, layer):
    return layer.bias is not None if kind == "dense" else bool(layer.bias)


def _numbers(tensor):
    return tensor.detach().cpu().double().numpy()


def _layer_spec(kind, layer, state, activation):
    """One layer of a network file (docs/spec.md) from a Linear or one layer of an RNN."""
    spec = ({"activation": activation} if isinstance(activation, str)
            else {"activation": activation["activation"],
                  **{k: v for k, v in activation.items() if k != "activation"}})
    if kind == "dense":
        W = _numbers(layer.weight)
        b = np.zeros(W.shape[0]) if layer.bias is None else _numbers(layer.bias)
        return dict(spec, weights=W.tolist(), biases=b.tolist())
    if kind in ("lstm", "gru"):
        return _gated_spec(kind, layer, state)
    k, a0, learned = state
    W, U = _numbers(getattr(layer, f"weight_ih_l{k}")), _numbers(getattr(layer, f"weight_hh_l{k}"))
    b = np.zeros(W.shape[0])
    if layer.bias:
        b = _numbers(getattr(layer, f"bias_ih_l{k}")) + _numbers(getattr(layer, f"bias_hh_l{k}"))
    spec = dict(spec, type="recurrent", weights=W.tolist(), recurrent_weights=U.tolist(),
                biases=b.tolist())
    if a0 is not None:
        spec["initial_state"] = _numbers(a0).tolist()
    if learned:
        spec["learn_initial_state"] = True
    return spec


def _gated_spec(kind, module, state):
    """One layer (k) of an nn.LSTM / nn.GRU as a network-file layer: torch's rows split
    by gate (docs/spec.md, "LSTM and GRU layers"); no bias: zeros."""
    from ..core.gru import GRULayer
    from ..core.lstm import LSTMLayer

    k, h0, learned, c0 = state
    gates = (LSTMLayer if kind == "lstm" else GRULayer).GATES
    n = module.hidden_size
    W = _numbers(getattr(module, f"weight_ih_l{k}"))
    U = _numbers(getattr(module, f"weight_hh_l{k}"))
    b_ih = b_hh = np.zeros(W.shape[0])
    if module.bias:
        b_ih = _numbers(getattr(module, f"bias_ih_l{k}"))
        b_hh = _numbers(getattr(module, f"bias_hh_l{k}"))
    spec = {"type": kind, "gates": {
        name: {"weights": W[q * n:(q + 1) * n].tolist(),
               "recurrent_weights": U[q * n:(q + 1) * n].tolist(),
               "bias_ih": b_ih[q * n:(q + 1) * n].tolist(),
               "bias_hh": b_hh[q * n:(q + 1) * n].tolist()} for q, name in enumerate(gates)}}
    if h0 is not None:
        spec["initial_state"] = _numbers(h0).tolist()
    if c0 is not None and kind == "lstm":
        spec["initial_cell"] = _numbers(c0).tolist()
    if learned:
        spec["learn_initial_state"] = True
    return spec


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
def bptt_runs(torch, run, steps, start_states, truncation, mask, loss_at, detach):
    """The torch runs of one batch of sequences, for full or truncated BPTT built from
    its definition: (``forward``, the whole sequence without gradients; ``runs``,
    [(first step, record)] with gradients; ``total``, Σ_t E_t to call backward on).

    ``run(start, stop, states, keep)`` runs steps start..stop-1 from ``states``;
    ``loss_at(s, entry)`` is E at step s from that step's record entry; ``detach``
    holds one layer's state constant.  Truncated to k steps: each E_t runs again from
    the states after step t-k, held constant, so no gradient goes back further."""
    with torch.no_grad():
        forward, _ = run(0, steps, start_states, False)
    runs, total = [], 0
    if truncation is None or truncation > steps:
        record, _ = run(0, steps, start_states, True)
        runs.append((0, record))
        for s in range(steps):
            if mask[:, s].any():
                total = total + loss_at(s, record[s])
        return forward, runs, total
    after = []            # the states after each step, without gradients
    with torch.no_grad():
        states = list(start_states)
        for s in range(steps):
            _, states = run(s, s + 1, states, False)
            after.append(states)
    for s in range(steps):
        if not mask[:, s].any():
            continue
        start = s - truncation + 1    # the states after step start-1 are held constant
        if start > 0:
            states = [detach(state) for state in after[start - 1]]
        elif start == 0:
            states = [detach(state) for state in start_states]
        else:
            states = start_states
        record, _ = run(max(start, 0), s + 1, states, True)
        runs.append((max(start, 0), record))
        total = total + loss_at(s, record[-1])
    return forward, runs, total


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

    def loss_at(s, entry):
        zs, activations = entry
        return (_sample_losses(torch, net.loss.name, paired, zs[-1], activations[-1],
                               goal[:, s]) * weight[:, s]).sum()

    start_states = [None if a0 is None else a0.expand(m, len(a0)) for a0 in initial]
    forward, runs, total = bptt_runs(torch, run, steps, start_states, net.truncation, mask,
                                     loss_at, lambda a: None if a is None else a.detach())
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
