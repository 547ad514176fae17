"""Optimizers: how a parameter θ moves, given its batch gradient g.

Each optimizer is one small function on one scalar parameter, written in
torch.optim's formula and in torch's order of operations (the single-tensor
code paths of torch 2.13, ``torch/optim/sgd.py``, ``rmsprop.py``,
``adagrad.py``, ``adam.py``), so that float64 runs agree with torch.optim.
Its per-parameter state (a dict with torch's state names) belongs to the
parameter: neuron j's weight w_jk keeps it in
``neuron.optimizer_state["weights"][k]``, its bias in
``neuron.optimizer_state["bias"]`` (docs/optimizers.md, docs/notation.md).

With η the rate, λ the weight_decay and t the step count (per parameter):

``sgd``      g ← g + λθ;  b ← g at t = 1, else b ← μ·b + (1 − τ)·g;
             g ← g + μ·b (nesterov) or g ← b;  θ ← θ − η·g
             (momentum μ, dampening τ; with μ = 0 only θ ← θ − η·g)
``rmsprop``  g ← g + λθ;  v ← α·v + (1 − α)·g²;  centered: ḡ ← lerp(ḡ, g, 1 − α),
             s = √(v − ḡ²), else s = √v;  s ← s + ε;
             momentum μ > 0: b ← μ·b + g/s, θ ← θ − η·b;  else θ ← θ − η·g/s
``adagrad``  g ← g + λθ;  η_t = η / (1 + (t − 1)·lr_decay);  G ← G + g²;
             θ ← θ − η_t·g/(√G + ε)   (G starts at initial_accumulator_value)
``adam``     g ← g + λθ;  m ← lerp(m, g, 1 − β₁);  v ← β₂·v + (1 − β₂)·g²;
             amsgrad: v_max ← max(v_max, v) is used for v below;
             θ ← θ − (η/(1 − β₁ᵗ))·m / (√v/√(1 − β₂ᵗ) + ε)
``adamw``    adam with θ ← θ·(1 − ηλ) first instead of g ← g + λθ (decoupled)

lerp(a, b, w) is torch's: a + w·(b − a) for |w| < 0.5, else b − (b − a)·(1 − w).
Plain gradient descent without an optimizer does not come here: it is
``apply_update`` of each layer, unchanged.
"""

from numbers import Real

from .errors import NeuronsimError


def lerp(start, end, weight):
    """torch.lerp as ATen computes it (two branches, for accuracy near both ends)."""
    if abs(weight) < 0.5:
        return start + weight * (end - start)
    return end - (end - start) * (1 - weight)


# --------------------------------------------------------------- one step each
def copy_state(state):
    """A copy of a parameter owner's ``optimizer_state`` (its dicts and lists; the
    numbers in them are immutable), or None: what tracers and explanations keep of
    the state before and after an update."""
    if state is None:
        return None
    return {name: [dict(s) for s in value] if isinstance(value, list) else dict(value)
            for name, value in state.items()}


def sgd_state(o):
    """torch's SGD state: momentum_buffer, empty until the first step (None)."""
    return {"momentum_buffer": None} if o["momentum"] != 0 else {}


def sgd(theta, g, state, lr, o, numbers):
    """torch.optim.SGD on one parameter; returns the new θ."""
    weight_decay, momentum = o["weight_decay"], o["momentum"]
    if weight_decay != 0:
        g = g + weight_decay * theta
    if momentum != 0:
        buf = state["momentum_buffer"]
        if buf is None:
            buf = g                     # the first step takes g itself (no dampening)
        else:
            buf = buf * momentum + (1 - o["dampening"]) * g
        state["momentum_buffer"] = buf
        g = g + momentum * buf if o["nesterov"] else buf
    return theta + -lr * g


def rmsprop_state(o):
    """step 0, square_avg 0; momentum_buffer 0 with momentum, grad_avg 0 if centered."""
    state = {"step": 0, "square_avg": 0}
    if o["momentum"] > 0:
        state["momentum_buffer"] = 0
    if o["centered"]:
        state["grad_avg"] = 0
    return state


def rmsprop(theta, g, state, lr, o, numbers):
    """torch.optim.RMSprop on one parameter; returns the new θ."""
    alpha, weight_decay, momentum = o["alpha"], o["weight_decay"], o["momentum"]
    state["step"] += 1
    if weight_decay != 0:
        g = g + weight_decay * theta
    state["square_avg"] = square_avg = state["square_avg"] * alpha + (1 - alpha) * g * g
    if o["centered"]:
        state["grad_avg"] = grad_avg = lerp(state["grad_avg"], g, 1 - alpha)
        avg = numbers.sqrt(square_avg + -1 * grad_avg * grad_avg)
    else:
        avg = numbers.sqrt(square_avg)
    avg = avg + o["eps"]
    if momentum > 0:
        state["momentum_buffer"] = buf = state["momentum_buffer"] * momentum + g / avg
        return theta + -lr * buf
    return theta + -lr * g / avg


