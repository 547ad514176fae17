"""Time: the loop around the stack of layers, and backpropagation through time (BPTT).

A network with a recurrent layer reads a sequence x[1], ..., x[T].  Time is a
loop around the whole stack: at each step t the input x[t] goes up through
every layer, in order, as in a feed-forward pass; a recurrent layer also
sees its own a[t-1].  A network without a recurrent layer is the one-step
case, and :class:`~neuronsim.core.network.Network` runs it without this loop.

Time steps count t = 1..T, as in the trace tables; the Python lists are
0-based, so ``net.history[t - 1][l][j]`` is neuron j of ``net.layers[l]`` at
step t, a :class:`NeuronStep`.

Forward, t = 1..T:  a^(1)[t] = x[t]; each layer computes its a[t] from the
layer below at the same step (and, if recurrent, from its own a[t-1]); the
neurons' values of step t are saved in ``history[t - 1]``.

Loss:  E = Σ_t E_t(y[t], target[t]) over the steps that have a target
(``step_loss="sum"``), or that sum / n_T (``step_loss="mean"``, n_T = the
number of steps with a target).

Backward, t = T down to 1: the neurons get back their values of step t, then
every layer from the output down runs its ordinary back_prop with
dE/da[t] from the layer above at the same step (∂E_t/∂y[t] at the output,
nothing at a step without a target); a recurrent layer adds its recurrent
path r_j[t] = Σ_i u_ij δ_i[t+1] (0 at t = T).  Each parameter's gradient is
the sum over t of its per-step products, added to the same batch sums a
feed-forward step uses.

**Truncated BPTT with k steps** (``truncation=k``) follows the gradient of
each E_t back at most k steps: every recurrent layer's a[t-k] is held
constant when E_t is differentiated, so a gradient path from E_t crosses at
most k-1 recurrent connections.  The truncated gradient is

    g_k = Σ_t ∂E_t/∂θ  with a[t-k] fixed,

so k >= T gives full BPTT and k = 1 keeps only each step's own error.  It is
computed in the same sweep by splitting every δ[t] by age,
δ[t] = Σ_{a=0}^{k-1} δ^(a)[t], where δ^(a)[t] is the part that comes from
E_(t+a): at step t the stack is walked once per age a.  Age 0 starts from
∂E_t/∂y[t]; age a >= 1 starts from nothing at the output and enters at each
recurrent layer as r^(a)[t] = Σ_i u_ij δ_i^(a-1)[t+1].  Every walk adds its
parts' products to the gradient sums, so their total is g_k.
"""

from .errors import ShapeError


class StepValues:
    """The values of one unit at one time step, named by the class's ``__slots__`` (in
    order): ``repr`` lists every one as a dataclass's would, two are equal when they are
    of one class and every value is equal (compared as tuples are), and they are
    unhashable (they change while BPTT runs).  They pickle and copy as any object with
    ``__slots__``.  :class:`NeuronStep`, and the LSTM's and GRU's step values
    (:mod:`neuronsim.core.gates`, :mod:`neuronsim.core.lstm`, :mod:`neuronsim.core.gru`).

    A plain class, not a dataclass: importing dataclasses (with inspect, ast, dis and
    tokenize) would cost every command's start-up more than the whole trace of a small
    network.  A subclass names its values in ``__slots__`` and sets them all in
    ``__init__``."""

    __slots__ = ()
    __hash__ = None   # mutable: unhashable, as a list

    def _values(self):
        return tuple(getattr(self, name) for name in self.__slots__)

    def __repr__(self):
        """``NeuronStep(inputs=[...], z=..., ...)``: every value, in order."""
        fields = ", ".join(f"{name}={value!r}" for name, value in zip(self.__slots__,
                                                                      self._values()))
        return f"{type(self).__qualname__}({fields})"

    def __eq__(self, other):
        """Equal when every value is (another kind of object: NotImplemented)."""
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._values() == other._values()


class NeuronStep(StepValues):
    """One neuron's values at one time step (``net.history[t - 1][l][j]``).

    Forward: ``inputs`` (a of the layer below at t), ``z``, ``output``
    (a = g(z)), ``derivative`` (g'(z)); for a recurrent neuron also
    ``previous`` (a[t-1] of its own layer).  Backward: ``output_grad``
    (dE/da[t]) and ``delta`` (dE/dz[t]); for a recurrent neuron dE/da[t] is
    ``output_path`` (from the layer above at t) + ``recurrent_path`` (from
    its layer at t+1).  ``delta_parts[a]`` is δ^(a)[t] (truncated BPTT only).
    The backward values stay None at a step that no gradient reaches (a
    layer above every recurrent layer at a step without a target).
    """

    __slots__ = ("inputs", "z", "output", "derivative", "previous", "output_grad", "delta",
                 "output_path", "recurrent_path", "delta_parts")

    def __init__(self, inputs, z, output, derivative, previous=None, output_grad=None,
                 delta=None, output_path=None, recurrent_path=None, delta_parts=None):
        self.inputs, self.z, self.output, self.derivative = inputs, z, output, derivative
        self.previous, self.output_grad, self.delta = previous, output_grad, delta
        self.output_path, self.recurrent_path = output_path, recurrent_path
        self.delta_parts = delta_parts

    def add_backward(self, age, output_grad, delta, output_path=None, recurrent_path=None):
        """Store this step's backward values: all of them (full BPTT, age None),
        or add the part of age ``age`` (truncated BPTT)."""
        if age is None:
            self.output_grad, self.delta = output_grad, delta
            self.output_path, self.recurrent_path = output_path, recurrent_path
            return
        if self.delta_parts is None:
            self.delta_parts = []
            self.output_grad, self.delta = output_grad, delta
            self.output_path, self.recurrent_path = output_path, recurrent_path
        else:
            self.output_grad += output_grad
            self.delta += delta
            if output_path is not None:
                self.output_path += output_path
                self.recurrent_path += recurrent_path
        self.delta_parts.append(delta)


