"""Textbook labels for every quantity, and the two weight conventions.

Textbook numbering: the input layer is layer 1 and neurons count from 1.
The Python API is 0-based: ``net.layers[0]`` is textbook layer 2 (the first
layer with weights) and ``neurons[0]`` is neuron 1.  So

    net.layers[l].neurons[j].weights[k]   is   w_(j+1)(k+1)^(l+2)   (ours)

Two conventions for a weight's layer superscript (``convention=``):

``"nielsen"`` (default; Nielsen's book, the matrix W^(l) of docs/notation.md)
    w_jk^(l) connects neuron k of layer l-1 to neuron j of layer l; the
    superscript is the layer the weight feeds *into*.  b_j^(l) is neuron j's
    bias in layer l.
``"ng"`` (Andrew Ng's course, the "four-layer" article)
    W^(l) maps layer l to layer l+1, so their w_jk^(l) feeds neuron j of
    layer l+1: the superscript is the layer the weight comes *from*, one less
    than ours.  Biases follow the weights (b_j^(l) feeds z_j^(l+1)).

Labels for z, a, δ and g'(z) are the same in both conventions.
"""

CONVENTIONS = ("nielsen", "ng")

_SUB = str.maketrans("0123456789,", "₀₁₂₃₄₅₆₇₈₉,")
_SUP = str.maketrans("0123456789()", "⁰¹²³⁴⁵⁶⁷⁸⁹⁽⁾")

_SYMBOLS = {
    # kind: (text, latex, html)
    "z": ("z", "z", "z"),
    "a": ("a", "a", "a"),
    "delta": ("δ", r"\delta", "&delta;"),
    "w": ("w", "w", "w"),
    "u": ("u", "u", "u"),
    "b": ("b", "b", "b"),
    "t": ("t", "t", "t"),
}

STYLES = ("text", "latex", "html", "ascii")


def check_convention(convention):
    if convention not in CONVENTIONS:
        raise ValueError(f"unknown convention {convention!r} (known: nielsen, ng)")
    return convention


def textbook_layer(layer_index):
    """Python layer index (net.layers[i]) -> textbook layer number (inputs = 1)."""
    return layer_index + 2


def weight_superscript(layer_index, convention="nielsen"):
    """The superscript printed on a weight or bias of ``net.layers[layer_index]``."""
    check_convention(convention)
    return layer_index + 2 if convention == "nielsen" else layer_index + 1


def symbol(kind, subscripts, superscript=None, style="text"):
    """Render e.g. symbol("w", (1, 2), 3) as w₁₂⁽³⁾ / w_{12}^{(3)} / ..."""
    text, latex, html = _SYMBOLS[kind]
    subs = [str(s) for s in subscripts]
    joined = ("," if any(len(s) > 1 for s in subs) else "").join(subs)
    if style == "text":
        out = text + joined.translate(_SUB)
        if superscript is not None:
            out += f"({superscript})".translate(_SUP)
        return out
    if style == "latex":
        out = f"{latex}_{{{joined}}}" if joined else latex
        if superscript is not None:
            out += f"^{{({superscript})}}"
        return out
    if style == "html":
        out = f"{html}<sub>{joined}</sub>" if joined else html
        if superscript is not None:
            out += f"<sup>({superscript})</sup>"
        return out
    if style == "ascii":
        ascii_name = {"delta": "delta"}.get(kind, text)
        out = f"{ascii_name}_{joined}" if joined else ascii_name
        if superscript is not None:
            out += f"^({superscript})"
        return out
    raise ValueError(f"unknown label style {style!r}")


def neuron_label(kind, layer_index, neuron_index, style="text"):
    """z, a or delta of ``net.layers[layer_index].neurons[neuron_index]``.

    ``layer_index`` -1 means the input layer (textbook layer 1), whose
    activations a_k^(1) are the inputs x_k.
    """
    kind = {"output": "a", "δ": "delta"}.get(kind, kind)
    return symbol(kind, (neuron_index + 1,), layer_index + 2, style)


def weight_label(layer_index, neuron_index, input_index, convention="nielsen", style="text"):
    """w_jk^(l) of ``net.layers[layer_index].neurons[neuron_index].weights[input_index]``."""
    sup = weight_superscript(layer_index, convention)
    return symbol("w", (neuron_index + 1, input_index + 1), sup, style)


def bias_label(layer_index, neuron_index, convention="nielsen", style="text",
               as_weight=False):
    """b_j^(l), or w_j0^(l) when the bias is shown as a weight on a_0 = 1."""
    sup = weight_superscript(layer_index, convention)
    if as_weight:
        return symbol("w", (neuron_index + 1, 0), sup, style)
    return symbol("b", (neuron_index + 1,), sup, style)


def recurrent_weight_label(layer_index, neuron_index, from_index, style="text"):
    """u_ji^(l) of ``net.layers[layer_index].neurons[neuron_index].recurrent_weights[from_index]``:
    from neuron i of the same layer at the step before.  The superscript is
    the layer's own number in both conventions (u feeds and leaves layer l)."""
    return symbol("u", (neuron_index + 1, from_index + 1), layer_index + 2, style)


def initial_state_label(layer_index, neuron_index, style="text"):
    """a_j^(l)[0], the initial state of a recurrent neuron."""
    return neuron_label("a", layer_index, neuron_index, style) + "[0]"


def target_label(neuron_index, style="text"):
    return symbol("t", (neuron_index + 1,), None, style)


def partial_label(of_label, style="text"):
    """dE/dx for a label x (∂E/∂x in LaTeX)."""
    if style == "latex":
        return rf"\frac{{\partial E}}{{\partial {of_label}}}"
    if style == "html":
        return f"&part;E/&part;{of_label}"
    return f"dE/d{of_label}"