def adagrad_state(o):
    """step 0, sum = initial_accumulator_value."""
    return {"step": 0, "sum": o["initial_accumulator_value"]}


def adagrad(theta, g, state, lr, o, numbers):
    """torch.optim.Adagrad on one parameter; returns the new θ."""
    state["step"] = step = state["step"] + 1
    if o["weight_decay"] != 0:
        g = g + o["weight_decay"] * theta
    clr = lr / (1 + (step - 1) * o["lr_decay"])
    state["sum"] = state_sum = state["sum"] + g * g
    std = numbers.sqrt(state_sum) + o["eps"]
    return theta + -clr * g / std


def adam_state(o):
    """step 0, exp_avg 0, exp_avg_sq 0 (and max_exp_avg_sq 0 with amsgrad)."""
    state = {"step": 0, "exp_avg": 0, "exp_avg_sq": 0}
    if o["amsgrad"]:
        state["max_exp_avg_sq"] = 0
    return state


def adam(theta, g, state, lr, o, numbers, decoupled=False):
    """torch.optim.Adam on one parameter (``decoupled``: AdamW); returns the new θ."""
    beta1, beta2 = o["betas"]
    weight_decay = o["weight_decay"]
    state["step"] = step = state["step"] + 1
    if weight_decay != 0:
        if decoupled:
            theta = theta * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * theta
    state["exp_avg"] = exp_avg = lerp(state["exp_avg"], g, 1 - beta1)
    state["exp_avg_sq"] = exp_avg_sq = state["exp_avg_sq"] * beta2 + (1 - beta2) * g * g
    bias_correction1 = 1 - beta1 ** step
    bias_correction2 = 1 - beta2 ** step
    step_size = lr / bias_correction1
    bias_correction2_sqrt = bias_correction2 ** 0.5   # torch writes ** 0.5 here
    if o["amsgrad"]:
        state["max_exp_avg_sq"] = max_sq = max(state["max_exp_avg_sq"], exp_avg_sq)
        denom = numbers.sqrt(max_sq) / bias_correction2_sqrt + o["eps"]
    else:
        denom = numbers.sqrt(exp_avg_sq) / bias_correction2_sqrt + o["eps"]
    return theta + -step_size * exp_avg / denom


def adamw(theta, g, state, lr, o, numbers):
    """torch.optim.AdamW: Adam with decoupled weight decay θ ← θ·(1 − ηλ)."""
    return adam(theta, g, state, lr, o, numbers, decoupled=True)


# --------------------------------------------------------------- the registry
class OptimizerKind:
    """One optimizer: its step, its state's start, torch's option names with
    their defaults, and whether it takes square roots."""

    def __init__(self, name, step, new_state, defaults, needs_sqrt):
        self.name = name
        self.step = step
        self.new_state = new_state
        self.defaults = defaults
        self.needs_sqrt = needs_sqrt


OPTIMIZERS = {kind.name: kind for kind in (
    OptimizerKind("sgd", sgd, sgd_state, {"momentum": 0, "dampening": 0, "weight_decay": 0,
                                          "nesterov": False}, False),
    OptimizerKind("rmsprop", rmsprop, rmsprop_state,
                  {"alpha": 0.99, "eps": 1e-8, "weight_decay": 0, "momentum": 0,
                   "centered": False}, True),
    OptimizerKind("adagrad", adagrad, adagrad_state,
                  {"lr_decay": 0, "weight_decay": 0, "initial_accumulator_value": 0,
                   "eps": 1e-10}, True),
    OptimizerKind("adam", adam, adam_state, {"betas": (0.9, 0.999), "eps": 1e-8,
                                             "weight_decay": 0, "amsgrad": False}, True),
    OptimizerKind("adamw", adamw, adam_state, {"betas": (0.9, 0.999), "eps": 1e-8,
                                               "weight_decay": 1e-2, "amsgrad": False}, True),
)}
FLAGS = ("nesterov", "centered", "amsgrad")


class OptimizerError(NeuronsimError, ValueError):
    """A bad optimizer name or option (the message names it)."""


def _is_real(value):
    return isinstance(value, Real) and not isinstance(value, bool)


def check_options(name, options, where="optimizer"):
    """torch's checks: the options of optimizer ``name``, completed with its
    defaults (a new dict, in the order of torch's signature)."""
    if name not in OPTIMIZERS:
        raise OptimizerError(f"{where}.name: unknown optimizer {name!r} "
                             f"(known: {', '.join(OPTIMIZERS)})")
    defaults = OPTIMIZERS[name].defaults
    unknown = sorted(set(options) - set(defaults))
    if unknown:
        raise OptimizerError(f"{where}.{unknown[0]}: not an option of {name} "
                             f"(its options: {', '.join(defaults)})")
    out = {}
    for key, default in defaults.items():
        value = options.get(key, default)
        place = f"{where}.{key}"
        if key in FLAGS:
            if not isinstance(value, bool):
                raise OptimizerError(f"{place}: expected true or false, got {value!r}")
        elif key == "betas":
            if (not isinstance(value, (list, tuple)) or len(value) != 2
                    or not all(_is_real(b) and 0 <= b < 1 for b in value)):
                raise OptimizerError(f"{place}: expected two numbers in [0, 1), got {value!r}")
            value = tuple(value)
        elif not _is_real(value) or not value >= 0 or value == float("inf"):
            raise OptimizerError(f"{place}: expected a finite number >= 0, got {value!r}")
        out[key] = value
    if name == "sgd" and out["nesterov"] and (out["momentum"] <= 0 or out["dampening"] != 0):
        raise OptimizerError(f"{where}.nesterov: needs a momentum above 0 and zero dampening "
                             "(as torch.optim.SGD)")
    if name == "rmsprop" and out["alpha"] > 1:
        raise OptimizerError(f"{where}.alpha: expected a number in [0, 1], got {out['alpha']!r}")
    return out


