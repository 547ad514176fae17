"""Cross-checking a network that reads sequences: :func:`neuronsim.crosscheck.compare.compare`
for any stack of dense, Elman, LSTM and GRU layers (a recurrent layer anywhere, several of
them, a learned initial state, many-to-one, truncated BPTT).

An LSTM or GRU layer (torch's layout, gates i, f, g, o / r, z, n) gives: its
h as ``activations[l]`` (m, T, n); its gates' δ side by side as ``deltas[l]``
(m, T, 4n or 3n); ``dW``, ``dU``, ``db`` (dE/db_ih, the input-side bias) and
``db_hh`` (dE/db_hh) in torch's shapes; ``da0`` (dE/dh[0]) and, for an LSTM,
``dc0`` (dE/dc[0]) when the initial state is learned.  Its rows are per gate,
and the diagnosis tries the classic gated mistakes
(:mod:`neuronsim.crosscheck.gated_mistakes`) as variants of the numpy
reference run on the same batch.

The feed-forward machinery (rows, report, result files) lives in
:mod:`neuronsim.crosscheck.results`; this module adds the batch of sequences,
the per-neuron reference, the candidates, the per-step rows and the BPTT
diagnosis.

Arrays
------
X (m, T, n_in): m sequences of T steps.  Y (m, T, n_out): a target per step (a
row of NaNs = no target at that step), or Y (m, n_out): the target of the last
step only (many-to-one).  Per layer l (0-based, ``net.layers[l]``, textbook
layer l + 2): ``activations[l]`` and ``deltas[l]`` of shape (m, T, n_l), deltas
being dE/dz of each sequence's own loss (before the batch reduction, summed over
every E_t that reaches the step); ``dW[l]``, ``db[l]``, and for a recurrent
layer ``dU[l]`` and, when its initial state is learned, ``da0[l]`` = dE/da[0]:
the reduced batch gradient, as ``net.gradient_arrays()``.  ``dU`` and ``da0``
are lists with None at the layers that have no such parameter; a network with
one recurrent layer (one learned initial state) may give that array alone.

Computation order (the rows): a of every layer at t = 1 (bottom up), then at
t = 2, ...; E; then δ backward from t = T (top layer down), then t = T-1, ...;
then the gradients from the output layer down: dW, dU, db, da0 of each layer.

Candidates
----------
``"numpy"``
    :func:`neuronsim.crosscheck.vectorized.stack_bptt`, the numpy
    reference for every stack (one forward/backward pair per layer kind);
``"torch"``
    the stack built in float64 torch: one ``nn.RNN`` per recurrent layer
    (tanh or relu; b_ih = b, b_hh = 0), ``nn.Linear`` + activation module per
    dense layer, autograd; truncated BPTT built from its definition;
a function
    ``f(layers, X, Y)``: ``layers`` is a list of dicts, bottom first, the ones
    :func:`~neuronsim.crosscheck.vectorized.stack_bptt` takes::

        {"kind": "dense", "W": (n, n_prev), "b": (n,), "activation": name}
        {"kind": "recurrent", "W": (n, n_prev), "U": (n, n), "b": (n,),
         "h0": (n,) a[0] (zeros when fixed at zero), "learn_h0": bool, "activation": name}

    (an activation with a parameter is ``{"name": "leaky_relu", "slope": s}``),
    X and Y as given (copies).  A network whose first layer is recurrent and
    whose other layers are dense may also be checked by a function written
    for the older convention ``f(W, U, b, dense, X, Y)`` (dense = [(W_l, b_l),
    ...]): it is called that way when it takes six positional arguments and
    not three.  The function returns a dict with any of the keys of
    :data:`~neuronsim.crosscheck.results.RECURRENT_QUANTITIES`;
a path to an ``.npz`` file
    the same saved with :func:`~neuronsim.crosscheck.results.save_results`
    (``activations_0``, ..., ``dU_1``, ``da0_1``, ``loss``; a lone ``dU`` is
    the one recurrent layer's).
"""

import inspect
import os

import numpy as np

from ..core.errors import ShapeError
from ..core.labels import (
    GATE_LETTERS,
    bias_label,
    gate_bias_label,
    gate_recurrent_label,
    gate_symbol,
    gate_weight_label,
    gated_state_label,
    initial_state_label,
    neuron_label,
    partial_label,
    recurrent_weight_label,
    symbol,
    weight_label,
    weight_superscript,
)
from ..core.summation import sum_in_order
from .diagnosis import float32_finding, later_rows
from .gated_mistakes import GATE_NAMES, mistakes_of, permute_gates, unpermute_blocks
from .results import (
    RECURRENT_QUANTITIES,
    Report,
    Row,
    _against_name,
    _name_of,
    _number,
    _superscript,
    check_results,
    entry_errors,
    load_results,
    same_entries,
    spread_per_layer,
)
from .usercode import call_user_function, shape_hint
from .vectorized import activate, stack_bptt


def is_recurrent(net):
    """True for a network with a recurrent layer (it reads sequences)."""
    return getattr(net, "is_sequential", False)


def activation_spec(activation):
    """"tanh", or {"name": "leaky_relu", "slope": s} for an activation with parameters."""
    params = {k: float(v) for k, v in getattr(activation, "params", {}).items()}
    return dict(params, name=activation.name) if params else activation.name


