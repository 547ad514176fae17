"""Flat plain-Python LSTM and GRU steps: the yardsticks for neuronsim's gated layers
(scripts/bench.py).

One gated layer (n_in -> n: an LSTM with torch's gates i, f, g, o, or a GRU
with r, z, n and b^h_n inside the reset gate's product; two biases each) and a
linear dense layer on top, half_sse at every step summed over the steps, full
BPTT, one sequence per SGD step.  Everything is plain lists of floats and local
loops, written as tightly as the arithmetic allows while keeping neuronsim's
numbers bit for bit: the same operations in the same order (z = (Σ w x + b^x)
+ (Σ u h + b^h), the GRU's new gate (Σ w x + b^x) + r·(Σ u h + b^h); every Σ
added left to right; sigmoid in two branches; the gradient sums started at 0
and added from t = T down to 1; w - η · (Σ / 1)).  The bench checks that one
step, and several at a large rate, give bit-identical parameters before timing.

``GatedProblem`` holds the shape ("4-lstm8-2", "4-gru8-2"), starting weights
and sequences; ``gated_run`` times neuronsim, the flat loop and torch
(nn.LSTM or nn.GRU + nn.Linear, float64, SGD, one sequence per step) and
prints the rows.
"""

import math
import random
from operator import mul

from neuronsim.core.summation import sum_in_order

LEARNING_RATE = 0.001
CHECK_STEPS, CHECK_LEARNING_RATE = 8, 0.5   # a rate that moves every bit, over several steps


def _sigmoid(z, exp=math.exp):
    """neuronsim's sigmoid: 1 / (1 + e^-z) for z >= 0, e^z / (1 + e^z) below."""
    if z >= 0:
        return 1.0 / (1.0 + exp(-z))
    e = exp(z)
    return e / (1.0 + e)


class _FlatGated:
    """What the flat LSTM and GRU share: the lists, the dense layer's backward
    step, the SGD update and the values in neuronsim's order."""

    def __init__(self, W, U, bx, bh, V, c):
        self.W, self.U, self.bx, self.bh = W, U, bx, bh
        self.V, self.c = V, c
        self.n = len(U[0])

    @staticmethod
    def dense_backward(h_t, y, target, V, dV, dc, n):
        """The linear output layer at one step: δ = a − t, its sums Σ h δ (kept as
        neuronsim's Neuron keeps them: the first product alone) and Σ δ, and
        dE/dh[t] from above (Vᵀδ, summed over the output neurons in order)."""
        delta_y = [a - t for a, t in zip(y, target)]
        if dV is None:
            dV = [[a * d for a in h_t] for d in delta_y]
        else:
            dV = [[s + a * d for s, a in zip(row, h_t)] for row, d in zip(dV, delta_y)]
        dc = [s + d for s, d in zip(dc, delta_y)]
        from_top = [0] * n
        for row, d in zip(V, delta_y):
            from_top = [g + w * d for g, w in zip(from_top, row)]
        return dV, dc, from_top

    def update(self, rate, dW, dU, dbx, dbh, dV, dc):
        """θ ← θ − η · (Σ / 1) for every parameter (one sequence)."""
        self.W = [[w - rate * (s / 1) for w, s in zip(row, grads)]
                  for row, grads in zip(self.W, dW)]
        self.U = [[u - rate * (s / 1) for u, s in zip(row, grads)]
                  for row, grads in zip(self.U, dU)]
        self.bx = [b - rate * (s / 1) for b, s in zip(self.bx, dbx)]
        self.bh = [b - rate * (s / 1) for b, s in zip(self.bh, dbh)]
        self.V = [[w - rate * (s / 1) for w, s in zip(row, grads)]
                  for row, grads in zip(self.V, dV)]
        self.c = [b - rate * (s / 1) for b, s in zip(self.c, dc)]

    def values(self):
        """W, U, b^x, b^h, then the dense layer's weights and biases, flattened."""
        return ([v for row in self.W for v in row] + [v for row in self.U for v in row]
                + list(self.bx) + list(self.bh) + [v for row in self.V for v in row]
                + list(self.c))


