"""One parameter's update step, quantity by quantity, for working it by hand.

The core's optimizers (:mod:`neuronsim.core.optimizers`) return only the new
value and keep the state.  Here the same step is computed again, in the same
order of operations, keeping every intermediate quantity under a name a
student can write down:

==========  ==================================================================
name        quantity
==========  ==================================================================
``t``       the parameter's step count after this step (t = 1 at its first)
``gd``      g + λ·θ, the gradient with coupled weight decay (λ ≠ 0)
``theta_d`` θ·(1 − ηλ), AdamW's decoupled weight decay (λ ≠ 0)
``buf``     the momentum buffer b (SGD, RMSprop with momentum)
``gn``      g + μ·b, Nesterov's gradient
``m``       Adam's first moment (exp_avg)
``v``       Adam's second moment (exp_avg_sq) or RMSprop's square_avg
``vmax``    max(v_max, v) (amsgrad)
``gbar``    RMSprop's grad_avg (centered)
``s``       RMSprop's √v (or √(v − ḡ²) centered), then ``s_eps`` = s + ε
``G``       Adagrad's sum of g², ``clr`` its rate η/(1 + (t − 1)·lr_decay),
            ``std`` = √G + ε
``bc1``     1 − β₁ᵗ; ``bc2`` = 1 − β₂ᵗ; ``bc2_sqrt`` = bc2 ** 0.5 (torch's)
``mhat``    m/(1 − β₁ᵗ) and ``vhat`` = v/(1 − β₂ᵗ): for reading (torch's
            step uses m, v and the corrections below)
``step_size`` η/(1 − β₁ᵗ); ``denom`` = √v/√(1 − β₂ᵗ) + ε
``delta``   the change Δ added to θ
``new``     θ after the step
==========  ==================================================================

:func:`update_chain` computes them; with ``given`` it takes some of them as
given (a student's own numbers) and computes the rest from those, which is
how a worksheet tells a carried error from a new one.
:meth:`Network.copy(batch=False) <neuronsim.core.network.Network.copy>` copies a
network with its optimizer, penalty, clipping, schedule and every parameter's
optimizer state.
"""

import copy

from ..core.optimizers import lerp
from ..core.summation import sum_in_order

# torch's state names and the quantity each holds after the step.
STATE_QUANTITIES = {
    "step": "t", "exp_avg": "m", "exp_avg_sq": "v", "max_exp_avg_sq": "vmax",
    "momentum_buffer": "buf", "square_avg": "v", "grad_avg": "gbar", "sum": "G",
}


def parameter_state(owner, name, k, optimizer):
    """The optimizer state of ``owner.name[k]`` (``k`` None: a single number),
    or a fresh one if the parameter has not been updated yet."""
    states = owner.optimizer_state or {}
    state = states.get(name)
    if state is None:
        return optimizer.new_state() if optimizer is not None else {}
    return dict(state[k] if k is not None else state)


def update_rate(net, learning_rate=None):
    """η of the next update: ``learning_rate`` (default the network's), or the
    rate its schedule gives now (on a copy of the schedule)."""
    rate = net.learning_rate if learning_rate is None else learning_rate
    if net.schedule is not None and rate is not None:
        rate = copy.copy(net.schedule).rate(rate)
    return rate


# ---------------------------------------------------------------- the chain
class _Chain:
    """The quantities so far; a quantity in ``given`` is taken, not computed."""

    def __init__(self, given):
        self.given = given or {}
        self.values = {}

    def let(self, name, compute):
        value = self.given[name] if name in self.given else compute()
        self.values[name] = value
        return value


def update_chain(optimizer, theta, g, before, lr, given=None):
    """Every quantity of one step of one parameter θ with gradient g (after the
    penalty and clipping), state ``before`` (torch's names) and rate η, in the
    order the core computes them: a dict name → value (names in the module
    docstring).  ``optimizer``: the network's :class:`~neuronsim.core.optimizers.
    Optimizer`, or None for θ − η·g.  ``given``: quantities to take as given.
    """
    chain = _Chain(given)
    if optimizer is None:
        chain.let("new", lambda: theta - lr * g)
        return chain.values
    name, o, numbers = optimizer.name, optimizer._numeric, optimizer.numbers
    {"sgd": _sgd, "rmsprop": _rmsprop, "adagrad": _adagrad, "adam": _adam,
     "adamw": _adam}[name](chain, o, numbers, theta, g, before, lr, name == "adamw")
    return chain.values


def _decayed(chain, o, theta, g):
    weight_decay = o["weight_decay"]
    if weight_decay == 0:
        return g
    return chain.let("gd", lambda: g + weight_decay * theta)


def _sgd(chain, o, numbers, theta, g, before, lr, _):
    g = _decayed(chain, o, theta, g)
    momentum = o["momentum"]
    if momentum != 0:
        old = before.get("momentum_buffer")
        buf = chain.let("buf", lambda: g if old is None
                        else old * momentum + (1 - o["dampening"]) * g)
        if o["nesterov"]:
            g = chain.let("gn", lambda: g + momentum * buf)
        else:
            g = buf
    chain.let("delta", lambda: -lr * g)
    chain.let("new", lambda: theta + -lr * g)


def _rmsprop(chain, o, numbers, theta, g, before, lr, _):
    alpha = o["alpha"]
    chain.let("t", lambda: before["step"] + 1)
    g = _decayed(chain, o, theta, g)
    v = chain.let("v", lambda: before["square_avg"] * alpha + (1 - alpha) * g * g)
    if o["centered"]:
        gbar = chain.let("gbar", lambda: lerp(before["grad_avg"], g, 1 - alpha))
        s = chain.let("s", lambda: numbers.sqrt(v + -1 * gbar * gbar))
    else:
        s = chain.let("s", lambda: numbers.sqrt(v))
    s = chain.let("s_eps", lambda: s + o["eps"])
    if o["momentum"] > 0:
        buf = chain.let("buf", lambda: before["momentum_buffer"] * o["momentum"] + g / s)
        chain.let("delta", lambda: -lr * buf)
        chain.let("new", lambda: theta + -lr * buf)
    else:
        chain.let("delta", lambda: -lr * g / s)
        chain.let("new", lambda: theta + -lr * g / s)


