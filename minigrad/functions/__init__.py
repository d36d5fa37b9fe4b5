"""Every differentiable op, as a Function class (CamelCase) and a lowercase wrapper."""
from minigrad.functions.arithmetic import (
    add, broadcast_to, div, linear, matmul, mul, neg, pow, sub, sum_to,
)
from minigrad.functions.broadcast import expand, expand_as, repeat
from minigrad.functions.comparison import (
    bitwise_and, bitwise_not, bitwise_or, bitwise_xor, eq, ge, gt, le, logical_and, logical_not,
    logical_or, logical_xor, lt, ne,
)
from minigrad.functions.einsum import einsum
from minigrad.functions.elementwise import (
    abs, cast, clamp, clip, cos, erf, exp, gelu, log, maximum, minimum, relu, rsqrt, sigmoid, silu,
    sin, sqrt, tanh, to_device, where,
)
from minigrad.functions.indexing import embedding, gather, getitem, masked_fill, one_hot, tril, triu
from minigrad.functions.reduction import (
    amax, amin, argmax, argmin, cumsum, log_softmax, logsumexp, max, mean, min, softmax, sort, std,
    sum, topk, var,
)
from minigrad.functions.shape import (
    cat, chunk, clone, concat, dropout, flatten, permute, reshape, split, squeeze, stack, transpose,
    unsqueeze,
)

__all__ = [
    "abs", "add", "amax", "amin", "argmax", "argmin", "bitwise_and", "bitwise_not", "bitwise_or",
    "bitwise_xor", "broadcast_to", "cast", "cat", "chunk", "clamp", "clip", "clone", "concat", "cos",
    "cumsum", "div", "dropout", "einsum", "embedding", "eq", "erf", "exp", "expand", "expand_as",
    "flatten", "gather", "ge", "gelu", "getitem", "gt", "le", "linear", "log", "log_softmax",
    "logical_and", "logical_not", "logical_or", "logical_xor", "logsumexp", "lt", "masked_fill",
    "matmul", "max", "maximum", "mean", "min", "minimum", "mul", "ne", "neg", "one_hot", "permute",
    "pow", "relu", "repeat", "reshape", "rsqrt", "sigmoid", "silu", "sin", "softmax", "sort", "split",
    "sqrt", "squeeze", "stack", "std", "sub", "sum", "sum_to", "tanh", "to_device", "topk",
    "transpose", "tril", "triu", "unsqueeze", "var", "where",
]
