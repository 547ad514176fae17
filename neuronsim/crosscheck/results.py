"""What a cross-check compares: result dicts and .npz files, rows and the report.

``compare`` (:mod:`neuronsim.crosscheck.compare`) and the recurrent
``compare_recurrent`` (:mod:`neuronsim.crosscheck.compare_rnn`) both build
their tables from these pieces: a :class:`Row` is one quantity at one layer
(reference, candidate, errors), a :class:`Report` the whole table with the
first divergence and the diagnosis.  An entry passes when both sides are
finite and |yours - ours| <= atol + tolerance · |ours|: a NaN or infinity on
either side fails with its place (two NaNs never agree), and a report that
compared nothing is not ok.  A layout that holds the same entries in the same
order (db as (n, 1) for (n,)) is compared in neuronsim's shape, and the report
says so.
"""

import os

import numpy as np
from tabulate import tabulate

from ..files.reading import load_arrays
from ..core.labels import (
    bias_label,
    neuron_label,
    partial_label,
    symbol,
    weight_label,
    weight_superscript,
)

QUANTITIES = ("activations", "deltas", "dW", "db", "loss")
RECURRENT_QUANTITIES = ("activations", "deltas", "dW", "dU", "db", "db_hh", "da0", "dc0",
                        "loss")
PER_LAYER = ("activations", "deltas", "dW", "dU", "db", "db_hh", "da0", "dc0")
#: per-layer keys that only some layers have (recurrent weights, the recurrent-side
#: bias b_hh of an LSTM or GRU, a learned initial state h0, an LSTM's learned c0)
SOME_LAYERS = ("dU", "db_hh", "da0", "dc0")


def check_results(results, n_layers, where="results", known=QUANTITIES):
    """Validate a results dict; return it with float arrays (lists per layer).

    ``known`` is the allowed keys; "loss" is one number, every other key a
    list with one array per layer.  For a network that reads sequences
    (``known`` has "dU") an entry may be None: not given for that layer (and
    "dU", "da0" are None at the layers without recurrent weights or a learned
    initial state; :func:`spread_per_layer` makes those lists).
    """
    if not isinstance(results, dict):
        raise ValueError(f"{where}: expected a dict with keys among {', '.join(known)}, "
                         f"got {type(results).__name__}")
    unknown = sorted(set(results) - set(known))
    if unknown:
        raise ValueError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(known)})")
    checked = {}
    for key, value in results.items():
        if value is None:
            continue
        if key == "loss":
            try:
                checked[key] = float(np.asarray(value, dtype=float).reshape(()))
            except (TypeError, ValueError):
                raise ValueError(f"{where}['loss']: expected one number, got {value!r}") from None
            continue
        if isinstance(value, np.ndarray) and n_layers == 1:
            value = [value]  # a one-layer network's array on its own
        if not isinstance(value, (list, tuple)) or len(value) != n_layers:
            raise ValueError(f"{where}[{key!r}]: expected a list of {n_layers} arrays "
                             "(one per layer with weights)")
        try:
            checked[key] = [None if v is None and "dU" in known else np.asarray(v, dtype=float)
                            for v in value]
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{where}[{key!r}]: not an array of numbers ({exc})") from None
    return checked


def spread_per_layer(value, n_layers, layers, where):
    """``dU`` or ``da0`` as a list of ``n_layers`` entries.

    ``layers`` are the indices of the layers that have the parameter.  Given
    as such a list (None at every other layer) it is kept; one array on its
    own is the parameter of the only such layer.  ValueError otherwise.
    """
    if isinstance(value, (list, tuple)) and len(value) == n_layers and all(
            value[l] is None for l in range(n_layers) if l not in layers) and (
            len(layers) != 1 or n_layers > 1 or np.ndim(value) != 2):
        return list(value)
    if len(layers) == 1:
        spread = [None] * n_layers
        spread[layers[0]] = value
        return spread
    listed = ", ".join(map(str, layers)) or "none"
    raise ValueError(f"{where}: expected a list of {n_layers} entries, an array at the "
                     f"layers that have this parameter ({listed}) and None at the others")