def _adagrad(chain, o, numbers, theta, g, before, lr, _):
    t = chain.let("t", lambda: before["step"] + 1)
    g = _decayed(chain, o, theta, g)
    clr = chain.let("clr", lambda: lr / (1 + (t - 1) * o["lr_decay"]))
    total = chain.let("G", lambda: before["sum"] + g * g)
    std = chain.let("std", lambda: numbers.sqrt(total) + o["eps"])
    chain.let("delta", lambda: -clr * g / std)
    chain.let("new", lambda: theta + -clr * g / std)


def _adam(chain, o, numbers, theta, g, before, lr, decoupled):
    beta1, beta2 = o["betas"]
    weight_decay = o["weight_decay"]
    t = chain.let("t", lambda: before["step"] + 1)
    if decoupled:
        if weight_decay != 0:
            theta = chain.let("theta_d", lambda: theta * (1 - lr * weight_decay))
    else:
        g = _decayed(chain, o, theta, g)
    m = chain.let("m", lambda: lerp(before["exp_avg"], g, 1 - beta1))
    v = chain.let("v", lambda: before["exp_avg_sq"] * beta2 + (1 - beta2) * g * g)
    if o["amsgrad"]:
        v = chain.let("vmax", lambda: max(before["max_exp_avg_sq"], v))
    bc1 = chain.let("bc1", lambda: 1 - beta1 ** t)
    bc2 = chain.let("bc2", lambda: 1 - beta2 ** t)
    chain.let("mhat", lambda: m / bc1)
    chain.let("vhat", lambda: v / bc2)
    step_size = chain.let("step_size", lambda: lr / bc1)
    bc2_sqrt = chain.let("bc2_sqrt", lambda: bc2 ** 0.5)
    denom = chain.let("denom", lambda: numbers.sqrt(v) / bc2_sqrt + o["eps"])
    chain.let("delta", lambda: -step_size * m / denom)
    chain.let("new", lambda: theta + -step_size * m / denom)


# ---------------------------------------------------------------- the gradient g
def gradient_chain(net, owner, name, k, given=None):
    """How g of one parameter (``owner.name[k]``, k None for a bias) is made
    before the optimizer sees it, in the core's order: a dict with ``mean``
    ((Σ dE/dθ)/n), ``share`` (dR/dθ, weights with a penalty), ``penalized``
    (mean + share), ``norm`` (N, clipping by norm, over every parameter
    updated), ``coef`` (max_norm/(N + 10⁻⁶)) and ``g`` (as clipped).

    ``owner`` is a neuron, or a recurrent layer for its learned initial state
    (``name`` "initial_state").  Read from ``net`` after back_prop and before
    the update.  ``given``: the same keys taken as given (``norm`` included).
    """
    from ..core.regularization import CLIP_EPS

    chain = _Chain(given)
    numbers = net.numbers
    n = net.samples_in_batch if net.reduction == "mean" else 1
    total, penalized = entry_of(net, owner, name)
    if k is not None:
        total = total[k]
    theta = getattr(owner, name) if k is None else getattr(owner, name)[k]
    g = chain.let("mean", lambda: total / n)
    if net.penalty is not None and penalized:
        share = chain.let("share", lambda: net.penalty.gradient([theta])[0])
        g = chain.let("penalized", lambda: g + share)
    clip = net.clip
    if clip is not None and clip.value is not None:
        v = numbers.convert(clip.value)
        g = chain.let("g", lambda: min(max(g, -v), v))
    elif clip is not None:
        norm = chain.let("norm", lambda: global_norm(net))
        coef = chain.let("coef", lambda: numbers.convert(clip.max_norm)
                         / (norm + numbers.convert(CLIP_EPS)))
        g = chain.let("g", lambda: coef * g if coef < 1 else g)
    else:
        chain.let("g", lambda: g)
    return chain.values


def entry_of(net, owner, name):
    """(Σ dE/dθ, penalized) of ``owner.name`` as its layer gives it to the
    update (``update_entries``); a fixed bias is given with its sum."""
    for layer in net.layers:
        for entry_owner, entry_name, grad_sum, penalized in layer.update_entries(True):
            if entry_owner is owner and entry_name == name:
                return grad_sum, penalized
    raise ValueError(f"{name} is not a parameter the update changes")


def global_norm(net):
    """N = √(Σ g²) over every parameter the update changes, each g after the
    penalty, summed as the core sums it (each neuron's weights, then its bias)."""
    n = net.samples_in_batch if net.reduction == "mean" else 1
    total = 0
    for layer in net.layers:
        for owner, name, grad_sum, penalized in layer.update_entries(net.update_biases):
            if isinstance(grad_sum, list):
                g = [s / n for s in grad_sum]
                if net.penalty is not None and penalized:
                    g = [a + b for a, b in zip(g, net.penalty.gradient(getattr(owner, name)))]
                total += sum_in_order(x * x for x in g)
            else:
                g = grad_sum / n
                total += g * g
    return net.numbers.sqrt(total)


def count_updated(net):
    """How many numbers the update changes (the terms of N)."""
    count = 0
    for layer in net.layers:
        for _, _, grad_sum, _ in layer.update_entries(net.update_biases):
            count += len(grad_sum) if isinstance(grad_sum, list) else 1
    return count
