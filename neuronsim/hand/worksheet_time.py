"""The worksheet of one sequence step: a network with recurrent layers, cell by cell per time step.

One online step on a sequence x[1..T] (with targets at some or all steps),
in the order it is computed by hand:

1. forward, t = 1..T, layer by layer:
   z_j[t] = Σ_k w_jk a_k^(l-1)[t] (+ Σ_i u_ji a_i^(l)[t-1] in a recurrent layer) + b_j,
   a_j[t] = g(z_j[t]), with a^(1)[t] = x[t] and a[0] the initial state (given);
2. the loss of each step with a target, E[t], and E = Σ_t E[t] (or their mean);
3. backward, t = T down to 1, output layer first:
   δ_j[t] = (e_j[t] + r_j[t]) · g'(z_j[t]), where e_j[t] comes from the layer
   above at step t (Σ_m w_mj δ_m[t]; ∂E_t/∂a_j[t] at the output, 0 at a step
   without a target) and r_j[t] = Σ_i u_ij δ_i[t+1] from the same recurrent
   layer at the next step (0 at t = T and in a dense layer); a δ that no
   gradient reaches (a layer above every recurrent layer at a step without a
   target) is not a cell;
4. gradients, summed over the steps: dE/dw_jk = Σ_t δ_j[t] a_k^(l-1)[t],
   dE/du_ji = Σ_t δ_j[t] a_i[t-1], dE/db_j = Σ_t δ_j[t], and for a learned
   initial state dE/da_i[0] = Σ_j u_ji δ_j[1];
5. the update: new θ = θ − η·dE/dθ; with an optimizer, a penalty or clipping
   the optimizer's new θ, and with ``update`` (``worksheet --update``) the
   update cells of every parameter (g, m, v, m̂, v̂ / buf / ḡ / G, the new
   value: :mod:`neuronsim.hand.worksheet_update`, shared with the
   feed-forward worksheet).

:class:`SequenceStep` has the interface of
:class:`neuronsim.hand.worksheet.Step` (``cells``, ``true_values``,
``compute``, ``old_value``, ``python``, ``formula``, ``given``), so the
worksheet's rendering and :func:`~neuronsim.hand.worksheet.check_answers`
(first wrong cell, carried errors) work unchanged.  The true values are
the simulator's own (``net.history``, ``net.step_losses``, the gradient
sums, the update).  An LSTM or GRU layer has its own cells per unit and step
(each gate's z, a and δ; c, h, dE/dh and dE/dc; each gate's w, u and two
biases): :mod:`neuronsim.hand.worksheet_gates`.  Truncated BPTT with k < T splits every δ[t] by age,
which a worksheet does not lay out: such a network is refused in one line.
"""

from ..core import labels as lab
from ..core.errors import NeuronsimError
from ..core.summation import sum_in_order
from ..core.through_time import sequence_of, step_targets_of
from . import worksheet_gates as gated
from .cells import UPDATE_QUANTITIES, Cell
from .common import first_sample, is_paired
from .label_parse import Target
from .update_step import update_rate
from .worksheet_update import UpdateCells, has_rule, update_cells, update_formula

# The most cells one worksheet may have (time steps × neurons, and parameters).
MAX_CELLS = 3000


