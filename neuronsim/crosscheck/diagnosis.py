"""Which classic backprop mistake explains a mismatch?

:func:`diagnose` looks at the *first divergence* of a cross-check (the first
quantity, in computation order, where someone's numbers differ from the
per-neuron reference; see :mod:`neuronsim.crosscheck.compare`).  Everything before
it agrees, so the mistake is local: this module rebuilds the quantity the way
each classic mistake would and says which one reproduces the numbers:

==========================  =====================================================
code                        the quantity equals ...
==========================  =====================================================
``transposed``              the transpose of ours (dW as a_prev δᵀ, (n_in, n_out))
``batch_factor``            m or 1/m times ours (m = batch size)
``factor_2``                2 or ½ times ours (the ½ of squared error)
``sign``                    -1 times ours
``constant_factor``         some other constant times ours
``derivative_missing``      δ = dE/da, without ⊙ g'(z)
``derivative_twice``        g'(z) applied twice (or on top of sigmoid + BCE's a - t)
``softmax_on_combined``     the softmax Jacobian on top of softmax + CE's a - t
``derivative_of_a``         g'(a) instead of g'(z) (sigmoid, tanh)
``derivative_of_z``         the a-formula used on z: z(1 - z), 1 - z²
``relu_at_zero``            ours except where z = 0, with another g'(0)
``updated_before_deltas``   δ^(l) computed with W^(l+1) already updated
``bias_missing``            a = g(W a_prev), no b (forward)
``forward_transposed``      a = g(Wᵀ a_prev + b) (forward, square W)
``activation_missing``      a = z (forward)
``shape``                   (a shape that explains nothing by itself)
==========================  =====================================================

A δ mistake also shows in dW and db, so when no deltas were given the same
mistakes are tested on dW = δ a_prevᵀ / n and db = Σ δ / n.
"""

import numpy as np

from ..core.labels import symbol
from .results import entry_errors
from .vectorized import is_paired, matrix_activation


class Finding:
    """One mistake that reproduces the numbers: ``code`` (see the module table)
    and ``message`` (a sentence for the report)."""

    def __init__(self, code, message):
        self.code = code
        self.message = message

    def __repr__(self):
        return f"Finding({self.code!r})"

    def __str__(self):
        return self.message


def _sup(number):
    return symbol("a", (), number)[1:]


class _Context:
    """What the checks need: the reference batch and the network's names."""

    def __init__(self, net, reference, candidate, row):
        self.reference = reference
        self.candidate = candidate
        self.row = row
        self.activations = [matrix_activation((layer.activation.name,
                                               {k: float(v) for k, v in layer.activation.params.items()}))
                            for layer in net.layers]
        self.weights = [W for W, _ in net.to_arrays()]
        self.biases = [b for _, b in net.to_arrays()]
        self.loss = net.loss.name
        self.reduction = net.reduction
        self.learning_rate = net.learning_rate
        self.L = len(net.layers)
        self.m = len(reference.inputs)
        self.n = self.m if net.reduction == "mean" else 1
        self.paired = is_paired(self.loss, self.activations[-1].name)
        scale = float(np.max(np.abs(row.reference))) if row.reference.size else 0.0
        self.tolerance = max(row.tolerance, 1e-9)
        self.atol = max(row.atol, 1e-12 * max(1.0, scale if np.isfinite(scale) else 1.0))

    def close(self, candidate, variant):
        variant = np.asarray(variant, dtype=float)
        if candidate.shape != variant.shape:
            return False
        errors = entry_errors(candidate, variant)
        return bool(np.all(errors <= self.atol + self.tolerance * np.abs(variant)))

    def a_prev(self, l):
        return self.reference.inputs if l == 0 else self.reference.activations[l - 1]


