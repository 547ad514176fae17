"""Benchmark: neuronsim against hand-written loops, micrograd, numpy and torch.

    python scripts/bench.py                 # the full run recorded in docs/performance.md
    python scripts/bench.py --quick         # seconds: proves the script works, timings meaningless
    python scripts/bench.py --train-epoch   # also: one epoch of 10,000 samples on 784-30-10
    python scripts/bench.py --only vectorized   # the vectorized reference row alone

For each shape (2-2-2, 4-2-2-1, 64-32-10, 784-30-10) it times one online
training step (forward, backward, update) and one forward pass of:

* neuronsim with no tracer, with a disabled tracer attached, and with a
  recording tracer (``Tracer(keep=False)``: every step's numbers taken, none
  kept; a step makes its neuron records when they are first read, and a
  record computes its lists a_k·δ, Σ/n when they are read), and the same
  with each finished step's records made and their lists read (the cost a
  trace's tables add on top, reported without a target);
* the flat plain-Python yardstick (scripts/flat_baseline.py: the tightest
  loop that keeps neuronsim's arithmetic);
* micrograd (``pip install micrograd``; skipped with a note when absent, or
  when the activations are not relu hidden / linear output, the only ones
  micrograd's MLP has);
* numpy, one sample per step and a mini-batch of 32 per step.

Then, per shape, the flat variants that lost to the yardstick (other
fan-in thresholds for explicit loops, the previous yardstick), and one BPTT
training step of recurrent networks (4-r8-2 and 16-r32-4 over T = 10 steps:
neuronsim, a flat plain-Python BPTT loop, and torch on CPU one sequence at a
time, skipped with a note when torch is absent), and one LSTM and one GRU step
(4-lstm8-2, 16-lstm32-4, 4-gru8-2 and 16-gru32-4, T = 10: neuronsim, the flat
plain-Python loops of scripts/flat_gated.py, torch's nn.LSTM / nn.GRU per sequence).

Timing: every implementation lives in one process; each repeat runs one
block of calls of every implementation in a rotating order (interleaved, so
a slow minute of the machine hits all of them), and the result is the median
over repeats.  The clock is this process's CPU time (``--clock cpu``, the
default: other programs on a shared machine then cost us little) or wall
time (``--clock wall``); numpy's BLAS is held to one thread (threadpoolctl)
and torch to one thread, like the Python loops, so that CPU time is comparable.

Memory: tracemalloc's peak during one online step, counting
the model (built inside the trace, so its floats count) and everything the
step allocates, divided by the number of parameters (weights and biases).

Every implementation starts from the same weights; before timing, the script
checks that one step gives bit-identical weights and biases in neuronsim and
the flat loops, and the same to 1e-9 relative in the others (numpy, torch
and micrograd sum in other orders).
"""

import argparse
import gc
import itertools
import math
import os
import random
import statistics
import sys
import tempfile
import time
import tracemalloc
import types

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

from flat_baseline import ACTIVATIONS as FLAT_ACTIVATIONS  # noqa: E402
from flat_baseline import (SMALL_FAN_IN, FlatNetwork, FlatRecurrentNetwork,  # noqa: E402
                           PreviousFlatNetwork)

from flat_gated import GatedProblem, gated_run  # noqa: E402

from neuronsim import Network  # noqa: E402

SHAPES = ["2-2-2", "4-2-2-1", "64-32-10", "784-30-10"]
LEARNING_RATE = 0.001
SAMPLES_PER_SHAPE = 16
BATCH = 32


# ------------------------------------------------------------------ the problem
class Problem:
    """Sizes, starting weights (Glorot uniform), activations and samples of one shape."""

    def __init__(self, sizes, hidden, output, seed=1):
        self.sizes = sizes
        self.seed = seed
        self.activations = [hidden] * (len(sizes) - 2) + [output]
        rng = random.Random(seed + 1000)
        self.samples = [([rng.random() for _ in range(sizes[0])],
                         [rng.random() for _ in range(sizes[-1])])
                        for _ in range(SAMPLES_PER_SHAPE)]
        self.connections = sum(a * b for a, b in zip(sizes, sizes[1:]))
        self.parameters = self.connections + sum(sizes[1:])

    def parameters_lists(self):
        """Fresh (weights, biases) nested lists: new float objects on every call."""
        rng = random.Random(self.seed)
        weights, biases = [], []
        for n_in, n_out in zip(self.sizes, self.sizes[1:]):
            r = math.sqrt(6.0 / (n_in + n_out))
            weights.append([[rng.uniform(-r, r) for _ in range(n_in)] for _ in range(n_out)])
            biases.append([rng.uniform(-0.1, 0.1) for _ in range(n_out)])
        return weights, biases

    @property
    def name(self):
        return "-".join(map(str, self.sizes))


# ------------------------------------------------------------------ implementations
class Implementation:
    """How to build, step and run forward one kind of network.

    ``prepare(problem)`` turns the samples into the arguments of ``step`` and
    ``forward`` (outside every measurement); ``per_call`` is the number of
    samples one call handles.
    """

    def __init__(self, name, build, step, forward, prepare=None, per_call=1, note=None):
        self.name = name
        self.build = build
        self.step = step
        self.forward = forward
        self.prepare = prepare or (lambda problem: problem.samples)
        self.per_call = per_call
        self.note = note


def neuronsim_build(tracer_factory=None):
    def build(problem):
        weights, biases = problem.parameters_lists()
        net = Network.from_arrays(weights, biases, problem.activations, "half_sse")
        if tracer_factory is not None:
            net.tracer = tracer_factory()
        return net
    return build


def neuronsim_step(net, x, t):
    net.step(x, t, LEARNING_RATE)


def neuronsim_forward(net, x, t):
    net.forward_pass(x)


def disabled_tracer():
    try:
        from neuronsim.trace import Tracer
    except ImportError:
        return types.SimpleNamespace(enabled=False)
    return Tracer(enabled=False)


def recording_tracer():
    from neuronsim.trace import Tracer

    return Tracer(keep=False)


def read_lists(step):
    """A tracer's sink: make a finished step's neuron records and read every list
    they compute when read."""
    for record in step.neurons():
        record.weight_grads, record.batch_weight_grads, record.downstream


def reading_tracer():
    from neuronsim.trace import Tracer

    return Tracer(keep=False, sink=read_lists)


def flat_build(problem):
    weights, biases = problem.parameters_lists()
    return FlatNetwork(weights, biases, problem.activations)


def flat_step(net, x, t):
    net.step(x, t, LEARNING_RATE)


def flat_forward(net, x, t):
    net.forward(x)


def micrograd_build(problem):
    from micrograd.nn import MLP

    weights, biases = problem.parameters_lists()
    model = MLP(problem.sizes[0], problem.sizes[1:])
    for layer, matrix, vector in zip(model.layers, weights, biases):
        for neuron, row, b in zip(layer.neurons, matrix, vector):
            for w, value in zip(neuron.w, row):
                w.data = value
            neuron.b.data = b
    model.params = model.parameters()
    return model