class FlatLSTM(_FlatGated):
    """The LSTM + linear layer as flat lists: ``W`` (4n rows of n_in), ``U`` (4n
    rows of n), ``bx``, ``bh`` (4n), rows in the gate order i, f, g, o;
    ``V`` (n_out rows of n), ``c`` (n_out)."""

    def step(self, xs, targets, rate):
        """Forward over the sequence, BPTT, one SGD update.  Returns nothing."""
        W, U, bx, bh, V, c = self.W, self.U, self.bx, self.bh, self.V, self.c
        n = self.n
        rows = 4 * n
        tanh, sigmoid = math.tanh, _sigmoid
        dense_backward = self.dense_backward
        h = [0] * n
        cell = [0] * n
        saved = []
        for x in xs:
            z = [(sum_in_order(map(mul, W[r], x)) + bx[r])
                 + (sum_in_order(map(mul, U[r], h)) + bh[r]) for r in range(rows)]
            gate_i = [sigmoid(v) for v in z[:n]]
            gate_f = [sigmoid(v) for v in z[n:2 * n]]
            gate_g = [tanh(v) for v in z[2 * n:3 * n]]
            gate_o = [sigmoid(v) for v in z[3 * n:]]
            new_cell = [f * cj + i * g for f, cj, i, g in zip(gate_f, cell, gate_i, gate_g)]
            cell_tanh = [tanh(v) for v in new_cell]
            new_h = [o * a for o, a in zip(gate_o, cell_tanh)]
            y = [sum_in_order(map(mul, row, new_h)) + b for row, b in zip(V, c)]
            saved.append((x, h, cell, gate_i, gate_f, gate_g, gate_o, new_cell, cell_tanh,
                          new_h, y))
            h, cell = new_h, new_cell
        # backward, t = T .. 1; sums as neuronsim keeps them (started at 0, added t = T first)
        dW = [[0] * len(W[0]) for _ in range(rows)]
        dU = [[0] * n for _ in range(rows)]
        dbx = [0] * rows
        dbh = [0] * rows
        dV = None
        dc = [0] * len(c)
        recurrent = [0] * n
        cell_path = [0] * n
        for (x, h_prev, c_prev, gate_i, gate_f, gate_g, gate_o, cell, cell_tanh, h_t,
             y), target in zip(reversed(saved), reversed(targets)):
            dV, dc, from_top = dense_backward(h_t, y, target, V, dV, dc, n)
            deltas = [0.0] * rows
            sent_cell = []
            for j in range(n):
                grad = from_top[j] + recurrent[j]
                o, tc = gate_o[j], cell_tanh[j]
                deltas[3 * n + j] = (grad * tc) * (o * (1 - o))
                cell_grad = grad * o * (1 - tc * tc) + cell_path[j]
                i, f, g = gate_i[j], gate_f[j], gate_g[j]
                deltas[j] = (cell_grad * g) * (i * (1 - i))
                deltas[n + j] = (cell_grad * c_prev[j]) * (f * (1 - f))
                deltas[2 * n + j] = (cell_grad * i) * (1 - g * g)
                sent_cell.append(cell_grad * f)
            recurrent = [0] * n
            for r in range(rows):
                d = deltas[r]
                dW[r] = [s + v * d for s, v in zip(dW[r], x)]
                dU[r] = [s + v * d for s, v in zip(dU[r], h_prev)]
                dbx[r] += d
                dbh[r] += d
                recurrent = [g + u * d for g, u in zip(recurrent, U[r])]
            cell_path = sent_cell
        self.update(rate, dW, dU, dbx, dbh, dV, dc)