def diagnose(net, reference, candidate, rows, row):
    """Findings that explain the failing ``row`` (the first divergence), and
    the text for the report.  ``reference`` is the per-neuron
    :class:`~neuronsim.crosscheck.vectorized.BatchGradients`, ``candidate`` the checked
    results dict."""
    ctx = _Context(net, reference, candidate, row)
    R, C = row.reference, row.candidate
    findings = []
    if C.shape != R.shape:
        if C.T.shape != R.shape:
            return [Finding("shape", f"{row.name} has {row.shape_note}")], \
                f"{row.name} has {row.shape_note}; fix the layout first"
        C = C.T
        findings.append(_transposed_finding(ctx, row, matches=ctx.close(C, R)))
        if findings[0].code == "transposed":
            return findings, _text(findings, row)
    elif R.ndim == 2 and R.shape[0] == R.shape[1] and ctx.close(C, R.T) and not ctx.close(C, R):
        findings.append(_transposed_finding(ctx, row, matches=True))
        return findings, _text(findings, row)

    specific = list(_specific(ctx, row, C))
    findings += specific
    findings += _scalar_findings(ctx, row, C, quiet_if_generic=bool(specific))
    return findings, _text(findings, row)


def _text(findings, row):
    if not findings or all(f.code == "shape" for f in findings):
        worst = row.worst_label
        extra = ""
        if worst is not None:
            extra = (f" (worst entry {worst}: neuronsim {row.reference[row.worst]:.12g}, "
                     f"yours {row.candidate[row.worst]:.12g})")
        head = " ".join(f.message for f in findings)
        return (f"{head + ' ' if head else ''}none of the classic mistakes explains "
                f"{row.name}: it is not a transposed gradient, a batch factor m or 1/m, a "
                "factor 2, a flipped sign, a missing or doubled activation derivative, g' taken "
                "of a instead of z, the ReLU derivative at 0, an update before all deltas were "
                f"computed, or softmax' on top of the combined delta{extra}.")
    return " ".join(f.message for f in findings)


# ---------------------------------------------------------------- transposes
def _transposed_finding(ctx, row, matches):
    if not matches:
        return Finding("shape", f"{row.name} has {row.shape_note} (the transposed layout), "
                                "and even transposed it differs.")
    if row.quantity == "dW":
        n_out, n_in = row.reference.shape
        return Finding("transposed", (
            f"{row.name} is the transpose of the right gradient: it has the (n_in, n_out) "
            f"layout a_prev δᵀ, ({n_in}, {n_out}), but W has shape ({n_out}, {n_in}) with "
            "row j = the weights into neuron j, so dW = δ a_prevᵀ."))
    return Finding("transposed", (
        f"{row.name} is the transpose of ours: it has one column per sample; "
        "expected one row per sample, shape (m, n_l)."))


# ---------------------------------------------------------------- constant factors
def _scalar_findings(ctx, row, C, quiet_if_generic):
    R = row.reference
    finite = np.isfinite(R) & np.isfinite(C)
    if not finite.all() or not np.any(R):
        return []
    s = float(np.vdot(C, R) / np.vdot(R, R))
    if not s or not ctx.close(C, s * R):
        return []
    m, name = ctx.m, row.name

    def near(value):
        return abs(s - value) <= 1e-9 * abs(value)

    found = []
    if near(-1.0):
        found.append(Finding("sign", (
            f"{name} has the opposite sign of ours: a sign flipped (dE/da is a - t, not t - a; "
            "or the minus of the update w - η dE/dw was folded into the gradient).")))
    if m > 1 and near(float(m)):
        if ctx.reduction == "mean":
            text = (f"{name} is exactly m = {m} times ours: summed over the batch where the "
                    f"mean (reduction 'mean') divides by m: the 1/m is missing.")
        else:
            text = (f"{name} is exactly m = {m} times ours: multiplied by the batch size, "
                    "though this network's loss is the plain sum over the batch.")
        found.append(Finding("batch_factor", text))
    if m > 1 and near(1.0 / m):
        if row.quantity in ("deltas", "activations"):
            text = (f"{name} is exactly 1/m = 1/{m} of ours: the 1/m of the batch mean was "
                    "folded into dE/da, so every delta carries it.  That is a convention, not a "
                    "bug, if dW and db still match (here they "
                    f"{'do' if _gradients_match(ctx) else 'do not'}); neuronsim's deltas are "
                    "per sample, dE/dz of that sample's loss.")
        elif ctx.reduction == "mean":
            text = (f"{name} is exactly 1/m = 1/{m} of ours: divided by the batch size twice "
                    "(for instance once in dE/da and again in dW).")
        else:
            text = (f"{name} is exactly 1/m = 1/{m} of ours: divided by the batch size, but "
                    "this network's loss is the sum over the batch (reduction 'sum').")
        found.append(Finding("batch_factor", text))
    if near(2.0) or near(0.5):
        which = "twice" if near(2.0) else "half"
        if ctx.loss == "half_sse" and near(2.0):
            why = "the ½ of E = ½ Σ (t - a)² was dropped (dE/da is a - t, not 2(a - t))"
        elif ctx.loss in ("sse", "mse") and near(0.5):
            why = (f"a ½ too many: {ctx.loss} has no ½, so dE/da = 2(a - t)"
                   + (" / n" if ctx.loss == "mse" else ""))
        else:
            why = "the ½ of squared error dropped or doubled"
        found.append(Finding("factor_2", f"{name} is exactly {which} of ours: {why}."))
    if not found and not quiet_if_generic and not near(1.0):
        found.append(Finding("constant_factor", (
            f"{name} is {s:.9g} times ours at every entry: a constant factor, but not one of "
            f"the classic ones (m = {m}, 2, -1).")))
    return found


