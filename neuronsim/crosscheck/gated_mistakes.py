"""The classic LSTM and GRU mistakes, as one-step variants of the numpy reference.

Each mistake is a pair of one-step functions (forward, backward) with the
signatures of :func:`~neuronsim.crosscheck.vectorized.step_forward` and
:func:`~neuronsim.crosscheck.vectorized.step_backward`, which
:func:`~neuronsim.crosscheck.vectorized.stack_bptt` runs in place of
the right ones (``step_functions=``).  The mistake is made in every layer of its kind;
dense and Elman layers are computed as usual.  The diagnosis
(:mod:`neuronsim.crosscheck.compare_rnn`) runs each variant on the checked
batch and names those that reproduce someone's numbers.

Each variant is the one a student writes; with the notation of
:mod:`neuronsim.crosscheck.vectorized.gated` (dC_next = F[t+1] ⊙ dC[t+1]):

=====================================  ============================================================
code                                   the variant
=====================================  ============================================================
``forget_gate_missing``                LSTM: dC[t-1] = dC[t], where it is F[t] ⊙ dC[t]
``cell_tanh_derivative_missing``       LSTM: dC = dH ⊙ O + dC_next, without ⊙ tanh'(C[t])
``gate_order``                         the blocks of W, U, b_ih, b_hh read in another gate order
                                       (gradients written back in that order)
``h_c_confused``                       LSTM: the gates read C[t-1] where they read H[t-1]
                                       (forward and its backward); or dU = Δᵀ C[t-1]; or
                                       dE/dh[t-1] and dE/dc[t-1] sent back swapped
``update_gate_reversed``               GRU: H = Zu ⊙ N + (1 - Zu) ⊙ H[t-1] (forward and
                                       backward), or the backward of that formula alone
=====================================  ============================================================
"""

from itertools import permutations

import numpy as np

from .vectorized.gated import GRUCache, _split, lstm_forward
from .vectorized.stack import step_backward, step_forward

#: the gates of each kind in torch's order, with their letters
GATE_NAMES = {"lstm": ("input", "forget", "cell", "output"), "gru": ("reset", "update", "new")}
LETTERS = {"lstm": "ifgo", "gru": "rzn"}


class Mistake:
    """One variant: ``code``, ``message`` (what it does, for the report),
    ``kind`` ("lstm" or "gru"), the one-step functions ``steps`` (forward,
    backward), ``order`` (a gate permutation, None for the others) and
    ``layer``: None for the mistake in every layer of its kind, or the 0-based
    index of the one layer that makes it (:meth:`in_layer`)."""

    def __init__(self, code, message, kind, steps=(step_forward, step_backward), order=None,
                 layer=None):
        self.code = code
        self.message = message
        self.kind = kind
        self.steps = steps
        self.order = order
        self.layer = layer

    def in_layer(self, layer):
        """The same mistake made by ``net.layers[layer]`` only (textbook layer
        ``layer`` + 2: the inputs are layer 1); the other layers compute right."""
        forward, backward = self.steps

        def only_here(variant, correct):
            def step(p, *args, **options):
                return (variant if p["index"] == layer else correct)(p, *args, **options)
            return step

        steps = (only_here(forward, step_forward), only_here(backward, step_backward))
        return Mistake(self.code, f"{self.message} (in layer {layer + 2} only)", self.kind,
                       steps, self.order, layer)

    def __repr__(self):
        where = "" if self.layer is None else f", layer {self.layer}"
        return f"Mistake({self.code!r}, {self.kind}{where})"


# ---------------------------------------------------------------- LSTM
def _lstm_backward(dH, dC_next, cache, forget=True, tanh_derivative=True, previous=None):
    """The LSTM backward of neuronsim.crosscheck.vectorized.gated, with one classic
    slip switched on: ``forget`` False sends dC back without ⊙ F; ``tanh_derivative`` False drops
    tanh'(C) from the path dH → dC; ``previous`` the array dU is taken against
    (H[t-1] unless given).  Returns (dX, dH_prev, dC_prev, grads, delta)."""
    p = cache.params
    I, F, G, O = cache.gates
    dO = dH * cache.tanh_C
    dC = dH * O * ((1.0 - cache.tanh_C ** 2) if tanh_derivative else 1.0) + dC_next
    delta = np.concatenate([dC * G * I * (1.0 - I), dC * cache.C_prev * F * (1.0 - F),
                            dC * I * (1.0 - G * G), dO * O * (1.0 - O)], axis=-1)
    H_prev = cache.H_prev if previous is None else previous
    grads = {"W": delta.T @ cache.X_t, "U": delta.T @ H_prev,
             "b_ih": delta.sum(axis=0), "b_hh": delta.sum(axis=0), "Z": delta}
    return delta @ p["W"], delta @ p["U"], dC * F if forget else dC, grads, dC