def _micrograd_outputs(model, x):
    out = model(x)
    return out if isinstance(out, list) else [out]


def micrograd_step(model, x, t):
    outputs = _micrograd_outputs(model, x)
    loss = sum(((o - target) ** 2 for o, target in zip(outputs, t))) * 0.5
    model.zero_grad()
    loss.backward()
    for p in model.params:
        p.data -= LEARNING_RATE * p.grad


def micrograd_forward(model, x, t):
    _micrograd_outputs(model, x)


def numpy_functions():
    import numpy as np

    return {
        "relu": (lambda z: np.maximum(z, 0.0), lambda z, a: (z > 0.0).astype(float)),
        "linear": (lambda z: z, lambda z, a: np.ones_like(z)),
        "sigmoid": (lambda z: 0.5 * (1.0 + np.tanh(0.5 * z)), lambda z, a: a * (1.0 - a)),
        "tanh": (np.tanh, lambda z, a: 1.0 - a * a),
    }


class NumpyNet:
    """W^(l) of shape (n_l, n_(l-1)); works on one sample (vectors) or a batch (rows)."""

    def __init__(self, problem):
        import numpy as np

        weights, biases = problem.parameters_lists()
        self.weights = [np.array(w, dtype=float) for w in weights]
        self.biases = [np.array(b, dtype=float) for b in biases]
        functions = numpy_functions()
        self.functions = [functions[name] for name in problem.activations]

    def forward(self, x):
        a = x
        for W, b, (g, _) in zip(self.weights, self.biases, self.functions):
            a = g(a @ W.T + b)
        return a

    def step(self, x, t, learning_rate):
        """Online (x a vector) or mean-reduced mini-batch (x a matrix, one row per sample)."""
        activations, derivatives = [x], []
        a = x
        for W, b, (g, g_prime) in zip(self.weights, self.biases, self.functions):
            z = a @ W.T + b
            a = g(z)
            activations.append(a)
            derivatives.append(g_prime(z, a))
        delta = (a - t) * derivatives[-1]
        n = 1 if x.ndim == 1 else x.shape[0]
        for l in range(len(self.weights) - 1, -1, -1):
            W, inputs = self.weights[l], activations[l]
            grad_w = (delta.T @ inputs if x.ndim == 2 else self._outer(delta, inputs)) / n
            grad_b = delta.sum(axis=0) / n if x.ndim == 2 else delta
            if l:
                delta = (delta @ W) * derivatives[l - 1]
            W -= learning_rate * grad_w
            self.biases[l] -= learning_rate * grad_b

    @staticmethod
    def _outer(delta, inputs):
        import numpy as np

        return np.outer(delta, inputs)


def numpy_prepare_samples(problem):
    import numpy as np

    return [(np.array(x), np.array(t)) for x, t in problem.samples]