def _gradients_match(ctx):
    for key in ("dW", "db"):
        given = ctx.candidate.get(key)
        if given is None:
            continue
        for ours, yours in zip(getattr(ctx.reference, key), given):
            if np.shape(yours) != np.shape(ours) or not ctx.close(np.asarray(yours), ours):
                return False
    return True


# ---------------------------------------------------------------- specific mistakes
def _specific(ctx, row, C):
    l = row.layer
    if row.quantity == "activations":
        yield from _forward_findings(ctx, row, C)
    elif row.quantity == "deltas":
        yield from _delta_findings(ctx, row, C, lambda V: V)
    elif row.quantity in ("dW", "db") and _deltas_untested(ctx, l):
        A_prev = ctx.a_prev(l)
        if row.quantity == "dW":
            yield from _delta_findings(ctx, row, C, lambda V: V.T @ A_prev / ctx.n)
        else:
            yield from _delta_findings(ctx, row, C, lambda V: V.sum(axis=0) / ctx.n)


def _deltas_untested(ctx, l):
    """True if no deltas of layer l were given (so a δ mistake shows first in dW, db)."""
    return ctx.candidate.get("deltas") is None


def _rows(act, function, *arrays):
    """Apply a column-layout MatrixActivation method to row-layout arrays."""
    return function(*(a.T for a in arrays)).T


def _forward_findings(ctx, row, C):
    l = row.layer
    act, W, b = ctx.activations[l], ctx.weights[l], ctx.biases[l]
    A_prev = ctx.a_prev(l)
    name = row.name
    if ctx.close(C, _rows(act, act.g, A_prev @ W.T)):
        yield Finding("bias_missing", f"{name} = g(W a) without the bias: z = W a + b needs b.")
    if W.shape[0] == W.shape[1] and ctx.close(C, _rows(act, act.g, A_prev @ W + b)):
        yield Finding("forward_transposed", (
            f"{name} = g(Wᵀ a + b): the forward pass used the transpose of W (row j of W "
            "holds the weights into neuron j, so z = W a + b)."))
    if act.name != "linear" and ctx.close(C, A_prev @ W.T + b):
        yield Finding("activation_missing", f"{name} = z: the activation g ({act.name}) "
                                            "was not applied.")