def save_results(path, results):
    """Write a results dict to ``path`` (.npz) as ``activations_0``, ..., ``loss``
    (``dU_l``, ``da0_l`` at the layers that have them; a lone ``dU`` array is
    saved as ``dU``)."""
    flat = {}
    for key, value in results.items():
        if value is None:
            continue
        if key == "loss" or (key in SOME_LAYERS and isinstance(value, np.ndarray)):
            flat[key] = np.asarray(value, dtype=float)
        else:
            for l, array in enumerate(value):
                if array is not None:
                    flat[f"{key}_{l}"] = np.asarray(array, dtype=float)
    np.savez(path, **flat)


def load_results(path, n_layers, recurrent=False, layers_with=None):
    """Read an .npz written by :func:`save_results` (no pickles are loaded).

    For a network that reads sequences (``recurrent``), ``layers_with`` maps
    "dU" and "da0" to the indices of the layers that have them; a lone ``dU``
    (or ``da0``) is the parameter of the only such layer.
    """
    path = os.fspath(path)
    stored = load_arrays(path, "npz")   # size-limited, no pickles, real numbers only
    layers_with = dict({"dU": [0], "da0": [], "db_hh": [], "dc0": []}, **(layers_with or {}))
    results = {}
    per_layer = PER_LAYER if recurrent else QUANTITIES[:-1]
    singles = ("loss",) + (SOME_LAYERS if recurrent else ())
    for name, array in stored.items():
        key, _, index = name.rpartition("_")
        if name in singles:
            results[name] = array
        elif key in per_layer and index.isdigit() and int(index) < n_layers:
            if key in SOME_LAYERS and int(index) not in layers_with[key]:
                raise ValueError(f"{path}: unexpected array {name!r} (layer {index} has no "
                                 f"{key})")
            results.setdefault(key, [None] * n_layers)[int(index)] = array
        else:
            raise ValueError(f"{path}: unexpected array {name!r} (expected loss or "
                             f"{', '.join(k + '_l' for k in per_layer)} with l < {n_layers})")
    for key, arrays in list(results.items()):
        if key == "loss":
            continue
        if key in SOME_LAYERS:
            if isinstance(arrays, np.ndarray):
                results[key] = spread_per_layer(arrays, n_layers, layers_with[key],
                                                f"{path}: {key}")
                continue
            layers = layers_with[key]
        else:
            layers = range(n_layers)
        missing = [f"{key}_{l}" for l in layers if arrays[l] is None]
        if missing:
            raise ValueError(f"{path}: {key} given for some layers only; missing {missing[0]}")
    return check_results(results, n_layers, path,
                         RECURRENT_QUANTITIES if recurrent else QUANTITIES)


def _name_of(function):
    module = getattr(function, "__module__", None)
    name = getattr(function, "__qualname__", None) or getattr(function, "__name__", None)
    if module and name:
        return f"{module}:{name}"
    return repr(function)


# ---------------------------------------------------------------- one row
KIND_OF = {"activations": "a", "deltas": "delta", "dW": "dW", "dU": "dU", "db": "db",
           "db_hh": "db_hh", "da0": "da0", "dc0": "dc0", "loss": "loss"}