def check_truncation(truncation):
    if truncation is None:
        return
    if not isinstance(truncation, int) or isinstance(truncation, bool) or truncation < 1:
        raise ValueError(f"truncation must be None (full BPTT) or a whole number k >= 1, "
                         f"not {truncation!r}")


# ---------------------------------------------------------------- the two sweeps
def forward_through_time(net, xs, initial_states):
    """a[t] of every layer for t = 1..T; returns [y[1], ..., y[T]].

    ``initial_states``: a[0] for each recurrent layer (a list, None = the
    layer's own).  Fills ``net.history``.
    """
    layers = net.layers
    recurrent = [layer for layer in layers if layer.is_recurrent]
    for layer, state in zip(recurrent, initial_states):
        layer.start_sequence(state)
    history, outputs = [], []
    for x in xs:
        a = x
        for layer in layers:
            a = layer.forward_pass(a)
        history.append([layer.remember_step() for layer in layers])
        outputs.append(a)
    net.history = history
    return outputs


def back_prop_through_time(net, targets, truncation):
    """Every δ[t] of every layer, t = T..1, and the gradient sums; returns
    the per-step losses (None at a step without a target)."""
    layers = net.layers
    history = net.history
    steps = len(history)
    scale = 1
    if net.step_loss == "mean":
        scale = net.numbers.convert(1) / sum(t is not None for t in targets)
    for layer in layers:
        if layer.is_recurrent:
            layer.start_back_prop(truncation)
    step_losses = [None] * steps
    top = len(layers) - 1
    for index in range(steps - 1, -1, -1):
        records = history[index]
        for layer, saved in zip(layers, records):
            layer.recall_step(saved)
        target = targets[index]
        output_grads = output_deltas = None
        if target is not None:
            step_losses[index], output_grads, output_deltas = net.output_error(target, scale)
        ages = [None] if truncation is None else range(min(truncation, steps - index))
        for age in ages:
            grads = output_grads if not age else None
            for l in range(top, -1, -1):
                layer = layers[l]
                if grads is None and not layer.is_recurrent:
                    continue   # nothing reaches this layer at this step (and age)
                paired = output_deltas if (l == top and not age) else None
                grads = layer.back_prop_step(grads, l > 0, age, records[l], paired)
        for layer in layers:
            if layer.is_recurrent:
                layer.end_step()
    for layer in layers:
        if layer.is_recurrent:
            layer.end_back_prop()
    return step_losses


# ---------------------------------------------------------------- checking inputs
def _is_vector(value):
    """A list, a tuple or an array of one dimension or more (not a single number)."""
    return isinstance(value, (list, tuple)) or getattr(value, "ndim", 0) >= 1


def sequence_of(net, xs, what="input"):
    """A list of input vectors, one per time step, checked and converted."""
    if hasattr(xs, "tolist"):
        xs = xs.tolist()
    if not isinstance(xs, (list, tuple)) or not xs:
        raise ShapeError(f"{what}: expected a list of input vectors, one per time step")
    if not all(_is_vector(x) for x in xs):
        raise ShapeError(f"{what}: expected a list of input vectors, one per time step "
                         f"(for one input write [[0], [1], ...])")
    return [net.vector(x, net.n_inputs, f"{what}[{t}]") for t, x in enumerate(xs)]


def step_targets_of(net, target, steps, what="target"):
    """Targets per step: a list of T vectors (None = no target at that step),
    or one vector, which is the target of the last step (many-to-one)."""
    if hasattr(target, "tolist"):
        target = target.tolist()
    if not isinstance(target, (list, tuple)) or not target:
        raise ShapeError(f"{what}: expected a vector (for the last step) or a list of "
                         "vectors, one per time step")
    if all(v is not None and not _is_vector(v) for v in target):
        last = net.vector(target, net.n_outputs,
                          f"{what} (one vector: the target of the last step)")
        return [None] * (steps - 1) + [last]
    if len(target) != steps:
        raise ShapeError(f"{what}: expected {steps} vectors (one per time step) or one "
                         f"vector for the last step, got {len(target)}")
    out = [None if v is None else net.vector(v, net.n_outputs, f"{what}[{t}]")
           for t, v in enumerate(target)]
    if all(v is None for v in out):
        raise ShapeError(f"{what}: no step has a target")
    return out
