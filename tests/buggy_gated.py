"""A user's vectorized LSTM and GRU, written independently of neuronsim (one
gated layer, then one dense layer; half_sse at every step; mean over the
batch; full BPTT), with each classic mistake behind a switch.

``lstm_user(mistake)`` and ``gru_user(mistake)`` return f(layers, X, Y) for
:func:`neuronsim.crosscheck.compare.compare`; mistake None is the correct code.
"""

import numpy as np


def _sig(x):
    return 1.0 / (1.0 + np.exp(-x))


def _dense(layer, H):
    Z = H @ layer["W"].T + layer["b"]
    return (np.tanh(Z), lambda A: 1.0 - A * A) if layer["activation"] == "tanh" else (Z, None)


def _top(layers, H_all, Y):
    """The dense layer on every step: its outputs, δ, dW, db and dE/dH (m, T, n)."""
    top = layers[1]
    m = H_all.shape[0]
    A, derivative = _dense(top, H_all)
    D = A - Y
    if derivative is not None:
        D = D * derivative(A)
    loss = 0.5 * ((A - Y) ** 2).sum() / m
    dW = np.einsum("mto,mth->oh", D, H_all) / m
    return A, D, dW, D.sum(axis=(0, 1)) / m, D @ top["W"], loss


def lstm_user(mistake=None, order="ifgo", at=None):
    """An LSTM as a student writes it; ``mistake`` one of None, "forget",
    "tanh_derivative", "order" (blocks read in ``order``), "h_for_c" (the gates
    read c[t-1]), "states_swapped" (dh and dc passed back swapped).  Any number
    of LSTM layers under the dense one; the mistake is made in every one of
    them, or only in ``layers[at]``."""
    def f(layers, X, Y):
        gated = layers[:-1]
        slips = [mistake if at is None or l == at else None for l in range(len(gated))]
        inputs, caches = X, []
        for p, slip in zip(gated, slips):
            H_all, cache = _lstm_forward(p, inputs, slip, order)
            caches.append(cache)
            inputs = H_all
        A, D, dW2, db2, dH_from_top, loss = _top([None, layers[-1]], inputs, Y)
        results = [None] * len(gated)
        for l in reversed(range(len(gated))):
            results[l], dH_from_top = _lstm_backward(gated[l], caches[l], dH_from_top, slips[l],
                                                     order, X.shape[0])
        return {"activations": [r["H"] for r in results] + [A],
                "deltas": [r["deltas"] for r in results] + [D], "loss": loss,
                "dW": [r["dW"] for r in results] + [dW2],
                "dU": [r["dU"] for r in results] + [None],
                "db": [r["db"] for r in results] + [db2],
                "db_hh": [r["db"] for r in results] + [None]}
    return f


def _lstm_blocks(p, mistake, order):
    names = order if mistake == "order" else "ifgo"

    def blocks(M):
        parts = np.split(M, 4, axis=0)
        return {q: parts[k] for k, q in enumerate(names)}
    return names, [blocks(p[k]) for k in ("W", "U", "b_ih", "b_hh")]


def _lstm_forward(p, X, mistake, order):
    """H (m, T, n) and what the backward pass needs."""
    m, T, _ = X.shape
    n = p["U"].shape[1]
    _, (W, U, bx, bh) = _lstm_blocks(p, mistake, order)
    h = np.tile(p["h0"], (m, 1))
    c = np.tile(p["c0"], (m, 1))
    cache, H_all = [], np.zeros((m, T, n))
    for t in range(T):
        x = X[:, t]
        read = c if mistake == "h_for_c" else h
        z = {q: x @ W[q].T + bx[q] + read @ U[q].T + bh[q] for q in "ifgo"}
        i, f_, g, o = _sig(z["i"]), _sig(z["f"]), np.tanh(z["g"]), _sig(z["o"])
        c_new = f_ * c + i * g
        h_new = o * np.tanh(c_new)
        cache.append((x, read, c, i, f_, g, o, c_new))
        h, c = h_new, c_new
        H_all[:, t] = h
    return H_all, cache