class FlatGRU(_FlatGated):
    """The GRU + linear layer as flat lists: ``W`` (3n rows of n_in), ``U`` (3n
    rows of n), ``bx``, ``bh`` (3n), rows in the gate order r, z, n;
    ``V`` (n_out rows of n), ``c`` (n_out)."""

    def step(self, xs, targets, rate):
        """Forward over the sequence, BPTT, one SGD update.  Returns nothing."""
        W, U, bx, bh, V, c = self.W, self.U, self.bx, self.bh, self.V, self.c
        n = self.n
        rows = 3 * n
        tanh, sigmoid = math.tanh, _sigmoid
        dense_backward = self.dense_backward
        h = [0] * n
        saved = []
        for x in xs:
            gate_r = [sigmoid((sum_in_order(map(mul, W[r], x)) + bx[r])
                              + (sum_in_order(map(mul, U[r], h)) + bh[r])) for r in range(n)]
            gate_z = [sigmoid((sum_in_order(map(mul, W[r], x)) + bx[r])
                              + (sum_in_order(map(mul, U[r], h)) + bh[r]))
                      for r in range(n, 2 * n)]
            s = [sum_in_order(map(mul, U[r], h)) + bh[r] for r in range(2 * n, rows)]
            gate_n = [tanh((sum_in_order(map(mul, W[2 * n + j], x)) + bx[2 * n + j])
                           + gate_r[j] * s[j]) for j in range(n)]
            new_h = [(1 - z) * g + z * p for z, g, p in zip(gate_z, gate_n, h)]
            y = [sum_in_order(map(mul, row, new_h)) + b for row, b in zip(V, c)]
            saved.append((x, h, gate_r, gate_z, gate_n, s, new_h, y))
            h = new_h
        # backward, t = T .. 1; sums as neuronsim keeps them (started at 0, added t = T first)
        dW = [[0] * len(W[0]) for _ in range(rows)]
        dU = [[0] * n for _ in range(rows)]
        dbx = [0] * rows
        dbh = [0] * rows
        dV = None
        dc = [0] * len(c)
        recurrent = [0] * n
        for (x, h_prev, gate_r, gate_z, gate_n, s, h_t, y), target in zip(reversed(saved),
                                                                          reversed(targets)):
            dV, dc, from_top = dense_backward(h_t, y, target, V, dV, dc, n)
            deltas = [0.0] * rows          # δ of each gate row
            hidden = [0.0] * rows          # δ^h: δ, and r·δ on the new gate's recurrent side
            direct = []
            for j in range(n):
                grad = from_top[j] + recurrent[j]
                r, z, g = gate_r[j], gate_z[j], gate_n[j]
                delta_n = (grad * (1 - z)) * (1 - g * g)
                deltas[2 * n + j] = delta_n
                hidden[2 * n + j] = r * delta_n
                delta_z = (grad * (h_prev[j] - g)) * (z * (1 - z))
                deltas[n + j] = hidden[n + j] = delta_z
                delta_r = (delta_n * s[j]) * (r * (1 - r))
                deltas[j] = hidden[j] = delta_r
                direct.append(z * grad)
            recurrent = [0] * n
            for r in range(rows):
                d, e = deltas[r], hidden[r]
                dW[r] = [s_k + v * d for s_k, v in zip(dW[r], x)]
                dU[r] = [s_k + v * e for s_k, v in zip(dU[r], h_prev)]
                dbx[r] += d
                dbh[r] += e
                recurrent = [g + u * e for g, u in zip(recurrent, U[r])]
            recurrent = [d + p for d, p in zip(direct, recurrent)]
        self.update(rate, dW, dU, dbx, dbh, dV, dc)


#: per kind: (the flat class, the number of gates, their names, torch's module name)
KINDS = {"lstm": (FlatLSTM, 4, "i, f, g, o", "LSTM"),
         "gru": (FlatGRU, 3, "r, z, n", "GRU")}