def sequence_cells(net, targets, update=False):
    """Every cell of one sequence step, in computation order (module docstring).

    ``targets``: one entry per step (None: no target at that step).
    ``update``: the update cells of
    :func:`~neuronsim.hand.worksheet_update.update_cells` (g, the optimizer's
    quantities, the new value of each parameter) in place of the new values alone.
    """
    layers = net.layers
    steps = len(targets)
    cells = []
    for t in range(1, steps + 1):
        for l, layer in enumerate(layers):
            neurons = range(layer.size)
            if gated.is_gated(layer):
                cells += gated.forward_cells(layer, l, t)
                continue
            if layer.activation.is_layerwise:
                cells += [Cell("z", Target("z", l, j, None, t)) for j in neurons]
                cells += [Cell("a", Target("a", l, j, None, t)) for j in neurons]
                continue
            for j in neurons:
                cells.append(Cell("z", Target("z", l, j, None, t)))
                cells.append(Cell("a", Target("a", l, j, None, t)))
    cells += [Cell("E", None, t) for t in range(1, steps + 1) if targets[t - 1] is not None]
    cells.append(Cell("E"))
    for t in range(steps, 0, -1):
        for l in range(len(layers) - 1, -1, -1):
            if gated.is_gated(layers[l]):
                cells += gated.backward_cells(layers[l], l, t)
            elif reaches(net, targets, l, t):
                cells += [Cell("delta", Target("delta", l, j, None, t))
                          for j in range(layers[l].size)]
    for prefix in ("dE/d", "new "):
        if update and prefix == "new ":
            cells += update_cells(net)
            break
        for l, layer in enumerate(layers):
            if gated.is_gated(layer):
                cells += gated.parameter_cells(layer, l, prefix)
                continue
            for j, neuron in enumerate(layer.neurons):
                cells += [Cell(prefix + "w", Target("w", l, j, k))
                          for k in range(len(neuron.weights))]
                if layer.is_recurrent:
                    cells += [Cell(prefix + "u", Target("u", l, j, i)) for i in range(layer.size)]
                cells.append(Cell(prefix + "b", Target("b", l, j)))
            if layer.is_recurrent and layer.learn_initial_state:
                cells += [Cell(prefix + "a[0]", Target("a", l, j, None, 0))
                          for j in range(layer.size)]
    return cells


def reaches(net, targets, l, t):
    """Does a gradient reach ``net.layers[l]`` at step t?  Yes at a step with a
    target, and always at or below a recurrent layer (its recurrent path)."""
    return targets[t - 1] is not None or any(layer.is_recurrent for layer in net.layers[l:])


def sequence_sample(net, x=None, t=None):
    """(xs, targets): the sequence and one target (or None) per step, converted."""
    xs, ts = first_sample(net, x, t, net.name or "the network")
    xs = sequence_of(net, xs)
    return xs, step_targets_of(net, ts, len(xs))