def _lstm_variant_backward(**slip):
    def backward(p, dA, from_next, cache, delta=None):
        if p["kind"] != "lstm":
            return step_backward(p, dA, from_next, cache, delta)
        dX, dH_prev, dC_prev, grads, _ = _lstm_backward(dA + from_next[0], from_next[1], cache,
                                                        **slip)
        return dX, (dH_prev, dC_prev), grads
    return backward


def _dU_against_cell(p, dA, from_next, cache, delta=None):
    if p["kind"] != "lstm":
        return step_backward(p, dA, from_next, cache, delta)
    dX, dH_prev, dC_prev, grads, _ = _lstm_backward(dA + from_next[0], from_next[1], cache,
                                                    previous=cache.C_prev)
    return dX, (dH_prev, dC_prev), grads


def _states_swapped(p, dA, from_next, cache, delta=None):
    if p["kind"] != "lstm":
        return step_backward(p, dA, from_next, cache, delta)
    dX, dH_prev, dC_prev, grads, _ = _lstm_backward(dA + from_next[0], from_next[1], cache)
    return dX, (dC_prev, dH_prev), grads


def _cell_fed_forward(p, A_prev, state):
    """The gates read C[t-1] where they need H[t-1]: Z = X Wᵀ + b_ih + C[t-1] Uᵀ + b_hh."""
    if p["kind"] != "lstm":
        return step_forward(p, A_prev, state)
    _, C_prev = state
    # the LSTM step with C[t-1] in H[t-1]'s place; its cache then holds what the
    # gates read, so dU = Δᵀ C[t-1]
    H, C, cache = lstm_forward(p, A_prev, C_prev, C_prev)
    return H, (H, C), cache


def _cell_fed_backward(p, dA, from_next, cache, delta=None):
    """The backward of :func:`_cell_fed_forward`: C[t-1] gets Δ U as well, H[t-1] nothing."""
    if p["kind"] != "lstm":
        return step_backward(p, dA, from_next, cache, delta)
    dX, dU_path, dC_prev, grads, _ = _lstm_backward(dA + from_next[0], from_next[1], cache)
    return dX, (np.zeros_like(dU_path), dC_prev + dU_path), grads


# ---------------------------------------------------------------- GRU
def _gru_reversed_forward(p, A_prev, state):
    """H = Zu ⊙ N + (1 - Zu) ⊙ H[t-1]: the update gate the other way round."""
    if p["kind"] != "gru":
        return step_forward(p, A_prev, state)
    H, (_,), cache = step_forward(p, A_prev, state)
    _, Zu, N = cache.gates
    H = Zu * N + (1.0 - Zu) * cache.H_prev
    return H, (H,), GRUCache(p, cache.X_t, cache.H_prev, cache.Z, cache.gates,
                             cache.H_tilde_n, H)


def _gru_reversed_backward(p, dA, from_next, cache, delta=None):
    """The backward of H = Zu ⊙ N + (1 - Zu) ⊙ H[t-1]."""
    if p["kind"] != "gru":
        return step_backward(p, dA, from_next, cache, delta)
    dH = dA + from_next[0]
    R, Zu, N = cache.gates
    delta_n = dH * Zu * (1.0 - N * N)
    delta_z = dH * (N - cache.H_prev) * Zu * (1.0 - Zu)
    delta_r = delta_n * cache.H_tilde_n * R * (1.0 - R)
    delta = np.concatenate([delta_r, delta_z, delta_n], axis=-1)
    delta_h = np.concatenate([delta_r, delta_z, R * delta_n], axis=-1)
    grads = {"W": delta.T @ cache.X_t, "b_ih": delta.sum(axis=0),
             "U": delta_h.T @ cache.H_prev, "b_hh": delta_h.sum(axis=0), "Z": delta}
    return delta @ p["W"], (delta_h @ p["U"] + dH * (1.0 - Zu),), grads


# ---------------------------------------------------------------- gate order
def order_text(kind, order):
    """"i, g, f, o" for a permutation of torch's gates (indices into its order)."""
    letters = LETTERS[kind]
    return ", ".join(letters[q] for q in order)


