"""Every differentiable op, as a Function class (CamelCase) and a lowercase wrapper."""
from minigrad.functions.arithmetic import (
    add, broadcast_to, div, linear, matmul, mul, neg, pow, sub, sum_to,
)
from minigrad.functions.elementwise import (
    cast, clip, erf, exp, gelu, log, relu, sigmoid, sqrt, tanh, to_device, where,
)
from minigrad.functions.reduction import logsumexp, log_softmax, max, mean, softmax, sum
from minigrad.functions.shape import (
    concat, dropout, embedding, getitem, reshape, stack, transpose,
)

__all__ = [
    "add", "broadcast_to", "cast", "clip", "concat", "div", "dropout", "embedding", "erf", "exp",
    "gelu", "getitem", "linear", "log", "log_softmax", "logsumexp", "matmul", "max", "mean", "mul",
    "neg", "pow", "relu", "reshape", "sigmoid", "softmax", "sqrt", "stack", "sub", "sum", "sum_to",
    "tanh", "to_device", "transpose", "where",
]