def _lstm_backward(p, cache, dH_from_top, mistake, order, m):
    """BPTT through one LSTM layer: its results and dE/dX (m, T, n_in) for the layer below."""
    names, (W, U, _, _) = _lstm_blocks(p, mistake, order)
    T = len(cache)
    n = p["U"].shape[1]
    grads = {q: np.zeros_like(W[q]) for q in "ifgo"}
    gradsU = {q: np.zeros_like(U[q]) for q in "ifgo"}
    gradsb = {q: np.zeros(n) for q in "ifgo"}
    deltas = np.zeros((m, T, 4 * n))
    dX = np.zeros((m, T, W["i"].shape[1]))
    H = np.zeros((m, T, n))
    dh_next, dc_next = np.zeros((m, n)), np.zeros((m, n))
    for t in reversed(range(T)):
        x, read, c_prev, i, f_, g, o, c_t = cache[t]
        tc = np.tanh(c_t)
        H[:, t] = o * tc
        dh = dH_from_top[:, t] / 1.0 + dh_next
        dc = dh * o * (1.0 if mistake == "tanh_derivative" else 1 - tc ** 2) + dc_next
        d = {"i": dc * g * i * (1 - i), "f": dc * c_prev * f_ * (1 - f_),
             "g": dc * i * (1 - g ** 2), "o": dh * tc * o * (1 - o)}
        for q in "ifgo":
            grads[q] += d[q].T @ x / m
            gradsU[q] += d[q].T @ read / m
            gradsb[q] += d[q].sum(axis=0) / m
        deltas[:, t] = np.concatenate([d[q] for q in names], axis=1)
        dX[:, t] = sum(d[q] @ W[q] for q in "ifgo")
        back = sum(d[q] @ U[q] for q in "ifgo")
        cell = dc if mistake == "forget" else dc * f_
        if mistake == "h_for_c":
            dh_next, dc_next = np.zeros_like(back), cell + back
        elif mistake == "states_swapped":
            dh_next, dc_next = cell, back
        else:
            dh_next, dc_next = back, cell

    def stacked(parts):
        return np.concatenate([parts[q] for q in names], axis=0)
    return {"H": H, "deltas": deltas, "dW": stacked(grads), "dU": stacked(gradsU),
            "db": stacked(gradsb)}, dX


def gru_user(mistake=None, order="rzn"):
    """torch's GRU as a student writes it; ``mistake`` one of None, "reversed"
    (h = z n + (1 - z) h[t-1]), "order" (blocks read in ``order``)."""
    def f(layers, X, Y):
        p = layers[0]
        m, T, _ = X.shape
        n = p["U"].shape[1]
        names = order if mistake == "order" else "rzn"

        def blocks(M):
            parts = np.split(M, 3, axis=0)
            return {q: parts[k] for k, q in enumerate(names)}

        W, U, bx, bh = (blocks(p[k]) for k in ("W", "U", "b_ih", "b_hh"))
        h = np.tile(p["h0"], (m, 1))
        cache, H_all = [], np.zeros((m, T, n))
        for t in range(T):
            x = X[:, t]
            r = _sig(x @ W["r"].T + bx["r"] + h @ U["r"].T + bh["r"])
            z = _sig(x @ W["z"].T + bx["z"] + h @ U["z"].T + bh["z"])
            s = h @ U["n"].T + bh["n"]
            nn = np.tanh(x @ W["n"].T + bx["n"] + r * s)
            h_new = z * nn + (1 - z) * h if mistake == "reversed" else (1 - z) * nn + z * h
            cache.append((x, h, r, z, s, nn))
            h = h_new
            H_all[:, t] = h
        A, D, dW2, db2, dH_from_top, loss = _top(layers, H_all, Y)
        gW = {q: np.zeros_like(W[q]) for q in "rzn"}
        gU = {q: np.zeros_like(U[q]) for q in "rzn"}
        gbx = {q: np.zeros(n) for q in "rzn"}
        gbh = {q: np.zeros(n) for q in "rzn"}
        deltas = np.zeros((m, T, 3 * n))
        dh_next = np.zeros((m, n))
        for t in reversed(range(T)):
            x, h_prev, r, z, s, nn = cache[t]
            dh = dH_from_top[:, t] + dh_next
            if mistake == "reversed":
                dn, dz, direct = dh * z, dh * (nn - h_prev), dh * (1 - z)
            else:
                dn, dz, direct = dh * (1 - z), dh * (h_prev - nn), dh * z
            d_n = dn * (1 - nn ** 2)
            d = {"r": d_n * s * r * (1 - r), "z": dz * z * (1 - z), "n": d_n}
            dh_side = {"r": d["r"], "z": d["z"], "n": r * d_n}
            for q in "rzn":
                gW[q] += d[q].T @ x / m
                gbx[q] += d[q].sum(axis=0) / m
                gU[q] += dh_side[q].T @ h_prev / m
                gbh[q] += dh_side[q].sum(axis=0) / m
            deltas[:, t] = np.concatenate([d[q] for q in names], axis=1)
            dh_next = direct + sum(dh_side[q] @ U[q] for q in "rzn")
        def stacked(parts):
            return np.concatenate([parts[q] for q in names], axis=0)
        return {"activations": [H_all, A], "deltas": [deltas, D], "loss": loss,
                "dW": [stacked(gW), dW2], "dU": [stacked(gU), None],
                "db": [stacked(gbx), db2], "db_hh": [stacked(gbh), None]}
    return f
