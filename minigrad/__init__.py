"""minigrad: a small, readable deep-learning framework on NumPy and CuPy.

    import minigrad as mg
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    x.grad            # tensor([2., 4.])
"""
import os

# Under mpiexec several ranks share the machine's cores; a multi-threaded BLAS in
# each rank then spins against the others (measured: 10-20x slower). One BLAS
# thread per rank is the usual MPI practice; set before NumPy loads its BLAS.
if any(v in os.environ for v in ("PMI_RANK", "OMPI_COMM_WORLD_SIZE", "PMIX_RANK")):
    for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_var, "1")

from minigrad import autograd, backend, functions  # noqa: E402
from minigrad.autograd import gradcheck
from minigrad.config import (
    enable_grad, get_default_dtype, is_grad_enabled, manual_seed, no_grad, set_default_dtype,
)
from minigrad.functions import (
    abs, amax, amin, argmax, argmin, cast, cat, chunk, clamp, clip, clone, concat, cos, cumsum,
    dropout, einsum, embedding, eq, erf, exp, expand, flatten, gather, ge, gelu, gt, le, linear,
    log, log_softmax, logical_and, logical_not, logical_or, logical_xor, logsumexp, lt, masked_fill,
    matmul, max, maximum, mean, min, minimum, ne, one_hot, permute, relu, repeat, reshape, rsqrt,
    sigmoid, silu, sin, softmax, sort, split, sqrt, squeeze, stack, std, sum, tanh, topk, transpose,
    tril, triu, unsqueeze, var, where,
)
from minigrad.serialization import load, save
from minigrad.creation import (
    arange, empty, eye, full, full_like, multinomial, ones, ones_like, rand, rand_like, randn,
    randn_like, tensor, zeros, zeros_like,
)
from minigrad.tensor import result_type
# dtype names as in torch (``mg.float32``); they are NumPy's scalar types
from numpy import bool_ as bool, float16, float32, float64, int8, int16, int32, int64, uint8  # noqa: E402,A004
# torch's other spellings of the same dtypes (mg.long, mg.float, ...)
long, int, float, double, half = int64, int32, float32, float64, float16  # noqa: A001
from minigrad.tensor import Function, Tensor
from minigrad import nn, optim  # noqa: E402  (they build on everything above)

__version__ = "0.1.0"
