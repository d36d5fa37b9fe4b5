"""QSGD robustness regressions: tiny-norm buckets stay unbiased; forged headers are refused early."""
import struct
import tracemalloc
import zlib

import numpy as np
import pytest

from minigrad.compress import QSGD
from minigrad.compress.base import ENVELOPE, MAGIC, VERSION


def test_a_float32_bucket_with_a_tiny_norm_stays_unbiased():
    # s / ||v|| overflows float32 (||v|| is subnormal); the old code then sent every non-zero
    # at level s, i.e. at the full norm: E[Q(v)_i] = ||v|| sign(v_i) instead of v_i.
    scale = 1e-40
    x = np.array([3.0, 1.0, 0.0, -2.0, 0.5], np.float32) * np.float32(scale)
    qsgd = QSGD(4, None, seed=0)
    trials = 4000
    total = np.zeros(x.size)
    for _ in range(trials):
        total += qsgd.decompress(qsgd.compress(x)).astype(np.float64)
    norm = np.linalg.norm(x.astype(np.float64) / scale) * scale
    # per coordinate: std <= ||v|| / (2 s); the mean over trials is 60 standard errors tighter
    tolerance = 4 * norm / (2 * 4) / np.sqrt(trials)
    np.testing.assert_allclose(total / trials, x, rtol=0, atol=tolerance)


def test_float64_tiny_bucket_norm_is_computed_without_underflow():
    x = np.array([3.0, 4.0]) * 1e-200         # the squares flush to 0: the old norm was 0, Q(x) = 0
    norms = QSGD(4, None, seed=0).bucket_norms(x)
    # 5e-200 is below float32's range: stored as the smallest positive float32, rounded UP
    assert norms[0] > 0 and norms[0] == np.nextafter(np.float32(0), np.float32(1))
    assert QSGD(2, None, seed=0).variance(x) > 0


def forged_payload(n, bucket_size, count, per_chunk, norms, chunk_bits, stream):
    header = struct.pack("<IIIIIH", n, bucket_size, 4, 1, count, per_chunk)
    body = header + norms.astype("<f4").tobytes() + chunk_bits.astype("<u2").tobytes() + stream
    envelope = ENVELOPE.pack(MAGIC, b"Q", VERSION, zlib.crc32(body))
    return np.frombuffer(envelope + body, np.uint8).copy()


def test_a_header_claiming_more_records_than_the_stream_holds_is_refused_before_allocating():
    # 50,000 chunks of 256 records = 12.8 M records claimed in ~106 KB: each record takes
    # at least 3 bits, so 6,250 stream bytes hold at most 16,666. The old decoder allocated
    # its (256, 50000) int64 table (102 MB) before noticing.
    chunks = 50_000
    payload = forged_payload(n=2**32 - 1, bucket_size=2**32 - 1, count=256 * chunks, per_chunk=256,
                             norms=np.ones(1), chunk_bits=np.ones(chunks - 1),
                             stream=b"\xff" * (chunks // 8))
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match="QSGD.decompress: corrupted payload: the header claims"):
            QSGD(4).decompress(payload)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * payload.nbytes, peak


def test_more_non_zeros_than_coordinates_is_refused():
    good = QSGD(4, 8, seed=0).compress(np.ones(8, np.float32))
    (n, d, s, p, count, per_chunk), = [struct.unpack("<IIIIIH", good[ENVELOPE.size:ENVELOPE.size + 22].tobytes())]
    assert count == 8
    body = bytearray(good[ENVELOPE.size:].tobytes())
    body[:22] = struct.pack("<IIIIIH", 4, d, s, p, count, per_chunk)         # n = 4 < 8 non-zeros
    envelope = ENVELOPE.pack(MAGIC, b"Q", VERSION, zlib.crc32(bytes(body)))
    with pytest.raises(ValueError, match="8 non-zeros of 4 coordinates"):
        QSGD(4).decompress(np.frombuffer(envelope + bytes(body), np.uint8).copy())


def test_bucket_larger_than_the_vector_is_written_as_the_vector_size():
    x = np.random.default_rng(0).standard_normal(100).astype(np.float32)
    payload = QSGD(4, 512, seed=0).compress(x)
    assert struct.unpack("<II", payload[ENVELOPE.size:ENVELOPE.size + 8].tobytes()) == (100, 100)
    np.testing.assert_array_equal(QSGD(4, 512, seed=0).decompress(payload),
                                  QSGD(4, 100, seed=0).decompress(QSGD(4, 100, seed=0).compress(x)))