class Optimizer:
    """An optimizer by name with torch's options: ``Optimizer("adam", betas=(0.9,
    0.99))``.  The rate is the network's learning rate (or its schedule's).
    ``options`` holds every option (defaults filled in); ``update(θ, g, state,
    η)`` is one step of one parameter."""

    def __init__(self, name, **options):
        self.name = name
        self.options = check_options(name, options)
        self.kind = OPTIMIZERS[name]
        self.numbers = None
        self._numeric = None

    def bind(self, numbers):
        """Compute in ``numbers``: options converted; fraction mode refuses a square root."""
        if self.kind.needs_sqrt and getattr(numbers, "exact", False):
            raise OptimizerError(
                f"optimizer {self.name}: numbers='fraction' computes with exact fractions, "
                "which cannot hold the square roots it takes; use numbers='precise' "
                "(for example 'precise:50'), or sgd (with momentum), which is exact")
        convert = numbers.convert
        self.numbers = numbers
        self._numeric = {key: (value if isinstance(value, bool) else
                               tuple(convert(b) for b in value) if isinstance(value, tuple)
                               else convert(value))
                         for key, value in self.options.items()}
        return self

    def new_state(self):
        return self.kind.new_state(self._numeric)

    def update(self, theta, g, state, lr):
        """One step of one parameter θ with batch gradient g; returns the new θ."""
        return self.kind.step(theta, g, state, lr, self._numeric, self.numbers)

    def to_spec(self):
        """The file's "optimizer" object (without the rate)."""
        spec = {"name": self.name}
        for key, value in self.options.items():
            spec[key] = list(value) if isinstance(value, tuple) else value
        return spec

    def __repr__(self):
        options = ", ".join(f"{k}={v!r}" for k, v in self.options.items())
        return f"Optimizer({self.name!r}, {options})"


# --------------------------------------------------------------- one update
def optimizer_update(net, learning_rate, batch_size):
    """Every parameter θ ← optimizer(θ, g) with g its batch gradient.

    g = (Σ dE/dθ)/n (the mean over the batch, or the sum for a summed loss),
    plus the penalty's dR/dθ (weights only), then clipped (net.clip), in
    this order, as a torch loop with the penalty in its loss and
    clip_grad_norm_ / clip_grad_value_ before optimizer.step().  Each
    neuron keeps g in ``batch_grad`` and the penalty's share in
    ``penalty_grad``; the state in ``optimizer_state``.
    """
    optimizer = net.optimizer or PLAIN
    entries = [entry for layer in net.layers
               for entry in layer.update_entries(net.update_biases)]
    for owner, _, _, _ in entries:
        owner.batch_grad, owner.penalty_grad = {}, None
    grads = []
    for owner, name, grad_sum, penalized in entries:
        if isinstance(grad_sum, list):
            g = [s / batch_size for s in grad_sum]
        else:
            g = grad_sum / batch_size
        if net.penalty is not None and penalized:
            share = net.penalty.gradient(getattr(owner, name))
            g = [a + b for a, b in zip(g, share)]
            owner.penalty_grad = dict(owner.penalty_grad or {}, **{name: share})
        grads.append(g)
    if net.clip is not None:
        grads = net.clip.apply(grads, net.numbers)
    for (owner, name, _, _), g in zip(entries, grads):
        states = owner.optimizer_state
        if states is None:
            states = owner.optimizer_state = {}
        value = getattr(owner, name)
        if isinstance(value, list):
            state = states.get(name)
            if state is None:
                state = states[name] = [optimizer.new_state() for _ in value]
            value = [optimizer.update(v, gk, s, learning_rate)
                     for v, gk, s in zip(value, g, state)]
        else:
            state = states.get(name)
            if state is None:
                state = states[name] = optimizer.new_state()
            value = optimizer.update(value, g, state, learning_rate)
        setattr(owner, name, value)
        owner.batch_grad[name] = g
    for layer in net.layers:
        layer.clear_grad_sums()


class _Plain:
    """θ ← θ − η·g: the update of a network with a penalty or clipping but no
    optimizer (stateless, so nothing is saved)."""

    def new_state(self):
        return {}

    @staticmethod
    def update(theta, g, state, lr):
        return theta - lr * g


PLAIN = _Plain()