def numpy_prepare_batches(problem):
    import numpy as np

    xs = np.array([x for x, _ in problem.samples])
    ts = np.array([t for _, t in problem.samples])
    reps = -(-BATCH // len(xs))
    return [(np.tile(xs, (reps, 1))[:BATCH], np.tile(ts, (reps, 1))[:BATCH])]


def numpy_step(net, x, t):
    net.step(x, t, LEARNING_RATE)


def numpy_forward(net, x, t):
    net.forward(x)


def implementations(problem, skip_micrograd_reason):
    """The rows of one shape, in print order; plus notes on skipped rows."""
    impls = [
        Implementation("neuronsim", neuronsim_build(), neuronsim_step, neuronsim_forward),
        Implementation("neuronsim, tracer disabled", neuronsim_build(disabled_tracer),
                       neuronsim_step, neuronsim_forward),
    ]
    notes = []
    if has_tracer():
        impls.append(Implementation("neuronsim, tracing on", neuronsim_build(recording_tracer),
                                    neuronsim_step, neuronsim_forward))
        impls.append(Implementation("neuronsim, tracing, lists read",
                                    neuronsim_build(reading_tracer), neuronsim_step,
                                    neuronsim_forward))
    else:
        notes.append("neuronsim, tracing on: skipped (neuronsim.trace.tracer not found)")
    impls.append(Implementation("flat plain Python", flat_build, flat_step, flat_forward))
    if skip_micrograd_reason is None:
        impls.append(Implementation("micrograd", micrograd_build, micrograd_step,
                                    micrograd_forward))
    else:
        notes.append(f"micrograd: skipped ({skip_micrograd_reason})")
    if has_numpy():
        impls.append(Implementation("numpy, per sample", NumpyNet, numpy_step, numpy_forward,
                                    numpy_prepare_samples))
        impls.append(Implementation(f"numpy, batch of {BATCH}", NumpyNet, numpy_step,
                                    numpy_forward, numpy_prepare_batches, per_call=BATCH))
    else:
        notes.append("numpy: skipped (not installed)")
    return impls, notes


def has_tracer():
    try:
        from neuronsim.trace.tracer import Tracer  # noqa: F401
    except ImportError:
        return False
    return True


def has_numpy():
    try:
        import numpy  # noqa: F401
    except ImportError:
        return False
    return True


def micrograd_skip_reason(hidden, output):
    try:
        import micrograd.nn  # noqa: F401
    except ImportError:
        return "not installed: pip install micrograd"
    if (hidden, output) != ("relu", "linear"):
        return "its MLP has only relu hidden and linear output layers"
    return None


# ------------------------------------------------------------------ agreement check
def parameters_after_one_step(impl, problem):
    """The weights and then the biases (flattened) after one online step on the first sample."""
    model = impl.build(problem)
    x, t = problem.samples[0]
    if impl.name.startswith("numpy"):
        import numpy as np

        impl.step(model, np.array(x), np.array(t))
        return ([w for W in model.weights for w in W.ravel().tolist()]
                + [b for v in model.biases for b in v.tolist()])
    impl.step(model, x, t)
    if impl.name.startswith("neuronsim"):
        neurons = [n for layer in model.layers for n in layer.neurons]
        return [w for n in neurons for w in n.weights] + [n.bias for n in neurons]
    if impl.name.startswith("flat"):
        return ([w for matrix in model.weights for row in matrix for w in row]
                + [b for vector in model.biases for b in vector])
    if impl.name == "micrograd":
        neurons = [n for layer in model.layers for n in layer.neurons]
        return [w.data for n in neurons for w in n.w] + [n.b.data for n in neurons]
    raise ValueError(impl.name)


def same_bits(reference, other):
    """True if two lists of numbers are bit for bit the same (by repr, so that
    -0.0 is not 0.0) and every one is finite (two NaN are no agreement); two empty
    lists compare nothing, so they do not agree either."""
    return (len(reference) == len(other) > 0 and all(map(math.isfinite, reference))
            and list(map(repr, reference)) == list(map(repr, other)))


def relative_difference(reference, other):
    """Largest |a - b| / |a| over two equally long lists; inf if the lengths differ or a
    NaN or infinity makes a difference unmeasurable (so that a check never passes on it)."""
    if len(reference) != len(other):
        return math.inf
    worst = 0.0
    for a, b in zip(reference, other):
        difference = abs(a - b) / max(abs(a), 1e-300)
        if not math.isfinite(difference):
            return math.inf
        worst = max(worst, difference)
    return worst


# At the benchmark's learning rate η·(a·δ) is so much smaller than w that a
# different rounding of the product seldom shows in w - η·(a·δ); the
# bit-identity check of the flat loops therefore also takes a few steps with
# a large rate, where every last bit of the product counts.
CHECK_LEARNING_RATE = 0.3   # not a power of two: η·x is then rounded too
CHECK_STEPS = 8


def flat_mismatch(build, problem):
    """None if the flat network of ``build`` ends on neuronsim's weights and biases, bit
    for bit, after one step at the benchmark's rate and after CHECK_STEPS steps at
    CHECK_LEARNING_RATE; otherwise the largest relative difference."""
    for rate, steps in ((LEARNING_RATE, 1), (CHECK_LEARNING_RATE, CHECK_STEPS)):
        net, flat = neuronsim_build()(problem), build(problem)
        for x, t in problem.samples[:steps]:
            net.step(x, t, rate)
            flat.step(x, t, rate)
        neurons = [n for layer in net.layers for n in layer.neurons]
        reference = [w for n in neurons for w in n.weights] + [n.bias for n in neurons]
        other = ([w for matrix in flat.weights for row in matrix for w in row]
                 + [b for vector in flat.biases for b in vector])
        if not same_bits(reference, other):
            return relative_difference(reference, other)
    return None


def check_agreement(impls, problem):
    """One step of every single-sample row against neuronsim (impls[0]).

    The flat rows must give bit-identical weights and biases (flat_mismatch;
    SystemExit otherwise); returns the largest relative difference of the others.
    """
    reference = parameters_after_one_step(impls[0], problem)
    worst = 0.0
    for impl in impls[1:]:
        if impl.per_call != 1:
            continue
        if impl.name.startswith("flat"):
            mismatch = flat_mismatch(impl.build, problem)
            if mismatch is not None:
                raise SystemExit(f"{problem.name}: {impl.name} is not bit-identical to neuronsim "
                                 f"(max relative difference {mismatch:.1e})")
        elif not impl.name.startswith("neuronsim"):
            other = parameters_after_one_step(impl, problem)
            worst = max(worst, relative_difference(reference, other))
    return worst


# ------------------------------------------------------------------ measuring
CLOCKS = {"cpu": time.process_time, "wall": time.perf_counter}


def make_runner(function, model, arguments, clock=time.process_time):
    """run(loops) -> seconds for ``loops`` calls, cycling through the samples."""
    cycle = itertools.cycle(arguments)

    def run(loops):
        start = clock()
        for _ in range(loops):
            x, t = next(cycle)
            function(model, x, t)
        return clock() - start

    return run


def interleaved_medians(runners, repeats, block_seconds):
    """Median seconds per call of each runner, repeats interleaved in rotating order."""
    loops = []
    for run in runners:
        run(1)                                   # warm up
        once = max(run(1), 1e-7)
        loops.append(max(1, int(block_seconds / once)))
    times = [[] for _ in runners]
    order = list(range(len(runners)))
    for repeat in range(repeats):
        rotated = order[repeat % len(order):] + order[:repeat % len(order)]
        for i in rotated:
            times[i].append(runners[i](loops[i]) / loops[i])
    return [statistics.median(t) for t in times]


def peak_bytes(impl, problem, arguments):
    """tracemalloc peak during one online step, model included (built inside the trace)."""
    gc.collect()
    tracemalloc.start()
    try:
        model = impl.build(problem)
        x, t = arguments[0]
        impl.step(model, x, t)                   # reach the steady state
        gc.collect()
        tracemalloc.reset_peak()
        impl.step(model, x, t)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    del model
    gc.collect()
    return peak


# ------------------------------------------------------------------ report
def run_shape(problem, impls, repeats, block_seconds, clock):
    arguments = [impl.prepare(problem) for impl in impls]
    steps = [make_runner(impl.step, impl.build(problem), args, clock)
             for impl, args in zip(impls, arguments)]
    forwards = [make_runner(impl.forward, impl.build(problem), args, clock)
                for impl, args in zip(impls, arguments)]
    medians = interleaved_medians(steps + forwards, repeats, block_seconds)
    step_times, forward_times = medians[:len(impls)], medians[len(impls):]
    rows = []
    for impl, args, step_time, forward_time in zip(impls, arguments, step_times, forward_times):
        per_sample_step = step_time / impl.per_call
        per_sample_forward = forward_time / impl.per_call
        rows.append({
            "name": impl.name,
            "step_us": step_time * 1e6,
            "sample_step_us": per_sample_step * 1e6,
            "step_ns_conn": per_sample_step * 1e9 / problem.connections,
            "forward_us": per_sample_forward * 1e6,
            "forward_ns_conn": per_sample_forward * 1e9 / problem.connections,
            "bytes_per_param": peak_bytes(impl, problem, args) / problem.parameters,
        })
    return rows


def print_table(problem, rows, notes, agreement, out):
    print(f"\n## {problem.name}  ({problem.parameters:,} parameters, "
          f"{problem.connections:,} connections; {'/'.join(problem.activations)}, half_sse)",
          file=out)
    print(f"one step agrees with neuronsim: flat bit-identical; the others' max relative "
          f"difference in weights and biases {agreement:.1e}", file=out)
    width = max([28] + [len(r["name"]) for r in rows])
    header = (f"{'implementation':{width}s} {'step µs':>11s} {'µs/sample':>11s} {'ns/conn':>9s} "
              f"{'forward µs/sample':>18s} {'ns/conn':>9s} {'peak B/param':>13s}")
    print(header, file=out)
    print("-" * len(header), file=out)
    for r in rows:
        print(f"{r['name']:{width}s} {r['step_us']:11.1f} {r['sample_step_us']:11.1f} "
              f"{r['step_ns_conn']:9.1f} {r['forward_us']:18.1f} {r['forward_ns_conn']:9.1f} "
              f"{r['bytes_per_param']:13.1f}", file=out)
    for note in notes:
        print(f"note: {note}", file=out)


# The targets of issue 15, per shape (None: no target at that shape).
FLAT_STEP_TARGET = {"2-2-2": 1.6, "4-2-2-1": 1.6, "64-32-10": 1.15, "784-30-10": 1.15}
MICROGRAD_STEP_TARGET = {"2-2-2": 8.0, "64-32-10": 300.0}
DISABLED_TRACER_TARGET = 1.02
TRACING_TARGET = 2.0
MEMORY_TARGET = 3.0


def ratios(problem, rows):
    """The ratios of one shape: (label, value, limit, kind) with kind 'max' or 'min'."""
    by_name = {r["name"]: r for r in rows}
    base = by_name.get("neuronsim")
    out = []
    if base is None:
        return out
    flat = by_name.get("flat plain Python")
    if flat:
        out.append(("neuronsim / flat, step", base["step_us"] / flat["step_us"],
                    FLAT_STEP_TARGET.get(problem.name), "max"))
        out.append(("neuronsim / flat, forward", base["forward_us"] / flat["forward_us"],
                    None, "max"))
        out.append(("neuronsim / flat, peak memory",
                    base["bytes_per_param"] / flat["bytes_per_param"], MEMORY_TARGET, "max"))
    micro = by_name.get("micrograd")
    if micro:
        out.append(("micrograd / neuronsim, step", micro["step_us"] / base["step_us"],
                    MICROGRAD_STEP_TARGET.get(problem.name), "min"))
        out.append(("micrograd / neuronsim, forward", micro["forward_us"] / base["forward_us"],
                    None, "min"))
        if flat:
            out.append(("micrograd / flat, step", micro["step_us"] / flat["step_us"],
                        None, "min"))
    disabled = by_name.get("neuronsim, tracer disabled")
    if disabled:
        out.append(("tracer disabled / none, step", disabled["step_us"] / base["step_us"],
                    DISABLED_TRACER_TARGET, "max"))
    tracing = by_name.get("neuronsim, tracing on")
    if tracing:
        out.append(("tracing on / none, step", tracing["step_us"] / base["step_us"],
                    TRACING_TARGET, "max"))
    reading = by_name.get("neuronsim, tracing, lists read")
    if reading:
        out.append(("tracing, lists read / none, step", reading["step_us"] / base["step_us"],
                    None, "max"))
    for name in ("numpy, per sample", f"numpy, batch of {BATCH}"):
        if name in by_name:
            out.append((f"neuronsim / {name}, step µs per sample",
                        base["sample_step_us"] / by_name[name]["sample_step_us"], None, "max"))
    return out


def print_ratios(problem, items, out):
    print(f"ratios at {problem.name}:", file=out)
    missed = []
    for label, value, limit, kind in items:
        if limit is None:
            verdict = ""
        else:
            met = value <= limit if kind == "max" else value >= limit
            sign = "<=" if kind == "max" else ">="
            by = value / limit if kind == "max" else limit / value
            verdict = (f"  target {sign} {limit:g}: "
                       + ("met" if met else f"MISSED by {(by - 1) * 100:.0f} %"))
            if not met:
                missed.append(f"{problem.name} {label} = {value:.2f} (target {sign} {limit:g})")
        print(f"  {label:45s} {value:8.2f}{verdict}", file=out)
    return missed


# ------------------------------------------------------------------ flat variants
def flat_variants(problem):
    """The yardstick and the variants it beat: [(name, build, bit-identical?)].

    A threshold variant that runs the same code as the yardstick at this
    shape (the same layers in explicit loops) is left out.
    """
    fan_ins = problem.sizes[:-1]

    def looped(limit):
        return tuple(n <= limit for n in fan_ins)

    def threshold(limit):
        def build(problem):
            weights, biases = problem.parameters_lists()
            return FlatNetwork(weights, biases, problem.activations, small_fan_in=limit)
        return build

    def previous(problem):
        weights, biases = problem.parameters_lists()
        return PreviousFlatNetwork(weights, biases, problem.activations)

    variants = [(f"yardstick (loops at fan-in <= {SMALL_FAN_IN})", flat_build, True)]
    seen = {looped(SMALL_FAN_IN)}
    for limit, name in [(math.inf, "explicit loops everywhere"), (0, "comprehensions everywhere"),
                        (2, "loops at fan-in <= 2"), (4, "loops at fan-in <= 4"),
                        (8, "loops at fan-in <= 8"), (32, "loops at fan-in <= 32"),
                        (64, "loops at fan-in <= 64")]:
        if looped(limit) not in seen:
            seen.add(looped(limit))
            variants.append((name, threshold(limit), True))
    variants.append(("previous yardstick (η·δ first)", previous, False))
    return variants


def flat_variants_run(problem, repeats, block_seconds, clock, out):
    """Time the flat variants side by side (step only); check bit-identity first."""
    variants = flat_variants(problem)
    runners, identical = [], []
    for name, build, must_match in variants:
        model = build(problem)
        same = flat_mismatch(build, problem) is None
        if must_match and not same:
            raise SystemExit(f"{problem.name}: flat variant {name!r} is not bit-identical "
                             "to neuronsim")
        identical.append(same)
        runners.append(make_runner(flat_step, model, problem.samples, clock))
    medians = interleaved_medians(runners, repeats, block_seconds)
    best = medians[0]
    print(f"\n## flat variants at {problem.name}: one online step, against the yardstick",
          file=out)
    print(f"{'variant':44s} {'step µs':>9s} {'/ yardstick':>12s}  weights", file=out)
    for (name, _, _), median, same in zip(variants, medians, identical):
        print(f"{name:44s} {median * 1e6:9.2f} {median / best:12.2f}  "
              f"{'bit-identical' if same else 'differ in the last bits'}", file=out)
    faster = [name for (name, _, must), median in zip(variants[1:], medians[1:])
              if must and median < best]
    print("the yardstick is the fastest bit-identical variant" if not faster else
          f"faster than the yardstick in this run: {', '.join(faster)}", file=out)


# ------------------------------------------------------------------ recurrent rows
RECURRENT_SHAPES = ["4-r8-2", "16-r32-4"]
SEQUENCE_LENGTH = 10
SEQUENCES = 8


class RecurrentProblem:
    """An Elman layer (tanh) under dense layers (linear output), half_sse at every step.

    ``4-r8-2``: 4 inputs, a recurrent layer of 8, a dense output layer of 2.
    """

    def __init__(self, shape, steps, seed=1, activation="tanh", output="linear"):
        parts = shape.split("-")
        if len(parts) < 3 or not parts[1].startswith("r"):
            raise SystemExit(f"recurrent shape {shape!r}: expected inputs-rN-outputs, "
                             "e.g. 4-r8-2")
        self.name = shape
        self.sizes = [int(parts[0]), int(parts[1][1:])] + [int(p) for p in parts[2:]]
        self.steps = steps
        self.seed = seed
        self.activation = activation
        self.dense_activations = ["tanh"] * (len(self.sizes) - 3) + [output]
        n_in, n = self.sizes[:2]
        dense = sum(a * b for a, b in zip(self.sizes[1:], self.sizes[2:]))
        self.connections = n_in * n + n * n + dense          # per time step
        self.parameters = self.connections + sum(self.sizes[1:])
        rng = random.Random(seed + 1000)
        self.samples = [([[rng.uniform(-1, 1) for _ in range(n_in)] for _ in range(steps)],
                         [[rng.uniform(-1, 1) for _ in range(self.sizes[-1])]
                          for _ in range(steps)])
                        for _ in range(SEQUENCES)]

    def parameters_lists(self):
        """Fresh (W, U, b, dense) lists, Glorot uniform."""
        rng = random.Random(self.seed)
        n_in, n = self.sizes[:2]
        r = math.sqrt(6.0 / (n_in + n))
        W = [[rng.uniform(-r, r) for _ in range(n_in)] for _ in range(n)]
        r = math.sqrt(6.0 / (2 * n))
        U = [[rng.uniform(-r, r) for _ in range(n)] for _ in range(n)]
        b = [rng.uniform(-0.1, 0.1) for _ in range(n)]
        dense = []
        for m_in, m in zip(self.sizes[1:], self.sizes[2:]):
            r = math.sqrt(6.0 / (m_in + m))
            dense.append(([[rng.uniform(-r, r) for _ in range(m_in)] for _ in range(m)],
                          [rng.uniform(-0.1, 0.1) for _ in range(m)]))
        return W, U, b, dense


def recurrent_neuronsim_build(problem):
    from neuronsim.core.recurrent import RecurrentNetwork

    W, U, b, dense = problem.parameters_lists()
    return RecurrentNetwork.from_arrays(W, U, b, dense=dense, activation=problem.activation,
                                        dense_activations=problem.dense_activations,
                                        loss="half_sse")


def recurrent_flat_build(problem, small_fan_in=SMALL_FAN_IN):
    W, U, b, dense = problem.parameters_lists()
    return FlatRecurrentNetwork(W, U, b, dense, problem.activation, problem.dense_activations,
                                small_fan_in)


def recurrent_flat_other_idiom(problem):
    """The flat BPTT loop in the idiom the yardstick did not choose at this shape."""
    loops = recurrent_flat_build(problem).loops
    name = "flat BPTT, " + ("comprehensions" if loops else "explicit loops")
    return name, lambda problem: recurrent_flat_build(problem, 0 if loops else math.inf)


class TorchRecurrent:
    """torch.nn.RNN (tanh, float64, its second bias fixed at 0) and Linear layers,
    SGD, one sequence per step: the loop a torch user writes."""

    def __init__(self, problem):
        import torch

        torch.set_num_threads(1)
        self.torch = torch
        W, U, b, dense = problem.parameters_lists()
        n_in, n = problem.sizes[:2]
        self.rnn = torch.nn.RNN(n_in, n, nonlinearity=problem.activation, dtype=torch.float64)
        with torch.no_grad():
            self.rnn.weight_ih_l0.copy_(torch.tensor(W, dtype=torch.float64))
            self.rnn.weight_hh_l0.copy_(torch.tensor(U, dtype=torch.float64))
            self.rnn.bias_ih_l0.copy_(torch.tensor(b, dtype=torch.float64))
            self.rnn.bias_hh_l0.zero_()
        self.rnn.bias_hh_l0.requires_grad_(False)      # neuronsim has one bias per neuron
        modules = []
        for (rows, biases), name in zip(dense, problem.dense_activations):
            linear = torch.nn.Linear(len(rows[0]), len(rows), dtype=torch.float64)
            with torch.no_grad():
                linear.weight.copy_(torch.tensor(rows, dtype=torch.float64))
                linear.bias.copy_(torch.tensor(biases, dtype=torch.float64))
            modules.append(linear)
            if name == "tanh":
                modules.append(torch.nn.Tanh())
        self.dense = torch.nn.Sequential(*modules)
        self.parameters = [p for p in list(self.rnn.parameters()) + list(self.dense.parameters())
                           if p.requires_grad]
        self.optimizer = torch.optim.SGD(self.parameters, lr=LEARNING_RATE)

    def step(self, xs, targets):
        self.optimizer.zero_grad()
        outputs, _ = self.rnn(xs)
        loss = 0.5 * ((self.dense(outputs) - targets) ** 2).sum()
        loss.backward()
        self.optimizer.step()

    def values(self):
        """W, U, b, then each dense layer's weights and biases, flattened."""
        rnn = self.rnn
        tensors = [rnn.weight_ih_l0, rnn.weight_hh_l0, rnn.bias_ih_l0]
        linears = [m for m in self.dense if isinstance(m, self.torch.nn.Linear)]
        tensors += [t for m in linears for t in (m.weight, m.bias)]
        return [v for t in tensors for v in t.detach().ravel().tolist()]


def torch_prepare(problem):
    import torch

    return [(torch.tensor(xs, dtype=torch.float64), torch.tensor(ts, dtype=torch.float64))
            for xs, ts in problem.samples]


def has_torch():
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def recurrent_values(model):
    """W, U, b, then each dense layer's weights and biases, flattened."""
    if isinstance(model, TorchRecurrent):
        return model.values()
    if isinstance(model, FlatRecurrentNetwork):
        layers = [(model.weights, model.recurrent_weights, model.biases)]
        layers += list(zip(model.dense_weights, model.dense_biases))
    else:
        layers = [layer.parameters() for layer in model.layers]
    values = []
    for parts in layers:
        for part in parts:
            values += [v for row in part for v in row] if isinstance(part[0], list) else part
    return values


def recurrent_implementations(problem, skipped):
    impls = [Implementation("neuronsim", recurrent_neuronsim_build,
                            lambda net, xs, ts: net.step(xs, ts, LEARNING_RATE), None),
             Implementation("flat plain Python BPTT", recurrent_flat_build,
                            lambda net, xs, ts: net.step(xs, ts, LEARNING_RATE), None)]
    if "variants" not in skipped:
        name, build = recurrent_flat_other_idiom(problem)
        impls.append(Implementation(name, build,
                                    lambda net, xs, ts: net.step(xs, ts, LEARNING_RATE), None))
    notes = []
    if not has_torch():
        notes.append("torch per sample: skipped (not installed)")
    else:
        impls.append(Implementation("torch per sample, CPU", TorchRecurrent,
                                    lambda model, xs, ts: model.step(xs, ts), None,
                                    torch_prepare))
    notes += [f"{impl.name}: skipped (--skip)" for impl in impls[1:]
              if any(word in impl.name for word in skipped)]
    impls = impls[:1] + [impl for impl in impls[1:]
                         if not any(word in impl.name for word in skipped)]
    return impls, notes


def recurrent_run(problem, skipped, repeats, block_seconds, clock, out):
    """One BPTT training step per sequence: neuronsim, flat, torch; returns the ratios."""
    impls, notes = recurrent_implementations(problem, skipped)
    arguments = [impl.prepare(problem) for impl in impls]
    after = []
    for impl, args in zip(impls, arguments):
        model = impl.build(problem)
        impl.step(model, *args[0])
        after.append(recurrent_values(model))
    reference, worst = after[0], 0.0
    for impl, values in zip(impls[1:], after[1:]):
        if impl.name.startswith("flat"):
            if not same_bits(reference, values):
                raise SystemExit(f"{problem.name}: the flat BPTT step is not bit-identical to "
                                 f"neuronsim (max relative difference "
                                 f"{relative_difference(reference, values):.1e})")
        else:
            worst = max(worst, relative_difference(reference, values))
    for impl in impls[1:]:
        if not impl.name.startswith("flat"):
            continue
        net, flat = recurrent_neuronsim_build(problem), impl.build(problem)
        for xs, ts in problem.samples[:CHECK_STEPS]:        # every last bit counts (see above)
            net.step(xs, ts, CHECK_LEARNING_RATE)
            flat.step(xs, ts, CHECK_LEARNING_RATE)
        if recurrent_values(flat) != recurrent_values(net):
            raise SystemExit(f"{problem.name}: {impl.name} is not bit-identical to neuronsim "
                             f"after {CHECK_STEPS} steps at learning rate {CHECK_LEARNING_RATE}")
    if worst > 1e-9:
        raise SystemExit(f"{problem.name}: torch and neuronsim disagree after one BPTT step "
                         f"(max relative difference {worst:.1e})")
    runners = [make_runner(impl.step, impl.build(problem), args, clock)
               for impl, args in zip(impls, arguments)]
    medians = interleaved_medians(runners, repeats, block_seconds)
    n_in, n = problem.sizes[:2]
    print(f"\n## recurrent {problem.name}, T = {problem.steps}  ({problem.parameters:,} "
          f"parameters, {problem.connections:,} connections per time step; "
          f"{problem.activation}/{'/'.join(problem.dense_activations)}, half_sse summed over "
          f"the steps, full BPTT, one sequence per step)", file=out)
    print("one BPTT step agrees with neuronsim: flat bit-identical"
          + (f"; torch max relative difference in weights and biases {worst:.1e}"
             if any(impl.name.startswith("torch") for impl in impls) else ""), file=out)
    header = (f"{'implementation':28s} {'step µs':>11s} {'µs per time step':>17s} "
              f"{'ns/conn per time step':>22s}")
    print(header, file=out)
    print("-" * len(header), file=out)
    for impl, median in zip(impls, medians):
        print(f"{impl.name:28s} {median * 1e6:11.1f} {median * 1e6 / problem.steps:17.2f} "
              f"{median * 1e9 / problem.steps / problem.connections:22.1f}", file=out)
    for note in notes:
        print(f"note: {note}", file=out)
    by_name = dict(zip((impl.name for impl in impls), medians))
    print(f"ratios at {problem.name}:", file=out)
    base = by_name["neuronsim"]
    for name in [name for name in by_name if not name.startswith("flat BPTT, ")][1:]:
        print(f"  {'neuronsim / ' + name.split(' per sample')[0] + ', step':45s} "
              f"{base / by_name[name]:8.2f}", file=out)


# ------------------------------------------------------------------ the vectorized reference
VECTORIZED_BATCHES = (32, 256)


def plain_numpy_gradients(weights, biases, X, T):
    """Plain numpy for what neuronsim.crosscheck.vectorized.backprop gives back, relu hidden
    layers, a linear output and half_sse, samples as rows: Z, A, g'(Z), dE/dA, Δ, dW, db
    and the per-sample and batch loss (the mean)."""
    import numpy as np

    m = X.shape[0]
    As, Zs, primes = [X], [], []
    A = X
    last = len(weights) - 1
    for l, (W, b) in enumerate(zip(weights, biases)):
        Z = A @ W.T + b
        if l < last:
            A = np.where(Z > 0, Z, 0.0)
            primes.append(np.where(Z > 0, 1.0, 0.0))
        else:
            A = Z
            primes.append(np.ones_like(Z))
        Zs.append(Z)
        As.append(A)
    sample_losses = 0.5 * ((T - A) ** 2).sum(axis=1)
    grad = A - T
    grads, deltas, dW, db = [None] * len(weights), [None] * len(weights), [], []
    for l in range(last, -1, -1):
        delta = grad * primes[l]
        grads[l], deltas[l] = grad, delta
        dW.insert(0, delta.T @ As[l] / m)
        db.insert(0, delta.sum(axis=0) / m)
        if l:
            grad = delta @ weights[l]
    return Zs, As, primes, grads, deltas, dW, db, sample_losses, sample_losses.sum() / m


def vectorized_difference(reference, plain):
    """The largest relative difference between every array of a BatchGradients and
    plain_numpy_gradients' (Z, A, g'(Z), dE/dA, Δ, dW, db, the losses); 0.0 when
    all are bit-identical."""
    import numpy as np

    ours = [reference.zs, [reference.inputs] + reference.activations, reference.derivatives,
            reference.output_grads, reference.deltas, reference.dW, reference.db,
            [reference.sample_losses], [np.array(reference.loss)]]
    theirs = list(plain[:7]) + [[plain[7]], [np.array(plain[8])]]
    worst = 0.0
    for mine, yours in zip(ours, theirs):
        if len(mine) != len(yours):
            return float("inf")
        for a, b in zip(mine, yours):
            if a.shape != b.shape or not np.all(np.isfinite(a)):
                return float("inf")
            if not np.array_equal(a, b):
                scale = max(float(np.max(np.abs(b))), 1e-300)
                worst = max(worst, float(np.max(np.abs(a - b))) / scale)
    return worst


def vectorized_run(repeats, block_seconds, clock, out, shape="784-30-10"):
    """neuronsim.crosscheck.vectorized.backprop against plain numpy, on arrays and on
    Python lists, for batches of VECTORIZED_BATCHES samples."""
    try:
        import numpy as np

        from neuronsim.crosscheck.vectorized import backprop
    except ImportError:
        print("\nnote: the vectorized reference skipped (numpy not installed)", file=out)
        return []
    problem = Problem([int(n) for n in shape.split("-")], "relu", "linear")
    weights, biases = problem.parameters_lists()
    arrays_w = [np.array(W) for W in weights]
    arrays_b = [np.array(b) for b in biases]
    activations = problem.activations
    rng = random.Random(3)
    print(f"\n## the vectorized reference at {shape}: neuronsim.crosscheck.vectorized.backprop "
          "(forward, backward, every Z, A, g'(Z), dE/dA, Δ, dW, db and the losses) against "
          "plain numpy computing the same", file=out)
    print(f"{'batch':>6s} {'plain numpy ms':>15s} {'reference ms':>13s} {'/ plain':>8s} "
          f"{'on lists ms':>12s} {'/ plain':>8s}", file=out)
    missed, notes = [], []
    for m in VECTORIZED_BATCHES:
        x_list = [[rng.random() for _ in range(problem.sizes[0])] for _ in range(m)]
        t_list = [[rng.random() for _ in range(problem.sizes[-1])] for _ in range(m)]
        X, T = np.array(x_list), np.array(t_list)
        reference = backprop(arrays_w, arrays_b, activations, "half_sse", X, T)
        plain = plain_numpy_gradients(arrays_w, arrays_b, X, T)
        worst = vectorized_difference(reference, plain)
        if not worst <= 1e-12:
            raise SystemExit(f"vectorized reference and plain numpy disagree at batch {m} "
                             f"({worst:.1e})")
        if worst:
            notes.append(f"batch {m}: max relative difference from plain numpy {worst:.1e}")
        runners = [
            make_runner(lambda _, x, t: plain_numpy_gradients(arrays_w, arrays_b, x, t),
                        None, [(X, T)], clock),
            make_runner(lambda _, x, t: backprop(arrays_w, arrays_b, activations, "half_sse",
                                                 x, t), None, [(X, T)], clock),
            make_runner(lambda _, x, t: backprop(weights, biases, activations, "half_sse",
                                                 x, t), None, [(x_list, t_list)], clock),
        ]
        with blas_threads(1):
            plain_s, reference_s, lists_s = interleaved_medians(runners, repeats, block_seconds)
        ratio = reference_s / plain_s
        print(f"{m:6d} {plain_s * 1e3:15.3f} {reference_s * 1e3:13.3f} {ratio:8.2f} "
              f"{lists_s * 1e3:12.3f} {lists_s / plain_s:8.2f}", file=out)
        if ratio > 1.1:
            missed.append(f"vectorized reference / plain numpy, batch {m} = {ratio:.2f} "
                          "(target <= 1.1)")
    print("every array agrees with plain numpy: " + ("; ".join(notes) if notes
                                                      else "bit-identical"), file=out)
    return missed


# ------------------------------------------------------------------ scale runs
STREAM_RUNS = [("jsonl", None, False), ("csv", None, False), ("jsonl", [0], True)]


def _traced_steps(problem, steps, path, fmt, neurons, weights, checkpoints=()):
    """Stream ``steps`` online steps; returns seconds and tracemalloc's peak at each checkpoint."""
    from neuronsim.trace.stream import stream_tracer

    net = neuronsim_build()(problem)
    peaks = []
    start = time.perf_counter()
    with stream_tracer(path, format=fmt, neurons=neurons, weights=weights) as tracer:
        tracer.attach(net)
        for i in range(1, steps + 1):
            x, t = problem.samples[i % len(problem.samples)]
            net.step(x, t, LEARNING_RATE)
            if i in checkpoints:
                peaks.append(tracemalloc.get_traced_memory()[1])
    return time.perf_counter() - start, peaks


def stream_run(steps, out):
    """784-30-10 traced to JSON Lines and CSV for ``steps`` online steps.

    Times come from runs without tracemalloc (it slows every allocation
    several times); the memory run traces the whole network to JSON Lines
    under tracemalloc and reports the peak after 10 %, 50 % and 100 % of
    the steps: flat means bounded.
    """
    try:
        import neuronsim.trace.stream  # noqa: F401
    except ImportError:
        print("\nnote: trace streaming skipped (neuronsim.trace.stream not found)", file=out)
        return
    problem = Problem([784, 30, 10], "relu", "linear")
    print(f"\n## trace streaming, {problem.name}, {steps:,} online steps", file=out)
    print(f"{'format':8s} {'neurons':8s} {'per-weight lists':17s} {'s total':>8s} "
          f"{'ms/step':>8s} {'MB file':>9s}", file=out)
    with tempfile.TemporaryDirectory() as folder:
        for fmt, neurons, weights in STREAM_RUNS:
            path = os.path.join(folder, f"trace.{fmt}")
            elapsed, _ = _traced_steps(problem, steps, path, fmt, neurons, weights)
            size = os.path.getsize(path)
            os.unlink(path)
            print(f"{fmt:8s} {str(neurons or 'all'):8s} {'yes' if weights else 'no':17s} "
                  f"{elapsed:8.1f} {elapsed / steps * 1e3:8.2f} {size / 1e6:9.1f}", file=out)
        checkpoints = sorted({max(1, steps // 10), max(1, steps // 2), steps})
        gc.collect()
        tracemalloc.start()
        try:
            _, peaks = _traced_steps(problem, steps, os.path.join(folder, "mem.jsonl"), "jsonl",
                                     None, False, checkpoints)
        finally:
            tracemalloc.stop()
    print("peak traced memory, jsonl, all neurons (network included): "
          + ", ".join(f"{peak / 1e6:.2f} MB after {n:,} steps"
                      for n, peak in zip(checkpoints, peaks)), file=out)


def train_epoch_run(count, out):
    """One online epoch of ``count`` random samples of 784 inputs on 784-30-10,
    with the progress bar of neuronsim.classroom.progress when there is one (drawn on
    stderr when it is a terminal)."""
    problem = Problem([784, 30, 10], "relu", "linear")
    rng = random.Random(7)
    samples = [([rng.random() for _ in range(784)], [rng.random() for _ in range(10)])
               for _ in range(count)]
    net = neuronsim_build()(problem)
    try:
        from neuronsim.classroom.progress import ProgressBar, train_with_progress
    except ImportError:
        ProgressBar = None
    start = time.perf_counter()
    if ProgressBar is None:
        how = "net.train (no neuronsim.classroom.progress)"
        history = net.train(samples, epochs=1, learning_rate=LEARNING_RATE, batch_size=1, seed=0)
    else:
        bar = ProgressBar(count, stream=sys.stderr)
        history = train_with_progress(net, samples, epochs=1, learning_rate=LEARNING_RATE,
                                      batch_size=1, seed=0, progress=bar)
        how = f"train_with_progress, {bar.done:,} samples counted by the bar"
    elapsed = time.perf_counter() - start
    print(f"\n## train: {count:,} samples of 784 inputs, 784-30-10, one online epoch", file=out)
    print(f"{elapsed:.1f} s wall ({elapsed / count * 1e3:.2f} ms per sample); "
          f"epoch loss {history[0]:.6g}; {how}", file=out)


# ------------------------------------------------------------------ main
# The largest feed-forward shape --shapes takes: micrograd's graph of one step of
# 784-30-10 (23,820 connections) already takes seconds to build.
MAX_CONNECTIONS = 1_000_000


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="one tiny repeat of everything (for the smoke test)")
    parser.add_argument("--shapes", default=",".join(SHAPES),
                        help="comma-separated shapes, e.g. 2-2-2,64-32-10 (empty: none)")
    parser.add_argument("--repeats", type=int, default=21)
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="cpu",
                        help="cpu: this process's CPU time (default); wall: elapsed time")
    parser.add_argument("--block", type=float, default=0.04,
                        help="seconds per timed block of calls")
    parser.add_argument("--hidden", default="relu", choices=sorted(FLAT_ACTIVATIONS),
                        help="hidden activation (default relu)")
    parser.add_argument("--output", default="linear", choices=sorted(FLAT_ACTIVATIONS),
                        help="output activation (default linear)")
    parser.add_argument("--stream-steps", type=int, default=1000,
                        help="online steps of the 784-30-10 streaming run (0: skip)")
    parser.add_argument("--train-epoch", action="store_true",
                        help="also time net.train on 10,000 samples of 784 inputs")
    parser.add_argument("--train-samples", type=int, default=10_000)
    parser.add_argument("--recurrent-shapes", default=",".join(RECURRENT_SHAPES),
                        help="comma-separated recurrent shapes, inputs-rN-outputs "
                             "(empty: none)")
    parser.add_argument("--lstm-shapes", default="4-lstm8-2,16-lstm32-4",
                        help="comma-separated LSTM shapes, inputs-lstmN-outputs (empty: none)")
    parser.add_argument("--gru-shapes", default="4-gru8-2,16-gru32-4",
                        help="comma-separated GRU shapes, inputs-gruN-outputs (empty: none)")
    parser.add_argument("--sequence-length", type=int, default=SEQUENCE_LENGTH,
                        help="T, the time steps of one sequence (default 10)")
    parser.add_argument("--skip", default="",
                        help="leave out the rows whose names contain one of these "
                             "comma-separated words, e.g. micrograd,numpy,torch; "
                             "'variants' leaves out the flat variants, 'vectorized' the "
                             "vectorized reference against plain numpy")
    parser.add_argument("--only", choices=("vectorized",),
                        help="run one row alone: 'vectorized' times only the vectorized "
                             "reference against plain numpy (no shapes, sequences, "
                             "streaming or epoch), e.g. to repeat it many times")
    args = parser.parse_args(argv)
    for option, value, low, high in (("--repeats", args.repeats, 1, 1000),
                                     ("--block", args.block, 0, 10),
                                     ("--stream-steps", args.stream_steps, 0, 100_000),
                                     ("--train-samples", args.train_samples, 1, 1_000_000),
                                     ("--sequence-length", args.sequence_length, 1, 1000)):
        if not low <= value <= high:   # (a NaN --block fails this test too)
            parser.error(f"{option} must be {low} to {high:,} (got {value})")
    for shape in filter(None, args.shapes.split(",")):
        try:
            sizes = [int(n) for n in shape.split("-")]
        except ValueError:
            parser.error(f"--shapes: {shape!r} is not a shape like 4-2-2-1")
        connections = sum(a * b for a, b in zip(sizes, sizes[1:]))
        if len(sizes) < 2 or min(sizes) < 1 or connections > MAX_CONNECTIONS:
            parser.error(f"--shapes: {shape!r} needs 2 or more layers of 1 or more neurons and "
                         f"at most {MAX_CONNECTIONS:,} connections (got {connections:,})")
    if args.only == "vectorized":
        args.shapes = args.recurrent_shapes = args.lstm_shapes = args.gru_shapes = ""
        args.stream_steps, args.train_epoch = 0, False
        args.skip = ",".join(name for name in args.skip.split(",") if name != "vectorized")
    if args.quick:
        args.repeats, args.block = 1, 0.0
        args.stream_steps = min(args.stream_steps, 3)
        args.train_samples = min(args.train_samples, 20)
    return args


def blas_threads(count):
    """A context that holds BLAS to ``count`` threads (nothing without threadpoolctl)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(count)


def one_blas_thread():
    try:
        import threadpoolctl  # noqa: F401
    except ImportError:
        return "BLAS threads not limited (pip install threadpoolctl)"
    return "BLAS held to 1 thread"


def environment():
    import platform

    parts = [f"Python {platform.python_version()}", platform.machine()]
    try:
        import numpy

        parts.append(f"numpy {numpy.__version__}")
    except ImportError:
        pass
    try:
        from importlib.metadata import version

        parts.append(f"micrograd {version('micrograd')}")
    except Exception:  # not installed
        pass
    try:
        import torch

        parts.append(f"torch {torch.__version__}")
    except ImportError:
        pass
    try:
        from threadpoolctl import threadpool_info

        parts += [f"BLAS {i.get('internal_api')} {i.get('version')} {i.get('architecture')}"
                  for i in threadpool_info()]
    except ImportError:
        pass
    for key in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        if os.environ.get(key):
            parts.append(f"{key}={os.environ[key]}")
    return ", ".join(parts)


def main(argv=None, out=sys.stdout):
    args = parse_args(argv)
    print(f"neuronsim benchmark ({environment()})", file=out)
    print(f"{args.clock} time, repeats {args.repeats}, block {args.block * 1e3:g} ms, medians; "
          f"{one_blas_thread()}{' [QUICK: timings meaningless]' if args.quick else ''}", file=out)
    skip_micrograd = micrograd_skip_reason(args.hidden, args.output)
    missed = []
    for shape in filter(None, args.shapes.split(",")):
        sizes = [int(n) for n in shape.split("-")]   # (checked by parse_args)
        problem = Problem(sizes, args.hidden, args.output)
        impls, notes = implementations(problem, skip_micrograd)
        skipped = [name for name in args.skip.split(",") if name]
        notes += [f"{impl.name}: skipped (--skip)" for impl in impls
                  if any(name in impl.name for name in skipped)]
        impls = [impl for impl in impls if not any(name in impl.name for name in skipped)]
        agreement = check_agreement(impls, problem)   # flat: bit-identical, or SystemExit
        if agreement > 1e-9:
            raise SystemExit(f"{problem.name}: implementations disagree after one step "
                             f"(max relative difference {agreement:.1e})")
        with blas_threads(1):
            rows = run_shape(problem, impls, args.repeats, args.block, CLOCKS[args.clock])
        print_table(problem, rows, notes, agreement, out)
        missed += print_ratios(problem, ratios(problem, rows), out)
        if "variants" not in skipped:
            with blas_threads(1):
                flat_variants_run(problem, args.repeats, args.block, CLOCKS[args.clock], out)
    for shape in filter(None, args.recurrent_shapes.split(",")):
        problem = RecurrentProblem(shape, args.sequence_length)
        with blas_threads(1):
            recurrent_run(problem, [name for name in args.skip.split(",") if name],
                          args.repeats, args.block, CLOCKS[args.clock], out)
    gated_shapes = args.lstm_shapes.split(",") + args.gru_shapes.split(",")
    for shape in filter(None, gated_shapes):
        with blas_threads(1):
            gated_run(GatedProblem(shape, args.sequence_length),
                     [name for name in args.skip.split(",") if name], args.repeats, args.block,
                     CLOCKS[args.clock], out, make_runner, interleaved_medians,
                     relative_difference, same_bits)
    if "vectorized" not in args.skip.split(","):
        missed += vectorized_run(args.repeats, args.block, CLOCKS[args.clock], out)
    if args.stream_steps and has_tracer():
        stream_run(args.stream_steps, out)
    if args.train_epoch:
        train_epoch_run(args.train_samples, out)
    print("\ntargets missed: " + ("none" if not missed else "; ".join(missed)), file=out)
    if skip_micrograd is not None:
        print(f"(the micrograd target was not checked: {skip_micrograd})", file=out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