class SequenceStep(UpdateCells):
    """One online step of a network with recurrent layers on one sequence, cell by cell.

    With an optimizer, a penalty or clipping the new values are the
    optimizer's (each computed by :mod:`neuronsim.hand.update_step`);
    ``update``: the update cells of every parameter, as in the feed-forward
    worksheet (:mod:`neuronsim.hand.worksheet_update`)."""

    def __init__(self, net, x=None, t=None, learning_rate=None, update=False):
        self.xs, self.targets = sequence_sample(net, x, t)
        steps = len(self.xs)
        truncation = net.truncation
        if truncation is not None and truncation < steps:
            raise NeuronsimError(
                f"worksheet: truncated BPTT (truncation k = {truncation} < T = {steps} steps) "
                "splits every δ[t] into parts by age, which a worksheet does not lay out: "
                "set \"truncation\": null in the network file for the worksheet, or use "
                "neuronsim explain, which shows the parts")
        rate = net.learning_rate if learning_rate is None else learning_rate
        if rate is None:
            raise NeuronsimError("no learning rate: give one (the network file has none)")
        self.update = update
        self.cells = sequence_cells(net, self.targets, update)
        if len(self.cells) > MAX_CELLS:
            neurons = sum(layer.size for layer in net.layers)
            raise NeuronsimError(
                f"worksheet: one step of this sequence has {len(self.cells)} cells (T = {steps} "
                f"steps × {neurons} neurons, and the parameters), more than {MAX_CELLS}: use a "
                "shorter sequence (--input, --target) or a smaller network")
        # the parameters the step starts from, with the optimizer's state
        self.before = net.copy(batch=False)
        self.numbers = net.numbers
        self.learning_rate = self.numbers.convert(rate)
        self.rule = has_rule(net)
        # η of the update: the schedule's rate now, if the network has one
        self.rate = update_rate(self.before, self.learning_rate)
        self.x, self.t = self.xs, self.targets
        self.paired = is_paired(net)
        self.gates = gated.GatedCells(self, self._out, self._above)
        self.true_values = self._simulate()

    def _simulate(self):
        work = self.before.copy(batch=False)
        work.forward_pass(self.xs)
        values = {Cell("E"): work.back_prop(self.targets, None)}
        for t, loss in enumerate(work.step_losses, start=1):
            if loss is not None:
                values[Cell("E", None, t)] = loss
        for t, step in enumerate(work.history, start=1):
            for l, records in enumerate(step):
                if gated.is_gated(work.layers[l]):
                    gated.step_values(work, l, t, records, values)
                    continue
                for j, record in enumerate(records):
                    values[Cell("z", Target("z", l, j, None, t))] = record.z
                    values[Cell("a", Target("a", l, j, None, t))] = record.output
                    if record.delta is not None:
                        values[Cell("delta", Target("delta", l, j, None, t))] = record.delta
        self._parameters(work, "dE/d", values, gradients=True)
        work.update_weights(self.learning_rate)
        self._parameters(work, "new ", values, gradients=False)
        if self.update:
            self._simulated_update(work, values)
        return values

    @staticmethod
    def _parameters(net, prefix, values, gradients):
        """The gradient sums (``gradients``) or the parameters, into ``values``."""
        for l, layer in enumerate(net.layers):
            if gated.is_gated(layer):
                gated.parameter_values(layer, l, prefix, values, gradients)
                continue
            numbers = layer.gradient_sums() if gradients else layer.parameters()
            kinds = ("w", "u", "b") if layer.is_recurrent else ("w", "b")
            for kind, rows in zip(kinds, numbers):
                for j, row in enumerate(rows):
                    if kind == "b":
                        values[Cell(prefix + "b", Target("b", l, j))] = row
                        continue
                    for k, value in enumerate(row):
                        values[Cell(prefix + kind, Target(kind, l, j, k))] = value
            if layer.is_recurrent and layer.learn_initial_state:
                states = numbers[3]
                for j, value in enumerate(states):
                    values[Cell(prefix + "a[0]", Target("a", l, j, None, 0))] = value

    def initial_state(self, l):
        """a[0] of ``net.layers[l]`` as given (zeros if the file gives none)."""
        layer = self.before.layers[l]
        state = layer.initial_state or [0] * layer.size
        return [self.numbers.convert(v) for v in state]

    def initial_cell(self, l):
        """c[0] of the LSTM layer ``net.layers[l]`` as given (zeros if none)."""
        layer = self.before.layers[l]
        state = layer.initial_cell or [0] * layer.size
        return [self.numbers.convert(v) for v in state]

    def _is_gated(self, cell):
        target = cell.target
        return (target is not None and target.layer >= 0
                and gated.is_gated(self.before.layers[target.layer]))

    def _out(self, l, k, t, values):
        """The output of unit or neuron k of layer l at step t: x_k[t] below the
        first layer, the given initial state at t = 0, else its a (h) cell."""
        if l < 0:
            return self.xs[t - 1][k]
        if t == 0:
            return self.initial_state(l)[k]
        kind = "h" if gated.is_gated(self.before.layers[l]) else "a"
        return values[Cell(kind, Target(kind, l, k, None, t))]

    def _layer_deltas(self, l, t, values):
        """δ[t] of every neuron of layer l (gate neurons in torch's row order);
        None where no gradient reaches the layer."""
        layer = self.before.layers[l]
        if gated.is_gated(layer):
            n = layer.size
            return [self.gates.delta(values, l, layer.GATES[row // n], row % n, t)
                    for row in range(len(layer.neurons))]
        deltas = [values.get(Cell("delta", Target("delta", l, m, None, t)))
                  for m in range(layer.size)]
        return None if any(d is None for d in deltas) else deltas

    def _above(self, l, t, values):
        """e[t] of every unit of gated layer l: the loss's dE_t/dh at the output
        (0 without a target), else Σ_m w_mj δ_m[t] of the layer above (0 if none
        reaches it)."""
        net = self.before
        layer = net.layers[l]
        if l == len(net.layers) - 1:
            target = self.targets[t - 1]
            if target is None:
                return [0] * layer.size
            outputs = [self._out(l, i, t, values) for i in range(layer.size)]
            scale = 1
            if net.step_loss == "mean":
                scale = self.numbers.convert(1) / sum(v is not None for v in self.targets)
            return [g * scale for g in net.loss.output_grads(outputs, target)]
        deltas = self._layer_deltas(l + 1, t, values)
        if deltas is None:
            return [0] * layer.size
        following = net.layers[l + 1].neurons
        return [sum_in_order(n.weights[i] * d for n, d in zip(following, deltas))
                for i in range(layer.size)]

    def old_value(self, cell):
        """The parameter before the step, for a new-parameter cell; else 0."""
        if not cell.quantity.startswith("new "):
            return 0
        if self._is_gated(cell):
            return self.gates.old_value(cell)
        target = cell.target
        layer = self.before.layers[target.layer]
        if cell.quantity == "new a[0]":
            return self.initial_state(target.layer)[target.neuron]
        neuron = layer.neurons[target.neuron]
        return {"new w": lambda: neuron.weights[target.input],
                "new u": lambda: neuron.recurrent_weights[target.input],
                "new b": lambda: neuron.bias}[cell.quantity]()

    # ------------------------------------------------------------ formulas
    def compute(self, cell, values):
        """The value of ``cell`` from ``values`` (Cell -> number) of the cells it
        depends on; the weights, x[t], targets, a[0] and η are the given ones."""
        q, target = cell.quantity, cell.target
        if q == "N":
            return self._norm_from(values)
        if self.rule and (q in UPDATE_QUANTITIES or q.startswith("new ")):
            return self._update_from(cell, values)
        if self._is_gated(cell):
            return self.gates.compute(cell, values)
        net = self.before
        layers = net.layers
        steps = len(self.xs)

        def a(l, k, t):
            return self._out(l, k, t, values)

        def z(l, k, t):
            return values[Cell("z", Target("z", l, k, None, t))]

        def delta(l, k, t):
            return values.get(Cell("delta", Target("delta", l, k, None, t)))

        if q == "E":
            if cell.step is None:
                losses = [values[Cell("E", None, t)] for t in range(1, steps + 1)
                          if self.targets[t - 1] is not None]
                total = sum_in_order(losses)
                return total / len(losses) if net.step_loss == "mean" else total
            last = len(layers) - 1
            target = self.targets[cell.step - 1]
            if self.paired:        # as the simulator: E from z (neuronsim.core.losses)
                return net.loss.paired_value([z(last, i, cell.step)
                                              for i in range(layers[last].size)], target)
            outputs = [a(last, i, cell.step) for i in range(layers[last].size)]
            return net.loss.value(outputs, target)
        if q == "dE/da[0]":
            layer = layers[target.layer]
            return sum_in_order(n.recurrent_weights[target.neuron] * delta(target.layer, j, 1)
                       for j, n in enumerate(layer.neurons))
        if q == "new a[0]":
            return (self.initial_state(target.layer)[target.neuron]
                    - self.learning_rate * (values[Cell("dE/da[0]", target)] / 1))
        l, j = target.layer, target.neuron
        layer = layers[l]
        neuron = layer.neurons[j]
        if q == "z":
            t = target.step
            value = sum_in_order(w * a(l - 1, k, t) for k, w in enumerate(neuron.weights))
            if layer.is_recurrent:
                value = value + sum_in_order(u * a(l, i, t - 1)
                                    for i, u in enumerate(neuron.recurrent_weights))
            return value + neuron.bias
        if q == "a":
            t = target.step
            if layer.activation.is_layerwise:
                return layer.activation.function([z(l, i, t) for i in range(layer.size)])[j]
            return layer.activation.function(z(l, j, t))
        if q == "delta":
            return self._delta(l, j, target.step, a, z, delta, values)
        if q in ("dE/dw", "dE/du", "dE/db"):
            total = 0
            for t in range(steps, 0, -1):
                d = delta(l, j, t)
                if d is None:
                    continue
                if q == "dE/dw":
                    total = total + a(l - 1, target.input, t) * d
                elif q == "dE/du":
                    total = total + a(l, target.input, t - 1) * d
                else:
                    total = total + d
            return total
        eta = self.learning_rate
        grad = values[Cell("dE/d" + q[4:], target)]
        if q == "new w":
            return neuron.weights[target.input] - eta * (grad / 1)
        if q == "new u":
            return neuron.recurrent_weights[target.input] - eta * (grad / 1)
        return neuron.bias - eta * (grad / 1) if net.update_biases else neuron.bias

    def _delta(self, l, j, t, a, z, delta, values):
        """δ_j[t] = (e_j[t] + r_j[t])·g'(z_j[t]) (see the module docstring)."""
        net = self.before
        layers = net.layers
        layer = layers[l]
        last = len(layers) - 1
        outputs = [a(l, i, t) for i in range(layer.size)]
        paired = None
        if l == last:
            target = self.targets[t - 1]
            if target is None:
                grads = [0] * layer.size
            else:
                scale = 1
                if net.step_loss == "mean":
                    scale = self.numbers.convert(1) / sum(v is not None for v in self.targets)
                grads = [g * scale for g in net.loss.output_grads(outputs, target)]
                if self.paired:
                    paired = [d * scale for d in net.loss.paired_delta(outputs, target)]
        else:
            following = layers[l + 1].neurons
            above = self._layer_deltas(l + 1, t, values)
            if above is None:
                grads = [0] * layer.size
            else:
                grads = [sum_in_order(n.weights[i] * d for n, d in zip(following, above))
                         for i in range(layer.size)]
        if layer.is_recurrent and t < len(self.xs):
            later = [delta(l, i, t + 1) for i in range(layer.size)]
            grads = [g + sum_in_order(n.recurrent_weights[i] * d for n, d in zip(layer.neurons, later))
                     for i, g in enumerate(grads)]
            if paired is not None:
                recurrent = [sum_in_order(n.recurrent_weights[i] * d for n, d in zip(layer.neurons, later))
                             for i in range(layer.size)]
                return paired[j] + recurrent[j] * layer.activation.derivative(z(l, j, t),
                                                                              a(l, j, t))
        if paired is not None:
            return paired[j]
        if layer.activation.is_layerwise:
            weighted = sum_in_order(g * o for g, o in zip(grads, outputs))
            return outputs[j] * (grads[j] - weighted)
        return grads[j] * layer.activation.derivative(z(l, j, t), a(l, j, t))

    # ------------------------------------------------------------ shown text
    def python(self, cell):
        """Where the simulator keeps this number (0-based Python indices)."""
        q, target = cell.quantity, cell.target
        if q == "N" or q in UPDATE_QUANTITIES:
            return self.update_python(cell)
        if self._is_gated(cell):
            return gated.python(cell)
        if q == "E":
            if cell.step is None:
                return "net.back_prop(targets) (its return value)"
            return f"net.step_losses[{cell.step - 1}]"
        if q in ("z", "a", "delta"):
            return target.python()
        if q in ("dE/da[0]", "new a[0]"):
            where = f"net.layers[{target.layer}]"
            return (f"{where}.initial_state_grad[{target.neuron}]" if q == "dE/da[0]" else
                    f"{where}.initial_state[{target.neuron}] after the update")
        base = f"net.layers[{target.layer}].neurons[{target.neuron}]"
        return {"dE/dw": f"{base}.weight_grad_sum[{target.input}]",
                "dE/du": f"{base}.recurrent_grad_sum[{target.input}]",
                "dE/db": f"{base}.bias_grad_sum",
                "new w": f"{base}.weights[{target.input}] after the update",
                "new u": f"{base}.recurrent_weights[{target.input}] after the update",
                "new b": f"{base}.bias after the update"}[q]

    def formula(self, cell, bias_as_weight=False):
        """The formula of a cell as text (ASCII where it can be)."""
        q, target = cell.quantity, cell.target
        net = self.before
        if q == "N" or q in UPDATE_QUANTITIES or (self.rule and q.startswith("new ")):
            return update_formula(cell, self, bias_as_weight)
        if self._is_gated(cell):
            return gated.formula(self, cell)
        if q == "E":
            if cell.step is not None:
                return f"{net.loss.name} of a[t] and t[t]"
            return "Σ_t E[t]" if net.step_loss == "sum" else "(Σ_t E[t]) / n_T"
        if q == "dE/da[0]":
            return "Σ_j u_ji · δ_j[1]"
        if q == "new a[0]":
            return "a[0] − η · dE/da[0]"
        layer = net.layers[target.layer]
        if q == "z":
            recurrent = " + Σ_i u_ji a_i[t−1]" if layer.is_recurrent else ""
            if bias_as_weight:
                return f"Σ_k w_jk a_k[t] (k from 0, a_0 = 1){recurrent}"
            return f"Σ_k w_jk a_k[t]{recurrent} + b_j"
        if q == "a":
            return f"g(z[t]), g = {layer.activation.name}"
        if q == "delta":
            return self._delta_formula(target)
        if q == "dE/dw":
            return "Σ_t a_k[t] · δ_j[t]"
        if q == "dE/du":
            return "Σ_t a_i[t−1] · δ_j[t]"
        if q == "dE/db":
            return "Σ_t a_0 · δ_j[t] (a_0 = 1)" if bias_as_weight else "Σ_t δ_j[t]"
        if q == "new w":
            return "w − η · dE/dw"
        if q == "new u":
            return "u − η · dE/du"
        if not net.update_biases:
            return "b (biases fixed)"
        return "w_j0 − η · dE/dw_j0" if bias_as_weight else "b − η · dE/db"

    def _delta_formula(self, target):
        net = self.before
        layer = net.layers[target.layer]
        t = target.step
        last = target.layer == len(net.layers) - 1
        recurrent = layer.is_recurrent and t < len(self.xs)
        r = " + Σ_i u_ij δ_i[t+1]" if recurrent else ""
        if last:
            if self.targets[t - 1] is None:
                return "(0 + Σ_i u_ij δ_i[t+1]) · g'(z) (no target at t)" if recurrent else \
                    "0 · g'(z) (no target at t, t = T)"
            scale = " / n_T" if net.step_loss == "mean" else ""
            if self.paired:
                return f"(a − t){scale}" + (" + (Σ_i u_ij δ_i[t+1]) · g'(z)" if recurrent else "")
            if layer.activation.is_layerwise:
                return "a_j (dE/da_j − Σ_i dE/da_i a_i) (softmax Jacobian)"
            return f"(dE_t/da{scale}{r}) · g'(z)"
        if layer.activation.is_layerwise:
            return "a_j (dE/da_j − Σ_i dE/da_i a_i), dE/da_j = Σ_m w_mj δ_m[t] (softmax Jacobian)"
        if not reaches(net, self.targets, target.layer + 1, t):
            return f"(0{r}) · g'(z) (nothing reaches the layer above at t)"
        return f"(Σ_m w_mj δ_m[t]{r}) · g'(z)"

    def given(self, convention="nielsen", bias_as_weight=False):
        """(label, python, number) of every given number: x[t], t[t], η, the
        weights, recurrent weights and biases, and each initial state a[0]."""
        rows = []
        for t, x in enumerate(self.xs, start=1):
            for k, v in enumerate(x):
                rows.append((lab.neuron_label("a", -1, k, "ascii") + f"[{t}] = x_{k + 1}[{t}]",
                             f"x[{t - 1}][{k}]", v))
        for t, target in enumerate(self.targets, start=1):
            if target is None:
                continue
            for j, v in enumerate(target):
                rows.append((lab.target_label(j, "ascii") + f"[{t}]", f"targets[{t - 1}][{j}]",
                             v))
        rows.append(("eta", "learning_rate", self.learning_rate))
        for l, layer in enumerate(self.before.layers):
            if gated.is_gated(layer):
                rows += gated.given(layer, l, convention, self.initial_state(l),
                                    self.initial_cell(l) if layer.kind == "lstm" else None)
                continue
            for j, n in enumerate(layer.neurons):
                for k, w in enumerate(n.weights):
                    rows.append((lab.weight_label(l, j, k, convention, "ascii"),
                                 f"net.layers[{l}].neurons[{j}].weights[{k}]", w))
                if layer.is_recurrent:
                    for i, u in enumerate(n.recurrent_weights):
                        rows.append((lab.recurrent_weight_label(l, j, i, "ascii"),
                                     f"net.layers[{l}].neurons[{j}].recurrent_weights[{i}]", u))
                rows.append((lab.bias_label(l, j, convention, "ascii", as_weight=bias_as_weight),
                             f"net.layers[{l}].neurons[{j}].bias", n.bias))
            if layer.is_recurrent:
                for j, v in enumerate(self.initial_state(l)):
                    rows.append((lab.initial_state_label(l, j, "ascii"),
                                 f"net.layers[{l}].initial_state[{j}]", v))
        if self.rule:
            rows += self._given_rule(convention, bias_as_weight)
        return rows
