"""Elias omega codes, written and read with whole-array NumPy operations.

The omega ("recursive") code of Elias (1975), *Universal codeword sets and
representations of the integers*, IEEE Trans. Inf. Theory 21(2), sends a
positive integer N without knowing its size in advance:

    code = "0"
    while N > 1:
        code = binary(N) + code          # binary(N) always starts with a 1
        N = len(binary(N)) - 1

so omega(1) = 0, omega(2) = 10|0, omega(4) = 10|100|0, omega(16) = 10|100|10000|0.
Each group announces the width of the next one. Reading reverses it: start with
N = 1; while the next bit is a 1, the next N + 1 bits are the new N; a 0 ends
the code. The length is 1 + log2 N + log2 log2 N + ... bits, so the small
integers QSGD sends (Alistarh et al. 2017, Sec. 3.2) cost very few bits.

Writing works on all values at once: every value's groups are built in at most
four rounds of array operations (values below 2**40), and `pack_codes` lays the
variable-length codes end to end with one OR-reduction per 64-bit output word.
`BitReader` reads bits at many positions at once; `records.RecordCode` uses it
to decode long streams without a Python loop per code.
"""
import numpy as np

MAX_VALUE_BITS = 40          # values below 2**40; their codes are at most 52 bits
TABLE_BITS = 16              # codes of up to 16 bits (values 1..511) are read by table
_SMALL = 1024                # values below this are encoded by table


def _bit_length(values):
    """Number of binary digits of each positive integer (exact below 2**53)."""
    return np.frexp(values.astype(np.float64))[1].astype(np.uint64)


def _omega_by_groups(values):
    """The definition above, run on all values at once (values >= 1, int64)."""
    codes = np.zeros(values.size, np.uint64)
    lengths = np.ones(values.size, np.uint64)           # the closing "0"
    todo = np.flatnonzero(values > 1)
    group = values[todo].astype(np.uint64)
    while todo.size:                                     # at most 4 rounds
        width = _bit_length(group)
        codes[todo] |= group << lengths[todo]            # put binary(N) in front
        lengths[todo] += width
        group = width - np.uint64(1)
        keep = group > 1
        todo, group = todo[keep], group[keep]
    return codes, lengths.astype(np.int64)


_SMALL_CODE, _SMALL_LENGTH = _omega_by_groups(np.arange(_SMALL))


def omega_encode(values):
    """Omega codes of positive integers: (codes, lengths); codes right-aligned in uint64."""
    values = np.asarray(values, np.int64).reshape(-1)
    if values.size and (values.min() < 1 or values.max() >= 2**MAX_VALUE_BITS):
        raise ValueError(f"omega_encode: values must lie in [1, 2**{MAX_VALUE_BITS}), "
                         f"got min {values.min()} and max {values.max()}")
    small = np.minimum(values, _SMALL - 1)
    codes, lengths = _SMALL_CODE[small], _SMALL_LENGTH[small]
    big = np.flatnonzero(values >= _SMALL)
    if big.size:
        codes[big], lengths[big] = _omega_by_groups(values[big])
    return codes, lengths