class Row:
    """One quantity at one layer: the reference array, yours, and the errors.

    ``quantity`` is a key of the results dict; ``layer`` the 0-based index
    into ``net.layers`` (None for the loss); ``name`` its textbook label.
    """

    def __init__(self, quantity, layer, name, reference, candidate, tolerance, atol,
                 label_entry):
        self.quantity = quantity
        self.layer = layer
        self.name = name
        self.reference = np.asarray(reference, dtype=float)
        self.given = candidate is not None
        self.candidate = None if candidate is None else np.asarray(candidate, dtype=float)
        self.tolerance = tolerance
        self.atol = atol
        self.label_entry = label_entry
        self.step = None           # recurrent networks: 0-based time index (t = step + 1)
        self.gate = None           # an LSTM or GRU layer's row: the gate's name
        self.take = None           # take(results): this row's part of a full results dict
        self.shape_note = None     # a layout that cannot be read: "shape (4, 3), expected (3, 4)"
        self.layout_note = None    # a layout read as ours: "given as (3, 1), read as (3,)"
        self.nonfinite = []        # [(side, index, value)]: first NaN/inf of neuronsim, yours
        self.errors = None         # |yours - ours| where both are finite
        self.max_abs = self.max_rel = None
        self.worst = None          # index into the arrays
        self.ok = True
        if self.given:
            self._measure()

    def _measure(self):
        reference, candidate = self.reference, self.candidate
        if candidate.shape != reference.shape:
            if same_entries(candidate.shape, reference.shape):
                self.layout_note = f"given as {candidate.shape}, read as {reference.shape}"
                candidate = self.candidate = candidate.reshape(reference.shape)
            else:
                self.ok = False
                self.shape_note = (f"shape {candidate.shape}, expected {reference.shape}")
                return
        for side, array in (("neuronsim", reference), ("yours", candidate)):
            bad = ~np.isfinite(array)
            if bad.any():
                index = tuple(int(i) for i in np.argwhere(bad)[0])
                self.nonfinite.append((side, index, float(array[index])))
        finite = np.isfinite(reference) & np.isfinite(candidate)
        with np.errstate(invalid="ignore", over="ignore"):
            errors = self.errors = np.where(finite, np.abs(candidate - reference), 0.0)
        self.max_abs = float(errors.max()) if errors.size else 0.0
        with np.errstate(divide="ignore", invalid="ignore"):
            relative = np.where(errors == 0, 0.0, errors / np.abs(reference))
            excess = np.where(errors == 0, 0.0, errors / (self.atol + self.tolerance * np.abs(reference)))
        self.max_rel = float(relative.max()) if relative.size else 0.0
        if self.nonfinite:
            self.ok = False
            self.worst = self.nonfinite[0][1]
        elif excess.size and excess.max() > 0:
            self.worst = np.unravel_index(int(np.argmax(excess)), excess.shape)
            self.ok = bool(excess.max() <= 1.0)

    def passes(self, tolerance, atol):
        """Would this row pass with another tolerance?  (Never with NaN, inf or a bad shape.)"""
        if not self.given:
            return True
        if self.shape_note or self.nonfinite:
            return False
        return bool(np.all(self.errors <= atol + tolerance * np.abs(self.reference)))

    @property
    def scaled_error(self):
        """The largest |yours - ours| over the largest |ours| of the row (None if not measured)."""
        if self.errors is None or self.nonfinite:
            return None
        scale = float(np.max(np.abs(self.reference))) if self.reference.size else 0.0
        if scale == 0.0:
            return None if self.max_abs else 0.0
        return self.max_abs / scale

    def nonfinite_text(self):
        """"neuronsim has nan at δ₁⁽²⁾ of X[0]; yours has inf at ..." (or "")."""
        parts = []
        for side, index, value in self.nonfinite:
            array = self.reference if side == "neuronsim" else self.candidate
            count = int(np.sum(~np.isfinite(array)))
            more = f" (and {count - 1} more non-finite entr{'y' if count == 2 else 'ies'})" \
                if count > 1 else ""
            parts.append(f"{side} has {value} at {self.label_entry(index)}{more}")
        return "; ".join(parts)

    @property
    def status(self):
        if not self.given:
            return "not given"
        if self.shape_note:
            return "FAIL (shape)"
        if self.nonfinite:
            values = [value for _, _, value in self.nonfinite]
            return "FAIL (NaN)" if any(np.isnan(values)) else "FAIL (inf)"
        return "ok" if self.ok else "FAIL"

    @property
    def worst_label(self):
        return None if self.worst is None else self.label_entry(self.worst)

    def where(self):
        """Python-side name of the row, e.g. ``dW[1] (net.layers[1])``."""
        if self.layer is None:
            return "loss"
        if self.gate is not None:
            when = "" if self.step is None else f", t = {self.step + 1}"
            return f"{self.quantity}[{self.layer}] (net.layers[{self.layer}], the {self.gate} gate{when})"
        if self.quantity == "dc0":
            return f"dc0[{self.layer}] (net.layers[{self.layer}], the initial cell state c[0])"
        if self.quantity == "dU":
            return f"dU[{self.layer}] (net.layers[{self.layer}], the recurrent weights)"
        if self.quantity == "da0":
            return f"da0[{self.layer}] (net.layers[{self.layer}], the initial state a[0])"
        if self.step is not None:
            return (f"{self.quantity}[{self.layer}][:, {self.step}] (net.layers[{self.layer}], "
                    f"t = {self.step + 1})")
        return f"{self.quantity}[{self.layer}] (net.layers[{self.layer}])"

    def __repr__(self):
        return f"Row({self.name}, {self.status})"