def _delta_findings(ctx, row, C, to_row):
    """Rebuild δ^(l) the way each mistake would; ``to_row`` maps δ to the row's quantity."""
    ref = ctx.reference
    l = row.layer
    act = ctx.activations[l]
    u, z, a, R = ref.output_grads[l], ref.zs[l], ref.activations[l], ref.deltas[l]
    output = l == ctx.L - 1
    paired = output and ctx.paired
    layer = _sup(l + 2)
    name = row.name

    def matches(V):
        with np.errstate(all="ignore"):
            return ctx.close(C, to_row(V))

    if paired:
        if matches(u):
            yield Finding("derivative_missing", (
                f"{name} = dE/da{layer} = {_dE_da_text(ctx.loss)}, without the {act.name} "
                f"derivative; with {ctx.loss} after {act.name} the two combine into "
                f"δ{layer} = {'a - t' if act.name == 'sigmoid' else 'a Σt - t'}."))
        if act.name == "softmax":
            if matches(_rows(act, act.backward, R, z, a)) or matches(R * a * (1 - a)):
                yield Finding("softmax_on_combined", (
                    f"{name} = softmax'(z) applied on top of the combined softmax + "
                    f"cross-entropy delta a - t: a - t already is dE/dz{layer}, the softmax "
                    "derivative is inside it."))
        elif matches(R * a * (1 - a)):
            yield Finding("derivative_twice", (
                f"{name} = (a - t) ⊙ a(1 - a): sigmoid' applied on top of the combined "
                f"sigmoid + binary_cross_entropy delta a - t, which already is dE/dz{layer}."))
        return

    if act.name != "linear" and matches(u):
        yield Finding("derivative_missing", (
            f"{name} = dE/da{layer} without ⊙ g'(z{layer}): the {act.name} derivative is "
            "missing at this layer."))
    if act.name not in ("linear", "relu") and matches(_rows(act, act.backward, R, z, a)):
        yield Finding("derivative_twice", (
            f"{name} has the {act.name} derivative g'(z{layer}) applied twice."))
    if act.name in ("sigmoid", "tanh"):
        with np.errstate(all="ignore"):
            g_of_a = act.g(a)
            prime_of_a = g_of_a * (1 - g_of_a) if act.name == "sigmoid" else 1 - g_of_a ** 2
            formula_on_z = z * (1 - z) if act.name == "sigmoid" else 1 - z ** 2
        if matches(u * prime_of_a):
            yield Finding("derivative_of_a", (
                f"{name} uses g'(a{layer}) instead of g'(z{layer}): the {act.name} derivative "
                f"was evaluated at the output a = g(z), so g applied twice; g'(z) = "
                f"{'a(1 - a)' if act.name == 'sigmoid' else '1 - a²'} in terms of a."))
        if matches(u * formula_on_z):
            yield Finding("derivative_of_z", (
                f"{name} uses {'z(1 - z)' if act.name == 'sigmoid' else '1 - z²'}: the "
                f"formula of g' in terms of a = g(z) was given z{layer} instead of a{layer}."))
    if act.name in ("relu", "leaky_relu"):
        kink = np.abs(z) <= 1e-12 * max(1.0, float(np.max(np.abs(z))))
        if kink.any():
            ours = 0.0 if act.name == "relu" else act.slope
            for value in (1.0, 0.5, 0.0, act.slope):
                if value == ours:
                    continue
                if matches(np.where(kink, u * value, R)):
                    yield Finding("relu_at_zero", (
                        f"{name} differs from ours only where z{layer} = 0, the kink of "
                        f"{act.name}: yours takes g'(0) = {value:g}; neuronsim takes "
                        f"{ours:g}, the left-hand derivative (as PyTorch does).  Either is a "
                        "valid subgradient, so this is a convention; move the inputs off the "
                        "kink to compare."))
                    break
    if not output:
        yield from _updated_before(ctx, row, C, to_row)


def _updated_before(ctx, row, C, to_row):
    """δ^(l) = ((W^(l+1) - η dW^(l+1))ᵀ δ^(l+1)) ⊙ g'(z^(l)) = ours - η P; fit η."""
    ref = ctx.reference
    l = row.layer
    act = ctx.activations[l]
    P = to_row(_rows(act, act.backward, ref.deltas[l + 1] @ ref.dW[l + 1],
                     ref.zs[l], ref.activations[l]))
    R = to_row(ref.deltas[l])
    if not np.all(np.isfinite(P)) or not np.any(P):
        return
    eta = float(np.vdot(R - C, P) / np.vdot(P, P))
    if eta > 0 and ctx.close(C, R - eta * P):
        above = _sup(l + 3)
        rate = f"{eta:.6g}"
        if ctx.learning_rate is not None and abs(eta - ctx.learning_rate) <= 1e-9 * eta:
            rate += ", the network's learning rate"
        yield Finding("updated_before_deltas", (
            f"{row.name} is what comes out when W{above} was already updated "
            f"(learning rate {rate}) before δ{_sup(l + 2)} = (W{above}ᵀ δ{above}) ⊙ g'(z) "
            "used it: compute every delta first, then update the weights."))


def _dE_da_text(loss):
    return {"binary_cross_entropy": "(a - t) / (a(1 - a))", "cross_entropy": "-t / a"}[loss]