def pack_codes(codes, lengths):
    """Lay codes (right-aligned in uint64, 1..64 bits each) end to end, first bit first.

    Returns (stream, ends): the bytes, zero-padded to a whole byte, and the bit
    offset where each code ends. A code lands in one 64-bit word or spills into
    the next one; each word is the OR of the codes that start in it (one
    `bitwise_or.reduceat`, the codes being sorted by word) plus at most one spill.
    """
    lengths = np.asarray(lengths, np.int64)
    ends = np.cumsum(lengths)
    total = int(ends[-1]) if ends.size else 0
    words = np.zeros((total + 63) // 64, np.uint64)
    if total:
        starts = ends - lengths
        word = starts >> 6
        offset = np.bitwise_and(starts, 63, out=starts).view(np.uint64)   # bit within word
        flush_left = codes << (64 - lengths).view(np.uint64)              # first bit at bit 63
        spill = np.flatnonzero(offset > (64 - lengths).view(np.uint64))  # runs into word + 1
        spilled = flush_left[spill] << (np.uint64(64) - offset[spill])
        first_in_word = np.flatnonzero(word[1:] != word[:-1]) + 1
        first_in_word = np.concatenate([[0], first_in_word])
        words[word[first_in_word]] = np.bitwise_or.reduceat(
            np.right_shift(flush_left, offset, out=flush_left), first_in_word)
        words[word[spill] + 1] |= spilled
    stream = words.astype(">u8").view(np.uint8)[: (total + 7) // 8]
    return stream, ends


def _omega_table():
    """For each 16-bit string that begins with a code of <= 16 bits: its value and length."""
    values = np.arange(1, 512)                   # exactly the values whose code is <= 16 bits
    codes, lengths = omega_encode(values)
    spread = 1 << (TABLE_BITS - lengths)         # strings sharing that code as prefix
    first = codes.astype(np.int64) << (TABLE_BITS - lengths)
    within = np.arange(spread.sum()) - np.repeat(np.cumsum(spread) - spread, spread)
    index = np.repeat(first, spread) + within
    value = np.zeros(1 << TABLE_BITS, np.int64)
    length = np.zeros(1 << TABLE_BITS, np.int64)  # 0: a longer code, read the slow way
    value[index] = np.repeat(values, spread)
    length[index] = np.repeat(lengths, spread)
    return value, length


_TABLE_VALUE, _TABLE_LENGTH = _omega_table()


def _omega_from_windows(windows):
    """Read one omega code from the top of each left-aligned 64-bit window.

    Follows the definition group by group (a few rounds, each over all windows
    still inside a code). Returns (values, lengths); a code that does not end
    within 64 bits can only come from a corrupted stream (ValueError).
    """
    value = np.ones(windows.size, np.uint64)
    used = np.zeros(windows.size, np.uint64)
    todo = np.arange(windows.size)
    while todo.size:
        bits = windows[todo] << used[todo]
        more = (bits >> np.uint64(63)) == 1
        used[todo[~more]] += np.uint64(1)                  # the closing 0
        todo, bits = todo[more], bits[more]
        width = value[todo] + np.uint64(1)
        if np.any(used[todo] + width >= 64):
            raise ValueError("corrupted payload: an Elias omega code does not end within 64 bits")
        value[todo] = bits >> (np.uint64(64) - width)
        used[todo] += width
    return value.astype(np.int64), used.astype(np.int64)


class BitReader:
    """Random access to the bits of a byte stream, many positions at a time."""

    PAD_WORDS = 10   # zeros past the end: a garbled stream may read a little beyond it

    def __init__(self, stream):
        stream = np.asarray(stream, np.uint8).reshape(-1)
        padded = np.zeros((stream.size // 8 + self.PAD_WORDS) * 8, np.uint8)
        padded[: stream.size] = stream
        self.words = padded.view(">u8").astype(np.uint64)   # big-endian: bit 0 is the top bit
        self.nbits = 8 * stream.size

    def peek(self, pos):
        """The 64 bits starting at each bit position (int64 array), left-aligned."""
        word = pos >> 6
        shift = (pos & 63).astype(np.uint64)
        high = np.take(self.words, word) << shift
        low = np.take(self.words, word + 1) >> (np.uint64(64) - shift)   # >> 64 gives 0
        return high | low

    def bits(self, pos, count):
        """Read `count` (1..64) bits at each position: (values, positions after them)."""
        return (self.peek(pos) >> np.uint64(64 - count)).astype(np.int64), pos + count

    def omega(self, pos):
        """Read one omega code at each position: (values, positions after them)."""
        windows = self.peek(pos)
        top = (windows >> np.uint64(64 - TABLE_BITS)).astype(np.intp)
        value, length = _TABLE_VALUE[top], _TABLE_LENGTH[top]
        slow = np.flatnonzero(length == 0)
        if slow.size:
            value[slow], length[slow] = _omega_from_windows(windows[slow])
        return value, pos + length
