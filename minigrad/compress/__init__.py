"""Gradient compression: arrays in, bytes out; no MPI in here.

    QSGD(levels, bucket_size=512, seed=None)   Alistarh et al. 2017, Elias-coded payload
    TopK(ratio)                                largest |x_i| with error feedback
    FP16()                                     half precision, pre-divided by world size
    NoCompression()                            float32 as is

`compress(x, key=None) -> uint8 payload`, `decompress(payload) -> float32`;
see `base.py` for the contract that `DistributedDataParallel` relies on.
"""
from minigrad.compress.base import Compressor
from minigrad.compress.fp16 import FP16, NoCompression
from minigrad.compress.qsgd import QSGD
from minigrad.compress.topk import TopK

__all__ = ["Compressor", "QSGD", "TopK", "FP16", "NoCompression"]
