"""What a student can do in ``neuronsim serve``, as functions on a Session.

Every number comes from the per-neuron reference (neuronsim.core) on the
server: an action runs the network's own ``forward_pass``, ``back_prop`` and
``update_weights`` with a tracer attached, and the page shows the tracer's
records (:mod:`neuronsim.serve.page`).

The passes of one step can be taken one at a time.  ``session.net`` holds
the weights as they stand; Forward, Backward and Update each replay the
step so far on a copy of it with a fresh tracer (one sample: a fraction of
a millisecond for the bundled examples), so the page always shows one
coherent traced step, and Update adopts the copy whose weights moved:

- Forward: a^(1) = x, then z and a layer by layer (the copy's passes: forward);
- Backward: forward, then δ = dE/dz from the output back (the gradients);
- Update: forward, backward, then w ← w − η·dE/dw (or the optimizer's rule):
  the new weights become the network's;
- Step: the three at once; Epoch: ``Network.train`` over every sample once
  (online, in the file's order), then a Forward of the chosen sample.

After each update the loss over every sample (the mean of the samples'
losses E_s, or their sum for ``reduction="sum"``; no penalty) is added to
the loss curve.

Errors in what a student sends (a value that is not a finite number, an
unknown field, a network file that does not parse or is too big) raise
:class:`ActionError` or another NeuronsimError with one sentence;
:func:`act` turns any of them into the page's message.  Field names of
edits are 0-based Python indices (``w:0:1:0`` is
``net.layers[0].neurons[1].weights[0]``, w_21^(2)); the page labels them
in textbook numbering (input layer = layer 1, neurons from 1).
"""

from ..cli import budgets
from ..core.errors import NeuronsimError, SpecError
from ..core.labels import (
    bias_label,
    gate_bias_label,
    gate_recurrent_label,
    gate_weight_label,
    recurrent_weight_label,
    weight_label,
)
from ..files.bundled import EXAMPLES, example_path
from ..files.number_text import read_float, shown
from ..files.saving import first_non_finite
from ..files.spec import load_network, parse_spec_text, read_spec_file
from ..trace.tracer import Tracer

PHASES = ("fresh", "forward", "backward", "updated")

# The optimizers a student can pick: name -> (torch's name, options) or None
# for plain gradient descent w ← w − η·g.  torch's defaults otherwise.
OPTIMIZERS = {
    "gd": None,
    "momentum": ("sgd", {"momentum": 0.9}),
    "nesterov": ("sgd", {"momentum": 0.9, "nesterov": True}),
    "rmsprop": ("rmsprop", {}),
    "adagrad": ("adagrad", {}),
    "adam": ("adam", {}),
    "amsgrad": ("adam", {"amsgrad": True}),
    "adamw": ("adamw", {}),
}
OPTIMIZER_TITLES = {
    "gd": "gradient descent", "momentum": "SGD, momentum 0.9",
    "nesterov": "SGD, Nesterov momentum 0.9", "rmsprop": "RMSprop", "adagrad": "Adagrad",
    "adam": "Adam", "amsgrad": "Adam (amsgrad)", "adamw": "AdamW",
}

# A grid of this many points per side for the decision boundary of a 2-D data set.
GRID = 16

# The largest text one edit box may send (a float64 needs about 25 characters).
MAX_VALUE_CHARS = 100

# Learning rate given to a network file that has none.
DEFAULT_RATE = 0.5


class ActionError(NeuronsimError, ValueError):
    """A request the page cannot carry out; the message says why."""


# ------------------------------------------------------------------ networks
def bundled_names():
    """The bundled examples a student can pick, in menu order."""
    return list(EXAMPLES)


def load_bundled(session, name, limits):
    if name not in EXAMPLES:
        raise ActionError(f"unknown example {shown(str(name))} (known: "
                          f"{', '.join(bundled_names())})")
    spec = read_spec_file(example_path(name))
    adopt_spec(session, spec, name, limits)


def load_upload(session, body, limits):
    """A network file sent as the request body (bytes, UTF-8 JSON)."""
    if len(body) > limits.body_bytes:
        raise ActionError(f"the file is {len(body):,} bytes; at most {limits.body_bytes:,}")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise ActionError("the file is not UTF-8 text (a network file is JSON)") from None
    spec = parse_network_text(text)
    name = spec.get("name") if isinstance(spec.get("name"), str) else "uploaded network"
    adopt_spec(session, spec, name[:80], limits)


