"""Network files: JSON descriptions of a network, checked before use.

The format is documented in docs/spec.md.  In short::

    {
      "inputs": 2,
      "layers": [
        {"activation": "sigmoid", "weights": [[0.15, 0.2], [0.25, 0.3]], "biases": [0.35, 0.35]},
        {"activation": "sigmoid", "size": 2, "init": "xavier", "seed": 1}
      ],
      "loss": "half_sse",
      "learning_rate": 0.5,
      "samples": [{"input": [0.05, 0.1], "target": [0.01, 0.99]}]
    }

A layer's ``"type"`` is its kind: ``"dense"`` (the default),
``"recurrent"`` (docs/spec.md, "Recurrent layers"), ``"lstm"`` or ``"gru"``
(docs/spec.md, "LSTM and GRU layers"), in any order.  A network
with a recurrent layer reads sequences: its samples are
``{"input": [x[1], ..., x[T]], "target": [t[1], ..., t[T]] or t[T]}`` and it
takes ``step_loss`` and ``truncation``.  Each kind's keys are checked by its
own function below (``LAYER_CHECKS``); a new kind adds one.

Every problem is reported as a :class:`~neuronsim.core.errors.SpecError` whose
message starts with the place, e.g. ``layers[1].weights[0]: expected 2
numbers, got 3``; a file's name is put in front when the spec came from a
file.  Files are read with ``json`` only (no pickle, no eval) and written
atomically: a temporary file in the same folder, then a rename.
"""

import functools
import json
import math
import os
import re
import sys

from ..core.activations import ACTIVATION_PARAMS, ACTIVATIONS, get_activation
from ..core.errors import SpecError
from ..core.initializers import INITIALIZERS, initial_weights
from ..core.layer import Layer
from ..core.losses import LOSSES, get_loss
from ..core.network import REDUCTIONS, STEP_LOSSES, Network
from ..core.numbers import fraction, get_numbers, is_fraction
from ..core.optimizers import OPTIMIZERS, check_options
from ..core.regularization import Clip, Penalty
from ..core.schedules import check_schedule_options
from .atomic import atomic_write_text
from .saving import check_savable
from .reading import read_text_file

FORMAT_NAME = "neuronsim-network"
FORMAT_VERSION = 1

# Limits that keep a hostile or mistaken file from exhausting memory.
MAX_LAYERS = 1000
MAX_LAYER_SIZE = 100_000
MAX_PARAMETERS = 10_000_000
MAX_FILE_BYTES = 512 * 1024 * 1024
MAX_SCALE = 1e6

BIAS_LAYOUTS = ("separate", "first_column")

_TOP_KEYS = {"format", "version", "name", "description", "inputs", "layers", "loss",
             "learning_rate", "reduction", "update_biases", "bias_layout", "seed", "samples",
             "step_loss", "truncation", "optimizer", "schedule", "clip", "penalty"}
# keys beyond plain gradient descent (docs/optimizers.md), each checked by its function
_TRAINING_KEYS = ("optimizer", "schedule", "clip", "penalty")
# keys that only a network with a recurrent layer reads
_SEQUENCE_KEYS = ("step_loss", "truncation")
MAX_STEPS = 100_000
_LAYER_KEYS = {"type", "activation", "weights", "biases", "size", "init", "seed", "scale",
               "slope", "name", "optimizer_state"}
_RECURRENT_KEYS = {"type", "activation", "weights", "recurrent_weights", "biases",
                   "initial_state", "learn_initial_state", "size", "init", "seed", "scale",
                   "slope", "name", "optimizer_state"}
LAYER_TYPES = ("dense", "recurrent", "lstm", "gru")
# the kinds that keep a state from step to step (a network with one reads sequences)
SEQUENCE_TYPES = ("recurrent", "lstm", "gru")
# gated kinds (their classes, with the gate names in torch's order: gated_class) and the
# keys of a layer
GATED_KINDS = ("lstm", "gru")


def gated_class(kind):
    """LSTMLayer or GRULayer.  The recurrent kinds are imported when a file has one, so
    that reading a feed-forward network (``neuronsim trace``) does not load them."""
    if kind == "lstm":
        from ..core.lstm import LSTMLayer

        return LSTMLayer
    from ..core.gru import GRULayer

    return GRULayer


_GATED_KEYS = {"type", "size", "gates", "init", "seed", "scale", "initial_state",
               "initial_cell", "learn_initial_state", "name", "optimizer_state"}
