"""What every compressor shares: the interface, the world-size contract, the payload envelope.

The interface (used by `minigrad.distributed.DistributedDataParallel`, which is
the only place that knows about MPI):

    payload = compressor.compress(x, key=None)   # x: 1-D float array (NumPy or CuPy)
    y = compressor.decompress(payload)           # 1-D float32 NumPy array

`payload` is a NumPy uint8 array holding the real bytes that go on the wire
(`payload.nbytes` is the true size); it describes itself, so `decompress` needs
nothing else. `key` names the tensor or bucket being compressed: stateful
compressors (TopK's error feedback) keep one state per key.

World size. Every compressor encodes an estimate of x / world_size, so the
rank-ordered sum of the decoded payloads of all ranks is the average gradient:

    compressor.world_size = p                    # DDP sets this once
    mean = compressor.aggregate(all_gathered_payloads)

FP16 needs the division *before* the cast so that the sum of p values stays in
float16 range; the others do it for one uniform contract.

Payload envelope: magic b"mg", one kind byte, a version byte, then the CRC-32
of everything after it (zlib.crc32, the ISO-HDLC polynomial), so a truncated or
corrupted payload fails loudly with a ValueError instead of decoding to a
silently wrong gradient.
"""
import struct
import zlib

import numpy as np

from minigrad import backend

MAGIC = b"mg"
VERSION = 1
ENVELOPE = struct.Struct("<2scBI")     # magic, kind, version, crc32


def host_vector(x, op):
    """`x` as a 1-D float NumPy array (CuPy arrays are copied to the host)."""
    if not isinstance(x, np.ndarray):
        if not backend.is_cupy_array(x):
            raise TypeError(f"{op}: expected a NumPy or CuPy array, got {type(x).__name__}")
        x = backend.to_numpy(x)
    if x.ndim != 1 or x.dtype.kind != "f":
        raise ValueError(f"{op}: expected a 1-D float array, got shape {x.shape} dtype {x.dtype}")
    return x.astype(np.float32) if x.dtype.itemsize < 4 else x


class Compressor:
    """Base class: `compress(x, key=None) -> payload`, `decompress(payload) -> float32`."""

    kind = b"?"        # one byte naming the payload format

    def __init__(self, world_size=1):
        self.world_size = world_size

    @property
    def world_size(self):
        return self._world_size

    @world_size.setter
    def world_size(self, value):
        if int(value) != value or value < 1:
            raise ValueError(f"{type(self).__name__}: world_size must be a positive integer, "
                             f"got {value!r}")
        self._world_size = int(value)

    def compress(self, x, key=None):
        raise NotImplementedError

    def decompress(self, payload):
        raise NotImplementedError

    def aggregate(self, payloads):
        """Decode payloads and add them in the given (rank) order: the mean of the inputs.

        The same order on every rank gives bitwise-identical results everywhere.
        """
        total = None
        for payload in payloads:
            value = self.decompress(payload)
            total = value.copy() if total is None else total + value
        if total is None:
            raise ValueError(f"{type(self).__name__}.aggregate: no payloads")
        return total

    # ---- payload envelope ------------------------------------------------------------
    def _seal(self, fields, *parts):
        """Envelope + packed header `fields` + the raw bytes of each array in `parts`."""
        body = np.concatenate([np.frombuffer(fields, np.uint8)]
                              + [np.ascontiguousarray(p).view(np.uint8).reshape(-1) for p in parts])
        envelope = ENVELOPE.pack(MAGIC, self.kind, VERSION, zlib.crc32(body))
        return np.concatenate([np.frombuffer(envelope, np.uint8), body])

    def _open(self, payload, fields):
        """Check the envelope; return (header values, the bytes after the header)."""
        name = f"{type(self).__name__}.decompress"
        if not isinstance(payload, np.ndarray) or payload.dtype != np.uint8 or payload.ndim != 1:
            raise TypeError(f"{name}: payload must be a 1-D uint8 NumPy array, got "
                            f"{type(payload).__name__} {getattr(payload, 'dtype', '')}"
                            f"{getattr(payload, 'shape', '')}")
        if payload.size < ENVELOPE.size:
            raise ValueError(f"{name}: truncated payload: {payload.size} bytes")
        magic, kind, version, crc = ENVELOPE.unpack(payload[: ENVELOPE.size].tobytes())
        if magic != MAGIC:
            raise ValueError(f"{name}: not a minigrad payload (magic {magic!r})")
        if kind != self.kind:
            raise ValueError(f"{name}: payload of kind {kind!r}, expected {self.kind!r}")
        if version != VERSION:
            raise ValueError(f"{name}: payload format version {version}, expected {VERSION}")
        if payload.size < ENVELOPE.size + fields.size:
            raise ValueError(f"{name}: truncated payload: {payload.size} bytes, the header alone "
                             f"needs {ENVELOPE.size + fields.size}")
        body = np.ascontiguousarray(payload[ENVELOPE.size:])
        if zlib.crc32(body) != crc:
            raise ValueError(f"{name}: truncated or corrupted payload (CRC-32 mismatch, "
                             f"{payload.size} bytes)")
        return fields.unpack(body[: fields.size].tobytes()), body[fields.size:]

    @staticmethod
    def _expect_size(name, what, got, expected):
        if got != expected:
            raise ValueError(f"{name}: corrupted payload: {what} holds {got} bytes, "
                             f"its header says {expected}")
