"""bfloat16 emulated in NumPy: float32 storage, 8 significant bits.

bfloat16 ("brain float", Kalamkar et al. 2019, "A Study of BFLOAT16 for Deep
Learning Training", section 2) is the top half of an IEEE float32: 1 sign bit,
the same 8 exponent bits (so the same range, ~1e-38 .. 3.4e38) and 7 stored
mantissa bits (so a spacing of 2^-7 relative, against float32's 2^-23).
NumPy has no bfloat16 dtype, so minigrad keeps bf16 values in float32 arrays
whose low 16 bits are zero: every value is exactly representable in bf16 and
every float32 op on them computes what bf16 hardware does before it rounds
its result (GPUs accumulate bf16 products in float32 too).

Rounding float32 -> bf16 to nearest, ties to even, on the bit pattern u:

    keep = u >> 16                        the upper half, a candidate answer
    u'   = u + 0x7FFF + (keep & 1)        add just under half an ulp, plus 1 if keep is odd
    bf16 = u' & 0xFFFF0000                drop the low half

A low half above 0x8000 carries into ``keep`` (round up), below it does not,
and exactly 0x8000 carries only when ``keep`` is odd (ties to even). A carry
out of the mantissa bumps the exponent, which is also right (it may give inf,
as it should for values past bf16's largest finite number). NaN is the one
case the arithmetic would get wrong (a NaN's payload could carry into inf), so
NaNs are written as 0xFFFF0000, the quiet NaN PyTorch's vectorised CPU
conversion ``.to(torch.bfloat16)`` produces for every NaN input.
"""
import numpy as np

from minigrad import backend

_NAN_BITS = 0xFFFF0000


def round_to_bfloat16(x):
    """float32 array -> float32 array of the nearest bf16 values (ties to even); NaN stays NaN."""
    xp = backend.get_array_module(x)
    if x.dtype != np.float32:
        raise TypeError(f"round_to_bfloat16: expects a float32 array, got dtype {x.dtype}")
    bits = xp.ascontiguousarray(x).view(xp.uint32)
    odd = (bits >> 16) & 1
    rounded = (bits + (0x7FFF + odd)) & xp.uint32(0xFFFF0000)
    rounded = xp.where(xp.isnan(x), xp.uint32(_NAN_BITS), rounded)
    return rounded.view(xp.float32)


def is_bfloat16_exact(x):
    """True where the float32 values already are bf16 values (low 16 bits zero)."""
    xp = backend.get_array_module(x)
    return (xp.ascontiguousarray(x).view(xp.uint32) & 0xFFFF) == 0
