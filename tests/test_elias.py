"""Elias omega codes and the chunked record stream, against a plain-Python reference."""
import numpy as np
import pytest

from minigrad.compress import elias
from minigrad.compress.records import RecordCode


def omega_reference(n):
    """Elias (1975) omega code of n as a '0'/'1' string, written straight from the definition."""
    code = "0"
    while n > 1:
        group = bin(n)[2:]
        code = group + code
        n = len(group) - 1
    return code


def as_bits(stream):
    return "".join(format(int(byte), "08b") for byte in stream)


def code_strings(values):
    codes, lengths = elias.omega_encode(values)
    return [format(int(c), "b").zfill(int(n)) for c, n in zip(codes, lengths)]


def test_omega_matches_issue_test_vectors():
    vectors = {1: "0", 2: "100", 3: "110", 4: "101000", 7: "101110", 8: "1110000",
               16: "10100100000"}
    assert code_strings(list(vectors)) == list(vectors.values())


def test_omega_encode_matches_definition_for_small_and_huge_values():
    rng = np.random.default_rng(0)
    values = np.concatenate([np.arange(1, 3000), rng.integers(3000, 2**40, 2000),
                             [2**k for k in range(1, 40)], [2**k - 1 for k in range(2, 41)]])
    assert code_strings(values) == [omega_reference(int(v)) for v in values]


def test_omega_encode_rejects_values_outside_range():
    for bad in ([0], [5, -3], [2**40]):
        with pytest.raises(ValueError, match="omega_encode"):
            elias.omega_encode(np.array(bad))


def test_pack_codes_lays_codes_end_to_end_with_zero_padding():
    rng = np.random.default_rng(1)
    lengths = rng.integers(1, 65, 5000)
    codes = np.array([int(rng.integers(0, 2**int(n) - 1, dtype=np.uint64, endpoint=True))
                      for n in lengths], dtype=np.uint64)
    stream, ends = elias.pack_codes(codes, lengths)
    expected = "".join(format(int(c), "b").zfill(int(n)) for c, n in zip(codes, lengths))
    assert np.array_equal(ends, np.cumsum(lengths))
    assert stream.size == -(-len(expected) // 8)
    assert as_bits(stream) == expected + "0" * (8 * stream.size - len(expected))


def test_bit_reader_reads_omega_codes_at_any_offset():
    values = np.array([1, 2, 3, 511, 512, 70000, 2**39 + 7])
    prefix = "1011001"                          # an arbitrary, non-byte-aligned start
    bits = prefix + "".join(omega_reference(int(v)) for v in values)
    bits += "0" * (-len(bits) % 8)
    stream = np.array([int(bits[i:i + 8], 2) for i in range(0, len(bits), 8)], np.uint8)
    reader = elias.BitReader(stream)
    pos = np.array([len(prefix)])
    for v in values:
        got, pos = reader.omega(pos)
        assert got[0] == v


@pytest.mark.parametrize("per_chunk", [1, 3, 256])
def test_omega_sequence_round_trips_random_values(per_chunk):
    rng = np.random.default_rng(per_chunk)
    code = RecordCode(("omega",))
    for count in [0, 1, 2, per_chunk, per_chunk + 1, 1000]:
        values = np.minimum((rng.pareto(0.7, count) + 1).astype(np.int64), 2**40 - 1)
        stream, starts = code.encode([values], per_chunk)
        assert as_bits(stream).startswith("".join(omega_reference(int(v)) for v in values))
        (decoded,) = code.decode(stream, starts, count, per_chunk)
        assert np.array_equal(decoded, values)


def test_qsgd_records_round_trip_including_records_over_64_bits():
    rng = np.random.default_rng(2)
    code = RecordCode(("omega", 1, "omega"))
    count = 3000
    gaps = rng.geometric(0.4, count)
    levels = rng.geometric(0.6, count)
    gaps[::97] = rng.integers(2**20, 2**40, gaps[::97].size)      # slow path, > 64-bit records
    levels[::89] = rng.integers(512, 2**31, levels[::89].size)
    signs = rng.integers(0, 2, count)
    stream, starts = code.encode([gaps, signs, levels], 16)
    reference = "".join(omega_reference(int(g)) + str(int(s)) + omega_reference(int(v))
                        for g, s, v in zip(gaps, signs, levels))
    assert as_bits(stream) == reference + "0" * (8 * stream.size - len(reference))
    for got, want in zip(code.decode(stream, starts, count, 16), [gaps, signs, levels]):
        assert np.array_equal(got, want)


def test_record_decode_rejects_truncated_stream_and_bad_offsets():
    rng = np.random.default_rng(3)
    code = RecordCode(("omega", 1, "omega"))
    fields = [rng.geometric(0.3, 100), rng.integers(0, 2, 100), rng.geometric(0.5, 100)]
    stream, starts = code.encode(fields, 8)
    with pytest.raises(ValueError, match="corrupted"):
        code.decode(stream[:-2], starts, 100, 8)
    with pytest.raises(ValueError, match="corrupted"):
        code.decode(stream, starts + np.r_[0, np.ones(starts.size - 1, int)], 100, 8)
    with pytest.raises(ValueError, match="corrupted"):
        code.decode(stream, starts, 109, 8)        # needs one chunk more than the table has
    with pytest.raises(ValueError, match="corrupted"):
        code.decode(stream, starts, 90, 8)         # the last chunk would stop short
    with pytest.raises(ValueError, match="corrupted"):
        code.decode(np.full(stream.size, 255, np.uint8), starts, 100, 8)