def parse_network_text(text):
    """A network file's text as a dict, read as ``read_spec_file`` reads a
    file (files.spec.parse_spec_text): a key written twice, NaN and Infinity
    are refused."""
    try:
        spec = parse_spec_text(text)
    except SpecError as exc:
        raise ActionError(str(exc)) from None
    if not isinstance(spec, dict):
        raise ActionError("a network file is a JSON object ({...}), see docs/spec.md")
    return spec


def check_size(spec_or_net, limits):
    """Refuse a network over ``limits`` before it is built (from the file's dict)
    or, if its size cannot be read off the dict, right after."""
    if isinstance(spec_or_net, dict):
        size = budgets.NetworkSize.of_spec(spec_or_net)
        if size is None:
            return
    else:
        size = budgets.NetworkSize.of_network(spec_or_net)
    budgets.refuse_over("serve", size.parameters, limits.parameters, "weights and biases",
                        "every neuron is a Python object and the page shows each one; "
                        "upload a smaller network")
    grid = GRID * GRID if size.sizes[0] == 2 and not size.recurrent else 0
    work = budgets.step_work(size, "float", max(1, size.samples) * 2) + grid * size.parameters
    budgets.refuse_over("serve", work, limits.work, "work units for an epoch",
                        "upload a smaller network or fewer samples")


def adopt_spec(session, spec, name, limits):
    check_size(spec, limits)
    net = load_network(spec)
    check_size(net, limits)
    notes = []
    if not net.samples:
        if net.is_sequential:
            raise ActionError(f"{name}: a network that reads sequences needs samples "
                              "(sequences) in its file")
        net.samples = [{"input": [0.0] * net.n_inputs, "target": [0.0] * net.n_outputs}]
        notes.append("the file has no samples: one sample of zeros was added (edit it below)")
    if net.learning_rate is None:
        net.learning_rate = DEFAULT_RATE
        notes.append(f"the file has no learning rate: η = {DEFAULT_RATE}")
    session.net, session.name = net, name
    session.sample = session.updates = session.epochs = 0
    session.time_step = None
    session.losses.clear()
    session.selected = None
    session.optimizer = _optimizer_key(net)
    _replay(session, "forward")
    session.losses.append((0, data_loss(net)))
    text = f"loaded {name}" + ("; " + "; ".join(notes) if notes else "")
    session.message = ("info", text)


def _optimizer_key(net):
    opt = net.optimizer
    if opt is None:
        return "gd"
    for key, value in OPTIMIZERS.items():
        if value is not None and value[0] == opt.name and all(
                opt.options.get(k) == v for k, v in value[1].items()):
            return key
    return "file"


def need_network(session):
    if session.net is None:
        raise ActionError("pick a network first (a bundled example, or upload a file)")
    return session.net


# ------------------------------------------------------------------ passes
def sample_pair(net, index):
    """The (input, target) of sample ``index``, converted and checked."""
    return net.sample_pairs([net.samples[index]])[0]


def trace_copy(net, pair, phase):
    """Run one step of ``net`` on ``pair`` = (x, t) up to ``phase`` ("fresh",
    "forward", "backward" or "updated") on a copy, with a tracer attached.

    Returns (the copy, its trace record or None, the tracer's refusal or None):
    a network the tracer refuses still runs, untraced, and the refusal says
    why (every layer kind is traced now, LSTM and GRU included)."""
    work = net.copy()
    tracer = Tracer()
    refusal = None
    try:
        tracer.attach(work)
    except NeuronsimError as exc:
        tracer, refusal = None, str(exc)
    x, t = pair
    try:
        if phase in ("forward", "backward", "updated"):
            work.forward_pass(x)
        if phase in ("backward", "updated"):
            work.back_prop(t)
        if phase == "updated":
            work.update_weights(work.learning_rate)
    finally:
        if tracer is not None:
            tracer.detach(work)
            tracer.flush()
    record = tracer.records[0] if tracer is not None and tracer.records else None
    return work, record, refusal


