"""What LARS and LAMB share: a per-layer trust ratio, and the parameters it should skip.

Both rescale each layer's step by a ratio of norms, ||w|| / ||step direction||,
so every layer moves by about the same *relative* amount whatever the scale of
its gradient (You, Gitman & Ginsburg 2017, sec. 3: with large batches the ratio
||w|| / ||g|| differs by orders of magnitude between layers, and one global lr is
too large for some layers and too small for others).

Biases and normalisation gains are usually left out (no trust ratio, no weight
decay): they are vectors whose norm says little about a useful step size. Both
optimizers read a per-group option ``trust_ratio`` (default True); a group with
``trust_ratio=False`` takes the plain step (LARS: SGD with momentum, LAMB: Adam
with decoupled weight decay). ``exclude_bias_and_norm`` builds those groups.

A zero norm (a layer initialised to zeros, or a zero gradient) would make the
ratio 0 (the layer never moves) or a division by zero. Both optimizers then use
ratio 1, the plain step, as NVIDIA's LARC and most LAMB code do; the papers
leave the case open.
"""


def exclude_bias_and_norm(named_parameters, weight_decay):
    """Two groups: tensors with >= 2 dimensions (weights: decayed, adapted) and the rest (biases, norm gains).

    ``named_parameters``: the (name, tensor) pairs of ``module.named_parameters()``.
    The second group gets ``weight_decay=0`` and ``trust_ratio=False``. The test
    on dimensions is the common heuristic (nanoGPT's configure_optimizers uses it
    for weight decay); pass your own groups when it does not fit.
    """
    named = list(named_parameters)
    weights = [p for _, p in named if p.ndim >= 2]
    others = [p for _, p in named if p.ndim < 2]
    groups = [{"params": weights, "weight_decay": weight_decay}]
    if others:
        groups.append({"params": others, "weight_decay": 0.0, "trust_ratio": False})
    return groups