def stack_layers(net):
    """The layers of ``net`` as the dicts of
    :func:`~neuronsim.crosscheck.vectorized.stack_bptt` (float64 copies)."""
    layers = []
    for layer, arrays in zip(net.layers, net.to_arrays()):
        entry = {"kind": layer.kind, "W": arrays[0], "b": arrays[-1],
                 "activation": activation_spec(layer.activation)}
        if layer.kind == "recurrent":
            W, U, b = arrays[:3]
            state = layer.initial_state
            entry.update(W=W, U=U, b=b, learn_h0=bool(layer.learn_initial_state),
                         h0=np.zeros(len(b)) if state is None
                         else np.array([float(v) for v in state]))
        elif layer.kind in GATED:
            del entry["b"]
            entry.update(U=arrays[1], b_ih=arrays[2], b_hh=arrays[3],
                         learn_h0=bool(layer.learn_initial_state))
            for key, name in zip(("h0", "c0"), layer.STATES):
                entry[key] = np.array([float(v) for v in layer.initial_value(name)])
        layers.append(entry)
    return layers


#: the gated kinds: per gate rows, two biases (db is dE/db_ih, db_hh dE/db_hh)
GATED = ("lstm", "gru")
#: the keys of each kind's gradients, in the order of ``net.gradient_arrays()``
#: (then da0 = dE/dh[0], and dc0 = dE/dc[0] for an LSTM, when learned)
GRADIENT_KEYS = {"dense": ("dW", "db"), "recurrent": ("dW", "dU", "db"),
                 "lstm": ("dW", "dU", "db", "db_hh"), "gru": ("dW", "dU", "db", "db_hh")}
STATE_KEYS = {"dense": (), "recurrent": ("da0",), "lstm": ("da0", "dc0"), "gru": ("da0",)}


def gradient_lists(net, grads):
    """{"dW": [...], "dU": [...], ...}: each layer's gradients (a tuple in the
    order of its parameters) spread by key, None where a layer has none."""
    lists = {key: [] for key in ("dW", "dU", "db", "db_hh", "da0", "dc0")}
    for layer, values in zip(net.layers, grads):
        keys = GRADIENT_KEYS[layer.kind]
        if layer.is_recurrent and layer.learn_initial_state:
            keys += STATE_KEYS[layer.kind]
        given = dict(zip(keys, values))
        for key, per_layer in lists.items():
            per_layer.append(given.get(key))
    return lists


def recurrent_indices(net):
    """The 0-based indices of the recurrent layers (Elman, LSTM, GRU), and of those
    with a learned initial state."""
    recurrent = [l for l, layer in enumerate(net.layers) if layer.is_recurrent]
    learned = [l for l in recurrent if net.layers[l].learn_initial_state]
    return recurrent, learned


def layers_with(net):
    """For each per-layer key that only some layers have, the indices of those layers."""
    recurrent, learned = recurrent_indices(net)
    kinds = [layer.kind for layer in net.layers]
    return {"dU": recurrent, "da0": learned,
            "db_hh": [l for l, kind in enumerate(kinds) if kind in GATED],
            "dc0": [l for l in learned if kinds[l] == "lstm"]}


