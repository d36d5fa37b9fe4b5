"""Streams of variable-length records, decoded without a Python loop per record.

A record is a fixed sequence of fields, each an Elias omega code ("omega") or a
fixed number of raw bits (an int); QSGD sends ("omega", 1, "omega"): the gap to
the next non-zero, its sign bit, its level (Alistarh et al. 2017, Sec. 3.2).

Where a record starts depends on every record before it, so one stream is
sequential. We cut it into chunks of `per_chunk` records, remember where each
chunk starts (the caller stores these offsets, a small table), and read every
chunk at the same time: the Python loop runs over the `per_chunk` record
positions, every NumPy operation runs across all chunks (lockstep decoding).
`records_per_chunk` picks the chunk size: more chunks mean fewer loop steps
but more offsets to send.

Each chunk keeps its bit position. One step:
  1. read the 16 bits at every position (one gather from a table of the 24 bits
     that start at each byte, then a shift and a mask);
  2. look them up in a table of every record that fits in 16 bits -> all its
     fields and its length, in one gather; advance the positions by the length;
  3. chunks whose record was longer take the slow path (field by field).
A step is about ten NumPy calls whatever the number of chunks, so for short
streams (a few thousand records, 256 steps) their fixed cost is the decode time.
"""
import numpy as np

from minigrad.compress.elias import TABLE_BITS, BitReader, omega_encode, pack_codes

_LENGTH_BITS = 5          # table entry: length in bits 0..4 (0 = record too long) ...
_FIELD_BITS = 9           # ... then each field's value in 9 bits (values < 512)
_FIELD_MASK = (1 << _FIELD_BITS) - 1


def _byte_windows(stream, pad):
    """The 24 bits starting at each byte of `stream` (int64), zeros past its end plus `pad` bytes.

    The 16 bits at bit position b are then  windows[b >> 3] >> (8 - (b & 7))  masked
    to 16 bits: one gather per read, whatever the alignment.
    """
    padded = np.zeros(stream.size + pad + 2, np.int64)
    padded[: stream.size] = stream
    return (padded[:-2] << 16) | (padded[1:-1] << 8) | padded[2:]


def records_per_chunk(count):
    """About sqrt(8 count), between 16 and 256: few lockstep steps for small streams,
    few offsets (16 bits each, under 1/16 bit per record) for large ones."""
    return int(np.clip(np.sqrt(8 * count), 16, 256))