class GatedProblem:
    """Shape ``n_in-KINDn-n_out`` (e.g. "4-lstm8-2", "4-gru8-2"), T steps,
    uniform starting weights (torch's ±1/√n for the gated layer, Glorot for
    the dense one) and random sequences, all from ``seed``."""

    def __init__(self, shape, steps, seed=1, count=8):
        try:
            n_in, middle, n_out = shape.split("-")
            self.kind = middle.rstrip("0123456789")
            n = int(middle[len(self.kind):])
            self.n_in, self.n, self.n_out = int(n_in), n, int(n_out)
        except ValueError:
            raise SystemExit(f"gated shape {shape!r}: expected inputs-lstmN-outputs or "
                             "inputs-gruN-outputs, e.g. 4-lstm8-2") from None
        if self.kind not in KINDS:
            raise SystemExit(f"gated shape {shape!r}: the middle layer is lstmN or gruN")
        self.name = shape
        self.gates = KINDS[self.kind][1]
        self.steps = steps
        self.seed = seed
        rng = random.Random(seed + 1000)
        self.samples = [([[rng.random() for _ in range(self.n_in)] for _ in range(steps)],
                         [[rng.random() for _ in range(self.n_out)] for _ in range(steps)])
                        for _ in range(count)]
        g = self.gates
        self.parameters = g * n * (self.n_in + n + 2) + self.n_out * (n + 1)
        self.connections = g * n * (self.n_in + n) + self.n_out * n

    def parameters_lists(self):
        """(W, U, b^x, b^h, V, c): fresh nested lists of floats."""
        rng = random.Random(self.seed)
        n, n_in, n_out, rows = self.n, self.n_in, self.n_out, self.gates * self.n
        r = 1 / math.sqrt(n)
        W = [[rng.uniform(-r, r) for _ in range(n_in)] for _ in range(rows)]
        U = [[rng.uniform(-r, r) for _ in range(n)] for _ in range(rows)]
        bx = [rng.uniform(-r, r) for _ in range(rows)]
        bh = [rng.uniform(-r, r) for _ in range(rows)]
        s = math.sqrt(6.0 / (n + n_out))
        V = [[rng.uniform(-s, s) for _ in range(n)] for _ in range(n_out)]
        c = [rng.uniform(-0.1, 0.1) for _ in range(n_out)]
        return W, U, bx, bh, V, c


def neuronsim_gated(problem):
    from neuronsim.core.activations import get_activation
    from neuronsim.core.gru import GRULayer
    from neuronsim.core.layer import Layer
    from neuronsim.core.losses import get_loss
    from neuronsim.core.lstm import LSTMLayer
    from neuronsim.core.network import Network

    W, U, bx, bh, V, c = problem.parameters_lists()
    gated = (LSTMLayer if problem.kind == "lstm" else GRULayer).from_arrays(W, U, bx, bh)
    dense = Layer.from_weights(V, c, get_activation("linear"))
    return Network([gated, dense], loss=get_loss("half_sse"))


def flat_gated(problem):
    return KINDS[problem.kind][0](*problem.parameters_lists())


class TorchGated:
    """nn.LSTM or nn.GRU (float64, both biases) and nn.Linear, SGD, one sequence per step."""

    def __init__(self, problem):
        import torch

        torch.set_num_threads(1)
        self.torch = torch
        W, U, bx, bh, V, c = problem.parameters_lists()
        f64 = torch.float64
        module = getattr(torch.nn, KINDS[problem.kind][3])
        self.gated = module(problem.n_in, problem.n, dtype=f64)
        self.linear = torch.nn.Linear(problem.n, problem.n_out, dtype=f64)
        with torch.no_grad():
            for parameter, value in ((self.gated.weight_ih_l0, W), (self.gated.weight_hh_l0, U),
                                     (self.gated.bias_ih_l0, bx), (self.gated.bias_hh_l0, bh),
                                     (self.linear.weight, V), (self.linear.bias, c)):
                parameter.copy_(torch.tensor(value, dtype=f64))
        self.parameters = list(self.gated.parameters()) + list(self.linear.parameters())
        self.optimizer = torch.optim.SGD(self.parameters, lr=LEARNING_RATE)

    def step(self, xs, targets):
        self.optimizer.zero_grad()
        outputs, _ = self.gated(xs)
        loss = 0.5 * ((self.linear(outputs) - targets) ** 2).sum()
        loss.backward()
        self.optimizer.step()

    def values(self):
        return [v for p in self.parameters for v in p.detach().ravel().tolist()]


def values_of(model):
    if isinstance(model, (_FlatGated, TorchGated)):
        return model.values()
    values = []
    for layer in model.layers:
        for part in layer.parameters():
            values += [v for row in part for v in row] if isinstance(part[0], list) else part
    return values


