"""Write the bundled long-range examples (neuronsim/files/examples/long-range-*.json).

    python scripts/make_long_range_examples.py

Both networks: 2 inputs, 3 recurrent units, a sigmoid output, binary
cross-entropy at the last step, full BPTT, Adam at learning rate 0.01.  The
Elman file draws its weights itself (uniform, scale 0.5, seed 0).  The LSTM's
are drawn the same way (uniform, scale 0.5, seed 0), then the biases are set
as is usual for LSTMs: the forget gates' b^x = 3 (f ≈ 0.95: the cell keeps
what it holds), the input gates' b^x = -1 and b^h = 0 (i ≈ 0.27: the noise
is let in less), the cell candidates' b^x = b^h = 0 (c does not drift).
Eight sequences of neuronsim.classroom.datasets.long_range(8, 20, seed=0)
are the samples (for gradient-flow and train; the demo draws its own).
"""

import json
import os
import re

from neuronsim import Network
from neuronsim.classroom.datasets import long_range

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLES = os.path.join(os.path.dirname(HERE), "neuronsim", "files", "examples")
TASK = ("Remember the first input: a signal +1 or -1 on input 1 with a marker 1 on input 2 at "
        "t = 1, then 19 steps of noise (uniform in [-1, 1]) on input 1; the target, at the last "
        "step only, is 1 for +1 and 0 for -1. ")
COMMON = {"inputs": 2, "loss": "binary_cross_entropy", "step_loss": "sum", "truncation": None,
          "learning_rate": 0.01, "optimizer": {"name": "adam"}, "reduction": "mean"}
OUTPUT = {"type": "dense", "activation": "sigmoid", "size": 1, "init": "uniform", "seed": 100}


def samples():
    return [{"input": xs, "target": t} for xs, t in long_range(8, 20, 1.0, seed=0)]


def elman():
    return dict(format="neuronsim-network", version=1, name="long-range-elman",
                description=TASK + "An Elman layer of 3 tanh units (weights uniform in "
                "[-0.5, 0.5], seed 0) and a sigmoid output (seed 100); Adam, learning rate "
                "0.01, one sequence per step. `neuronsim demo long-range` trains it next to "
                "long-range-lstm: it stays at chance.",
                layers=[{"type": "recurrent", "activation": "tanh", "size": 3,
                         "init": "uniform", "scale": 0.5, "seed": 0}, OUTPUT],
                **COMMON, samples=samples())


def lstm():
    net = Network.from_spec({"inputs": 2, "loss": "binary_cross_entropy", "layers": [
        {"type": "lstm", "size": 3, "init": "uniform", "scale": 0.5, "seed": 0}, OUTPUT]})
    layer = net.layers[0]
    for neuron in layer.gates["forget"]:
        neuron.bias_ih = 3.0
    for neuron in layer.gates["input"]:
        neuron.bias_ih, neuron.bias_hh = -1.0, 0.0
    for neuron in layer.gates["cell"]:
        neuron.bias_ih = neuron.bias_hh = 0.0
    gated = net.to_spec()["layers"][0]
    return dict(format="neuronsim-network", version=1, name="long-range-lstm",
                description=TASK + "An LSTM layer of 3 units (weights uniform in [-0.5, 0.5], "
                "seed 0; forget gates b^x = 3, input gates b^x = -1 and b^h = 0, cell "
                "candidates b^x = b^h = 0: scripts/make_long_range_examples.py) and a sigmoid "
                "output (seed 100); Adam, learning rate 0.01, one sequence per step. "
                "`neuronsim demo long-range` trains it next to long-range-elman: it learns.",
                layers=[gated, OUTPUT], **COMMON, samples=samples())


def compact(spec):
    """JSON with two-space indents, each list of numbers (or of such lists) on one
    line, and one line per sample."""
    rest = {key: value for key, value in spec.items() if key != "samples"}
    text = json.dumps(rest, indent=2)
    flat = r"\[\s*((?:-?[\d.eE+-]+,\s*)*-?[\d.eE+-]+)\s*\]"
    rows = r"\[\s*((?:\[[^\[\]]*\],\s*)*\[[^\[\]]*\])\s*\]"
    text = re.sub(flat, lambda m: "[" + ", ".join(v.strip() for v in m.group(1).split(",")) + "]",
                  text)
    text = re.sub(rows, lambda m: "[" + re.sub(r"\],\s*\[", "], [", m.group(1)) + "]", text)
    samples = ",\n".join("    " + json.dumps(sample) for sample in spec["samples"])
    return text[:-2] + ',\n  "samples": [\n' + samples + "\n  ]\n}"


def main():
    for name, spec in (("long-range-elman", elman()), ("long-range-lstm", lstm())):
        with open(os.path.join(EXAMPLES, f"{name}.json"), "w", encoding="utf-8") as f:
            f.write(compact(spec) + "\n")


if __name__ == "__main__":
    main()
