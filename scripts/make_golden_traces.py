"""Write the golden traces: the exact bytes of ``neuronsim trace`` for each case below.

tests/test_trace_golden.py compares every case's output with its file in
tests/golden/; these files pin the feed-forward and sequence traces byte for
byte while the tracer and the renderer are reorganised.  Run this script
only when a change of a trace's text is meant (and say so in the commit):

    python scripts/make_golden_traces.py          # rewrite tests/golden/*
    python scripts/make_golden_traces.py --check  # compare only, exit 1 on a difference

A case is a name and the arguments of ``neuronsim trace`` (without
``--format``): each runs in every format of ``FORMATS[name]``.  Files that
only the golden tests use (an LSTM, a GRU, optimizers) are in
tests/golden/inputs/.
"""

import argparse
import contextlib
import io
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GOLDEN = os.path.join(ROOT, "tests", "golden")
INPUTS = os.path.join(GOLDEN, "inputs")

EXTENSIONS = {"plain": "txt", "markdown": "md", "latex": "tex", "html": "html"}
ALL = ("plain", "markdown", "latex", "html")


def _input(name):
    return os.path.join(INPUTS, name)


# name: (trace arguments, formats); "@name.json" is a file of tests/golden/inputs.
CASES = {
    # feed-forward
    "mazur": (["mazur"], ALL),
    "xor": (["xor"], ALL),
    "four-layer": (["four-layer"], ALL),
    "mazur-full-batch": (["mazur", "--batch-size", "full"], ("plain", "latex")),
    "four-layer-batches": (["four-layer", "--batch-size", "1", "--steps", "2"], ("markdown",)),
    "xor-batch-2": (["xor", "--batch-size", "2", "--steps", "2"], ("plain", "html")),
    "mazur-ng": (["mazur", "--convention", "ng"], ("plain", "html")),
    "mazur-bias-as-weight": (["mazur", "--bias-as-weight"], ("plain", "markdown", "latex")),
    "xor-digits-17": (["xor", "--digits", "17", "--steps", "2"], ("plain",)),
    "four-layer-filtered": (["four-layer", "--layer", "3", "4", "--neuron", "1"], ("plain",)),
    "mazur-sections": (["mazur", "--sections", "loss", "update"], ("plain",)),
    "mazur-adam": (["@mazur-adam.json", "--steps", "2"], ALL),
    "mazur-adam-full-batch": (["@mazur-adam.json", "--batch-size", "full"], ("plain",)),
    # sequences
    "rnn-parity": (["rnn-parity", "--sample", "6"], ALL),
    "rnn-parity-truncated": (["rnn-parity", "--sample", "6", "--truncation", "2"],
                             ("plain", "html")),
    "rnn-parity-batch": (["rnn-parity", "--batch-size", "2"], ("plain", "latex")),
    "rnn-parity-ng": (["rnn-parity", "--sample", "4", "--convention", "ng", "--digits", "17"],
                      ("markdown",)),
    "rnn-parity-filtered": (["rnn-parity", "--layer", "2", "--neuron", "2", "--times", "2", "3"],
                            ("plain",)),
    "rnn-parity-momentum": (["@rnn-parity-momentum.json", "--batch-size", "2"], ("plain",)),
    "long-range-elman": (["long-range-elman", "--times", "1", "20"], ("latex",)),
    "long-range-lstm": (["long-range-lstm", "--times", "1", "20"], ("plain",)),
    "stack-fixed-biases": (["@stack-fixed-biases.json"], ("plain", "html")),
    "stack-fixed-biases-batch": (["@stack-fixed-biases.json", "--batch-size", "full"],
                                 ("markdown",)),
    "stack-rmsprop": (["@stack-rmsprop.json", "--steps", "2"], ("plain", "latex")),
    "stack-rmsprop-batch": (["@stack-rmsprop.json", "--batch-size", "full"], ("plain",)),
    "tiny-gru": (["@tiny-gru.json"], ALL),
    "tiny-gru-truncated": (["@tiny-gru.json", "--truncation", "1", "--sample", "2"],
                           ("plain",)),
    "tiny-gru-batch": (["@tiny-gru.json", "--batch-size", "full"], ("plain", "markdown")),
    "tiny-lstm-adam": (["@tiny-lstm-adam.json"], ("plain", "html")),
}


def arguments(name, fmt):
    """The argv of ``neuronsim`` for one case in one format."""
    args, _ = CASES[name]
    args = [_input(a[1:]) if a.startswith("@") else a for a in args]
    return ["trace", *args, "--format", fmt, "--quiet"]


def golden_path(name, fmt):
    return os.path.join(GOLDEN, f"{name}.{EXTENSIONS[fmt]}")


def cases():
    """Every (name, format) pair, in order."""
    return [(name, fmt) for name, (_, formats) in CASES.items() for fmt in formats]


def run(name, fmt):
    """The text ``neuronsim trace`` prints for the case (raises on a non-zero exit)."""
    from neuronsim.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(arguments(name, fmt))
    if status != 0:
        raise RuntimeError(f"{name} ({fmt}): exit {status}: {err.getvalue().strip()}")
    return out.getvalue()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="compare with the files instead of writing them")
    args = parser.parse_args(argv)
    sys.path.insert(0, ROOT)
    different = []
    for name, fmt in cases():
        text = run(name, fmt)
        path = golden_path(name, fmt)
        if args.check:
            with open(path, encoding="utf-8", newline="") as f:
                if f.read() != text:
                    different.append(path)
        else:
            with open(path, "w", encoding="utf-8", newline="") as f:
                f.write(text)
    if args.check:
        for path in different:
            print(f"differs: {os.path.relpath(path, ROOT)}")
        print(f"{len(cases()) - len(different)} of {len(cases())} golden traces agree")
        return 1 if different else 0
    print(f"wrote {len(cases())} golden traces to {os.path.relpath(GOLDEN, ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