def gated_run(problem, skipped, repeats, block_seconds, clock, out, make_runner,
              interleaved_medians, relative_difference, same_bits):
    """One training step per sequence (forward, BPTT, update) of an LSTM or GRU
    network: neuronsim, the flat loop (bit-identical, checked first) and torch
    on CPU; prints the rows.  The timing helpers come from scripts/bench.py."""
    _, _, gate_names, kind = KINDS[problem.kind]
    flat_name = f"flat plain Python {kind}"
    builds = [("neuronsim", neuronsim_gated,
               lambda net, xs, ts: net.step(xs, ts, LEARNING_RATE), None),
              (flat_name, flat_gated,
               lambda net, xs, ts: net.step(xs, ts, LEARNING_RATE), None)]
    notes = []
    try:
        import torch
    except ImportError:
        notes.append("torch per sequence: skipped (not installed)")
    else:
        def prepare(problem):
            return [(torch.tensor(xs, dtype=torch.float64)[:, None],
                     torch.tensor(ts, dtype=torch.float64)[:, None])
                    for xs, ts in problem.samples]
        builds.append(("torch per sequence, CPU", TorchGated,
                       lambda model, xs, ts: model.step(xs, ts), prepare))
    notes += [f"{name}: skipped (--skip)" for name, *_ in builds[1:]
              if any(word in name for word in skipped)]
    builds = builds[:1] + [b for b in builds[1:] if not any(word in b[0] for word in skipped)]
    arguments = [(prepare or (lambda problem: problem.samples))(problem)
                 for _, _, _, prepare in builds]
    after = []
    for (name, build, step, _), args in zip(builds, arguments):
        model = build(problem)
        step(model, *args[0])
        after.append(values_of(model))
    worst = 0.0
    for (name, *_), values in zip(builds[1:], after[1:]):
        if name.startswith("flat"):
            if not same_bits(after[0], values):
                raise SystemExit(f"{problem.name}: the flat {kind} step is not bit-identical to "
                                 f"neuronsim (max relative difference "
                                 f"{relative_difference(after[0], values):.1e})")
        else:
            worst = max(worst, relative_difference(after[0], values))
    net, flat = neuronsim_gated(problem), flat_gated(problem)
    for xs, ts in problem.samples[:CHECK_STEPS]:
        net.step(xs, ts, CHECK_LEARNING_RATE)
        flat.step(xs, ts, CHECK_LEARNING_RATE)
    if not same_bits(values_of(net), values_of(flat)):
        raise SystemExit(f"{problem.name}: the flat {kind} is not bit-identical to neuronsim "
                         f"after {CHECK_STEPS} steps at learning rate {CHECK_LEARNING_RATE}")
    if worst > 1e-9:
        raise SystemExit(f"{problem.name}: torch and neuronsim disagree after one {kind} step "
                         f"(max relative difference {worst:.1e})")
    runners = [make_runner(step, build(problem), args, clock)
               for (name, build, step, _), args in zip(builds, arguments)]
    medians = interleaved_medians(runners, repeats, block_seconds)
    print(f"\n## {kind} {problem.name}, T = {problem.steps}  ({problem.parameters:,} parameters, "
          f"{problem.connections:,} connections per time step; gates {gate_names}, a linear "
          "output, half_sse summed over the steps, full BPTT, one sequence per step)", file=out)
    print(f"one {kind} step agrees with neuronsim: flat bit-identical"
          + (f"; torch max relative difference in weights and biases {worst:.1e}"
             if any(name.startswith("torch") for name, *_ in builds) else ""), file=out)
    header = (f"{'implementation':28s} {'step µs':>11s} {'µs per time step':>17s} "
              f"{'ns/conn per time step':>22s}")
    print(header, file=out)
    print("-" * len(header), file=out)
    for (name, *_), median in zip(builds, medians):
        print(f"{name:28s} {median * 1e6:11.1f} {median * 1e6 / problem.steps:17.2f} "
              f"{median * 1e9 / problem.steps / problem.connections:22.1f}", file=out)
    for note in notes:
        print(f"note: {note}", file=out)
    by_name = dict(zip((name for name, *_ in builds), medians))
    print(f"ratios at {kind} {problem.name}:", file=out)
    for name in list(by_name)[1:]:
        print(f"  {'neuronsim / ' + name.split(' per sequence')[0] + ', step':45s} "
              f"{by_name['neuronsim'] / by_name[name]:8.2f}", file=out)