def permute_gates(layers, kind, order, only=None):
    """The stack's layers as a user who reads the blocks of every ``kind`` layer
    (or of ``layers[only]`` alone) in gate ``order`` computes with: block b of W,
    U, b_ih, b_hh taken as gate ``order[b]``.  (Returns new dicts; the others are
    shared.)"""
    changed = []
    for l, layer in enumerate(layers):
        if layer.get("kind") != kind or (only is not None and l != only):
            changed.append(layer)
            continue
        layer = dict(layer)
        for name in ("W", "U", "b_ih", "b_hh"):
            blocks = _split(np.asarray(layer[name], dtype=float).T, len(order))
            reordered = [None] * len(order)
            for b, q in enumerate(order):
                reordered[q] = blocks[b]
            layer[name] = np.concatenate(reordered, axis=-1).T
        changed.append(layer)
    return changed


def unpermute_blocks(array, order, axis):
    """Write an array of torch-ordered gate blocks (``axis``) back in ``order``:
    block b of the result is gate ``order[b]``."""
    blocks = np.split(np.asarray(array), len(order), axis=axis)
    return np.concatenate([blocks[q] for q in order], axis=axis)


# ---------------------------------------------------------------- the list
def mistakes_of(layer_kinds):
    """Every variant for a network whose layers are of ``layer_kinds`` (in order):
    each mistake in every gated layer of its kind and, where a kind has two
    layers or more, in each of them alone."""
    found = mistakes(set(layer_kinds) & set(LETTERS))
    for mistake in list(found):
        layers = [l for l, kind in enumerate(layer_kinds) if kind == mistake.kind]
        if len(layers) > 1:
            found += [mistake.in_layer(l) for l in layers]
    return found


def mistakes(kinds):
    """Every variant for a network whose gated layers are of ``kinds`` ({"lstm", "gru"})."""
    found = []
    if "lstm" in kinds:
        found += [
            Mistake("forget_gate_missing", "the cell path back misses the forget gate: "
                    "dE/dc[t−1] gets dE/dc[t] where it needs f[t] ⊙ dE/dc[t]", "lstm",
                    (step_forward, _lstm_variant_backward(forget=False))),
            Mistake("cell_tanh_derivative_missing", "tanh'(c) is missing in the output "
                    "gate's path from h to c (h = o ⊙ tanh(c)): dE/dc[t] = dE/dh[t] ⊙ o "
                    "+ f[t+1] ⊙ dE/dc[t+1], where it needs "
                    "dE/dh[t] ⊙ o ⊙ (1 − tanh²(c[t])) + ...", "lstm",
                    (step_forward, _lstm_variant_backward(tanh_derivative=False))),
            Mistake("h_c_confused", "h and c confused: the gates read c[t−1] where they need "
                    "h[t−1] (z = W x[t] + U c[t−1] + b)", "lstm",
                    (_cell_fed_forward, _cell_fed_backward)),
            Mistake("h_c_confused", "h and c confused: dE/dU is written with c[t−1] where it "
                    "needs h[t−1] (dE/dU = Σ_t δ[t] h[t−1]ᵀ)", "lstm",
                    (step_forward, _dU_against_cell)),
            Mistake("h_c_confused", "h and c confused: what goes back to step t−1 is swapped, "
                    "dE/dh[t−1] gets f[t] ⊙ dE/dc[t] and dE/dc[t−1] gets Σ_q U_qᵀ δ_q[t]",
                    "lstm", (step_forward, _states_swapped)),
        ]
    if "gru" in kinds:
        found += [
            Mistake("update_gate_reversed", "the update gate the wrong way round: "
                    "h[t] = z ⊙ n + (1 − z) ⊙ h[t−1], where torch's GRU has "
                    "h[t] = (1 − z) ⊙ n + z ⊙ h[t−1]", "gru",
                    (_gru_reversed_forward, _gru_reversed_backward)),
            Mistake("update_gate_reversed", "the backward pass has the update gate the wrong "
                    "way round (the derivative of h[t] = z ⊙ n + (1 − z) ⊙ h[t−1]), while the "
                    "forward pass has torch's h[t] = (1 − z) ⊙ n + z ⊙ h[t−1]", "gru",
                    (step_forward, _gru_reversed_backward)),
        ]
    for kind in sorted(kinds):
        gates = len(LETTERS[kind])
        torch_order = order_text(kind, range(gates))
        for order in permutations(range(gates)):
            if list(order) == list(range(gates)):
                continue
            found.append(Mistake(
                "gate_order", f"the gates are loaded in the wrong order: the blocks of rows of "
                f"W, U, b_ih and b_hh read as {order_text(kind, order)}, where torch's order is "
                f"{torch_order} (and the gradients written back in that order)", kind,
                order=order))
    return found
