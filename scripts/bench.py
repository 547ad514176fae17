"""Benchmark: neuronsim against hand-written loops, micrograd and numpy.

    python scripts/bench.py                 # the full run recorded in docs/performance.md
    python scripts/bench.py --quick         # seconds: proves the script works, timings meaningless
    python scripts/bench.py --train-epoch   # also: one epoch of 10,000 samples on 784-30-10

For each shape (2-2-2, 4-2-2-1, 64-32-10, 784-30-10) it times one online
training step (forward, backward, update) and one forward pass of:

* neuronsim with no tracer, with a disabled tracer attached, and with a
  recording tracer (``Tracer(keep=False)``: every record built, none kept);
* the flat plain-Python baseline (scripts/flat_baseline.py);
* micrograd (``pip install micrograd``; skipped with a note when absent, or
  when the activations are not relu hidden / linear output, the only ones
  micrograd's MLP has);
* numpy, one sample per step and a mini-batch of 32 per step.

Timing: every implementation lives in one process; each repeat runs one
block of calls of every implementation in a rotating order (interleaved, so
a slow minute of the machine hits all of them), and the result is the median
over repeats.  The clock is this process's CPU time (``--clock cpu``, the
default: other programs on a shared machine then cost us little) or wall
time (``--clock wall``); numpy's BLAS is held to one thread (threadpoolctl),
like the Python loops, so that CPU time is comparable.

Memory: tracemalloc's peak during one online step, counting
the model (built inside the trace, so its floats count) and everything the
step allocates, divided by the number of parameters (weights and biases).

Every implementation starts from the same weights; before timing, the script
checks that one step gives the same new weights in all of them.
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
from flat_baseline import FlatNetwork

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
def weights_after_one_step(impl, problem):
    """The weights (flattened) after one online step on the first sample."""
    model = impl.build(problem)
    x, t = problem.samples[0]
    if impl.name.startswith("numpy"):
        import numpy as np

        impl.step(model, np.array(x), np.array(t))
        return [w for W in model.weights for w in W.ravel().tolist()]
    impl.step(model, x, t)
    if impl.name.startswith("neuronsim"):
        return [w for layer in model.layers for n in layer.neurons for w in n.weights]
    if impl.name.startswith("flat"):
        return [w for matrix in model.weights for row in matrix for w in row]
    if impl.name == "micrograd":
        return [w.data for layer in model.layers for n in layer.neurons for w in n.w]
    raise ValueError(impl.name)


def check_agreement(impls, problem):
    """Largest relative difference of the new weights against neuronsim's."""
    reference = weights_after_one_step(impls[0], problem)
    worst = 0.0
    for impl in impls[1:]:
        if impl.per_call != 1:
            continue
        other = weights_after_one_step(impl, problem)
        for a, b in zip(reference, other):
            worst = max(worst, abs(a - b) / max(abs(a), 1e-300))
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
    print(f"one step agrees with neuronsim: max relative weight difference {agreement:.1e}",
          file=out)
    header = (f"{'implementation':28s} {'step µs':>11s} {'µs/sample':>11s} {'ns/conn':>9s} "
              f"{'forward µs/sample':>18s} {'ns/conn':>9s} {'peak B/param':>13s}")
    print(header, file=out)
    print("-" * len(header), file=out)
    for r in rows:
        print(f"{r['name']:28s} {r['step_us']:11.1f} {r['sample_step_us']:11.1f} "
              f"{r['step_ns_conn']:9.1f} {r['forward_us']:18.1f} {r['forward_ns_conn']:9.1f} "
              f"{r['bytes_per_param']:13.1f}", file=out)
    for note in notes:
        print(f"note: {note}", file=out)


def ratios(problem, rows):
    """The target ratios of one shape: (label, value, limit, kind) with kind 'max' or 'min'."""
    by_name = {r["name"]: r for r in rows}
    base = by_name.get("neuronsim")
    out = []
    if base is None:
        return out
    flat = by_name.get("flat plain Python")
    if flat:
        out.append(("neuronsim / flat, step", base["step_us"] / flat["step_us"],
                    1.5 if problem.name in ("64-32-10", "784-30-10") else None, "max"))
        out.append(("neuronsim / flat, forward", base["forward_us"] / flat["forward_us"],
                    None, "max"))
        out.append(("neuronsim / flat, peak memory",
                    base["bytes_per_param"] / flat["bytes_per_param"], 3.0, "max"))
    micro = by_name.get("micrograd")
    if micro:
        out.append(("micrograd / neuronsim, step", micro["step_us"] / base["step_us"], 10.0, "min"))
        out.append(("micrograd / neuronsim, forward", micro["forward_us"] / base["forward_us"],
                    None, "min"))
    disabled = by_name.get("neuronsim, tracer disabled")
    if disabled:
        out.append(("tracer disabled / none, step", disabled["step_us"] / base["step_us"],
                    1.05, "max"))
    tracing = by_name.get("neuronsim, tracing on")
    if tracing:
        out.append(("tracing on / none, step", tracing["step_us"] / base["step_us"], None, "max"))
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
            verdict = f"  target {sign} {limit:g}: {'met' if met else 'MISSED'}"
            if not met:
                missed.append(f"{problem.name} {label} = {value:.2f} (target {sign} {limit:g})")
        print(f"  {label:45s} {value:8.2f}{verdict}", file=out)
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
def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="one tiny repeat of everything (for the smoke test)")
    parser.add_argument("--shapes", default=",".join(SHAPES),
                        help="comma-separated shapes, e.g. 2-2-2,64-32-10")
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
    parser.add_argument("--skip", default="",
                        help="leave out the rows whose names contain one of these "
                             "comma-separated words, e.g. micrograd,numpy")
    args = parser.parse_args(argv)
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
    for shape in args.shapes.split(","):
        problem = Problem([int(n) for n in shape.split("-")], args.hidden, args.output)
        impls, notes = implementations(problem, skip_micrograd)
        skipped = [name for name in args.skip.split(",") if name]
        notes += [f"{impl.name}: skipped (--skip)" for impl in impls
                  if any(name in impl.name for name in skipped)]
        impls = [impl for impl in impls if not any(name in impl.name for name in skipped)]
        agreement = check_agreement(impls, problem)
        if agreement > 1e-9:
            raise SystemExit(f"{problem.name}: implementations disagree after one step "
                             f"(max relative difference {agreement:.1e})")
        with blas_threads(1):
            rows = run_shape(problem, impls, args.repeats, args.block, CLOCKS[args.clock])
        print_table(problem, rows, notes, agreement, out)
        missed += print_ratios(problem, ratios(problem, rows), out)
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
