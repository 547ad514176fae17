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

Every problem is reported as a :class:`~neuronsim.core.errors.SpecError` whose
message starts with the place, e.g. ``layers[1].weights[0]: expected 2
numbers, got 3``; a file's name is put in front when the spec came from a
file.  Files are read with ``json`` only (no pickle, no eval) and written
atomically: a temporary file in the same folder, then a rename.
"""

import json
import math
import os
import random
import re
from fractions import Fraction

from ..core.activations import ACTIVATION_PARAMS, ACTIVATIONS, get_activation
from ..core.errors import SpecError
from ..core.initializers import INITIALIZERS, initial_weights
from ..core.layer import Layer
from ..core.losses import LOSSES, get_loss
from ..core.network import REDUCTIONS, Network
from ..core.numbers import get_numbers
from ..core.recurrent import STEP_LOSSES, RecurrentLayer, RecurrentNetwork
from .atomic import atomic_write_text
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
             "learning_rate", "reduction", "update_biases", "bias_layout", "seed", "samples"}
_LAYER_KEYS = {"type", "activation", "weights", "biases", "size", "init", "seed", "scale",
               "slope", "name"}
# "type" is "dense" (the default); "recurrent" layers are read by check_recurrent_spec below.
LAYER_TYPES = ("dense", "recurrent")


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _number(value, where):
    if isinstance(value, (str, Fraction)):
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
# hostile string cannot ask for a gigantic integer.
_FRACTION_TEXT = re.compile(r"\s*[+-]?(\d{1,100}(\.\d{0,100})?|\.\d{1,100})([eE][+-]?\d{1,3})?"
                            r"(\s*/\s*\d{1,100})?\s*\Z")


def _fraction(value, where):
    """An exact fraction, "3/8" in a file; network_from_spec accepts it only
    with numbers="fraction" (see _refuse_fractions)."""
    if isinstance(value, str) and not _FRACTION_TEXT.match(value):
        raise SpecError(f'{where}: expected a number or a fraction such as "3/8", '
                        f"got {_show(value)}")
    try:
        return Fraction(value.strip() if isinstance(value, str) else value)
    except (ValueError, ZeroDivisionError):
        raise SpecError(f'{where}: expected a number or a fraction such as "3/8", '
                        f"got {_show(str(value))}") from None


def _refuse_fractions(value, mode, where=""):
    """Raise at the first fraction in a checked spec: fractions are exact
    values, read only by the fraction number system (docs/number-modes.md)."""
    if isinstance(value, Fraction):
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
    layout).  Raises SpecError naming the first problem found.
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
    bias_layout = _choice(spec.get("bias_layout", "separate"), BIAS_LAYOUTS,
                          "bias_layout", "bias layout")
    seed = spec.get("seed", 0)
    if seed is not None:
        _int(seed, "seed", 0, 2**63)
    _check_total_size(layers, n_inputs)
    rng = random.Random(seed)
    out_layers = []
    n_prev = n_inputs
    parameters = 0
    for i, layer in enumerate(layers):
        where = f"layers[{i}]"
        # Count before building, so an absurd file is refused before it costs memory.
        size = layer.get("size") if isinstance(layer, dict) else None
        if isinstance(size, int) and not isinstance(size, bool) and 0 < size <= MAX_LAYER_SIZE:
            if parameters + size * (n_prev + 1) > MAX_PARAMETERS:
                raise SpecError(f"{where}: the network would have more than "
                                f"{MAX_PARAMETERS:,} parameters (the limit for a "
                                "plain-Python simulator)")
        checked = _check_layer(layer, where, n_prev, bias_layout, rng)
        n_prev = len(checked["weights"])
        parameters += n_prev * (len(checked["weights"][0]) + 1)
        if parameters > MAX_PARAMETERS:
            raise SpecError(f"{where}: the network would have more than {MAX_PARAMETERS:,} "
                            "parameters (the limit for a plain-Python simulator)")
        out_layers.append(checked)
    out = {"inputs": n_inputs, "layers": out_layers}
    out.update(check_common_keys(spec))
    out["samples"] = [_check_sample(s, f"samples[{i}]", n_inputs, n_prev)
                      for i, s in enumerate(spec.get("samples", []))]
    return out


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


def _check_layer(layer, where, n_in, bias_layout, rng):
    if not isinstance(layer, dict):
        raise SpecError(f"{where}: expected an object with an activation, got {_show(layer)}")
    unknown = sorted(set(layer) - _LAYER_KEYS)
    if unknown:
        raise SpecError(f"{where}.{unknown[0]}: unknown key (known: {', '.join(sorted(_LAYER_KEYS))})")
    if layer.get("type", "dense") != "dense":
        _choice(layer["type"], LAYER_TYPES, f"{where}.type", "layer type")
        raise SpecError(f"{where}.type: recurrent networks are read by "
                        "check_recurrent_spec (Network.from_spec and load_network hand "
                        "them over; docs/spec.md, \"Recurrent layers\")")
    if "activation" not in layer:
        raise SpecError(f"{where}.activation: missing (one of {', '.join(ACTIVATIONS)})")
    activation = _choice(layer["activation"], list(ACTIVATIONS), f"{where}.activation",
                         "activation")
    out = {"activation": activation}
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
    scale = layer.get("scale")
    if scale is not None:
        _number(scale, f"{where}.scale")
        if not 0 < scale <= MAX_SCALE:
            raise SpecError(f"{where}.scale: must be above 0 and at most {MAX_SCALE:g}, "
                            f"got {scale}")
    if "seed" in layer:
        layer_rng = random.Random(_int(layer["seed"], f"{where}.seed", 0, 2**63))
    else:
        layer_rng = rng
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


def network_from_spec(spec, numbers="float"):
    """Build a :class:`Network` from a checked or unchecked spec dict.

    A spec with a ``"type": "recurrent"`` layer gives a
    :class:`~neuronsim.core.recurrent.RecurrentNetwork` (check_recurrent_spec).
    """
    if is_recurrent_spec(spec):
        return recurrent_network_from_spec(spec, numbers)
    checked = check_spec(spec)
    numbers = get_numbers(numbers)
    if not getattr(numbers, "exact", False):
        _refuse_fractions(checked, numbers.name)
    convert = numbers.convert
    layers = []
    for layer in checked["layers"]:
        params = {k: layer[k] for k in ACTIVATION_PARAMS.get(layer["activation"], ()) if k in layer}
        activation = get_activation(layer["activation"], numbers, **params)
        weights = [[convert(w) for w in row] for row in layer["weights"]]
        biases = [convert(b) for b in layer["biases"]]
        layers.append(Layer.from_weights(weights, biases, activation))
    rate = checked.get("learning_rate")
    return Network(layers, get_loss(checked["loss"], numbers),
                   reduction=checked["reduction"], update_biases=checked["update_biases"],
                   learning_rate=None if rate is None else convert(rate),
                   numbers=numbers, samples=checked["samples"], name=checked.get("name"))


def read_spec_file(path):
    """Parse a network file; errors name the file (and line for bad JSON).

    The bytes are read by :func:`neuronsim.files.reading.read_text_file`
    (a regular file, at most MAX_FILE_BYTES); a key written twice in one
    object is refused, naming the key (JSON would silently keep the last).
    """
    text = read_text_file(path, MAX_FILE_BYTES, what="network file")
    if not text.strip():
        raise SpecError(f"{path}: the file is empty")
    try:
        return json.loads(text, parse_constant=_reject_constant,
                          object_pairs_hook=_object_without_duplicates)
    except json.JSONDecodeError as exc:
        raise SpecError(f"{path}:{exc.lineno}:{exc.colno}: not valid JSON ({exc.msg})") from None
    except RecursionError:
        raise SpecError(f"{path}: JSON nested too deeply") from None
    except SpecError as exc:  # NaN, Infinity or a duplicate key
        raise SpecError(f"{path}: {exc}") from None
    except ValueError as exc:  # an integer of more than 4300 digits
        raise SpecError(f"{path}: not a usable JSON number ({exc})") from None


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
    """The network-file dict of ``net`` (floats written exactly by json)."""
    _choice(bias_layout, BIAS_LAYOUTS, "bias_layout", "bias layout")
    to_json = net.numbers.to_json if hasattr(net.numbers, "to_json") else float
    spec = {"format": FORMAT_NAME, "version": FORMAT_VERSION}
    if net.name:
        spec["name"] = net.name
    spec["inputs"] = net.n_inputs
    layers = []
    for layer in net.layers:
        entry = {"activation": layer.activation.name}
        entry.update({k: to_json(v) for k, v in layer.activation.params.items()})
        rows = [[to_json(w) for w in n.weights] for n in layer.neurons]
        biases = [to_json(n.bias) for n in layer.neurons]
        if bias_layout == "first_column":
            entry["weights"] = [[b] + row for b, row in zip(biases, rows)]
        else:
            entry["weights"] = rows
            entry["biases"] = biases
        layers.append(entry)
    spec["layers"] = layers
    spec["loss"] = net.loss.name
    if net.learning_rate is not None:
        spec["learning_rate"] = to_json(net.learning_rate)
    spec["reduction"] = net.reduction
    spec["update_biases"] = net.update_biases
    if bias_layout != "separate":
        spec["bias_layout"] = bias_layout
    if net.samples:
        spec["samples"] = [{"input": [to_json(v) for v in s["input"]],
                            "target": [to_json(v) for v in s["target"]]} for s in net.samples]
    return spec


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


# ---------------------------------------------------------------- recurrent networks
# Network files for recurrent networks: a first layer with ``"type": "recurrent"``.
#
# The format extends docs/spec.md (section "Recurrent layers")::
#
#     {
#       "inputs": 1,
#       "layers": [
#         {"type": "recurrent", "activation": "tanh",
#          "weights": [[0.5], [-0.3]],                   # W: (n, n_in), w_jk
#          "recurrent_weights": [[0.1, 0.4], [-0.2, 0.3]],  # U: (n, n), u_ji
#          "biases": [0.0, 0.1],
#          "initial_state": [0.0, 0.0]},                 # optional, a[0]
#         {"activation": "sigmoid", "weights": [[0.7, -0.6]], "biases": [0.05]}
#       ],
#       "loss": "binary_cross_entropy",
#       "step_loss": "sum",          # or "mean" over the steps with a target
#       "truncation": null,          # or k for truncated BPTT
#       "samples": [{"input": [[1], [0], [1]], "target": [[1], [1], [0]]},
#                   {"input": [[1], [1]], "target": [0]}]   # one vector: last step only
#     }
#
# The recurrent layer must be the first; the layers after it are ordinary
# dense layers (``"type": "dense"`` may be written, or left out) and are
# checked by :mod:`neuronsim.files.spec`.  A recurrent layer given by ``size`` +
# ``init`` draws its input weights and biases first, then its recurrent
# weights, from the same generator (each row j = the weights into neuron j).
# Every problem is a :class:`~neuronsim.core.errors.SpecError` whose message starts
# with the place, like the rest of the network-file checks.

MAX_STEPS = 100_000

_TOP_KEYS = {"format", "version", "name", "description", "inputs", "layers", "loss",
             "learning_rate", "reduction", "step_loss", "truncation", "update_biases",
             "bias_layout", "seed", "samples"}
_RECURRENT_KEYS = {"type", "activation", "weights", "recurrent_weights", "biases",
                   "initial_state", "size", "init", "seed", "scale", "slope", "name"}


def is_recurrent_spec(spec):
    """True if some layer of ``spec`` says ``"type": "recurrent"``."""
    if not isinstance(spec, dict) or not isinstance(spec.get("layers"), list):
        return False
    return any(isinstance(layer, dict) and layer.get("type") == "recurrent"
               for layer in spec["layers"])


def check_recurrent_spec(spec):
    """Validate a recurrent spec dict; return a normalised copy with explicit weights."""
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
    if spec.get("bias_layout", "separate") != "separate":
        raise SpecError("bias_layout: recurrent network files use the \"separate\" layout "
                        "(biases in their own list)")
    if "inputs" not in spec:
        raise SpecError("inputs: missing (the number of inputs per time step)")
    n_inputs = _int(spec["inputs"], "inputs", 1, MAX_LAYER_SIZE)
    layers = spec.get("layers")
    if not isinstance(layers, list) or not layers:
        raise SpecError(f"layers: expected a non-empty list of layers, got {_show(layers)}")
    if len(layers) > MAX_LAYERS:
        raise SpecError(f"layers: at most {MAX_LAYERS} layers, got {len(layers)}")
    seed = spec.get("seed", 0)
    if seed is not None:
        _int(seed, "seed", 0, 2**63)
    rng = random.Random(seed)
    for i, layer in enumerate(layers[1:], start=1):
        if isinstance(layer, dict) and layer.get("type") == "recurrent":
            raise SpecError(f"layers[{i}].type: only the first layer may be recurrent "
                            "(one recurrent layer, then dense layers)")
    if not isinstance(layers[0], dict) or layers[0].get("type") != "recurrent":
        raise SpecError("layers[0].type: the recurrent layer must come first "
                        "(\"type\": \"recurrent\")")
    out_layers = [_check_recurrent_layer(layers[0], "layers[0]", n_inputs, rng)]
    n_prev = len(out_layers[0]["weights"])
    parameters = n_prev * (n_inputs + n_prev + 1)
    for i, layer in enumerate(layers[1:], start=1):
        where = f"layers[{i}]"
        if isinstance(layer, dict):
            layer = {k: v for k, v in layer.items() if k != "type"} if layer.get(
                "type", "dense") == "dense" else layer
        checked = _check_layer(layer, where, n_prev, "separate", rng)
        checked["type"] = "dense"
        n_prev = len(checked["weights"])
        parameters += n_prev * (len(checked["weights"][0]) + 1)
        out_layers.append(checked)
    if parameters > MAX_PARAMETERS:
        raise SpecError(f"layers: the network would have more than {MAX_PARAMETERS:,} "
                        "parameters (the limit for a plain-Python simulator)")
    out = {"inputs": n_inputs, "layers": out_layers}
    out.update(check_common_keys(spec))
    out["step_loss"] = _choice(spec.get("step_loss", "sum"), STEP_LOSSES, "step_loss",
                               "step_loss")
    truncation = spec.get("truncation")
    if truncation is not None:
        _int(truncation, "truncation", 1, MAX_STEPS)
    out["truncation"] = truncation
    out["samples"] = [check_sequence_sample(s, f"samples[{i}]", n_inputs, n_prev)
                      for i, s in enumerate(spec.get("samples", []))]
    return out


def _check_recurrent_layer(layer, where, n_in, rng):
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
        scale = layer.get("scale")
        if scale is not None:
            _number(scale, f"{where}.scale")
        if size * (n_in + size + 1) > MAX_PARAMETERS:
            raise SpecError(f"{where}.size: {size} recurrent neurons of {n_in} inputs is more "
                            f"than {MAX_PARAMETERS:,} parameters")
        layer_rng = (random.Random(_int(layer["seed"], f"{where}.seed", 0, 2**63))
                     if "seed" in layer else rng)
        weights, biases = initial_weights(init, n_in, size, layer_rng, scale)
        recurrent_weights, _ = initial_weights(init, size, size, layer_rng, scale)
        if "biases" in layer:
            biases = _vector(layer["biases"], size, f"{where}.biases")
        out["weights"], out["recurrent_weights"], out["biases"] = (weights, recurrent_weights,
                                                                   biases)
    if layer.get("initial_state") is not None:
        out["initial_state"] = _vector(layer["initial_state"], size, f"{where}.initial_state")
    return out


def _matrix(rows, n_rows, n_columns, where):
    if not isinstance(rows, list):
        raise SpecError(f"{where}: expected a list of {n_rows} rows, got {_show(rows)}")
    if len(rows) != n_rows:
        raise SpecError(f"{where}: expected {n_rows} rows (one per neuron), got {len(rows)}")
    return [_vector(row, n_columns, f"{where}[{j}]") for j, row in enumerate(rows)]


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


def recurrent_network_from_spec(spec, numbers="float"):
    """Build a :class:`~neuronsim.core.recurrent.RecurrentNetwork` from a spec dict."""
    checked = check_recurrent_spec(spec)
    numbers = get_numbers(numbers)
    if not getattr(numbers, "exact", False):
        _refuse_fractions(checked, numbers.name)   # "3/8" in a file needs numbers="fraction"
    convert = numbers.convert

    def activation_of(layer):
        params = {k: layer[k] for k in ACTIVATION_PARAMS.get(layer["activation"], ())
                  if k in layer}
        return get_activation(layer["activation"], numbers, **params)

    def matrix(rows):
        return [[convert(w) for w in row] for row in rows]

    first = checked["layers"][0]
    initial = first.get("initial_state")
    recurrent = RecurrentLayer.from_weights(
        matrix(first["weights"]), matrix(first["recurrent_weights"]),
        [convert(b) for b in first["biases"]], activation_of(first),
        None if initial is None else [convert(v) for v in initial])
    dense = [Layer.from_weights(matrix(layer["weights"]), [convert(b) for b in layer["biases"]],
                                activation_of(layer))
             for layer in checked["layers"][1:]]
    rate = checked.get("learning_rate")
    return RecurrentNetwork(
        recurrent, dense, get_loss(checked["loss"], numbers), reduction=checked["reduction"],
        step_loss=checked["step_loss"], truncation=checked["truncation"],
        update_biases=checked["update_biases"],
        learning_rate=None if rate is None else convert(rate), numbers=numbers,
        samples=checked["samples"], name=checked.get("name"))


def load_recurrent_network(path_or_dict, numbers="float"):
    """A recurrent network from a file path or a dict; SpecErrors name the file."""
    if isinstance(path_or_dict, dict):
        return recurrent_network_from_spec(path_or_dict, numbers)
    path = os.fspath(path_or_dict)
    spec = read_spec_file(path)
    try:
        return recurrent_network_from_spec(spec, numbers)
    except SpecError as exc:
        raise SpecError(f"{path}: {exc}") from None


def spec_from_recurrent_network(net):
    """The network-file dict of ``net`` (floats written exactly by json)."""
    to_json = net.numbers.to_json if hasattr(net.numbers, "to_json") else float
    spec = {"format": FORMAT_NAME, "version": FORMAT_VERSION}
    if net.name:
        spec["name"] = net.name
    spec["inputs"] = net.n_inputs
    recurrent = net.recurrent
    first = {"type": "recurrent", "activation": recurrent.activation.name}
    first.update({k: to_json(v) for k, v in recurrent.activation.params.items()})
    first["weights"] = [[to_json(w) for w in n.weights] for n in recurrent.neurons]
    first["recurrent_weights"] = [[to_json(u) for u in n.recurrent_weights]
                                  for n in recurrent.neurons]
    first["biases"] = [to_json(n.bias) for n in recurrent.neurons]
    if recurrent.initial_state is not None:
        first["initial_state"] = [to_json(v) for v in recurrent.initial_state]
    layers = [first]
    for layer in net.dense:
        entry = {"type": "dense", "activation": layer.activation.name}
        entry.update({k: to_json(v) for k, v in layer.activation.params.items()})
        entry["weights"] = [[to_json(w) for w in n.weights] for n in layer.neurons]
        entry["biases"] = [to_json(n.bias) for n in layer.neurons]
        layers.append(entry)
    spec["layers"] = layers
    spec["loss"] = net.loss.name
    if net.learning_rate is not None:
        spec["learning_rate"] = to_json(net.learning_rate)
    spec["reduction"] = net.reduction
    spec["step_loss"] = net.step_loss
    spec["truncation"] = net.truncation
    spec["update_biases"] = net.update_biases

    def vector(v):
        return None if v is None else [to_json(x) for x in v]

    if net.samples:
        samples = []
        for s in net.samples:
            target = s["target"]
            if target and isinstance(target[0], list) or None in target:
                target = [vector(v) for v in target]
            else:
                target = vector(target)
            samples.append({"input": [vector(x) for x in s["input"]], "target": target})
        spec["samples"] = samples
    return spec


def recurrent_network_from_arrays(weights, recurrent_weights, biases, dense, activation,
                                  dense_activations, loss, options):
    """``RecurrentNetwork.from_arrays`` (see its docstring)."""
    spec = recurrent_spec_from_arrays(weights, recurrent_weights, biases, dense, activation,
                                      dense_activations, loss, options)
    return recurrent_network_from_spec(spec, numbers=options.get("numbers", "float"))


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
    return check_recurrent_spec(spec)