def _replay(session, phase):
    """The session's step up to ``phase`` (:func:`trace_copy`): ``session.shown``,
    ``record`` and ``refusal`` become its results; returns the copy.
    ``session.before`` is the network the shown step started from."""
    session.before = session.net
    pair = sample_pair(session.net, session.sample)
    work, session.record, session.refusal = trace_copy(session.net, pair, phase)
    session.shown = work
    session.phase = phase
    return work


def data_loss(net):
    """The loss over every sample: the mean of the E_s (the sum for
    ``reduction="sum"``), with the current weights (no penalty).  Its forward
    passes leave their z and a in ``net``: the page draws ``session.shown``,
    a copy, so the session's own network may be used."""
    return net.loss_over()


def _after_update(session):
    session.updates += 1
    session.losses.append((session.updates, data_loss(session.net)))
    bad = first_non_finite(session.net)
    if bad is not None:
        where, value = bad
        session.message = ("error", f"{where} is {value}: training diverged (try a smaller "
                                    "learning rate, then pick the network again)")


def forward(session):
    need_network(session)
    _replay(session, "forward")
    session.message = ("info", f"forward pass of sample {session.sample + 1}")


def backward(session):
    need_network(session)
    _replay(session, "backward")
    session.message = ("info", f"forward and backward pass of sample {session.sample + 1}: "
                               "δ = dE/dz of every neuron, and the gradients")


def update(session):
    need_network(session)
    if session.phase != "backward":
        raise ActionError("Update applies the gradients of a backward pass: press Backward "
                          "first (or Step, which does all three)")
    work = _replay(session, "updated")
    session.before, session.net = session.net, work.copy()
    session.message = ("info", f"update {session.updates + 1}: the weights moved by "
                               f"{OPTIMIZER_TITLES.get(session.optimizer, 'the file’s optimizer')}")
    _after_update(session)


def step(session):
    need_network(session)
    work = _replay(session, "updated")
    session.before, session.net = session.net, work.copy()
    session.message = ("info", f"step {session.updates + 1} on sample {session.sample + 1}: "
                               "forward, backward, update")
    _after_update(session)


EPOCH_COUNTS = (1, 10, 100)


def epoch(session, count="1", limits=None):
    """``count`` passes over every sample (1, 10 or 100), online, in the file's
    order (no tracing: ``Network.train``), then the chosen sample's forward
    pass.  More epochs than ``limits.work`` allows in one action are refused.
    The loss curve gets one point, after the last epoch."""
    net = need_network(session)
    if count not in [str(n) for n in EPOCH_COUNTS]:
        raise ActionError(f"epochs {shown(str(count))}: one of "
                          f"{', '.join(map(str, EPOCH_COUNTS))}")
    count = session.epoch_count = int(count)
    if limits is not None and count > 1:
        size = budgets.NetworkSize.of_network(net)
        budgets.refuse_over("serve", count * budgets.step_work(size, "float", len(net.samples)),
                            limits.work, "work units", "press Epoch with fewer epochs")
    # On a copy: an epoch that stops at a NaN leaves the session's network as it was.
    trained = net.copy()
    trained.train(epochs=count, learning_rate=net.learning_rate, batch_size=1, shuffle=False)
    session.net = trained
    session.epochs += count
    session.updates += count * len(net.samples) - 1   # _after_update adds the last one
    steps = "1 online step" if len(net.samples) == 1 else f"{len(net.samples)} online steps"
    what = f"epoch {session.epochs}" if count == 1 else \
        f"epochs {session.epochs - count + 1} to {session.epochs}"
    session.message = ("info", f"{what}: {steps} each, one per sample")
    _after_update(session)
    _replay(session, "forward")


# ------------------------------------------------------------------ edits
def read_value(text, where):
    """A finite float64 from an edit box, or an ActionError naming ``where``."""
    if not isinstance(text, str):
        raise ActionError(f"{where}: expected a number")
    if len(text) > MAX_VALUE_CHARS:
        raise ActionError(f"{where}: {len(text):,} characters is not a number (at most "
                          f"{MAX_VALUE_CHARS})")
    try:
        return read_float(text, where)
    except NeuronsimError as exc:
        raise ActionError(str(exc)) from None


