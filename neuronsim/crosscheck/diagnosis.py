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
``backward_transposed``     δ^(l) = (W^(l+1) δ^(l+1)) ⊙ g'(z): W where Wᵀ belongs (square W)
``combined_shortcut``       δ^(L) = a - t with a loss where that shortcut does not hold
``layer_skipped``           all zeros: the layer was skipped (an off-by-one in the loop)
``wrong_activations``       dW^(l) = δ^(l) a^(k)ᵀ with the activations of another layer
``bias_wrong_axis``         db summed over the neurons (one number per sample)
``outputs_mean``            1/n_out (or n_out) times ours: the mean over the outputs
``loss_only``               only E differs; every other quantity given agrees
``not_finite``              a NaN or infinity on either side (never agreement)
``rounding``                differs only at the level of rounding (float32, an epsilon)
``float32``                 (the whole report) every failing row at float32 rounding
``bias_missing``            a = g(W a_prev), no b (forward)
``forward_transposed``      a = g(Wᵀ a_prev + b) (forward, square W)
``activation_missing``      a = z (forward)
``shape``                   (a shape that explains nothing by itself)
==========================  =====================================================

A δ mistake also shows in dW and db, so when no deltas were given the same
mistakes are tested on dW = δ a_prevᵀ / n and db = Σ δ / n.
"""

import numpy as np

from ..core.labels import neuron_label, symbol
from .results import Later, entry_errors
from .vectorized import activation, is_paired


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

    def __init__(self, net, reference, candidate, row, rows=()):
        self.reference = reference
        self.candidate = candidate
        self.row = row
        self.rows = rows
        self.n_out = net.n_outputs
        self.activations = [activation((layer.activation.name,
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


# A row whose largest difference is at most this fraction of its largest entry
# differs at the level of rounding (float32 keeps about 7 digits: 6e-8 per
# operation), not by one of the classic mistakes, which change values by O(1).
ROUNDING = 1e-5
FACTOR_CODES = ("sign", "batch_factor", "factor_2", "constant_factor", "outputs_mean")


def diagnose(net, reference, candidate, rows, row):
    """Findings that explain the failing ``row`` (the first divergence), and
    the text for the report.  ``reference`` is the per-neuron
    :class:`~neuronsim.crosscheck.vectorized.BatchGradients`, ``candidate`` the checked
    results dict."""
    ctx = _Context(net, reference, candidate, row, rows)
    R, C = row.reference, row.candidate
    if row.nonfinite:
        finding = nonfinite_finding(row, _why_reference_is_not_finite(ctx))
        return [finding], finding.message
    if row.quantity == "loss":
        findings = _loss_findings(ctx, row)
        return findings, _text(findings, row)
    finding = rounding_finding(row)
    if finding is not None:
        return [finding], finding.message
    findings = list(_layout_findings(ctx, row, C))
    if findings:
        return findings, _text(findings, row)
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


def later_rows(rows, first, findings, deltas_given, diagnose_row, recurrent=False):
    """A :class:`~neuronsim.crosscheck.Later` for every failing row after ``first``.

    A row *inherits* when a row it depends on fails before it: an activation or
    delta (the loss feeds nothing); when no deltas were given, the gradients
    stand for them (those of the same layer, and those of a later layer whose
    given gradients all fail).  A row that a classic mistake reproduces from
    correct inputs (``diagnose_row``, whose variants are built from neuronsim's
    values) is not inherited: with the first divergence's code it is a second,
    independent instance of that mistake, otherwise an independent one.
    Constant factors and zeros do not count as reproduced: a factor in δ
    carries over to every layer below, and a skipped layer's zero δ makes its
    dW and db zero too.  Recurrent rows are diagnosed only when nothing before
    them fails (their diagnosis recomputes BPTT).
    """
    first_codes = {f.code for f in findings} - {"shape", "rounding", "not_finite", "loss_only"}
    start = rows.index(first)
    result = []
    for row in rows[start + 1:]:
        if row.ok:
            continue
        inherited = _upstream_fails(rows, row, deltas_given)
        if inherited and recurrent:
            result.append(Later(row, "inherits"))
            continue
        found, text = diagnose_row(row)
        codes = {f.code for f in found} - {"shape"}
        structural = codes - set(FACTOR_CODES) - {"rounding", "not_finite", "loss_only",
                                                   "layer_skipped"}
        if inherited and not structural:
            result.append(Later(row, "inherits"))
        elif codes & first_codes:
            result.append(Later(row, "second instance", found, text, inherited))
        else:
            result.append(Later(row, "independent", found, text, inherited))
    return result


def _upstream_fails(rows, row, deltas_given):
    gradients = ("dW", "dU", "db", "db_hh", "da0", "dc0")
    index = rows.index(row)
    for other in rows[:index]:
        if other.ok or other.quantity == "loss":
            continue
        if other.quantity in ("activations", "deltas"):
            return True
        # without deltas, the gradients stand for them: a gradient of the same layer
        # that fails before this one shares its δ; δ of a later layer is wrong if
        # every gradient given for that layer fails
        stands_for_delta = other.layer == row.layer or other.layer > row.layer and all(
            not r.ok for r in rows if r.layer == other.layer and r.given
            and r.quantity in gradients)
        if row.quantity in gradients and not deltas_given and other.quantity in gradients \
                and stands_for_delta:
            return True
    return False


def float32_finding(rows, tolerance, atol):
    """The "float32" finding when every failing row differs at rounding level
    (:func:`at_rounding_level`, the largest difference at least 1e-8 of its row),
    with a tolerance that makes every row pass; None otherwise."""
    failing = [row for row in rows if not row.ok]
    if not failing or not all(at_rounding_level(row) for row in failing):
        return None
    scaled = [row.scaled_error for row in failing]
    if max(scaled) < 1e-8:
        return None
    single = all(np.array_equal(row.candidate.astype(np.float32).astype(float), row.candidate)
                 for row in failing)
    text = (f"Every failing row differs from ours only at rounding level (at most "
            f"{max(scaled):.2g} of its largest entry; float32 rounds at about 6e-08): the "
            "candidate looks like float32 (single precision, about 7 digits)")
    if single:
        text += ", and every value it gave for them is a float32 number"
    pairs = [(t, a) for t in (1e-6, 1e-5, 1e-4, 1e-3) for a in (atol, 1e-9, 1e-8, 1e-7, 1e-6)
             if a >= atol and t >= tolerance]
    suggestion = next(((t, a) for t, a in pairs if all(row.passes(t, a) for row in rows)), None)
    if suggestion is None:
        text += ".  Compute in float64, or loosen --tolerance (tolerance= in Python)."
    else:
        t, a = suggestion
        option = f"--tolerance {t:g}" + (f" --atol {a:g}" if a != atol else "")
        keyword = f"tolerance={t:g}" + (f", atol={a:g}" if a != atol else "")
        text += (f".  Compute in float64, or compare with {option} ({keyword} in Python), "
                 "with which every row passes.")
    return Finding("float32", text)


def _text(findings, row):
    if not findings and row.quantity == "loss":
        return (f"none of the classic factors explains E (yours {float(row.candidate):.12g}, "
                f"neuronsim {float(row.reference):.12g}): it is not m or 1/m, 2 or ½, n_out or "
                "1/n_out, or -1 times ours; compare the formula of E (docs/checking.md).")
    if not findings or all(f.code == "shape" for f in findings):
        worst = row.worst_label
        extra = ""
        if worst is not None:
            extra = (f" (worst entry {worst}: neuronsim {row.reference[row.worst]:.12g}, "
                     f"yours {row.candidate[row.worst]:.12g})")
        head = " ".join(f.message for f in findings)
        return (f"{head + ' ' if head else ''}none of the classic mistakes explains "
                f"{row.name}: it is not a transposed gradient, a batch factor m or 1/m, a "
                "factor 2, a mean over the outputs, a flipped sign, a missing or doubled "
                "activation derivative, g' taken of a instead of z, the ReLU derivative at 0, "
                "W instead of Wᵀ, the a - t shortcut, a skipped layer, the activations of the "
                "wrong layer, a bias gradient summed over the wrong axis, an update before all "
                f"deltas were computed, or softmax' on top of the combined delta{extra}.")
    return " ".join(f.message for f in findings)


# ---------------------------------------------------------------- special rows
def nonfinite_finding(row, why=""):
    """A NaN or infinity: say whose, where, and (for neuronsim's) ``why``."""
    text = f"{row.name} is not finite: {row.nonfinite_text()}."
    if row.nonfinite[0][0] == "neuronsim":
        text += (" The reference itself is not finite, so nothing can agree with it"
                 + why + ".")
    else:
        text += (" Your code produced it (an overflow in exp, a log of 0, 0/0 ...); a NaN or "
                 "infinity never counts as agreement.")
    return Finding("not_finite", text)


def at_rounding_level(row):
    """True if the row differs like rounding does: by at most ROUNDING of its largest
    entry, and at most of its entries (one entry off by 1e-6 is a change, not noise)."""
    if row.shape_note or row.scaled_error is None or row.scaled_error > ROUNDING:
        return False
    scale = float(np.max(np.abs(row.reference))) if row.reference.size else 0.0
    differing = np.count_nonzero(row.errors > 1e-12 * scale)
    return row.errors.size <= 2 or 2 * differing >= row.errors.size


def rounding_finding(row):
    """The "rounding" finding for a row at rounding level (None otherwise)."""
    if not at_rounding_level(row):
        return None
    return Finding("rounding", (
        f"{row.name} differs from ours by at most {row.scaled_error:.2g} of its largest "
        "entry: the size of rounding error (float32 keeps about 7 digits) or of a small "
        "epsilon in a formula, not one of the classic mistakes."))


def zeros_finding(row, atol=None):
    """The "layer_skipped" finding for a row that is all zeros where ours is not."""
    C, R = row.candidate, row.reference
    atol = row.atol if atol is None else atol
    if row.quantity == "loss" or not C.size or np.any(C) or not np.any(np.abs(R) > atol):
        return None
    return Finding("layer_skipped", (
        f"{row.name} is all zeros where ours is not: the layer was skipped and left at its "
        "initial zeros, an off-by-one in the layer loop (range(L - 1, 0, -1) stops before "
        "the first layer; range(1, L) skips the first)."))


def loss_only_finding(row, rows):
    """The "loss_only" finding when the failing loss ``row`` is the only row that
    fails (or the only one given); None otherwise."""
    R, C = float(row.reference), float(row.candidate)
    others = [other for other in rows if other is not row and other.given]
    if others and all(other.ok for other in others):
        return Finding("loss_only", (
            f"Only the loss differs (yours {C:.12g}, neuronsim {R:.12g}): every activation, "
            "delta and gradient you gave agrees, so backprop is right and the mistake is in "
            "the formula of E you report."))
    if not others:
        return Finding("loss_only", (f"The loss differs (yours {C:.12g}, neuronsim {R:.12g}), "
                                     "and it is the only quantity you gave."))
    return None


def _why_reference_is_not_finite(ctx):
    loss, output = ctx.loss, ctx.activations[-1].name
    if loss not in ("cross_entropy", "binary_cross_entropy") or ctx.paired:
        return ""
    A = ctx.reference.activations[-1]
    bad = A <= 0 if loss == "cross_entropy" else (A <= 0) | (A >= 1)
    if not bad.any():
        return ""
    i, j = (int(v) for v in np.argwhere(bad)[0])
    wanted = "positive (probabilities)" if loss == "cross_entropy" else "between 0 and 1"
    pair = "softmax" if loss == "cross_entropy" else "sigmoid"
    return (f": {loss} takes ln a of the output, which must be {wanted}, but the {output} "
            f"output layer gives {neuron_label('a', ctx.L - 1, j)} = {A[i, j]:.12g} for X[{i}].  "
            f"Give the output layer {pair} ({loss} after {pair} is computed from z, as "
            "PyTorch's CrossEntropyLoss and BCEWithLogitsLoss do with logits)")


def _loss_findings(ctx, row):
    """The loss row: one number, so only the named factors (m, 2, n_out, -1) mean
    anything; and when every other quantity agrees, the loss alone is wrong."""
    named = _scalar_findings(ctx, row, row.candidate, quiet_if_generic=True)
    alone = loss_only_finding(row, ctx.rows)
    return ([alone] if alone else []) + named


def _layout_findings(ctx, row, C):
    """Mistakes seen in any layout: a skipped layer, dW from the wrong activations,
    db summed over the wrong axis."""
    R = row.reference
    finding = zeros_finding(row, ctx.atol)
    if finding is not None:
        yield finding
        return
    l = row.layer
    deltas = ctx.reference.deltas[l]
    if row.quantity == "dW":
        sources = [("X", "the inputs (layer 1)", ctx.reference.inputs)] + [
            (f"a{_sup(k + 2)}", f"layer {k + 2}", A)
            for k, A in enumerate(ctx.reference.activations)]
        right = "X" if l == 0 else f"a{_sup(l + 1)}"
        for k, (symbol_name, which, A) in enumerate(sources):
            if k == l:
                continue
            with np.errstate(all="ignore"):
                variant = deltas.T @ A / ctx.n
            if variant.shape == C.shape and ctx.close(C, variant):
                own = ", the layer's own output," if k == l + 1 else ""
                yield Finding("wrong_activations", (
                    f"{row.name} = δ{_sup(l + 2)} {symbol_name}ᵀ: it uses the activations of "
                    f"{which}{own} where dW{_sup(l + 2)} = δ{_sup(l + 2)} {right}ᵀ takes those of "
                    f"the layer before it (layer {l + 1}): an off-by-one in the list of "
                    "activations (does it start with X?)."))
                return
    if row.quantity == "db" and C.size == ctx.m:
        variant = deltas.sum(axis=1) / ctx.n
        if ctx.close(C.reshape(-1), variant):
            hidden = (f"; with a batch of {ctx.m} and {R.size} neurons the shapes agree, so only "
                      "the values show it" if C.size == R.size else "")
            yield Finding("bias_wrong_axis", (
                f"{row.name} is δ{_sup(l + 2)} summed over the neurons (axis 1), one number per "
                f"sample: the bias gradient sums over the samples, db = Σ_i δ_i / m "
                f"(delta.sum(axis=0) with one sample per row){hidden}."))
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
    n_out = ctx.n_out
    if n_out > 1 and (near(1.0 / n_out) if ctx.loss != "mse" else near(float(n_out))):
        if ctx.loss == "mse":
            text = (f"{name} is exactly n_out = {n_out} times ours: summed over the {n_out} "
                    "outputs, where mse averages over them (E = Σ_j (t_j - a_j)² / n_out).")
        else:
            text = (f"{name} is exactly 1/n_out = 1/{n_out} of ours: the loss averaged over the "
                    f"{n_out} outputs, where {ctx.loss} sums over them (a mean over the outputs "
                    "is mse's convention, not this loss's).")
        found.append(Finding("outputs_mean", text))
    if not found and not quiet_if_generic and not near(1.0) and R.size > 1:
        found.append(Finding("constant_factor", (
            f"{name} is {s:.9g} times ours at every entry: a constant factor, but not one of "
            f"the classic ones (m = {m}, 2, -1).")))
    return found


def _gradients_match(ctx):
    """True if every dW and db row given passes (in the layouts the table accepts)."""
    return all(row.ok for row in ctx.rows if row.quantity in ("dW", "db") and row.given)


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


def _forward_findings(ctx, row, C):
    l = row.layer
    act, W, b = ctx.activations[l], ctx.weights[l], ctx.biases[l]
    A_prev = ctx.a_prev(l)
    name = row.name
    if ctx.close(C, act.g(A_prev @ W.T)):
        yield Finding("bias_missing", f"{name} = g(W a) without the bias: z = W a + b needs b.")
    if W.shape[0] == W.shape[1] and ctx.close(C, act.g(A_prev @ W + b)):
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
            if matches(act.backward(R, z, a)) or matches(R * a * (1 - a)):
                yield Finding("softmax_on_combined", (
                    f"{name} = softmax'(z) applied on top of the combined softmax + "
                    f"cross-entropy delta a - t: a - t already is dE/dz{layer}, the softmax "
                    "derivative is inside it."))
        elif matches(R * a * (1 - a)):
            yield Finding("derivative_twice", (
                f"{name} = (a - t) ⊙ a(1 - a): sigmoid' applied on top of the combined "
                f"sigmoid + binary_cross_entropy delta a - t, which already is dE/dz{layer}."))
        return

    if output and ctx.loss != "half_sse" and matches(a - ref.targets):
        yield Finding("combined_shortcut", (
            f"{name} = a - t: the shortcut of softmax + cross_entropy (and sigmoid + "
            f"binary_cross_entropy), where dE/da ⊙ g'(z) simplifies to a - t, used with "
            f"{ctx.loss} after {act.name}, where it does not hold: δ{layer} = dE/da ⊙ "
            f"g'(z{layer}) with dE/da = {_dE_da_text(ctx.loss)}."))
        return
    if act.name != "linear" and matches(u):
        yield Finding("derivative_missing", (
            f"{name} = dE/da{layer} without ⊙ g'(z{layer}): the {act.name} derivative is "
            "missing at this layer."))
    if act.name not in ("linear", "relu") and matches(act.backward(R, z, a)):
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
        W_next = ctx.weights[l + 1]
        if W_next.shape[0] == W_next.shape[1] and matches(
                act.backward(ref.deltas[l + 1] @ W_next.T, z, a)):
            above = _sup(l + 3)
            yield Finding("backward_transposed", (
                f"{name} = (W{above} δ{above}) ⊙ g'(z{layer}): the backward pass used W where "
                f"Wᵀ belongs, δ{layer} = (W{above})ᵀ δ{above} ⊙ g'(z{layer}) (with one sample "
                f"per row: delta @ W, not delta @ W.T); the shapes did not catch it because "
                f"W{above} is square ({W_next.shape[0]} × {W_next.shape[1]})."))
        yield from _updated_before(ctx, row, C, to_row)


def _updated_before(ctx, row, C, to_row):
    """δ^(l) = ((W^(l+1) - η dW^(l+1))ᵀ δ^(l+1)) ⊙ g'(z^(l)) = ours - η P; fit η."""
    ref = ctx.reference
    l = row.layer
    act = ctx.activations[l]
    P = to_row(act.backward(ref.deltas[l + 1] @ ref.dW[l + 1],
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
    return {"binary_cross_entropy": "(a - t) / (a(1 - a))", "cross_entropy": "-t / a",
            "half_sse": "a - t", "sse": "2(a - t)", "mse": "2(a - t) / n_out"}[loss]

