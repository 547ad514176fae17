"""A/B timing of two versions of neuronsim in one process: the installed one against an older
copy, one online training step (forward, back_prop, update) at several shapes.

    git worktree add /tmp/old <commit>
    cp -r /tmp/old/neuronsim /tmp/ab/neuronsim_before      # the package, renamed
    python scripts/ab_versions.py /tmp/ab                   # new/old ratio per shape

The old copy must use relative imports inside the package (every version so far does).
Blocks of steps of each version alternate, so a slow second of a shared machine hits both;
the result is the median over repeats of CPU time per step, and the ratio new/old.  Both
versions start from the same weights and must end on bit-identical weights, biases and
deltas (online at two learning rates and in mini-batches, relu and sigmoid hidden layers)
before anything is timed.
"""

import argparse
import importlib
import math
import random
import statistics
import sys
import time


def build(package, sizes, seed=0):
    rng = random.Random(seed)
    weights = [[[rng.uniform(-0.5, 0.5) for _ in range(n_in)] for _ in range(n_out)]
               for n_in, n_out in zip(sizes, sizes[1:])]
    biases = [[rng.uniform(-0.1, 0.1) for _ in range(n_out)] for n_out in sizes[1:]]
    acts = ["relu"] * (len(sizes) - 2) + ["linear"]
    return package.Network.from_arrays(weights, biases, acts, "half_sse")


def parameters(net):
    """Every weight and bias, and the last step's δ of every neuron, in order."""
    neurons = [n for layer in net.layers for n in layer.neurons]
    return ([w for n in neurons for w in n.weights] + [n.bias for n in neurons]
            + [n.delta for n in neurons])


def check_bit_identical(new, old, sizes, samples):
    """Both versions must end on the same bits: online steps at η = 0.001 and at
    η = 0.3 (not a power of two, so that η·x rounds and every last bit of the update
    counts), and mini-batches of 4 through train() at η = 0.3, each with relu and
    sigmoid hidden layers.  ``==`` on floats would let -0.0 pass for 0.0: the
    comparison is on repr."""
    for hidden in ("relu", "sigmoid"):
        for rate, batch in ((0.001, 1), (0.3, 1), (0.3, 4)):
            ends = []
            for package in (new, old):
                net = build(package, sizes)
                for layer in net.layers[:-1]:
                    layer.activation = package.get_activation(hidden)
                    for neuron in layer.neurons:
                        neuron.activation = layer.activation
                if batch == 1:
                    for x, t in samples:
                        net.step(x, t, rate)
                else:
                    net.train(samples, epochs=2, learning_rate=rate, batch_size=batch)
                values = parameters(net)
                if not values or not all(math.isfinite(value) for value in values):
                    raise SystemExit(f"{'-'.join(map(str, sizes))}: {package.__name__} ended "
                                     f"with no parameters or a NaN/infinite one ({hidden} "
                                     f"hidden layers, η = {rate}): nothing to compare")
                ends.append(list(map(repr, values)))
            if ends[0] != ends[1]:
                raise SystemExit(f"{'-'.join(map(str, sizes))}: the two versions disagree "
                                 f"({hidden} hidden layers, η = {rate}, batches of {batch})")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old_parent", help="folder that holds the old copy as neuronsim_before/")
    parser.add_argument("--shapes", default="2-2-2,4-2-2-1,64-32-10")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--block", type=float, default=0.05, help="seconds per block")
    args = parser.parse_args()
    sys.path.insert(0, args.old_parent)
    new = importlib.import_module("neuronsim")
    old = importlib.import_module("neuronsim_before")
    print(f"new: {new.__file__}\nold: {old.__file__}")
    for shape in args.shapes.split(","):
        sizes = [int(s) for s in shape.split("-")]
        rng = random.Random(1)
        samples = [([rng.uniform(-1, 1) for _ in range(sizes[0])],
                    [rng.uniform(-1, 1) for _ in range(sizes[-1])]) for _ in range(16)]
        check_bit_identical(new, old, sizes, samples)
        nets = {"new": build(new, sizes), "old": build(old, sizes)}
        calls = {}
        for name, net in nets.items():   # steps per block
            start, count = time.process_time(), 0
            while time.process_time() - start < args.block:
                x, t = samples[count % 16]
                net.step(x, t, 0.001)
                count += 1
            calls[name] = count
        per_step = {"new": [], "old": []}
        order = ["new", "old"]
        for repeat in range(args.repeats):
            for name in order:
                net, n = nets[name], calls[name]
                start = time.process_time()
                for i in range(n):
                    x, t = samples[i % 16]
                    net.step(x, t, 0.001)
                per_step[name].append((time.process_time() - start) / n)
            order.reverse()
        medians = {name: statistics.median(v) for name, v in per_step.items()}
        ratios = sorted(a / b for a, b in zip(per_step["new"], per_step["old"]))
        print(f"{shape:>10}: new {medians['new'] * 1e6:8.1f} µs/step, "
              f"old {medians['old'] * 1e6:8.1f} µs/step, new/old {medians['new'] / medians['old']:.3f} "
              f"(per-repeat ratios {ratios[0]:.3f}..{ratios[-1]:.3f})")


if __name__ == "__main__":
    main()