def _index(text, size, what):
    if not (text.isdigit() and len(text) < 10) or int(text) >= size:
        raise ActionError(f"{what} {shown(text)}: expected 0 to {size - 1}")
    return int(text)


def parameter_place(net, field):
    """(neuron, attribute, index or None, label) that an edit field names:
    ``w:l:j:k`` (a weight), ``u:l:j:k`` (a recurrent weight), ``b:l:j`` (a
    bias), ``bih:l:j`` / ``bhh:l:j`` (an LSTM or GRU gate's two biases)."""
    parts = field.split(":")
    kind = parts[0]
    count = {"w": 4, "u": 4, "b": 3, "bih": 3, "bhh": 3}.get(kind)
    if count is None or len(parts) != count:
        raise ActionError(f"unknown field {shown(field)}")
    l = _index(parts[1], len(net.layers), "layer index")
    layer = net.layers[l]
    j = _index(parts[2], len(layer.neurons), "neuron index")
    neuron = layer.neurons[j]
    gate = getattr(neuron, "gate", None)
    unit = j % layer.size
    if kind in ("w", "u"):
        attribute = "weights" if kind == "w" else "recurrent_weights"
        values = getattr(neuron, attribute, None)
        if values is None:
            raise ActionError(f"layer {l + 2} has no recurrent weights")
        k = _index(parts[3], len(values), "input index")
        if gate is not None:
            label = (gate_weight_label(l, gate, unit, k) if kind == "w"
                     else gate_recurrent_label(l, gate, unit, k))
        else:
            label = weight_label(l, j, k) if kind == "w" else recurrent_weight_label(l, j, k)
        return neuron, attribute, k, label
    if gate is None and kind == "b":
        return neuron, "bias", None, bias_label(l, j)
    if gate is not None and kind in ("bih", "bhh"):
        side = kind[1:]
        return neuron, f"bias_{side}", None, gate_bias_label(l, gate, unit, side)
    raise ActionError(f"unknown field {shown(field)} for layer {l + 2}")


def edit(session, field, text):
    """Set one number: a parameter, an input or target of the chosen sample,
    or the learning rate (``lr``).  The step shown is replayed with it."""
    net = need_network(session)
    if not isinstance(field, str) or len(field) > 40:
        raise ActionError("unknown field")
    if field == "lr":
        value = read_value(text, "learning rate η")
        if value <= 0:
            raise ActionError(f"learning rate η: expected a number > 0, got {shown(text)}")
        old, net.learning_rate, label = net.learning_rate, value, "η"
    elif field.split(":")[0] in ("x", "t"):
        values, k, label = _sample_place(net, session.sample, field)
        value = read_value(text, label)
        old, values[k] = values[k], value
    else:
        neuron, attribute, k, label = parameter_place(net, field)
        value = read_value(text, label)
        if k is None:
            old = getattr(neuron, attribute)
            setattr(neuron, attribute, value)
        else:
            values = getattr(neuron, attribute)
            old = values[k]
            values[k] = value
    phase = "fresh" if session.phase == "updated" else session.phase
    _replay(session, phase)
    session.message = ("info", f"{label} = {value!r} (was {old!r})")


def _sample_place(net, index, field):
    """(list holding the value, its index, label) of an ``x:k``/``t:j`` field
    (``x:t:k``/``t:t:j`` at time step t of a sequence, 0-based)."""
    parts = field.split(":")
    sample = net.samples[index]
    key = "input" if parts[0] == "x" else "target"
    values = sample[key]
    sequence = net.is_sequential
    if len(parts) != (3 if sequence else 2):
        raise ActionError(f"unknown field {shown(field)}")
    name = "x" if key == "input" else "t"
    if sequence:
        if not isinstance(values, list):
            raise ActionError(f"sample {index + 1} has no {key} to edit")
        if key == "target" and is_last_step_target(values):   # many-to-one
            steps = len(sample["input"])
            t = _index(parts[1], steps, "time step")
            if t != steps - 1:
                raise ActionError(f"sample {index + 1} has a target at its last step "
                                  f"({steps}) only")
            k = _index(parts[2], len(values), "index")
            return values, k, f"{name}{k + 1}[{t + 1}] of sample {index + 1}"
        t = _index(parts[1], len(values), "time step")
        values = values[t]
        if values is None:
            raise ActionError(f"sample {index + 1} has no target at step {t + 1}")
        values = values if isinstance(values, list) else None
        if values is None:
            raise ActionError(f"unknown field {shown(field)}")
        k = _index(parts[2], len(values), "index")
        return values, k, f"{name}{k + 1}[{t + 1}] of sample {index + 1}"
    k = _index(parts[1], len(values), "index")
    return values, k, f"{name}{k + 1} of sample {index + 1}"