_GATE_KEYS = ("weights", "recurrent_weights", "bias_ih", "bias_hh")


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _number(value, where):
    if isinstance(value, str) or is_fraction(value):
        return _fraction(value, where)
    if not _is_number(value):
        raise SpecError(f"{where}: expected a number, got {_show(value)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise SpecError(f"{where}: expected a finite number, got {value}")
    if isinstance(value, int):
        try:
            float(value)
        except OverflowError:
            raise SpecError(f"{where}: expected a finite number, got an integer of "
                            f"{value.bit_length()} bits (larger than any float)") from None
    return value


# "3/8", "-1/2", "0.75", "1e-3": at most 100 digits and a 3-digit exponent, so a
# hostile string cannot ask for a gigantic integer.  (A pattern that re compiles on
# first use and keeps, not at import: start-up time.)
_FRACTION_TEXT = (r"\s*[+-]?(\d{1,100}(\.\d{0,100})?|\.\d{1,100})([eE][+-]?\d{1,3})?"
                  r"(\s*/\s*\d{1,100})?\s*\Z")


def _fraction(value, where):
    """An exact fraction, "3/8" in a file; network_from_spec accepts it only
    with numbers="fraction" (see _refuse_fractions)."""
    if isinstance(value, str) and not re.match(_FRACTION_TEXT, value):
        raise SpecError(f'{where}: expected a number or a fraction such as "3/8", '
                        f"got {_show(value)}")
    try:
        return fraction(value.strip() if isinstance(value, str) else value)
    except (ValueError, ZeroDivisionError):
        raise SpecError(f'{where}: expected a number or a fraction such as "3/8", '
                        f"got {_show(str(value))}") from None


def _refuse_fractions(value, mode, where=""):
    """Raise at the first fraction in a checked spec: fractions are exact
    values, read only by the fraction number system (docs/number-modes.md)."""
    if is_fraction(value):
        raise SpecError(f'{where.lstrip(".")}: the fraction "{value}" is read only with '
                        f'numbers="fraction" (this network computes in {mode})')
    if isinstance(value, dict):
        for key, item in value.items():
            _refuse_fractions(item, mode, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _refuse_fractions(item, mode, f"{where}[{index}]")


def _show(value):
    try:
        text = json.dumps(value) if not isinstance(value, float) else repr(value)
    except (RecursionError, TypeError, ValueError):  # nested too deeply, not JSON, huge int
        text = f"a {type(value).__name__}"
    return text if len(text) <= 40 else text[:37] + "..."


def _int(value, where, low, high):
    if not isinstance(value, int) or isinstance(value, bool):
        raise SpecError(f"{where}: expected a whole number, got {_show(value)}")
    if not low <= value <= high:
        raise SpecError(f"{where}: must be between {low} and {high}, got {value}")
    return value


def _vector(value, length, where):
    if not isinstance(value, list):
        raise SpecError(f"{where}: expected a list of {length} numbers, got {_show(value)}")
    if len(value) != length:
        raise SpecError(f"{where}: expected {length} numbers, got {len(value)}")
    return [_number(v, f"{where}[{i}]") for i, v in enumerate(value)]


def _choice(value, known, where, what):
    if not isinstance(value, str) or value not in known:
        raise SpecError(f"{where}: unknown {what} {_show(value)} (known: {', '.join(known)})")
    return value


def check_spec(spec):
    """Validate a spec dict; return a normalised copy with explicit weights.

    Layers given by ``size`` + ``init`` get their seeded random weights here,
    so the result always has ``weights`` and ``biases`` (in the separate
    layout), and every layer has its ``type``.  Raises SpecError naming the
    first problem found.
    """
    if not isinstance(spec, dict):
        raise SpecError(f"network: expected a JSON object, got {_show(spec)}")
    unknown = sorted(set(spec) - _TOP_KEYS)
    if unknown:
        raise SpecError(f"{unknown[0]}: unknown key (known: {', '.join(sorted(_TOP_KEYS))})")
    if "format" in spec and spec["format"] != FORMAT_NAME:
        raise SpecError(f"format: expected {FORMAT_NAME!r}, got {_show(spec['format'])}")
    if "version" in spec and spec["version"] != FORMAT_VERSION:
        raise SpecError(f"version: this neuronsim reads version {FORMAT_VERSION}, "
                        f"got {_show(spec['version'])}")
    if "inputs" not in spec:
        raise SpecError("inputs: missing (the number of network inputs)")
    n_inputs = _int(spec["inputs"], "inputs", 1, MAX_LAYER_SIZE)
    layers = spec.get("layers")
    if not isinstance(layers, list) or not layers:
        raise SpecError(f"layers: expected a non-empty list of layers, got {_show(layers)}")
    if len(layers) > MAX_LAYERS:
        raise SpecError(f"layers: at most {MAX_LAYERS} layers, got {len(layers)}")
    kinds = [_layer_type(layer, f"layers[{i}]") for i, layer in enumerate(layers)]
    sequential = any(kind in SEQUENCE_TYPES for kind in kinds)
    if not sequential:
        for key in _SEQUENCE_KEYS:
            if key in spec:
                raise SpecError(f"{key}: only for networks with a recurrent layer "
                                "(\"type\": \"recurrent\", \"lstm\" or \"gru\")")
    bias_layout = _choice(spec.get("bias_layout", "separate"), BIAS_LAYOUTS,
                          "bias_layout", "bias layout")
    if sequential and bias_layout != "separate":
        raise SpecError("bias_layout: networks with a recurrent layer use the \"separate\" "
                        "layout (biases in their own list)")
    seed = spec.get("seed", 0)
    if seed is not None:
        _int(seed, "seed", 0, 2**63)
    _check_total_size(layers, n_inputs)
    # The file's one stream, for the layers that draw weights without a seed of their
    # own; made at the first draw (a file that gives every weight does not need random).
    shared_rng = functools.cache(lambda: _random(seed))
    out_layers = []
    n_prev = n_inputs
    parameters = 0
    for i, (layer, kind) in enumerate(zip(layers, kinds)):
        where = f"layers[{i}]"
        # Count before building, so an absurd file is refused before it costs memory.
        size = layer.get("size")
        if isinstance(size, int) and not isinstance(size, bool) and 0 < size <= MAX_LAYER_SIZE:
            if parameters + size * (n_prev + 1) > MAX_PARAMETERS:
                raise SpecError(f"{where}: the network would have more than "
                                f"{MAX_PARAMETERS:,} parameters (the limit for a "
                                "plain-Python simulator)")
        checked = LAYER_CHECKS[kind](layer, where, n_prev, bias_layout, shared_rng)
        n_prev = checked["size"] if "gates" in checked else len(checked["weights"])
        parameters += _parameter_count(checked)
        if parameters > MAX_PARAMETERS:
            raise SpecError(f"{where}: the network would have more than {MAX_PARAMETERS:,} "
                            "parameters (the limit for a plain-Python simulator)")
        out_layers.append(checked)
    out = {"inputs": n_inputs, "layers": out_layers}
    out.update(check_common_keys(spec))
    out.update(check_training_keys(spec))
    for i, (layer, checked) in enumerate(zip(layers, out_layers)):
        if "optimizer_state" in layer:
            checked["optimizer_state"] = check_optimizer_state(
                layer["optimizer_state"], f"layers[{i}].optimizer_state", checked,
                out.get("optimizer"))
    samples = spec.get("samples", [])
    if sequential:
        out["step_loss"] = _choice(spec.get("step_loss", "sum"), STEP_LOSSES, "step_loss",
                                   "step_loss")
        truncation = spec.get("truncation")
        if truncation is not None:
            _int(truncation, "truncation", 1, MAX_STEPS)
        out["truncation"] = truncation
        out["samples"] = [check_sequence_sample(s, f"samples[{i}]", n_inputs, n_prev)
                          for i, s in enumerate(samples)]
    else:
        out["samples"] = [_check_sample(s, f"samples[{i}]", n_inputs, n_prev)
                          for i, s in enumerate(samples)]
    return out


def _layer_type(layer, where):
    if not isinstance(layer, dict):
        raise SpecError(f"{where}: expected an object with an activation, got {_show(layer)}")
    return _choice(layer.get("type", "dense"), LAYER_TYPES, f"{where}.type", "layer type")


def _parameter_count(checked):
    """Weights, recurrent weights and biases of a checked layer."""
    if "gates" in checked:
        n, gates = checked["size"], checked["gates"]
        return len(gates) * n * (len(next(iter(gates.values()))["weights"][0]) + n + 2)
    rows = checked["weights"]
    count = len(rows) * (len(rows[0]) + 1)
    if "recurrent_weights" in checked:
        count += len(rows) ** 2
    return count


def check_common_keys(spec):
    """The keys every network file shares (feed-forward or recurrent), checked:
    loss, name, description, learning_rate, reduction, update_biases, and that
    samples is a list (each kind checks its own sample shapes)."""
    out = {"loss": _choice(spec.get("loss", "half_sse"), list(LOSSES), "loss", "loss")}
    for key in ("name", "description"):
        if key in spec:
            if not isinstance(spec[key], str):
                raise SpecError(f"{key}: expected a string, got {_show(spec[key])}")
            out[key] = spec[key]
    if spec.get("learning_rate") is not None:
        rate = _number(spec["learning_rate"], "learning_rate")
        if rate <= 0:
            raise SpecError(f"learning_rate: must be positive, got {rate}")
        out["learning_rate"] = rate
    out["reduction"] = _choice(spec.get("reduction", "mean"), REDUCTIONS, "reduction", "reduction")
    update_biases = spec.get("update_biases", True)
    if not isinstance(update_biases, bool):
        raise SpecError(f"update_biases: expected true or false, got {_show(update_biases)}")
    out["update_biases"] = update_biases
    if not isinstance(spec.get("samples", []), list):
        raise SpecError('samples: expected a list of {"input", "target"} objects')
    return out


# ------------------------------------------------ beyond plain gradient descent
def check_training_keys(spec):
    """optimizer, schedule, clip and penalty (docs/optimizers.md), each checked by
    its function below; absent keys stay absent."""
    checks = {"optimizer": _check_optimizer, "schedule": _check_schedule,
              "clip": _check_clip, "penalty": _check_penalty}
    return {key: checks[key](spec[key]) for key in _TRAINING_KEYS if key in spec}


def _exact_options(value, where):
    """The options of an object beside its name, "3/8" text read as a fraction
    (accepted only with numbers="fraction", as every fraction in a file)."""
    return {k: _fraction(v, f"{where}.{k}") if isinstance(v, str) else v
            for k, v in value.items() if k != "name"}


def _json_value(value):
    """An option as the file writes it: a fraction as its "p/q" text."""
    if is_fraction(value):
        return f"{value.numerator}/{value.denominator}" if value.denominator != 1 \
            else value.numerator
    if isinstance(value, dict):
        return {k: _json_value(v) for k, v in value.items()}
    return value


def _named_object(value, where, known):
    if not isinstance(value, dict):
        raise SpecError(f"{where}: expected an object such as {{\"name\": \"{known[0]}\"}}, "
                        f"got {_show(value)}")
    if "name" not in value:
        raise SpecError(f"{where}.name: missing (one of {', '.join(known)})")
    return _choice(value["name"], known, f"{where}.name", where)


def _check_optimizer(value):
    """{"name": "adam", "betas": [0.9, 0.999], ...}: torch.optim's options by name."""
    name = _named_object(value, "optimizer", list(OPTIMIZERS))
    options = _exact_options(value, "optimizer")
    try:
        checked = check_options(name, options)
    except ValueError as exc:
        raise SpecError(str(exc)) from None
    return {"name": name, **checked}


SCHEDULE_STATE = ("last_epoch", "lr", "base_lr")


def _check_schedule(value):
    """{"name": "step", "step_size": 10, ...}; a saved one adds last_epoch, lr, base_lr."""
    from ..core.schedules import SCHEDULES
    name = _named_object(value, "schedule", list(SCHEDULES))
    options = {k: v for k, v in _exact_options(value, "schedule").items()
               if k not in SCHEDULE_STATE}
    try:
        out = {"name": name, **check_schedule_options(name, options)}
    except ValueError as exc:
        raise SpecError(str(exc)) from None
    state = [key for key in SCHEDULE_STATE if key in value]
    if state and len(state) != len(SCHEDULE_STATE):
        missing = [key for key in SCHEDULE_STATE if key not in value][0]
        raise SpecError(f"schedule.{missing}: missing (a saved schedule has last_epoch, lr "
                        "and base_lr)")
    if state:
        out["last_epoch"] = _int(value["last_epoch"], "schedule.last_epoch", 0, 2**63)
        for key in ("lr", "base_lr"):
            if _number(value[key], f"schedule.{key}") < 0:
                raise SpecError(f"schedule.{key}: must be >= 0, got {value[key]}")
            out[key] = value[key]
    return out


def _keyed_options(value, where, keys, example):
    """An object of ``keys`` only (``example`` shows one), fractions read exactly."""
    if not isinstance(value, dict):
        raise SpecError(f"{where}: expected {example}, got {_show(value)}")
    unknown = sorted(set(value) - set(keys))
    if unknown:
        raise SpecError(f"{where}.{unknown[0]}: unknown key (known: {', '.join(keys)})")
    return _exact_options(value, where)


def _check_clip(value):
    """{"max_norm": 1.0} or {"value": 0.5}."""
    value = _keyed_options(value, "clip", ("max_norm", "value"),
                           '{"max_norm": N} or {"value": V}')
    try:
        Clip(value.get("max_norm"), value.get("value"))
    except ValueError as exc:
        raise SpecError(str(exc)) from None
    return value


def _check_penalty(value):
    """{"l1": λ₁, "l2": λ₂}."""
    value = _keyed_options(value, "penalty", ("l1", "l2"), '{"l1": λ1, "l2": λ2}')
    try:
        Penalty(value.get("l1", 0), value.get("l2", 0))
    except ValueError as exc:
        raise SpecError(str(exc)) from None
    return {"l1": value.get("l1", 0), "l2": value.get("l2", 0)}


# a layer's parameters as the file names them, with their shapes
def _state_shapes(checked):
    if "gates" in checked:   # torch's layout: the gates' rows one after the other
        n = checked["size"]
        rows = len(checked["gates"]) * n
        n_in = len(next(iter(checked["gates"].values()))["weights"][0])
        shapes = {"weights": (rows, n_in), "recurrent_weights": (rows, n),
                  "bias_ih": (rows,), "bias_hh": (rows,)}
        if checked.get("learn_initial_state"):
            shapes.update({name: (n,) for name in gated_class(checked["type"]).STATES})
        return shapes
    rows = len(checked["weights"])
    shapes = {"weights": (rows, len(checked["weights"][0])), "biases": (rows,)}
    if checked["type"] == "recurrent":
        shapes["recurrent_weights"] = (rows, rows)
        if checked.get("learn_initial_state"):
            shapes["initial_state"] = (rows,)
    return shapes


def check_optimizer_state(value, where, checked, optimizer):
    """A layer's saved optimizer state: {"weights": {"exp_avg": [[...]], ...},
    "biases": {...}, ...}, each state name of the optimizer, shaped as its parameter."""
    if optimizer is None:
        raise SpecError(f"{where}: only with an \"optimizer\" (the state is its)")
    if not isinstance(value, dict):
        raise SpecError(f"{where}: expected an object by parameter, got {_show(value)}")
    shapes = _state_shapes(checked)
    name = optimizer["name"]
    expected = list(OPTIMIZERS[name].new_state(optimizer))
    out = {}
    for parameter, states in value.items():
        place = f"{where}.{parameter}"
        if parameter not in shapes:
            raise SpecError(f"{place}: not a parameter of this layer "
                            f"(its parameters: {', '.join(shapes)})")
        if not isinstance(states, dict):
            raise SpecError(f"{place}: expected an object by state name, got {_show(states)}")
        for key in states:
            if key not in expected:
                raise SpecError(f"{place}.{key}: not a state of {name} with these options "
                                f"(its state: {', '.join(expected) or 'none'})")
        for key in expected:
            if key not in states:
                raise SpecError(f"{place}.{key}: missing")
        out[parameter] = {key: _state_array(states[key], shapes[parameter], f"{place}.{key}",
                                            key) for key in expected}
    return out


def _state_array(value, shape, where, key):
    """Numbers (or whole step counts, or null for a momentum buffer not yet
    started) shaped as the parameter."""
    if len(shape) == 2:
        if not isinstance(value, list) or len(value) != shape[0]:
            raise SpecError(f"{where}: expected {shape[0]} rows, got {_show(value)}")
        return [_state_array(row, shape[1:], f"{where}[{j}]", key) for j, row in enumerate(value)]
    if not isinstance(value, list) or len(value) != shape[0]:
        raise SpecError(f"{where}: expected a list of {shape[0]}, got {_show(value)}")
    if key == "step":
        return [_int(v, f"{where}[{i}]", 0, 2**63) for i, v in enumerate(value)]
    if key == "momentum_buffer":
        return [None if v is None else _number(v, f"{where}[{i}]") for i, v in enumerate(value)]
    return [_number(v, f"{where}[{i}]") for i, v in enumerate(value)]


def _scale(layer, where):
    """The ``scale`` of a layer drawn by ``init`` (every kind): above 0, at most MAX_SCALE."""
    scale = layer.get("scale")
    if scale is not None:
        _number(scale, f"{where}.scale")
        if not 0 < scale <= MAX_SCALE:
            raise SpecError(f"{where}.scale: must be above 0 and at most {MAX_SCALE:g}, "
                            f"got {scale}")
    return scale


def _check_total_size(layers, n_inputs):
    """Refuse an oversized network before building any of it.

    Counts (n_in + 1) · n_out over the layers whose size can be read off
    (``size`` or the number of ``weights`` rows); the detailed checks follow.
    """
    parameters, n_prev = 0, n_inputs
    for i, layer in enumerate(layers):
        if not isinstance(layer, dict):
            return
        size = layer.get("size")
        if not (isinstance(size, int) and not isinstance(size, bool)):
            rows = layer.get("weights")
            size = len(rows) if isinstance(rows, list) else None
        if size is None or not 0 < size <= MAX_LAYER_SIZE:
            return
        parameters += size * (n_prev + 1)
        if parameters > MAX_PARAMETERS:
            raise SpecError(f"layers[{i}]: the network would have more than "
                            f"{MAX_PARAMETERS:,} parameters (the limit for a plain-Python "
                            "simulator)")
        n_prev = size


def _random(seed):
    """``random.Random(seed)``.  random is imported here, when weights are drawn, not at
    the top: reading a file that gives every weight costs no start-up time for it."""
    import random

    return random.Random(seed)


def _check_layer(layer, where, n_in, bias_layout, shared_rng):
    """A dense layer's keys (``"type": "dense"`` or no type)."""
    unknown = sorted(set(layer) - _LAYER_KEYS)
    if unknown:
        raise SpecError(f"{where}.{unknown[0]}: unknown key (known: {', '.join(sorted(_LAYER_KEYS))})")
    if "activation" not in layer:
        raise SpecError(f"{where}.activation: missing (one of {', '.join(ACTIVATIONS)})")
    activation = _choice(layer["activation"], list(ACTIVATIONS), f"{where}.activation",
                         "activation")
    out = {"type": "dense", "activation": activation}
    for key in ("slope",):
        if key in layer:
            if key not in ACTIVATION_PARAMS.get(activation, ()):
                raise SpecError(f"{where}.{key}: only for {', '.join(a for a, p in ACTIVATION_PARAMS.items() if key in p)}")
            out[key] = _number(layer[key], f"{where}.{key}")
    if "name" in layer:
        out["name"] = layer["name"]
    if "weights" in layer:
        for key in ("size", "init", "seed", "scale"):
            if key in layer and key != "size":
                raise SpecError(f"{where}.{key}: give either weights or size + init, not both")
        weights = layer["weights"]
        if not isinstance(weights, list) or not weights:
            raise SpecError(f"{where}.weights: expected a list of rows (one per neuron), "
                            f"got {_show(weights)}")
        if len(weights) > MAX_LAYER_SIZE:
            raise SpecError(f"{where}.weights: at most {MAX_LAYER_SIZE} neurons, got {len(weights)}")
        if "size" in layer and layer["size"] != len(weights):
            raise SpecError(f"{where}.size: says {_show(layer['size'])} but weights has "
                            f"{len(weights)} rows")
        width = n_in + 1 if bias_layout == "first_column" else n_in
        rows = [_vector(row, width, f"{where}.weights[{j}]") for j, row in enumerate(weights)]
        if bias_layout == "first_column":
            if "biases" in layer:
                raise SpecError(f"{where}.biases: with bias_layout \"first_column\" the biases "
                                "are the first entry of each weights row")
            out["biases"] = [row[0] for row in rows]
            out["weights"] = [row[1:] for row in rows]
        else:
            out["weights"] = rows
            if "biases" in layer:
                out["biases"] = _vector(layer["biases"], len(rows), f"{where}.biases")
            else:
                out["biases"] = [0.0] * len(rows)
        return out
    if "size" not in layer:
        raise SpecError(f"{where}: give weights (a list of rows) or size + init")
    size = _int(layer["size"], f"{where}.size", 1, MAX_LAYER_SIZE)
    init = _choice(layer.get("init", "xavier"), list(INITIALIZERS), f"{where}.init", "init")
    scale = _scale(layer, where)
    if "seed" in layer:
        layer_rng = _random(_int(layer["seed"], f"{where}.seed", 0, 2**63))
    else:
        layer_rng = shared_rng()
    if size * (n_in + 1) > MAX_PARAMETERS:
        raise SpecError(f"{where}.size: {size} neurons of {n_in} inputs is more than "
                        f"{MAX_PARAMETERS:,} parameters")
    weights, biases = initial_weights(init, n_in, size, layer_rng, scale)
    if "biases" in layer:
        biases = _vector(layer["biases"], size, f"{where}.biases")
    out["weights"] = weights
    out["biases"] = biases
    return out


def _check_sample(sample, where, n_in, n_out):
    if not isinstance(sample, dict) or "input" not in sample or "target" not in sample:
        raise SpecError(f"{where}: expected {{\"input\": [...], \"target\": [...]}}, "
                        f"got {_show(sample)}")
    return {"input": _vector(sample["input"], n_in, f"{where}.input"),
            "target": _vector(sample["target"], n_out, f"{where}.target")}


def _check_recurrent_layer(layer, where, n_in, bias_layout, shared_rng):
    """A recurrent layer's keys: W, U and b given, or size + init (input weights
    and biases drawn first, then the recurrent weights, from one generator)."""
    unknown = sorted(set(layer) - _RECURRENT_KEYS)
    if unknown:
        raise SpecError(f"{where}.{unknown[0]}: unknown key for a recurrent layer "
                        f"(known: {', '.join(sorted(_RECURRENT_KEYS))})")
    elementwise = [name for name in ACTIVATIONS if name != "softmax"]
    activation = _choice(layer.get("activation", "tanh"), elementwise, f"{where}.activation",
                         "activation for a recurrent layer")
    out = {"type": "recurrent", "activation": activation}
    if "slope" in layer:
        if "slope" not in ACTIVATION_PARAMS.get(activation, ()):
            raise SpecError(f"{where}.slope: only for leaky_relu")
        out["slope"] = _number(layer["slope"], f"{where}.slope")
    if "name" in layer:
        out["name"] = layer["name"]
    if "weights" in layer:
        for key in ("init", "seed", "scale"):
            if key in layer:
                raise SpecError(f"{where}.{key}: give either weights and recurrent_weights "
                                "or size + init, not both")
        weights = layer["weights"]
        if not isinstance(weights, list) or not weights:
            raise SpecError(f"{where}.weights: expected a list of rows (one per neuron), "
                            f"got {_show(weights)}")
        if len(weights) > MAX_LAYER_SIZE:
            raise SpecError(f"{where}.weights: at most {MAX_LAYER_SIZE} neurons, "
                            f"got {len(weights)}")
        size = len(weights)
        if "size" in layer and layer["size"] != size:
            raise SpecError(f"{where}.size: says {_show(layer['size'])} but weights has "
                            f"{size} rows")
        out["weights"] = [_vector(row, n_in, f"{where}.weights[{j}]")
                          for j, row in enumerate(weights)]
        if "recurrent_weights" not in layer:
            raise SpecError(f"{where}.recurrent_weights: missing ({size} rows of {size}, "
                            "row j = the weights into neuron j from the layer's previous "
                            "outputs)")
        out["recurrent_weights"] = _matrix(layer["recurrent_weights"], size, size,
                                           f"{where}.recurrent_weights")
        out["biases"] = (_vector(layer["biases"], size, f"{where}.biases")
                         if "biases" in layer else [0.0] * size)
    else:
        if "size" not in layer:
            raise SpecError(f"{where}: give weights and recurrent_weights, or size + init")
        if "recurrent_weights" in layer:
            raise SpecError(f"{where}.recurrent_weights: give weights too, or neither "
                            "(size + init draws both)")
        size = _int(layer["size"], f"{where}.size", 1, MAX_LAYER_SIZE)
        init = _choice(layer.get("init", "xavier"), list(INITIALIZERS), f"{where}.init", "init")
        scale = _scale(layer, where)
        if size * (n_in + size + 1) > MAX_PARAMETERS:
            raise SpecError(f"{where}.size: {size} recurrent neurons of {n_in} inputs is more "
                            f"than {MAX_PARAMETERS:,} parameters")
        layer_rng = (_random(_int(layer["seed"], f"{where}.seed", 0, 2**63))
                     if "seed" in layer else shared_rng())
        weights, biases = initial_weights(init, n_in, size, layer_rng, scale)
        recurrent_weights, _ = initial_weights(init, size, size, layer_rng, scale)
        if "biases" in layer:
            biases = _vector(layer["biases"], size, f"{where}.biases")
        out["weights"], out["recurrent_weights"], out["biases"] = (weights, recurrent_weights,
                                                                   biases)
    if layer.get("initial_state") is not None:
        out["initial_state"] = _vector(layer["initial_state"], size, f"{where}.initial_state")
    learned = layer.get("learn_initial_state", False)
    if not isinstance(learned, bool):
        raise SpecError(f"{where}.learn_initial_state: expected true or false, "
                        f"got {_show(learned)}")
    if learned:
        out["learn_initial_state"] = True
    return out


def _matrix(rows, n_rows, n_columns, where):
    if not isinstance(rows, list):
        raise SpecError(f"{where}: expected a list of {n_rows} rows, got {_show(rows)}")
    if len(rows) != n_rows:
        raise SpecError(f"{where}: expected {n_rows} rows (one per neuron), got {len(rows)}")
    return [_vector(row, n_columns, f"{where}[{j}]") for j, row in enumerate(rows)]


def _check_gated_layer(layer, where, n_in, bias_layout, shared_rng):
    """An LSTM or GRU layer's keys: ``gates`` ({gate name: {"weights",
    "recurrent_weights", "bias_ih", "bias_hh"}}, every gate of the kind), or
    size + init (drawn gate by gate in torch's order: each gate's weights and
    bias_ih, then its recurrent_weights and bias_hh, from one generator)."""
    kind = layer["type"]
    cls = gated_class(kind)
    known = sorted(k for k in _GATED_KEYS if k != "initial_cell" or "initial_cell" in cls.STATES)
    unknown = sorted(set(layer) - set(known))
    if unknown:
        extra = " (an LSTM or GRU has fixed activations)" if unknown[0] == "activation" else ""
        raise SpecError(f"{where}.{unknown[0]}: unknown key for an {kind} layer{extra} "
                        f"(known: {', '.join(known)})")
    out = {"type": kind}
    if "name" in layer:
        out["name"] = layer["name"]
    gate_names = cls.GATES
    if "gates" in layer:
        for key in ("init", "seed", "scale"):
            if key in layer:
                raise SpecError(f"{where}.{key}: give either gates or size + init, not both")
        gates = layer["gates"]
        if not isinstance(gates, dict):
            raise SpecError(f"{where}.gates: expected an object by gate name "
                            f"({', '.join(gate_names)}), got {_show(gates)}")
        for name in gates:
            if name not in gate_names:
                raise SpecError(f"{where}.gates.{name}: not a gate of an {kind} layer "
                                f"(its gates: {', '.join(gate_names)})")
        for name in gate_names:
            if name not in gates:
                raise SpecError(f"{where}.gates.{name}: missing (an {kind} layer has the "
                                f"gates {', '.join(gate_names)})")
        first = gates[gate_names[0]]
        rows = first.get("weights") if isinstance(first, dict) else None
        if not isinstance(rows, list) or not rows:
            raise SpecError(f"{where}.gates.{gate_names[0]}.weights: expected a list of rows "
                            f"(one per unit), got {_show(rows)}")
        size = len(rows)
        if size > MAX_LAYER_SIZE:
            raise SpecError(f"{where}.gates.{gate_names[0]}.weights: at most {MAX_LAYER_SIZE} "
                            f"units, got {size}")
        if "size" in layer and layer["size"] != size:
            raise SpecError(f"{where}.size: says {_show(layer['size'])} but "
                            f"gates.{gate_names[0]}.weights has {size} rows")
        out["gates"] = {name: _check_gate(gates[name], f"{where}.gates.{name}", size, n_in)
                        for name in gate_names}
    else:
        if "size" not in layer:
            raise SpecError(f"{where}: give gates (the weights of each gate) or size + init")
        size = _int(layer["size"], f"{where}.size", 1, MAX_LAYER_SIZE)
        init = _choice(layer.get("init", "xavier"), list(INITIALIZERS), f"{where}.init", "init")
        scale = layer.get("scale")
        if scale is not None:
            _number(scale, f"{where}.scale")
            if not 0 < scale <= MAX_SCALE:
                raise SpecError(f"{where}.scale: must be above 0 and at most {MAX_SCALE:g}, "
                                f"got {scale}")
        if len(gate_names) * size * (n_in + size + 2) > MAX_PARAMETERS:
            raise SpecError(f"{where}.size: an {kind} layer of {size} units with {n_in} inputs "
                            f"is more than {MAX_PARAMETERS:,} parameters")
        layer_rng = (_random(_int(layer["seed"], f"{where}.seed", 0, 2**63))
                     if "seed" in layer else shared_rng())
        out["gates"] = {}
        for name in gate_names:
            weights, bias_ih = initial_weights(init, n_in, size, layer_rng, scale)
            recurrent_weights, bias_hh = initial_weights(init, size, size, layer_rng, scale)
            out["gates"][name] = {"weights": weights, "recurrent_weights": recurrent_weights,
                                  "bias_ih": bias_ih, "bias_hh": bias_hh}
    out["size"] = size
    for name in cls.STATES:
        if layer.get(name) is not None:
            out[name] = _vector(layer[name], size, f"{where}.{name}")
    learned = layer.get("learn_initial_state", False)
    if not isinstance(learned, bool):
        raise SpecError(f"{where}.learn_initial_state: expected true or false, "
                        f"got {_show(learned)}")
    if learned:
        out["learn_initial_state"] = True
    return out


def _check_gate(gate, where, size, n_in):
    """One gate's {"weights": n rows of n_in, "recurrent_weights": n rows of n,
    "bias_ih": n, "bias_hh": n} (the biases 0 if left out)."""
    if not isinstance(gate, dict):
        raise SpecError(f"{where}: expected an object with {', '.join(_GATE_KEYS)}, "
                        f"got {_show(gate)}")
    unknown = sorted(set(gate) - set(_GATE_KEYS))
    if unknown:
        raise SpecError(f"{where}.{unknown[0]}: unknown key for a gate "
                        f"(known: {', '.join(_GATE_KEYS)})")
    for key in ("weights", "recurrent_weights"):
        if key not in gate:
            raise SpecError(f"{where}.{key}: missing ({size} rows, one per unit)")
    return {"weights": _matrix(gate["weights"], size, n_in, f"{where}.weights"),
            "recurrent_weights": _matrix(gate["recurrent_weights"], size, size,
                                         f"{where}.recurrent_weights"),
            "bias_ih": (_vector(gate["bias_ih"], size, f"{where}.bias_ih")
                        if "bias_ih" in gate else [0.0] * size),
            "bias_hh": (_vector(gate["bias_hh"], size, f"{where}.bias_hh")
                        if "bias_hh" in gate else [0.0] * size)}


# Each layer kind's checks, by the "type" a file gives it: check(layer, where, n_in,
# bias_layout, shared_rng), where shared_rng() is the file's random.Random (its "seed"),
# for weights drawn without a layer "seed".
LAYER_CHECKS = {"dense": _check_layer, "recurrent": _check_recurrent_layer,
                "lstm": _check_gated_layer, "gru": _check_gated_layer}


def check_sequence_sample(sample, where, n_in, n_out):
    """{"input": [x[1], ..., x[T]], "target": [t[1], ..., t[T]] or t[T]}; a per-step
    target may be null (no target at that step)."""
    if not isinstance(sample, dict) or "input" not in sample or "target" not in sample:
        raise SpecError(f"{where}: expected {{\"input\": [[...], ...], \"target\": ...}}, "
                        f"got {_show(sample)}")
    xs = sample["input"]
    if not isinstance(xs, list) or not xs or not all(isinstance(x, list) for x in xs):
        raise SpecError(f"{where}.input: expected a list of input vectors, one per time step "
                        f"(for one input write [[0], [1], ...]), got {_show(xs)}")
    if len(xs) > MAX_STEPS:
        raise SpecError(f"{where}.input: at most {MAX_STEPS} time steps, got {len(xs)}")
    inputs = [_vector(x, n_in, f"{where}.input[{t}]") for t, x in enumerate(xs)]
    target = sample["target"]
    if not isinstance(target, list) or not target:
        raise SpecError(f"{where}.target: expected a vector (the last step's target) or a "
                        f"list of vectors, one per time step, got {_show(target)}")
    if all(not isinstance(v, list) and v is not None for v in target):
        return {"input": inputs,
                "target": _vector(target, n_out, f"{where}.target (the last step's target)")}
    if len(target) != len(inputs):
        raise SpecError(f"{where}.target: expected {len(inputs)} vectors (one per time step) "
                        f"or one vector for the last step, got {len(target)}")
    targets = [None if v is None else _vector(v, n_out, f"{where}.target[{t}]")
               for t, v in enumerate(target)]
    if all(v is None for v in targets):
        raise SpecError(f"{where}.target: no step has a target")
    return {"input": inputs, "target": targets}


def network_from_spec(spec, numbers="float"):
    """Build a :class:`~neuronsim.core.network.Network` from a checked or
    unchecked spec dict, each layer by its kind (``LAYER_BUILDERS``)."""
    checked = check_spec(spec)
    numbers = get_numbers(numbers)
    if not getattr(numbers, "exact", False):
        _refuse_fractions(checked, numbers.name)
    layers = [LAYER_BUILDERS[layer["type"]](layer, numbers) for layer in checked["layers"]]
    rate = checked.get("learning_rate")
    sequence_options = {key: checked[key] for key in _SEQUENCE_KEYS if key in checked}
    net = Network(layers, get_loss(checked["loss"], numbers),
                  reduction=checked["reduction"], update_biases=checked["update_biases"],
                  learning_rate=None if rate is None else numbers.convert(rate),
                  numbers=numbers, samples=checked["samples"], name=checked.get("name"),
                  **sequence_options)
    _set_training(net, checked)
    return net


def _set_training(net, checked):
    """The optimizer, schedule, clip and penalty of a checked spec, and each
    layer's saved optimizer state (given back to each parameter)."""
    try:
        if "optimizer" in checked:
            options = {k: v for k, v in checked["optimizer"].items() if k != "name"}
            net.set_optimizer(checked["optimizer"]["name"], **options)
        if "schedule" in checked:
            options = {k: v for k, v in checked["schedule"].items() if k != "name"}
            net.set_schedule(checked["schedule"]["name"], **options)
        if "clip" in checked:
            net.set_clip(**checked["clip"])
        if "penalty" in checked:
            net.set_penalty(**checked["penalty"])
    except ValueError as exc:   # fraction mode refusing a square root, ...
        raise SpecError(str(exc)) from None
    convert = net.numbers.convert
    for layer, entry in zip(net.layers, checked["layers"]):
        for parameter, states in entry.get("optimizer_state", {}).items():
            _give_state(layer, parameter, states, convert)


_STATE_OWNERS = {"weights": "weights", "recurrent_weights": "recurrent_weights",
                 "biases": "bias", "bias_ih": "bias_ih", "bias_hh": "bias_hh"}
# the parameters a layer owns itself (a learned initial state), not its neurons
_LAYER_STATES = ("initial_state", "initial_cell")
_SCALARS = ("bias", "bias_ih", "bias_hh")


def _give_state(layer, parameter, states, convert):
    """File arrays {state name: values shaped as the parameter} -> each scalar's dict."""
    def one(key, value):
        return value if key == "step" or value is None else convert(value)

    names = list(states)
    if parameter in _LAYER_STATES:
        if layer.optimizer_state is None:
            layer.optimizer_state = {}
        layer.optimizer_state[parameter] = [
            {key: one(key, states[key][i]) for key in names} for i in range(layer.size)]
        return
    attribute = _STATE_OWNERS[parameter]
    for j, neuron in enumerate(layer.neurons):
        if neuron.optimizer_state is None:
            neuron.optimizer_state = {}
        if attribute in _SCALARS:
            neuron.optimizer_state[attribute] = {key: one(key, states[key][j]) for key in names}
        else:
            width = len(getattr(neuron, attribute))
            neuron.optimizer_state[attribute] = [{key: one(key, states[key][j][k])
                                                  for key in names} for k in range(width)]


def _activation_of(layer, numbers):
    params = {k: layer[k] for k in ACTIVATION_PARAMS.get(layer["activation"], ()) if k in layer}
    return get_activation(layer["activation"], numbers, **params)


def _dense_layer(layer, numbers):
    convert = numbers.convert
    return Layer.from_weights([[convert(w) for w in row] for row in layer["weights"]],
                              [convert(b) for b in layer["biases"]],
                              _activation_of(layer, numbers))


def _recurrent_layer(layer, numbers):
    convert = numbers.convert
    from ..core.recurrent import RecurrentLayer   # (imported when a file has one: gated_class)

    initial = layer.get("initial_state")
    return RecurrentLayer.from_weights(
        [[convert(w) for w in row] for row in layer["weights"]],
        [[convert(u) for u in row] for row in layer["recurrent_weights"]],
        [convert(b) for b in layer["biases"]], _activation_of(layer, numbers),
        None if initial is None else [convert(v) for v in initial],
        layer.get("learn_initial_state", False))


def _gated_layer(layer, numbers):
    """An LSTMLayer or GRULayer: the file's gates stacked in torch's layout."""
    convert = numbers.convert
    cls = gated_class(layer["type"])
    stacked = {key: [] for key in _GATE_KEYS}
    for name in cls.GATES:
        gate = layer["gates"][name]
        stacked["weights"] += [[convert(w) for w in row] for row in gate["weights"]]
        stacked["recurrent_weights"] += [[convert(u) for u in row]
                                         for row in gate["recurrent_weights"]]
        stacked["bias_ih"] += [convert(b) for b in gate["bias_ih"]]
        stacked["bias_hh"] += [convert(b) for b in gate["bias_hh"]]
    states = {name: [convert(v) for v in layer[name]] for name in cls.STATES if name in layer}
    return cls.from_arrays(stacked["weights"], stacked["recurrent_weights"], stacked["bias_ih"],
                           stacked["bias_hh"], numbers, initial_states=states,
                           learn_initial_state=layer.get("learn_initial_state", False))


def _gated_entry(layer, to_json):
    """The file's entry of an LSTM or GRU layer (gates by name, then the states)."""
    entry = {"type": layer.kind, "gates": {}}
    for name, neurons in layer.gates.items():
        entry["gates"][name] = {
            "weights": [[to_json(w) for w in n.weights] for n in neurons],
            "recurrent_weights": [[to_json(u) for u in n.recurrent_weights] for n in neurons],
            "bias_ih": [to_json(n.bias_ih) for n in neurons],
            "bias_hh": [to_json(n.bias_hh) for n in neurons]}
    for name in layer.STATES:
        if getattr(layer, name) is not None:
            entry[name] = [to_json(v) for v in getattr(layer, name)]
    if layer.learn_initial_state:
        entry["learn_initial_state"] = True
    return entry


# Each layer kind's builder, by its "type".
LAYER_BUILDERS = {"dense": _dense_layer, "recurrent": _recurrent_layer,
                  "lstm": _gated_layer, "gru": _gated_layer}


def read_spec_file(path, limit=MAX_FILE_BYTES):
    """Parse a network file; errors name the file (and line for bad JSON).

    The bytes are read by :func:`neuronsim.files.reading.read_text_file`
    (a regular file, at most ``limit`` bytes), the text by
    :func:`parse_spec_text`.
    """
    return parse_spec_text(read_text_file(path, limit, what="network file"), path)


def parse_spec_text(text, path=None):
    """A network file's text as a dict.  A key written twice in one object is
    refused, naming the key (JSON would silently keep the last), and so are
    NaN, Infinity and integers too long for Python to read.  The SpecError
    starts with ``path`` (bad JSON: ``path:line:column``), or with "line L,
    column C" for a text without a file."""
    where = f"{path}: " if path is not None else ""
    if not text.strip():
        raise SpecError(f"{where}the file is empty")
    try:
        return json.loads(text, parse_constant=_reject_constant,
                          object_pairs_hook=_object_without_duplicates)
    except json.JSONDecodeError as exc:
        place = (f"{path}:{exc.lineno}:{exc.colno}: " if path is not None
                 else f"line {exc.lineno}, column {exc.colno}: ")
        raise SpecError(f"{place}not valid JSON ({exc.msg})") from None
    except RecursionError:
        raise SpecError(f"{where}JSON nested too deeply") from None
    except SpecError as exc:  # NaN, Infinity or a duplicate key
        raise SpecError(f"{where}{exc}") from None
    except ValueError as exc:  # an integer of more digits than int() reads
        limit = getattr(sys, "get_int_max_str_digits", lambda: 0)()
        reason = (f"an integer of more than {limit} digits" if limit and "limit" in str(exc)
                  else str(exc))
        raise SpecError(f"{where}not a usable JSON number ({reason})") from None


def _object_without_duplicates(pairs):
    """A JSON object as a dict, refusing a key that appears twice."""
    out = {}
    for key, value in pairs:
        if key in out:
            raise SpecError(f"the key {_show(key)} appears twice in one object (JSON would "
                            "keep only the last; write it once)")
        out[key] = value
    return out


def _reject_constant(name):
    raise SpecError(f"{name} is not allowed in a network file (numbers must be finite)")


def load_network(path_or_dict, numbers="float"):
    """A network from a file path or a dict; SpecErrors name the file."""
    if isinstance(path_or_dict, dict):
        return network_from_spec(path_or_dict, numbers)
    if not isinstance(path_or_dict, (str, bytes, os.PathLike)):
        raise SpecError(f"network: expected a JSON object or a file path, "
                        f"got {type(path_or_dict).__name__}")
    path = os.fspath(path_or_dict)
    spec = read_spec_file(path)
    try:
        return network_from_spec(spec, numbers)
    except SpecError as exc:
        raise SpecError(f"{path}: {exc}") from None


def spec_from_network(net, bias_layout="separate"):
    """The network-file dict of ``net`` (floats written exactly by json).

    A feed-forward network is written as it always was (no ``type`` keys);
    a network with a recurrent layer names every layer's type and writes
    ``step_loss`` and ``truncation``.
    """
    _choice(bias_layout, BIAS_LAYOUTS, "bias_layout", "bias layout")
    sequential = net.is_sequential
    if sequential and bias_layout != "separate":
        raise SpecError("bias_layout: networks with a recurrent layer use the \"separate\" "
                        "layout")
    to_json = net.numbers.to_json if hasattr(net.numbers, "to_json") else float
    spec = {"format": FORMAT_NAME, "version": FORMAT_VERSION}
    if net.name:
        spec["name"] = net.name
    spec["inputs"] = net.n_inputs
    layers = []
    for layer in net.layers:
        if layer.kind in GATED_KINDS:
            entry = _gated_entry(layer, to_json)
            if net.optimizer is not None:
                state = _optimizer_state_of(layer, to_json)
                if state:
                    entry["optimizer_state"] = state
            layers.append(entry)
            continue
        entry = {"type": layer.kind} if sequential else {}
        entry["activation"] = layer.activation.name
        entry.update({k: to_json(v) for k, v in layer.activation.params.items()})
        rows = [[to_json(w) for w in n.weights] for n in layer.neurons]
        biases = [to_json(n.bias) for n in layer.neurons]
        if bias_layout == "first_column":
            entry["weights"] = [[b] + row for b, row in zip(biases, rows)]
        else:
            entry["weights"] = rows
            if layer.is_recurrent:
                entry["recurrent_weights"] = [[to_json(u) for u in n.recurrent_weights]
                                              for n in layer.neurons]
            entry["biases"] = biases
        if layer.is_recurrent:
            if layer.initial_state is not None:
                entry["initial_state"] = [to_json(v) for v in layer.initial_state]
            if layer.learn_initial_state:
                entry["learn_initial_state"] = True
        if net.optimizer is not None:
            state = _optimizer_state_of(layer, to_json)
            if state:
                entry["optimizer_state"] = state
        layers.append(entry)
    spec["layers"] = layers
    spec["loss"] = net.loss.name
    if net.learning_rate is not None:
        spec["learning_rate"] = to_json(net.learning_rate)
    spec.update(_training_of(net, to_json))
    spec["reduction"] = net.reduction
    if sequential:
        spec["step_loss"] = net.step_loss
        spec["truncation"] = net.truncation
    spec["update_biases"] = net.update_biases
    if bias_layout != "separate":
        spec["bias_layout"] = bias_layout

    def vector(v):
        return None if v is None else [to_json(x) for x in v]

    if net.samples:
        samples = []
        for s in net.samples:
            target = s["target"]
            if sequential:
                xs = [vector(x) for x in s["input"]]
                if target and isinstance(target[0], list) or None in target:
                    target = [vector(v) for v in target]
                else:
                    target = vector(target)
            else:
                xs, target = vector(s["input"]), vector(target)
            samples.append({"input": xs, "target": target})
        spec["samples"] = samples
    return spec


def _training_of(net, to_json):
    """The file's optimizer, schedule, clip and penalty keys (none for plain descent)."""
    out = {}
    if net.optimizer is not None:
        out["optimizer"] = net.optimizer.to_spec()
    if net.schedule is not None:
        out["schedule"] = net.schedule.to_spec(to_json)
    if net.clip is not None:
        out["clip"] = net.clip.to_spec()
    if net.penalty is not None:
        out["penalty"] = net.penalty.to_spec()
    return {key: _json_value(value) for key, value in out.items()}


def _optimizer_state_of(layer, to_json):
    """A layer's optimizer state as the file writes it: by parameter, by state
    name, an array shaped as the parameter (see check_optimizer_state)."""
    def one(key, value):
        return value if key == "step" or value is None else to_json(value)

    out = {}
    for parameter, attribute in _STATE_OWNERS.items():
        per_neuron = [(n.optimizer_state or {}).get(attribute) for n in layer.neurons]
        if any(not s for s in per_neuron) or (attribute not in _SCALARS
                                               and not per_neuron[0][0]):
            continue   # not updated (a fixed bias), or no state (sgd without momentum)
        if attribute in _SCALARS:
            out[parameter] = {key: [one(key, s[key]) for s in per_neuron]
                              for key in per_neuron[0]}
        else:
            out[parameter] = {key: [[one(key, s[key]) for s in row] for row in per_neuron]
                              for key in per_neuron[0][0]}
    if layer.is_recurrent and layer.optimizer_state is not None:
        for name in _LAYER_STATES:
            states = layer.optimizer_state.get(name)
            if states and states[0]:
                out[name] = {key: [one(key, s[key]) for s in states] for key in states[0]}
    return out


def network_from_arrays(weights, biases, activations, loss, bias_layout, options):
    """``Network.from_arrays`` (see its docstring): the arrays as a checked spec, then built."""
    spec = spec_from_arrays(weights, biases, activations, loss, bias_layout, options)
    return network_from_spec(spec, numbers=options.get("numbers", "float"))


def spec_from_arrays(weights, biases, activations, loss, bias_layout, options):
    """The spec dict for ``Network.from_arrays`` (see its docstring)."""
    _choice(bias_layout, BIAS_LAYOUTS, "bias_layout", "bias layout")
    weights = [_plain(w, f"weights[{i}]") for i, w in enumerate(_listish(weights, "weights"))]
    if not weights:
        raise SpecError("weights: expected at least one weight matrix")
    n_layers = len(weights)
    if isinstance(activations, (str, dict)):
        activations = [activations] * n_layers
    activations = list(activations)
    if len(activations) != n_layers:
        raise SpecError(f"activations: expected {n_layers} (one per weight matrix), "
                        f"got {len(activations)}")
    if biases is not None:
        if bias_layout == "first_column":
            raise SpecError("biases: with bias_layout='first_column' the biases are the first "
                            "column of each weight matrix; pass biases=None")
        biases = [_plain(b, f"biases[{i}]") for i, b in enumerate(_listish(biases, "biases"))]
        if len(biases) != n_layers:
            raise SpecError(f"biases: expected {n_layers} bias vectors, got {len(biases)}")
    first = weights[0]
    if not isinstance(first, list) or not first or not isinstance(first[0], list):
        raise SpecError("weights[0]: expected a matrix (a list of rows)")
    n_inputs = len(first[0]) - (1 if bias_layout == "first_column" else 0)
    layers = []
    for i, w in enumerate(weights):
        act = activations[i]
        entry = dict(act) if isinstance(act, dict) else {"activation": act}
        if "name" in entry and "activation" not in entry:
            entry["activation"] = entry.pop("name")
        entry["weights"] = w
        if biases is not None:
            entry["biases"] = biases[i]
        layers.append(entry)
    spec = {"inputs": n_inputs, "layers": layers, "loss": loss, "bias_layout": bias_layout}
    for key in ("reduction", "update_biases", "learning_rate", "samples", "name"):
        if options.get(key) is not None:
            spec[key] = options[key]
    if "samples" in spec:
        spec["samples"] = [s if isinstance(s, dict) else {"input": _plain(s[0], "samples"),
                                                          "target": _plain(s[1], "samples")}
                           for s in spec["samples"]]
    return check_spec(spec)


def _listish(value, where):
    if hasattr(value, "tolist") and not isinstance(value, list):
        value = list(value)
    if not isinstance(value, (list, tuple)):
        raise SpecError(f"{where}: expected a list, got {_show(repr(value))}")
    return list(value)


def _plain(value, where):
    """numpy arrays and tuples -> nested lists of Python numbers."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, tuple):
        value = list(value)
    if isinstance(value, list):
        return [_plain(v, where) for v in value]
    return value


def save_spec(spec, path):
    """Write ``spec`` as JSON to ``path`` atomically (temp file + rename)."""
    atomic_write_text(path, json.dumps(spec, indent=2, allow_nan=False) + "\n")


def save_network(net, path, bias_layout="separate"):
    """``Network.save``: refuse a non-finite parameter by its place (nothing is
    written), then write the network file atomically."""
    check_savable(net, path)
    save_spec(spec_from_network(net, bias_layout=bias_layout), path)


def recurrent_network_from_arrays(weights, recurrent_weights, biases, dense, activation,
                                  dense_activations, loss, options):
    """``RecurrentNetwork.from_arrays`` (see its docstring)."""
    spec = recurrent_spec_from_arrays(weights, recurrent_weights, biases, dense, activation,
                                      dense_activations, loss, options)
    return network_from_spec(spec, numbers=options.get("numbers", "float"))


def recurrent_spec_from_arrays(weights, recurrent_weights, biases, dense, activation,
                               dense_activations, loss, options):
    """The spec dict for ``RecurrentNetwork.from_arrays`` (see its docstring)."""
    plain = _plain
    weights = plain(weights, "weights")
    if not isinstance(weights, list) or not weights or not isinstance(weights[0], list):
        raise SpecError("weights: expected a matrix (n rows of n_inputs)")
    first = dict(activation) if isinstance(activation, dict) else {"activation": activation}
    if "name" in first and "activation" not in first:
        first["activation"] = first.pop("name")
    first.update({"type": "recurrent", "weights": weights,
                  "recurrent_weights": plain(recurrent_weights, "recurrent_weights")})
    if biases is not None:
        first["biases"] = plain(biases, "biases")
    if options.get("initial_state") is not None:
        first["initial_state"] = plain(options["initial_state"], "initial_state")
    if options.get("learn_initial_state"):
        first["learn_initial_state"] = True
    dense = list(dense)
    if isinstance(dense_activations, (str, dict)):
        dense_activations = [dense_activations] * len(dense)
    dense_activations = list(dense_activations)
    if len(dense_activations) != len(dense):
        raise SpecError(f"dense_activations: expected {len(dense)} (one per dense layer), "
                        f"got {len(dense_activations)}")
    layers = [first]
    for i, (pair, act) in enumerate(zip(dense, dense_activations)):
        try:
            w, b = pair
        except (TypeError, ValueError):
            raise SpecError(f"dense[{i}]: expected a pair (W, b)") from None
        entry = dict(act) if isinstance(act, dict) else {"activation": act}
        if "name" in entry and "activation" not in entry:
            entry["activation"] = entry.pop("name")
        entry["weights"] = plain(w, f"dense[{i}]")
        if b is not None:
            entry["biases"] = plain(b, f"dense[{i}]")
        layers.append(entry)
    spec = {"inputs": len(weights[0]), "layers": layers, "loss": loss}
    for key in ("reduction", "step_loss", "truncation", "update_biases", "learning_rate",
                "samples", "name"):
        if options.get(key) is not None:
            spec[key] = options[key]
    if "samples" in spec:
        spec["samples"] = [s if isinstance(s, dict) else {"input": plain(s[0], "samples"),
                                                          "target": plain(s[1], "samples")}
                           for s in spec["samples"]]
    return check_spec(spec)