class RecordCode:
    """Encode/decode records laid out as `layout`, e.g. ("omega", 1, "omega")."""

    def __init__(self, layout):
        if not 1 <= len(layout) <= 6 or any(f != "omega" and f not in range(1, _FIELD_BITS + 1)
                                             for f in layout):
            raise ValueError(f"RecordCode: layout must be 1 to 6 fields, each 'omega' or a bit "
                             f"count in 1..{_FIELD_BITS}; got {layout!r}")
        self.layout = tuple(layout)
        self._table = self._build_table()

    # ---- writing --------------------------------------------------------------------
    def _field_codes(self, fields):
        """(code, length) per field; a fixed-width field's length is a plain int."""
        for field, values in zip(self.layout, fields):
            if field == "omega":
                yield omega_encode(values)
            else:
                values = np.asarray(values).reshape(-1)
                if values.size and (int(values.min()) < 0 or int(values.max()) >> field):
                    raise ValueError(f"RecordCode: values of a {field}-bit field out of range")
                yield values.astype(np.uint64), field

    def encode(self, fields, per_chunk):
        """fields: one int array per layout entry -> (stream bytes, bit offset of each chunk)."""
        parts = list(self._field_codes(fields))
        count = parts[0][0].size
        merged = parts[0][0].copy()
        length = np.zeros(count, np.int64) + parts[0][1]
        for code, field_length in parts[1:]:               # a record: its fields side by side
            merged <<= np.asarray(field_length, np.int64).view(np.uint64)
            merged |= code
            length += field_length
        long = np.flatnonzero(length > 64)     # huge gaps or levels only: one symbol per field
        symbol_end = np.arange(1, count + 1)
        if long.size:
            symbols = np.ones(count, np.int64)
            symbols[long] = len(parts)
            symbol_end = np.cumsum(symbols)
            first = symbol_end - symbols
            codes, lengths = np.zeros(symbol_end[-1], np.uint64), np.zeros(symbol_end[-1], np.int64)
            codes[first], lengths[first] = merged, length
            for i, (code, field_length) in enumerate(parts):
                codes[first[long] + i] = code[long]
                lengths[first[long] + i] = np.broadcast_to(field_length, (count,))[long]
            merged, length = codes, lengths
        stream, ends = pack_codes(merged, length)
        # chunk k starts where record k * per_chunk - 1 ends
        starts = ends[symbol_end[per_chunk - 1:-1:per_chunk] - 1]
        return stream, np.concatenate([[0], starts]).astype(np.int64)[: -(-count // per_chunk)]

    # ---- reading --------------------------------------------------------------------
    def _build_table(self):
        """Entry for every 16-bit string that begins with a whole record (0 where none does)."""
        code = np.zeros(1, np.int64)
        length = np.zeros(1, np.int64)
        values = np.zeros((0, 1), np.int64)
        for field in self.layout:            # grow all records of <= 16 bits field by field
            if field == "omega":
                options = np.arange(1, 512)
                option_code, option_length = omega_encode(options)
            else:
                options = np.arange(1 << field)
                option_code, option_length = options, np.full(options.size, field)
            new_length = length[:, None] + option_length[None, :]
            keep_rec, keep_opt = np.nonzero(new_length <= TABLE_BITS)
            code = (code[keep_rec] << option_length[keep_opt]) | option_code[keep_opt].astype(np.int64)
            length = new_length[keep_rec, keep_opt]
            values = np.vstack([values[:, keep_rec], options[keep_opt]])
        entry = length.copy()
        for i, value in enumerate(values):
            entry |= value << (_LENGTH_BITS + _FIELD_BITS * i)
        spread = 1 << (TABLE_BITS - length)
        within = np.arange(spread.sum()) - np.repeat(np.cumsum(spread) - spread, spread)
        table = np.zeros(1 << TABLE_BITS, np.int64)
        table[np.repeat(code << (TABLE_BITS - length), spread) + within] = np.repeat(entry, spread)
        return table

    def _read_slowly(self, reader, pos):
        """Read whole records field by field at the given positions."""
        values = []
        for field in self.layout:
            value, pos = reader.omega(pos) if field == "omega" else reader.bits(pos, field)
            values.append(value)
        return values, pos

    def decode(self, stream, starts, count, per_chunk):
        """Inverse of `encode`: one int64 array per field, `count` records each.

        Raises ValueError when the stream does not parse into exactly `count`
        records ending where the offsets say (a truncated or corrupted payload).
        """
        reader = BitReader(stream)
        starts = np.asarray(starts, np.int64)
        n_chunks = -(-count // per_chunk)
        if (starts.size != n_chunks or np.any(np.diff(starts) <= 0)
                or (starts.size and (starts[0] != 0 or starts[-1] >= max(reader.nbits, 1)))):
            raise ValueError(f"corrupted payload: {starts.size} chunk offsets do not describe "
                             f"{count} records in a {reader.nbits}-bit stream")
        if count == 0:
            if reader.nbits:
                raise ValueError("corrupted payload: bits left over after 0 records")
            return [np.zeros(0, np.int64) for _ in self.layout]
        in_last_chunk = count - per_chunk * (n_chunks - 1)
        entries = np.zeros((per_chunk, n_chunks), np.int64)
        slow_values, n_slow = [], 0                       # fields of records read slowly
        windows = _byte_windows(stream, pad=2 * per_chunk + 32)   # see the bound below
        # Reads past the end (a corrupted stream) stay inside the padding: a step
        # moves <= 16 bits, a slow read starts before the end and spans <= 129.
        pos = starts.copy()                               # bit position of every chunk
        last_end = None
        for step in range(per_chunk):
            if step == in_last_chunk:                     # the last, shorter chunk is done
                last_end, pos = int(pos[-1]), pos[:-1]
                if pos.size == 0:
                    break
            # (indexing, not np.take, and count_nonzero, not .all(): each step runs ten
            # small operations, and their fixed cost is what a short stream's decode costs)
            top = windows[pos >> 3] >> (8 - (pos & 7))        # the next 16 bits, above junk
            entry = self._table[top & (2**TABLE_BITS - 1)]
            length = entry & (2**_LENGTH_BITS - 1)
            pos += length
            if np.count_nonzero(length) < length.size:   # a record over 16 bits: read it slowly
                slow = np.flatnonzero(length == 0)
                if pos[slow].max() > reader.nbits:
                    raise ValueError("corrupted payload: the code stream ends in mid-record")
                values, pos[slow] = self._read_slowly(reader, pos[slow])
                entry[slow] = (n_slow + np.arange(slow.size)) << _LENGTH_BITS   # length 0 marks it
                slow_values.append(np.stack(values))
                n_slow += slow.size
            entries[step, : entry.size] = entry
        ends = pos
        if last_end is None:                              # the last chunk was a full one
            last_end, ends = int(ends[-1]), ends[:-1]
        if np.any(ends != starts[1:]) or not 0 <= reader.nbits - last_end < 8:
            raise ValueError("corrupted payload: chunks of the code stream do not end where "
                             "the offset table says")
        if last_end < reader.nbits and reader.bits(np.array([last_end]), reader.nbits - last_end)[0][0]:
            raise ValueError("corrupted payload: non-zero padding after the code stream")
        return self._unpack(entries.T, count, slow_values)

    def _unpack(self, records, count, slow_values):
        """Field values from the table entries (n_chunks, per_chunk), in stream order."""
        fields = []
        for i in range(len(self.layout)):
            field = np.right_shift(records, _LENGTH_BITS + _FIELD_BITS * i, order="C")
            fields.append(np.bitwise_and(field, _FIELD_MASK, out=field).reshape(-1)[:count])
        if slow_values:
            flat = records.reshape(-1)[:count]      # a copy; slow records are rare
            slow = np.flatnonzero((flat & (2**_LENGTH_BITS - 1)) == 0)
            values = np.concatenate(slow_values, axis=1)
            for field, value in zip(fields, values):
                field[slow] = value[flat[slow] >> _LENGTH_BITS]
        return fields