def is_last_step_target(target):
    """True for a sequence's target written as one vector: the target of its
    last step (many-to-one), not a list with a vector (or None) per step."""
    return (isinstance(target, list) and bool(target)
            and all(v is not None and not isinstance(v, (list, tuple)) for v in target))


def choose_sample(session, text):
    net = need_network(session)
    count = len(net.samples)
    if not (isinstance(text, str) and text.isdigit() and len(text) < 10
            and 1 <= int(text) <= count):
        raise ActionError(f"sample {shown(str(text))}: the network has samples 1 to {count}")
    session.sample = int(text) - 1
    _replay(session, "forward")
    session.message = ("info", f"sample {session.sample + 1}")


def choose_time_step(session, text):
    """The time step t (from 1) whose forward and backward tables a sequence shows."""
    net = need_network(session)
    if not net.is_sequential:
        raise ActionError("time steps: this network reads no sequences")
    steps = len(sample_pair(net, session.sample)[0])
    if not (isinstance(text, str) and text.isdigit() and len(text) < 10
            and 1 <= int(text) <= steps):
        raise ActionError(f"time step {shown(str(text))}: the sequence has steps 1 to {steps}")
    session.time_step = int(text)
    session.message = None


def set_optimizer(session, key):
    net = need_network(session)
    if key not in OPTIMIZERS:
        raise ActionError(f"unknown optimizer {shown(str(key))} (known: "
                          f"{', '.join(OPTIMIZERS)})")
    choice = OPTIMIZERS[key]
    if choice is None:
        net.set_optimizer(None)
    else:
        net.set_optimizer(choice[0], **choice[1])
    session.optimizer = key
    _replay(session, "fresh" if session.phase == "updated" else session.phase)
    session.message = ("info", f"optimizer: {OPTIMIZER_TITLES[key]} (its state starts afresh)")


def select(session, kind, layer, neuron, index=None):
    """Open a neuron's or a weight's details (0-based indices as text)."""
    net = need_network(session)
    if kind not in ("neuron", "weight"):
        raise ActionError(f"cannot select {shown(str(kind))}")
    l = _index(str(layer), len(net.layers), "layer index")
    j = _index(str(neuron), net.layers[l].size, "neuron index")
    if kind == "neuron":
        session.selected = ("neuron", l, j)
    else:
        k = _index(str(index), net.layers[l].n_inputs, "input index")
        session.selected = ("weight", l, j, k)
    session.message = None


# ------------------------------------------------------------------ dispatch
ACTIONS = ("forward", "backward", "update", "step", "epoch", "load", "edit", "sample",
           "optimizer", "select", "time", "close")


def act(session, action, params, limits):
    """Carry out ``action`` with ``params`` (a dict of strings); any error in
    the request becomes the session's message, never an exception."""
    try:
        if action == "forward":
            forward(session)
        elif action == "backward":
            backward(session)
        elif action == "update":
            update(session)
        elif action == "step":
            step(session)
        elif action == "epoch":
            epoch(session, params.get("count", "1"), limits)
        elif action == "load":
            load_bundled(session, params.get("name"), limits)
        elif action == "edit":
            edit(session, params.get("field"), params.get("value"))
        elif action == "sample":
            choose_sample(session, params.get("sample"))
        elif action == "optimizer":
            set_optimizer(session, params.get("optimizer"))
        elif action == "select":
            select(session, params.get("kind"), params.get("layer", ""),
                   params.get("neuron", ""), params.get("index", ""))
        elif action == "time":
            choose_time_step(session, params.get("t"))
        elif action == "close":
            session.selected = None
            session.message = None
        else:
            raise ActionError(f"unknown action {shown(str(action))}")
    except (NeuronsimError, ValueError, ArithmeticError) as exc:
        session.message = ("error", str(exc))
