"""Gradient compression: arrays in, bytes out; no MPI in here.

    QSGD(levels, bucket_size=512, seed=None)   Alistarh et al. 2017, Elias-coded payload
    TopKSparsifier(ratio)                      largest |x_i|, no memory
    TopK(ratio)                                = ErrorFeedback(TopKSparsifier(ratio))
    ScaledSign(), EFSign()                     ||x||_1/d sign(x); EF-signSGD (Karimireddy et al. 2019)
    FP16()                                     half precision, pre-divided by world size
    NoCompression()                            float32 as is
    ErrorFeedback(compressor)                  per-key residual around any compressor (feedback.py)
    DGC(sparsity=0.999, momentum=0.9, ...)     Deep Gradient Compression (Lin et al. 2018)
    PowerSGDState(...), low-rank helpers       PowerSGD (Vogels et al. 2019); the hook is in
                                               minigrad.distributed.comm_hooks

`compress(x, key=None) -> uint8 payload`, `decompress(payload) -> float32`;
see `base.py` for the contract that `DistributedDataParallel` relies on.
"""
from minigrad.compress.base import Compressor
from minigrad.compress.dgc import DGC
from minigrad.compress.feedback import ErrorFeedback
from minigrad.compress.fp16 import FP16, NoCompression
from minigrad.compress.powersgd import PowerSGDState
from minigrad.compress.qsgd import QSGD
from minigrad.compress.sign import EFSign, ScaledSign
from minigrad.compress.topk import TopK, TopKSparsifier

__all__ = ["Compressor", "QSGD", "TopK", "TopKSparsifier", "ScaledSign", "EFSign", "FP16",
           "NoCompression", "ErrorFeedback", "DGC", "PowerSGDState"]
