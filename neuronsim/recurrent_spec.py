"""Network files for recurrent networks: a first layer with ``"type": "recurrent"``.

The format extends docs/spec.md (section "Recurrent layers")::

    {
      "inputs": 1,
      "layers": [
        {"type": "recurrent", "activation": "tanh",
         "weights": [[0.5], [-0.3]],                   # W: (n, n_in), w_jk
         "recurrent_weights": [[0.1, 0.4], [-0.2, 0.3]],  # U: (n, n), u_ji
         "biases": [0.0, 0.1],
         "initial_state": [0.0, 0.0]},                 # optional, a[0]
        {"activation": "sigmoid", "weights": [[0.7, -0.6]], "biases": [0.05]}
      ],
      "loss": "binary_cross_entropy",
      "step_loss": "sum",          # or "mean" over the steps with a target
      "truncation": null,          # or k for truncated BPTT
      "samples": [{"input": [[1], [0], [1]], "target": [[1], [1], [0]]},
                  {"input": [[1], [1]], "target": [0]}]   # one vector: last step only
    }

The recurrent layer must be the first; the layers after it are ordinary
dense layers (``"type": "dense"`` may be written, or left out) and are
checked by :mod:`neuronsim.spec`.  A recurrent layer given by ``size`` +
``init`` draws its input weights and biases first, then its recurrent
weights, from the same generator (each row j = the weights into neuron j).
Every problem is a :class:`~neuronsim.errors.SpecError` whose message starts
with the place, like the rest of the network-file checks.
"""

import os
import random

from .activations import ACTIVATION_PARAMS, ACTIVATIONS, get_activation
from .errors import SpecError
from .initializers import INITIALIZERS, initial_weights
from .layer import Layer
from .losses import get_loss
from .numbers import get_numbers
from .recurrent import STEP_LOSSES, RecurrentLayer, RecurrentNetwork
from . import spec as _spec

MAX_STEPS = 100_000

_TOP_KEYS = {"format", "version", "name", "description", "inputs", "layers", "loss",
             "learning_rate", "reduction", "step_loss", "truncation", "update_biases",
             "bias_layout", "seed", "samples"}
_RECURRENT_KEYS = {"type", "activation", "weights", "recurrent_weights", "biases",
                   "initial_state", "size", "init", "seed", "scale", "slope", "name"}

_show, _number, _int, _vector, _choice = (_spec._show, _spec._number, _spec._int,
                                          _spec._vector, _spec._choice)


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
    if "format" in spec and spec["format"] != _spec.FORMAT_NAME:
        raise SpecError(f"format: expected {_spec.FORMAT_NAME!r}, got {_show(spec['format'])}")
    if "version" in spec and spec["version"] != _spec.FORMAT_VERSION:
        raise SpecError(f"version: this neuronsim reads version {_spec.FORMAT_VERSION}, "
                        f"got {_show(spec['version'])}")
    if spec.get("bias_layout", "separate") != "separate":
        raise SpecError("bias_layout: recurrent network files use the \"separate\" layout "
                        "(biases in their own list)")
    if "inputs" not in spec:
        raise SpecError("inputs: missing (the number of inputs per time step)")
    n_inputs = _int(spec["inputs"], "inputs", 1, _spec.MAX_LAYER_SIZE)
    layers = spec.get("layers")
    if not isinstance(layers, list) or not layers:
        raise SpecError(f"layers: expected a non-empty list of layers, got {_show(layers)}")
    if len(layers) > _spec.MAX_LAYERS:
        raise SpecError(f"layers: at most {_spec.MAX_LAYERS} layers, got {len(layers)}")
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
        checked = _spec._check_layer(layer, where, n_prev, "separate", rng)
        checked["type"] = "dense"
        n_prev = len(checked["weights"])
        parameters += n_prev * (len(checked["weights"][0]) + 1)
        out_layers.append(checked)
    if parameters > _spec.MAX_PARAMETERS:
        raise SpecError(f"layers: the network would have more than {_spec.MAX_PARAMETERS:,} "
                        "parameters (the limit for a plain-Python simulator)")
    out = {"inputs": n_inputs, "layers": out_layers}
    out.update(_spec.check_common_keys(spec))
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
        if len(weights) > _spec.MAX_LAYER_SIZE:
            raise SpecError(f"{where}.weights: at most {_spec.MAX_LAYER_SIZE} neurons, "
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
        size = _int(layer["size"], f"{where}.size", 1, _spec.MAX_LAYER_SIZE)
        init = _choice(layer.get("init", "xavier"), list(INITIALIZERS), f"{where}.init", "init")
        scale = layer.get("scale")
        if scale is not None:
            _number(scale, f"{where}.scale")
        if size * (n_in + size + 1) > _spec.MAX_PARAMETERS:
            raise SpecError(f"{where}.size: {size} recurrent neurons of {n_in} inputs is more "
                            f"than {_spec.MAX_PARAMETERS:,} parameters")
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
    """Build a :class:`~neuronsim.recurrent.RecurrentNetwork` from a spec dict."""
    checked = check_recurrent_spec(spec)
    numbers = get_numbers(numbers)
    refuse_fractions = getattr(_spec, "_refuse_fractions", None)
    if refuse_fractions is not None and not getattr(numbers, "exact", False):
        refuse_fractions(checked, numbers.name)   # "3/8" in a file needs numbers="fraction"
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
    spec = _spec.read_spec_file(path)
    try:
        return recurrent_network_from_spec(spec, numbers)
    except SpecError as exc:
        raise SpecError(f"{path}: {exc}") from None


def spec_from_recurrent_network(net):
    """The network-file dict of ``net`` (floats written exactly by json)."""
    to_json = net.numbers.to_json if hasattr(net.numbers, "to_json") else float
    spec = {"format": _spec.FORMAT_NAME, "version": _spec.FORMAT_VERSION}
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


def recurrent_spec_from_arrays(weights, recurrent_weights, biases, dense, activation,
                               dense_activations, loss, options):
    """The spec dict for ``RecurrentNetwork.from_arrays`` (see its docstring)."""
    plain = _spec._plain
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