def same_entries(given, expected):
    """True if an array of shape ``given`` holds the entries of shape ``expected`` in the
    same order, differing only by axes of length 1 (db as (1, n) or (n, 1) for (n,)).
    The report always says when it read such a layout (Row.layout_note)."""
    return given != expected and tuple(n for n in given if n != 1) == \
        tuple(n for n in expected if n != 1)


def entry_errors(candidate, reference):
    """|candidate - reference| entry by entry; inf wherever either side is NaN or
    infinite, so a non-finite entry never counts as agreement (not even NaN
    against NaN, or inf against inf)."""
    finite = np.isfinite(candidate) & np.isfinite(reference)
    with np.errstate(invalid="ignore", over="ignore"):
        errors = np.abs(candidate - reference)
    return np.where(finite, errors, np.inf)


def _superscript(number):
    return symbol("a", (), number)[1:]


def build_rows(reference, candidate, n_layers, tolerance, atol, convention="nielsen"):
    """The rows in computation order: a per layer, E, then δ, dW, db from the output back."""
    rows = []

    def row(quantity, layer, name, label_entry):
        ref = reference.loss if quantity == "loss" else getattr(reference, quantity)[layer]
        given = candidate.get(quantity)
        if given is not None and quantity != "loss":
            given = given[layer]
        rows.append(Row(quantity, layer, name, ref, given, tolerance, atol, label_entry))

    for l in range(n_layers):
        row("activations", l, "a" + _superscript(l + 2),
            lambda i, l=l: f"{neuron_label('a', l, i[1])} of X[{i[0]}]")
    row("loss", None, "E", lambda i: "E")
    for l in range(n_layers - 1, -1, -1):
        sup = weight_superscript(l, convention)
        row("deltas", l, "δ" + _superscript(l + 2),
            lambda i, l=l: f"{neuron_label('delta', l, i[1])} of X[{i[0]}]")
        row("dW", l, "dE/dW" + _superscript(sup),
            lambda i, l=l: partial_label(weight_label(l, i[0], i[1], convention)))
        row("db", l, "dE/db" + _superscript(sup),
            lambda i, l=l: partial_label(bias_label(l, i[0], convention)))
    return rows


# ---------------------------------------------------------------- the report
class Later:
    """A failing row after the first divergence: ``kind`` is "inherits" (a row it
    depends on fails before it), "second instance" (the first divergence's mistake
    again, reproduced from correct inputs) or "independent" (everything it depends
    on agrees); ``findings`` and ``text`` its own diagnosis (empty when inherited);
    ``upstream_fails``: a row it depends on fails too (its mistake then reproduces
    it from neuronsim's correct inputs all the same)."""

    def __init__(self, row, kind, findings=(), text="", upstream_fails=False):
        self.row = row
        self.kind = kind
        self.findings = list(findings)
        self.text = text
        self.upstream_fails = upstream_fails

    def __repr__(self):
        return f"Later({self.row.name}, {self.kind})"