def has_gated_layers(net):
    return any(layer.kind in GATED for layer in net.layers)


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
    if not np.isfinite(X).all():
        i, t, j = np.argwhere(~np.isfinite(X))[0]
        raise ShapeError(f"X[{i}, {t}, {j}] is {X[i, t, j]}: the batch must be finite numbers")
    if np.isinf(Y).any():
        index = ", ".join(str(int(v)) for v in np.argwhere(np.isinf(Y))[0])
        raise ShapeError(f"Y[{index}] is infinite: targets must be finite numbers (a row of "
                         "NaNs marks a step without target)")
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

    Per layer l: ``activations[l]``, ``deltas[l]``; for a recurrent layer also
    ``output_paths[l]`` (e[t] = ∂E/∂a[t] from the layer above or the loss),
    ``output_grads[l]`` (dE/da[t] = e[t] + r[t]), ``derivatives[l]`` (g'(z[t]))
    and ``states[l]`` (m, T+1, n: a[0..T]), None for a dense layer;
    ``step_losses`` (m, T, 0 where no target, times 1/n_T for step_loss
    "mean"); ``dW``, ``db``, ``dU``, ``da0`` per layer (None where a layer has
    no such parameter); ``loss``; ``inputs`` and ``mask``.
    """

    def __init__(self, **fields):
        self.__dict__.update(fields)


def per_neuron_sequences(net, X, Y, mask):
    """Run every sequence through a copy of ``net`` (BPTT with its own
    truncation); ``net`` itself is not touched.

    For an LSTM or GRU layer, ``deltas[l]`` holds its gates' δ side by side
    (m, T, G·n, torch's order), ``activations[l]`` its h, and
    ``output_grads[l]`` dE/dh[t]; ``cells[l]`` (m, T, n) is an LSTM's c[t]."""
    copy = net.copy(batch=False)
    L = len(copy.layers)
    recurrent, _ = recurrent_indices(copy)
    per_step = {"activations": "output", "deltas": "delta", "output_paths": "output_path",
                "output_grads": "output_grad", "derivatives": "derivative", "cells": "cell"}
    fields = {name: [[] for _ in range(L)] for name in per_step}
    states = [[] for _ in range(L)]
    step_losses, sequence_losses = [], []

    def value(record, attribute):
        number = getattr(record, attribute, None)
        return 0.0 if number is None else number

    def gate_deltas(records, gates):
        return [value(r.gates[q], "delta") for q in gates for r in records]

    for x, targets in zip(X, _target_lists(Y, mask)):
        copy.forward_pass(x.tolist())
        sequence_losses.append(copy.back_prop(targets))
        for l, layer in enumerate(copy.layers):
            gated = layer.kind in GATED
            for name, attribute in per_step.items():
                if name == "deltas" and gated:
                    fields[name][l].append([gate_deltas(step[l], layer.GATES)
                                            for step in copy.history])
                elif name == "activations" or name == "deltas" or (
                        l in recurrent and (name != "cells" or layer.kind == "lstm")):
                    fields[name][l].append([[value(r, attribute) for r in step[l]]
                                            for step in copy.history])
            if l in recurrent:
                states[l].append(copy.states_of(l))
        scale = 1.0 / sum(v is not None for v in copy.step_losses) \
            if copy.step_loss == "mean" else 1.0
        step_losses.append([0.0 if v is None else v * scale for v in copy.step_losses])
    arrays = {name: [np.array(rows, dtype=float) if rows else None for rows in per_layer]
              for name, per_layer in fields.items()}
    grads = gradient_lists(copy, copy.gradient_arrays())
    n = len(X) if copy.reduction == "mean" else 1
    return RecurrentBatch(
        inputs=X, mask=mask, kinds=[layer.kind for layer in copy.layers],
        activations=arrays["activations"], deltas=arrays["deltas"],
        output_paths=arrays["output_paths"], output_grads=arrays["output_grads"],
        derivatives=arrays["derivatives"], cells=arrays["cells"],
        states=[np.array(s, dtype=float) if s else None for s in states],
        step_losses=np.array(step_losses, dtype=float),
        loss=float(sum_in_order(sequence_losses) / n), **grads)


# ---------------------------------------------------------------- the other side
def stack_results(net, X, targets, mask, truncation="default"):
    """The cross-check dict of the numpy stack reference
    (:func:`~neuronsim.crosscheck.vectorized.stack_bptt`) for ``net``;
    ``truncation`` "default" is the network's own."""
    k = net.truncation if truncation == "default" else truncation
    with np.errstate(all="ignore"):     # a NaN is reported in the table, not warned
        result = stack_bptt(stack_layers(net), X, targets, mask, net.loss.name,
                            step_loss=net.step_loss, reduction=net.reduction, truncation=k)
    return results_of_stack(net, result)


def results_of_stack(net, result):
    """A :class:`~neuronsim.crosscheck.vectorized.StackResult` as the cross-check dict."""
    return dict(gradient_lists(net, result.grads), activations=list(result.activations),
                deltas=list(result.deltas), loss=result.loss)


def takes(function, count):
    """True if ``function`` can be called with ``count`` positional arguments
    (None when its signature cannot be read)."""
    try:
        inspect.signature(function).bind(*range(count))
    except TypeError:
        return False
    except ValueError:
        return None
    return True


def older_convention(net, function):
    """True when ``function`` is to be called as f(W, U, b, dense, X, Y): the
    network is one recurrent first layer with dense layers after it, and the
    function takes six positional arguments and not three."""
    kinds = [layer.kind for layer in net.layers]
    if kinds[0] != "recurrent" or "recurrent" in kinds[1:]:
        return False
    six, three = takes(function, 6), takes(function, 3)
    if six is None:
        return True
    return six and not three


def call_function(net, X, Y, function):
    """The results dict of a user function (either calling convention, see
    the module docstring), checked."""
    n_layers = len(net.layers)
    if older_convention(net, function):
        arrays = net.to_arrays()
        (W, U, b), dense = arrays[0][:3], arrays[1:]
        hint = shape_hint([("X", X.shape), ("W", W.shape), ("U", U.shape)]
                          + [(f"dense[{l}][0]", Wl.shape) for l, (Wl, _) in enumerate(dense)])
        args = (W, U, b, [(Wl.copy(), bl.copy()) for Wl, bl in dense], X.copy(), Y.copy())
    else:
        layers = stack_layers(net)
        shapes = [("X", X.shape)]
        for l, layer in enumerate(layers):
            shapes += [(f"layers[{l}]['{key}']", layer[key].shape)
                       for key in ("W", "U") if key in layer]
        hint = shape_hint(shapes)
        args = (layers, X.copy(), Y.copy())
    results = call_user_function(function, args, hint)
    where = _name_of(function)
    if isinstance(results, dict):
        results = spread(net, results, where)
    return check_results(results, n_layers, where, RECURRENT_QUANTITIES)


def spread(net, results, where):
    """``dU``, ``da0``, ``db_hh`` and ``dc0`` as lists with one entry per layer
    (see the module docstring)."""
    results = dict(results)
    for key, layers in layers_with(net).items():
        if results.get(key) is not None:
            results[key] = spread_per_layer(results[key], len(net.layers), layers,
                                            f"{where}[{key!r}]")
    return results


def recurrent_candidate(net, X, Y, targets, mask, against):
    """The results dict of ``against`` for a network that reads sequences."""
    n_layers = len(net.layers)
    if isinstance(against, str) and against == "numpy":
        return stack_results(net, X, targets, mask)
    if isinstance(against, str) and against == "torch":
        if has_gated_layers(net):
            from .torch_gated import torch_gated_results

            return torch_gated_results(net, X, targets, mask)
        from .torch_bridge import torch_stack_results

        return torch_stack_results(net, X, targets, mask)
    if callable(against):
        return call_function(net, X, Y, against)
    if isinstance(against, (str, os.PathLike)):
        return load_results(against, n_layers, recurrent=True, layers_with=layers_with(net))
    raise ValueError(f"against: expected 'numpy', 'torch', a function or an .npz path, "
                     f"got {against!r}")


# ---------------------------------------------------------------- rows
def build_recurrent_rows(reference, candidate, tolerance, atol, convention="nielsen"):
    """The rows of a network that reads sequences, in computation order (see above).

    An LSTM or GRU layer has a row per gate for δ[t] and for each gradient
    (its block of rows in torch's layout), then dE/dh[0] and dE/dc[0] when
    learned.  Each row keeps ``take(results)``: its part of a full results dict
    (the diagnosis compares variants with it), and ``gate`` (None, or the gate's name).
    """
    n_layers = len(reference.activations)
    steps = reference.mask.shape[1]
    kinds = reference.kinds
    rows = []

    def add(quantity, layer, step, name, ref, given, label_entry, part=None, gate=None):
        row = Row(quantity, layer, name, ref, given, tolerance, atol, label_entry)
        row.step = step
        row.gate = gate
        row.take = _taker(quantity, layer, part, ref.shape)
        rows.append(row)

    # per-step arrays: a wrong shape fails once, at the first row of that layer
    # a layout with the same entries in the same order is read as (m, T, n_l) and
    # said so in the table (on the first row of that array)
    sliced, layouts = {}, {}
    for quantity in ("activations", "deltas"):
        given = candidate.get(quantity)
        for l in range(n_layers):
            expected = getattr(reference, quantity)[l].shape
            array = None if given is None else given[l]
            if array is not None and same_entries(array.shape, expected):
                layouts[quantity, l] = f"given as {array.shape}, read as {expected}"
                array = array.reshape(expected)
            sliced[quantity, l] = array

    def step_row(quantity, l, s, symbol_name):
        array = sliced[quantity, l]
        ref = getattr(reference, quantity)[l]
        gated = kinds[l] in GATED
        if gated and quantity == "deltas":
            return gate_step_rows(l, s, array, ref)
        if gated:
            symbol_name = "h"
        name = symbol_name + _superscript(l + 2) + f"[{s + 1}]"
        kind = "a" if quantity == "activations" else "delta"
        label = (lambda i, l=l, s=s:
                 f"{neuron_label(kind, l, i[1])}[{s + 1}] of X[{i[0]}]")
        if gated:
            label = (lambda i, l=l, s=s: f"{symbol('h', (i[1] + 1,), l + 2)}[{s + 1}] "
                                         f"of X[{i[0]}]")
        first = s == (0 if quantity == "activations" else steps - 1)
        if array is not None and array.shape != ref.shape:
            add(quantity, l, None if first else s, name if not first else
                symbol_name + _superscript(l + 2), ref if first else ref[:, s],
                array if first else None, label, None if first else (slice(None), s))
            return
        add(quantity, l, s, name, ref[:, s], None if array is None else array[:, s], label,
            (slice(None), s))
        if first:
            rows[-1].layout_note = layouts.get((quantity, l))

    def gate_step_rows(l, s, array, ref):
        """δ of each gate of layer l at step s: columns q·n .. (q+1)·n - 1."""
        gates = GATE_NAMES[kinds[l]]
        n = ref.shape[2] // len(gates)
        for q, gate in enumerate(gates):
            letter = GATE_LETTERS[gate]
            part = (slice(None), s, slice(q * n, (q + 1) * n))
            name = f"δ_{letter}" + _superscript(l + 2) + f"[{s + 1}]"
            label = (lambda i, l=l, s=s, letter=letter:
                     f"{gate_symbol('δ', letter, (i[1] + 1,), l + 2)}[{s + 1}] of X[{i[0]}]")
            first = s == steps - 1 and q == 0
            if array is not None and array.shape != ref.shape:
                add("deltas", l, None if first else s, name, ref if first else ref[part],
                    array if first else None, label, None if first else part, gate)
                continue
            add("deltas", l, s, name, ref[part], None if array is None else array[part],
                label, part, gate)
            if first:
                rows[-1].layout_note = layouts.get(("deltas", l))

    def per_layer(key, l):
        given = candidate.get(key)
        return None if given is None else given[l]

    def gate_rows(key, l, name, label):
        """One row per gate of ``key`` (rows q·n .. (q+1)·n - 1 of the parameter)."""
        ref, given = getattr(reference, key)[l], per_layer(key, l)
        note = None
        if given is not None and same_entries(given.shape, ref.shape):
            note = f"given as {given.shape}, read as {ref.shape}"
            given = given.reshape(ref.shape)
        gates = GATE_NAMES[kinds[l]]
        n = ref.shape[0] // len(gates)
        for q, gate in enumerate(gates):
            part = slice(q * n, (q + 1) * n)
            entry = (lambda i, gate=gate: label(gate, i[0], i[1] if len(i) > 1 else None))
            if given is not None and given.shape != ref.shape:
                add(key, l, None, name(GATE_LETTERS[gate]), ref if q == 0 else ref[part],
                    given if q == 0 else None, entry, None if q == 0 else part, gate)
                continue
            add(key, l, None, name(GATE_LETTERS[gate]), ref[part],
                None if given is None else given[part], entry, part, gate)
            if q == 0:
                rows[-1].layout_note = note

    for s in range(steps):
        for l in range(n_layers):
            step_row("activations", l, s, "a")
    add("loss", None, None, "E", np.asarray(reference.loss), candidate.get("loss"),
        lambda i: "E")
    for s in range(steps - 1, -1, -1):
        for l in range(n_layers - 1, -1, -1):
            step_row("deltas", l, s, "δ")
    for l in range(n_layers - 1, -1, -1):
        sup = _superscript(weight_superscript(l, convention))
        own = _superscript(l + 2)
        if kinds[l] in GATED:
            gated_gradient_rows(l, sup, own, convention, gate_rows, reference, per_layer, add)
            continue
        add("dW", l, None, "dE/dW" + sup, reference.dW[l], per_layer("dW", l),
            lambda i, l=l: partial_label(weight_label(l, i[0], i[1], convention)))
        if reference.dU[l] is not None:
            add("dU", l, None, "dE/dU" + own, reference.dU[l], per_layer("dU", l),
                lambda i, l=l: partial_label(recurrent_weight_label(l, i[0], i[1])))
        add("db", l, None, "dE/db" + sup, reference.db[l], per_layer("db", l),
            lambda i, l=l: partial_label(bias_label(l, i[0], convention)))
        if reference.da0[l] is not None:
            add("da0", l, None, "dE/da" + own + "[0]", reference.da0[l], per_layer("da0", l),
                lambda i, l=l: partial_label(initial_state_label(l, i[0])))
    return rows


def gated_gradient_rows(l, sup, own, convention, gate_rows, reference, per_layer, add):
    """The gradient rows of an LSTM or GRU layer: dW, dU, db (b^x, torch's b_ih)
    and db_hh (b^h) gate by gate, then dE/dh[0] and dE/dc[0] when learned."""
    n = len(reference.activations[l][0, 0])

    def unit(i):       # the row of a gate block, as the unit it belongs to
        return i % n

    gate_rows("dW", l, lambda q: f"dE/dW_{q}" + sup,
              lambda gate, j, k: partial_label(gate_weight_label(l, gate, unit(j), k,
                                                                 convention)))
    gate_rows("dU", l, lambda q: f"dE/dU_{q}" + own,
              lambda gate, j, k: partial_label(gate_recurrent_label(l, gate, unit(j), k)))
    gate_rows("db", l, lambda q: f"dE/db_x{q}" + sup,
              lambda gate, j, k: partial_label(gate_bias_label(l, gate, unit(j), "ih",
                                                               convention)))
    gate_rows("db_hh", l, lambda q: f"dE/db_h{q}" + sup,
              lambda gate, j, k: partial_label(gate_bias_label(l, gate, unit(j), "hh",
                                                               convention)))
    for key, name, state in (("da0", "h", "initial_state"), ("dc0", "c", "initial_cell")):
        if getattr(reference, key)[l] is not None:
            add(key, l, None, f"dE/d{name}" + own + "[0]", getattr(reference, key)[l],
                per_layer(key, l),
                lambda i, state=state: partial_label(gated_state_label(state, l, i[0])))


def _taker(quantity, layer, part, shape):
    """take(results): the part of a full results dict that a row compares (None if
    the results lack it or have another shape)."""
    def take(results):
        value = results.get(quantity)
        if value is None:
            return None
        if quantity == "loss":
            return np.asarray(value, dtype=float)
        value = value[layer]
        if value is None:
            return None
        value = np.asarray(value, dtype=float)
        if part is not None:
            value = value[part]
        return value if value.shape == shape else None
    return take


# ---------------------------------------------------------------- diagnosis
def diagnose_recurrent(net, reference, X, targets, mask, row, rows=(), cache=None):
    """Findings that explain the failing ``row`` of a cross-check over time, and
    the text: a NaN or infinity, a difference at rounding level, the loss alone
    (when every other row of ``rows`` agrees), or a BPTT mistake
    (:func:`_bptt_findings`).  ``cache`` keeps the numpy results of other
    truncations between rows."""
    from .diagnosis import (
        loss_only_finding,
        nonfinite_finding,
        rounding_finding,
        zeros_finding,
    )

    if row.nonfinite:
        finding = nonfinite_finding(row)
        return [finding], finding.message
    finding = rounding_finding(row)
    if finding is not None:
        return [finding], finding.message
    cache = {} if cache is None else cache
    found = gated_findings(net, X, targets, mask, row, rows, cache)
    if found:
        return found, " ".join(f.message for f in found)
    found, text = _bptt_findings(net, reference, X, targets, mask, row, cache)
    zeros = None if found else zeros_finding(row)      # a BPTT mistake may give zeros too
    if zeros is not None:
        return [zeros], zeros.message
    alone = loss_only_finding(row, rows) if row.quantity == "loss" else None
    if alone is None:
        return found, text
    return [alone] + found, " ".join(f.message for f in [alone] + found)


def _bptt_findings(net, reference, X, targets, mask, row, cache):
    """Findings that explain the first failing ``row`` of a cross-check over
    time, and the text for the report.

    Rebuilds the row's quantity the way each BPTT mistake would (from the
    reference values before it, which agree) and names those that reproduce
    the numbers: the recurrent term missing in z[t] or in δ[t], U the wrong way
    round, g' missing, a gradient with one step's contribution instead of the
    sum over t, a[t] instead of a[t-1] in dE/dU, BPTT truncated at another k
    (or full where the network truncates), a transposed gradient, and constant
    factors (m, T, 2, -1).
    """
    from .diagnosis import Finding

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
    layers = stack_layers(net)
    learned = any(layer.get("learn_h0") for layer in layers)
    # k >= T is full BPTT for the weights; a learned a[0] needs k >= T + 1 (vectorized.stack)
    truncation = net.truncation
    if truncation is not None and (truncation > steps or truncation == steps and not learned):
        truncation = None
    method = "full BPTT" if truncation is None else f"BPTT truncated at k = {truncation}"
    has_recurrent = any(layer["kind"] in ("recurrent",) + GATED for layer in layers)
    variants = []          # (code, message, array), most specific first

    def truncations():
        """Every other truncation k (None: full BPTT), with its numpy results."""
        if not has_recurrent:
            return
        others = [None] + list(range(1, min(steps, 30))) + ([steps] if learned else [])
        for k in others:
            if k == truncation:
                continue
            if k not in cache:
                cache[k] = stack_results(net, X, targets, mask, truncation=k)
            if k is None:
                text = f"full BPTT, but the network uses {method}"
            else:
                text = (f"BPTT truncated at k = {k} step{'s' if k > 1 else ''} (each E_t "
                        f"followed back only {k} step{'s' if k > 1 else ''}), but the network "
                        f"uses {method}")
                if k == 1:
                    text += "; with k = 1 δ[t] has no recurrent path from t+1 at all"
            yield k, cache[k], text

    q, l, s = row.quantity, row.layer, row.step
    t = None if s is None else s + 1
    layer = None if l is None else layers[l]
    inputs = None if l is None else (X if l == 0 else reference.activations[l - 1])
    sup = "" if l is None else _superscript(l + 2)
    if layer is not None and layer["kind"] in GATED:
        # the gate-level mistakes are gated_findings'; here: another truncation
        if q != "activations":
            for k, other, text in truncations():
                variants.append(("truncation", f"{row.name} is what {text}", row.take(other)))
    elif q == "activations" and layer["kind"] == "recurrent":
        x, a_prev = inputs[:, s], reference.states[l][:, s]
        g, W, U, b = layer["activation"], layer["W"], layer["U"], layer["b"]
        variants += [
            ("recurrent_term_missing", f"a{sup}[{t}] is computed without the recurrent term: "
             "z[t] = W x[t] + b, the U a[t-1] part is missing",
             activate(g, x @ W.T + b)),
            ("recurrent_transposed", f"z{sup}[{t}] uses U the wrong way round: a[t-1] U (Uᵀ "
             "a[t-1]) instead of a[t-1] Uᵀ (row j of U = the weights into neuron j)",
             activate(g, x @ W.T + a_prev @ U + b)),
            ("bias_missing", f"a{sup}[{t}] is computed without the bias b",
             activate(g, x @ W.T + a_prev @ U.T)),
            ("activation_missing", f"a{sup}[{t}] = z[t]: the activation g is not applied",
             x @ W.T + a_prev @ U.T + b)]
    elif q == "activations":
        a_prev, W, b = inputs[:, s], layer["W"], layer["b"]
        variants += [
            ("bias_missing", f"{row.name} is computed without the bias",
             activate(layer["activation"], a_prev @ W.T)),
            ("activation_missing", f"{row.name} = z: the activation is not applied",
             a_prev @ W.T + b)]
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
    elif q == "deltas":
        if layer["kind"] == "recurrent":
            e, g_prime = reference.output_paths[l][:, s], reference.derivatives[l][:, s]
            D, U = reference.deltas[l], layer["U"]
            if s < steps - 1:
                variants.append(("recurrent_path_missing", f"δ{sup}[{t}] has only the output "
                                 f"path e[{t}] ⊙ g'(z[{t}]): the recurrent path from t+1, "
                                 f"r_j[{t}] = Σ_i u_ij δ_i[{t + 1}] (δ[t+1] U in rows), is "
                                 "missing", e * g_prime))
            variants.append(("derivative_missing", f"δ{sup}[{t}] = dE/da[{t}] without "
                             f"⊙ g'(z[{t}])", reference.output_grads[l][:, s]))
            if truncation is None and s < steps - 1:
                variants.append(("recurrent_path_transposed", "the recurrent path uses U the "
                                 f"wrong way round: δ[{t + 1}] Uᵀ instead of δ[{t + 1}] U "
                                 "(r_j = Σ_i u_ij δ_i, a column of U)",
                                 (e + D[:, s + 1] @ U.T) * g_prime))
        for k, other, text in truncations():
            variants.append(("truncation", f"{row.name} is what {text}",
                             other["deltas"][l][:, s]))
    elif q in ("dW", "dU", "db"):
        deltas = reference.deltas[l]
        given = {"dW": inputs, "dU": None if reference.states[l] is None
                 else reference.states[l][:, :-1], "db": None}[q]

        def contribution(step, prev=None):
            prev = given if prev is None else prev
            if q == "db":
                return deltas[:, step].sum(axis=0) / n
            return deltas[:, step].T @ prev[:, step] / n

        if steps > 1:
            for step in range(steps - 1, -1, -1):
                where = ("the last step's" if step == steps - 1 else f"t = {step + 1}'s")
                part = contribution(step)
                if not np.any(part):    # (dU at t = 1 from a zero initial state)
                    continue            # zeros say nothing about which step was kept
                variants.append(("one_step_only", f"{row.name} is only {where} contribution "
                                 f"(δ[{step + 1}] ...): the sum over the time steps "
                                 "t = 1..T is missing", part))
        if q == "dU":
            variants.append(("same_step_state", "dE/dU uses a[t] where it needs a[t-1]: "
                             "dE/du_ji = Σ_t δ_j[t] a_i[t-1]",
                             sum(contribution(step, reference.states[l][:, 1:])
                                 for step in range(steps))))
        if R.ndim == 2 and R.shape[0] == R.shape[1]:
            variants.append(("transposed", f"{row.name} is ours transposed: write it as Δᵀ "
                             "A_prev (row j = the weights into neuron j)", R.T))
        for k, other, text in truncations():
            variants.append(("truncation", f"{row.name} is what {text}", other[q][l]))
    elif q == "da0":
        for k, other, text in truncations():
            variants.append(("truncation", f"{row.name} is what {text}", other[q][l]))
    for code, message, variant in variants:
        if variant is not None and close(variant) and not close(R):
            finding = Finding(code, message + ".")
            return [finding], finding.message
    findings = _factor_findings(Finding, R, C, close, m, steps)
    if findings:
        return findings, findings[0].message
    worst = ""
    if row.worst is not None:
        worst = (f" Compare the worst entry by hand: {row.worst_label}, neuronsim "
                 f"{_number(row.reference[row.worst])}, yours {_number(row.candidate[row.worst])}.")
    if layer is not None and layer["kind"] in GATED:
        return [], (f"nothing here explains {row.name}: it is not one of the classic "
                    f"{layer['kind'].upper()} mistakes (" + GATED_CHECKED[layer["kind"]]
                    + "), another truncation of BPTT, or a constant factor (m, T, 2, -1)."
                    + worst)
    return [], (f"nothing here explains {row.name}: it is not the recurrent term missing or U "
                "the wrong way round (forward or backward), g' missing, one step's contribution "
                "instead of the sum over t, a[t] for a[t-1] in dE/dU, another truncation of "
                "BPTT, a transposed gradient, or a constant factor (m, T, 2, -1)." + worst)


#: the gated mistakes gated_findings tries, in words (for "nothing here explains")
GATED_CHECKED = {
    "lstm": "the forget gate missing on the cell path back, tanh'(c) missing in the path from "
            "h to c, the gates loaded in another order, h and c confused",
    "gru": "the update gate the wrong way round (z for 1 − z), the gates loaded in another "
           "order"}


def gated_findings(net, X, targets, mask, row, rows, cache):
    """The classic LSTM and GRU mistakes (:mod:`neuronsim.crosscheck.gated_mistakes`)
    that reproduce the failing ``row``: each variant runs on the batch (its
    results kept in ``cache``), and those whose numbers equal the row's are
    named; when several do, those that reproduce the most of the given rows."""
    from .diagnosis import Finding

    kinds = {layer.kind for layer in net.layers} & set(GATED)
    if not kinds or row.take is None or row.shape_note or row.candidate is None:
        return []
    given = [r for r in rows if r.given and not r.shape_note and r.take is not None]
    matches = []
    for index, mistake in enumerate(mistakes_of([layer.kind for layer in net.layers])):
        key = ("mistake", index)
        if key not in cache:
            cache[key] = _mistake_results(net, X, targets, mask, mistake)
        results = cache[key]
        if results is None or not _reproduces(row, row.take(results)):
            continue
        matches.append((sum(_reproduces(r, r.take(results)) for r in given), mistake))
    if not matches:
        return []
    best = max(count for count, _ in matches)
    findings, codes = [], set()
    for count, mistake in matches:
        if count == best and mistake.code not in codes:
            codes.add(mistake.code)
            findings.append(Finding(mistake.code, mistake.message + "."))
    return findings


def _reproduces(row, variant):
    """True if ``variant`` equals the row's candidate (within the row's tolerance,
    at least 1e-9 relative) and differs from the reference."""
    if variant is None:
        return False
    C, R = row.candidate, row.reference
    scale = float(np.max(np.abs(R))) if R.size else 0.0
    tolerance = max(row.tolerance, 1e-9)
    atol = max(row.atol, 1e-12 * max(1.0, scale if np.isfinite(scale) else 1.0))

    def close(a, b):
        return a.shape == b.shape and bool(np.all(entry_errors(a, b) <= atol + tolerance
                                                  * np.abs(b)))
    return close(C, variant) and not close(R, variant)


def _mistake_results(net, X, targets, mask, mistake):
    """The cross-check dict of the numpy reference making ``mistake`` (None if it
    cannot run on this network)."""
    layers = stack_layers(net)
    if mistake.order is not None:
        layers = permute_gates(layers, mistake.kind, mistake.order, mistake.layer)
    try:
        with np.errstate(all="ignore"):
            result = stack_bptt(layers, X, targets, mask, net.loss.name,
                                step_loss=net.step_loss, reduction=net.reduction,
                                truncation=net.truncation,
                                step_functions=mistake.steps)
    except (ValueError, FloatingPointError):
        return None
    results = results_of_stack(net, result)
    if mistake.order is not None:
        for l, layer in enumerate(net.layers):
            if layer.kind != mistake.kind or mistake.layer not in (None, l):
                continue
            results["deltas"][l] = unpermute_blocks(results["deltas"][l], mistake.order, -1)
            for key in ("dW", "dU", "db", "db_hh"):
                results[key][l] = unpermute_blocks(results[key][l], mistake.order, 0)
    return results


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


def _heading(net, m, steps, convention):
    """The lines under the report's title: the batch, the method, the numbering."""
    truncation = net.truncation
    method = "full BPTT" if truncation is None else f"BPTT truncated at k = {truncation}"
    recurrent, _ = recurrent_indices(net)
    kinds = [layer.kind for layer in net.layers]
    if kinds[0] == "recurrent" and len(recurrent) == 1:
        layout = "net.layers[0], the recurrent layer, is layer 2"
    else:
        numbers = ", ".join(str(l + 2) for l in recurrent)
        layout = (f"net.layers[0] is layer 2; recurrent: layer{'s' if len(recurrent) > 1 else ''}"
                  f" {numbers}")
    heading = [f"{m} sequence{'s' if m > 1 else ''} of {steps} step{'s' if steps > 1 else ''} "
               f"({method})",
               f"layers as in the textbook (inputs = layer 1, {layout}); time steps t = 1..T; "
               "X[i] is sequence i (from 0)"]
    if convention == "ng":
        if len(recurrent) == 1:
            own = recurrent[0] + 2
            heading.append(
                f"convention ng: a weight's superscript is the layer it comes from; the "
                f"recurrent weights u_ji{_superscript(own)} (dE/dU{_superscript(own)}) keep "
                f"superscript {own}, since they come from layer {own} at t−1")
        else:
            heading.append("convention ng: a weight's superscript is the layer it comes from; "
                           "the recurrent weights u_ji⁽ˡ⁾ (dE/dU⁽ˡ⁾) keep their own layer's "
                           "number l, since they come from layer l at t−1")
    return heading


def _torch_name(net):
    kinds = {layer.kind for layer in net.layers}
    if kinds & set(GATED):
        cells = {"lstm": "nn.LSTMCell", "gru": "nn.GRUCell", "recurrent": "nn.RNNCell",
                 "dense": "nn.Linear"}
        parts = [cells[kind] for kind in ("lstm", "gru", "recurrent", "dense") if kind in kinds]
        return f"torch ({' + '.join(parts)}, autograd)"
    parts = ["torch.nn.RNN"] + (["nn.Linear"] if "dense" in kinds else [])
    return f"torch ({' + '.join(parts)}, autograd)"


def compare_recurrent(net, X, Y, against="numpy", tolerance=1e-9, atol=1e-12,
                      convention="nielsen"):
    """:func:`compare` for a network that reads sequences (the array layout above)."""
    X, Y, targets, mask = sequence_batch(net, X, Y)
    reference = per_neuron_sequences(net, X, Y, mask)
    candidate = recurrent_candidate(net, X, Y, targets, mask, against)
    rows = build_recurrent_rows(reference, candidate, tolerance, atol, convention)
    failing = [row for row in rows if not row.ok]
    findings, diagnosis, later = [], "", []
    if failing:
        cache = {}

        def diagnose_row(row):
            return diagnose_recurrent(net, reference, X, targets, mask, row, rows, cache)

        findings, diagnosis = diagnose_row(failing[0])
        later = later_rows(rows, failing[0], findings, "deltas" in candidate, diagnose_row,
                           recurrent=True)
        extra = float32_finding(rows, tolerance, atol)
        if extra is not None:
            findings.append(extra)
            diagnosis = f"{diagnosis} {extra.message}"
    m, steps = mask.shape
    if isinstance(against, str) and against in ("numpy", "torch"):
        name = _torch_name(net) if against == "torch" else \
            "numpy (neuronsim.crosscheck.vectorized)"
    else:
        name = _against_name(against)
    some = layers_with(net)
    quantities = [q for q in RECURRENT_QUANTITIES if q not in some or q == "dU" or some[q]]
    return Report(rows, name, m, tolerance, atol, findings, diagnosis,
                  _heading(net, m, steps, convention), later, quantities)