class Report:
    """The result of :func:`compare`.

    ``ok`` (something was compared and every given quantity is finite and
    within tolerance), ``rows`` (one :class:`Row` per quantity and layer, in
    computation order), ``first_divergence`` (the first failing Row, or None),
    ``findings`` (the classic mistakes that explain it,
    :class:`neuronsim.crosscheck.diagnosis.Finding`), ``diagnosis`` (those findings in
    words; "" when ok), ``later`` (a :class:`Later` for every failing row after
    the first divergence) and ``reason`` (why it is not ok, in one line; ""
    when ok).  ``str(report)`` is the table.
    """

    def __init__(self, rows, against, m, tolerance, atol, findings, diagnosis, heading=None,
                 later=(), quantities=None):
        self.rows = rows
        self.quantities = quantities or (RECURRENT_QUANTITIES if heading else QUANTITIES)
        self.heading = heading
        self.against = against
        self.batch_size = m
        self.tolerance = tolerance
        self.atol = atol
        self.findings = findings
        self.diagnosis = diagnosis
        self.later = list(later)
        failing = [row for row in rows if not row.ok]
        self.first_divergence = failing[0] if failing else None
        self.ok = bool(self.compared) and not failing

    @property
    def compared(self):
        return [row for row in self.rows if row.given]

    @property
    def reason(self):
        if not self.compared:
            return ("nothing compared: the results had none of "
                    + ", ".join(self.quantities)
                    + "; a check that compares nothing fails")
        if self.first_divergence is None:
            return ""
        row = self.first_divergence
        return f"{row.name} differs ({row.status})"

    def __str__(self):
        table = []
        for row in self.rows:
            if not row.given:
                table.append([row.name, "", "", "", "", "", row.status])
            elif row.shape_note:
                table.append([row.name, "", "", row.shape_note, "", "", row.status])
            else:
                if row.worst is None:
                    ours = yours = ""
                else:
                    ours = _number(row.reference[row.worst])
                    yours = _number(row.candidate[row.worst])
                errors = [None, None] if row.nonfinite else [row.max_abs, row.max_rel]
                table.append([row.name, _error(errors[0]), _error(errors[1]),
                              row.worst_label or "", ours, yours,
                              row.status + (" (layout)" if row.layout_note else "")])
        heading = self.heading or [
            f"batch of {self.batch_size}",
            "layers as in the textbook (inputs = layer 1, net.layers[0] is layer 2); "
            "X rows count from 0"]
        lines = [
            f"cross-check: neuronsim (per neuron) against {self.against}, {heading[0]}, "
            f"tolerance {self.tolerance:g} relative + {self.atol:g} absolute",
            *heading[1:],
            "",
            tabulate(table, headers=["quantity", "max abs err", "max rel err", "worst entry",
                                     "neuronsim", "yours", "status"],
                     tablefmt="simple", disable_numparse=True),
            "",
        ]
        read = [f"{row.name} {row.layout_note}" for row in self.rows if row.layout_note]
        if read:
            lines.append("layout: " + "; ".join(read) + " (the same entries in the same "
                         "order, compared in neuronsim's shape)")
        if not self.compared:
            lines.append(self.reason)
        elif self.ok:
            lines.append(f"all {len(self.compared)} compared quantities agree")
        else:
            lines += self._divergence_lines()
        return "\n".join(lines)

    def _divergence_lines(self):
        row = self.first_divergence
        after = [other for other in self.rows[self.rows.index(row) + 1:] if other.given]
        inherited = [later.row for later in self.later if later.kind == "inherits"]
        tail = ""
        if not self.later:
            tail = ("; every row after it agrees" if after
                    else "; no row after it was compared")
        elif len(inherited) == len(after):
            tail = "; everything after it in computation order inherits the error"
        lines = [f"first divergence: {row.name}, {row.where()}{tail}",
                 f"diagnosis: {self.diagnosis}"]
        if inherited and not tail:
            lines.append(f"inherited: {_names(inherited)} fail{'s' if len(inherited) == 1 else ''}"
                         " after a row that they depend on fails")
        for later in self.later:
            if later.kind == "second instance":
                lines.append(f"also {later.row.name}, {later.row.where()}: a second, "
                             f"independent instance of the same mistake: {later.text}")
            elif later.kind == "independent":
                why = ("a mistake of its own, reproduced from correct inputs"
                       if later.upstream_fails else
                       "fails on its own (every row it depends on agrees)")
                lines.append(f"also {later.row.name}, {later.row.where()}: {why}: {later.text}")
        return lines

    def __repr__(self):
        if self.ok:
            state = "ok"
        elif self.first_divergence is None:
            state = "nothing compared"
        else:
            state = f"first divergence {self.first_divergence.name}"
        return f"Report(against {self.against}: {state})"


def _names(rows):
    names = [row.name for row in rows]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _number(value):
    return f"{value:.12g}"


def _error(value):
    return "" if value is None else f"{value:.3g}"


def _against_name(against):
    if isinstance(against, str) and against in ("numpy", "torch"):
        return {"numpy": "numpy (neuronsim.crosscheck.vectorized)", "torch": "torch (autograd)"}[against]
    if callable(against):
        return _name_of(against)
    return os.fspath(against)
