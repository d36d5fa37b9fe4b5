"""Every collective is numbered, checked against the other ranks' call, and waited for with a deadline.

MPI matches collectives purely by order: the k-th collective on one rank pairs
with the k-th on every other. When ranks disagree (one extra ``all_reduce``, an
extra training step on an uneven shard, ``no_sync`` on one rank only) MPI
silently sums the wrong buffers, stops with "message truncated", or waits
forever. And a rank that never arrives (stuck, crashed without abort) makes
the others wait forever at 100% CPU. Three remedies, all in this file:

1. **A header in the same message.** Call k on rank r is described by five
   small integers: its sequence number, what it is (kind and dtype), its size,
   the line of the program that called it, and one more the caller may use
   (DDP: backward passes since the last sync). The line is what catches one
   extra or missing call: MPI pairs the k-th calls of all ranks, so if rank 0
   makes one more ``all_reduce`` of the same size, only the place it was called
   from tells the pair apart. (Every rank must therefore call a collective from
   the same line; a program that calls the same collective from different
   lines on different ranks can set MINIGRAD_CHECK_CALL_SITE=0.)
   Rank r writes them into column r of a 5 x p table of zeros placed in front of
   the data, and the table is all-reduced WITH the data, in one message. A sum
   of zeros and one number is exact (all codes are < 2^24, exact even in
   float32), so afterwards every rank holds every rank's header: an all-gather
   for free. If the columns differ, every rank raises the same clear error
   instead of using mixed-up data. (A second, separate check collective would
   double the latency of small all-reduces; ``benchmarks/bench_allreduce.py``.)
   Collectives that cannot carry it (broadcast, all-gather, barrier) exchange
   the header alone first.
2. **A deadline.** Collectives are started non-blocking (``Iallreduce``,
   ``Isend``...) and polled with ``Test``; after ``stall_after`` seconds a
   warning names the lagging ranks, after the timeout an error names the
   collective, its number and the ranks that never arrived, and the job ends.
3. **Asking the laggards.** A waiting rank that stalls sends every other rank
   a tiny point-to-point probe; a rank that is itself waiting in a minigrad
   collective answers with the call it is in. Silence means "busy elsewhere or
   stuck": that is how the error can name the missing ranks.

Once a collective failed, the communicator is unusable (requests are left
half-done): the error is recorded, later collectives refuse to run, and
``failure.py`` ends the job when the exception leaves the program.
"""
import functools
import os
import sys
import time
import zlib

import numpy as np

from minigrad.distributed.comm import _timeout, _world

FIELDS = ("sequence number", "call", "size", "call site", "extra")
LIMIT = 1 << 24                        # every code is taken mod 2^24: exact in float32
KINDS = ("?", "all_reduce(sum)", "all_reduce(max)", "all_reduce(min)", "broadcast", "all_gather",
         "all_gather_bytes", "barrier", "exit", "DDP bucket all-reduce", "DDP construction",
         "all_reduce(sum) by ring")
DTYPES = (None, "float32", "float64", "int32", "int64", "float16", "uint8", "int8", "bool", "uint32",
          "uint64", "int16", "uint16", "complex64", "complex128")
PROBE_TAG, REPLY_TAG = 0x6D67, 0x6D68  # point-to-point tags on COMM_WORLD (collectives never see them)
CHECK_CALL_SITE = os.environ.get("MINIGRAD_CHECK_CALL_SITE", "1") != "0"
_sites = {}   # (code object, line) -> (site code, "file:line")
_what = {}    # (kind, dtype) -> the "call" code


class CollectiveError(RuntimeError):
    """A collective could not complete correctly; the job cannot continue."""


class CollectiveMismatch(CollectiveError):
    """Ranks called different collectives (or sizes) at the same point."""


class CollectiveTimeout(CollectiveError):
    """A collective did not complete within its timeout."""


class _State:
    seq = 0            # collectives started by this process
    current = None     # the Call being waited for (answers probes)
    last = None        # the last Call started
    replies = {}       # rank -> codes it answered with, for the current wait
    sends = []         # Isend requests still in flight (probe answers)


_state = _State()


class Call:
    """One collective call on this rank: number, kind, dtype, size, call site, deadline.

    ``site=False`` for calls whose place in the program is not a line of the
    user's code (DDP's buckets: the backward pass itself; the exit collective).
    """

    __slots__ = ("seq", "kind", "timeout", "codes", "where", "expected")

    def __init__(self, kind, dtype=None, size=0, extra=0, timeout=None, site=True):
        if _world.failed is not None or _world.MPI.Is_finalized():
            why = (f"an earlier collective failed ({_world.failed}); the job is ending" if _world.failed
                   else "MPI.Finalize() was called before")
            raise CollectiveError(f"rank {_world.rank}: {kind} refused: {why}")
        _state.seq += 1
        self.seq, self.kind = _state.seq, kind
        self.timeout = _timeout[0] if timeout is None else float(timeout)
        site, self.where = _call_site() if site and CHECK_CALL_SITE else (0, None)
        what = _what.get((kind, dtype))
        if what is None:
            what = _what[kind, dtype] = KINDS.index(kind) * 16 + (DTYPES.index(str(dtype))
                                                                  if str(dtype) in DTYPES else 0)
        self.codes = (self.seq % LIMIT, what, size % LIMIT, site, extra % LIMIT)
        _state.last = self

    def __str__(self):
        return describe(self.codes) + (f" called at {self.where}" if self.where else "")


_LIBRARY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))   # .../minigrad
_EXAMPLES = os.path.join(_LIBRARY, "examples")


def _call_site():
    """(code, "file:line") of the innermost frame outside the library: the user's call.

    (A comm hook's collective, run from inside backward, gets the line of ``loss.backward()``.)
    """
    frame = sys._getframe(2)
    while (frame.f_back is not None and frame.f_code.co_filename.startswith(_LIBRARY)
           and not frame.f_code.co_filename.startswith(_EXAMPLES)):
        frame = frame.f_back
    key = (frame.f_code, frame.f_lineno)
    found = _sites.get(key)
    if found is None:
        where = f"{os.path.basename(frame.f_code.co_filename)}:{frame.f_lineno}"
        found = _sites[key] = (1 + zlib.crc32(where.encode()) % (LIMIT - 1), where)
    return found


def describe(codes):
    """'all_reduce(sum) #12 of 1000 float32' from the five header codes."""
    seq, what, size, site, extra = (int(c) for c in codes)
    if not (0 < what // 16 < len(KINDS) and 0 <= seq < LIMIT and 0 <= size < LIMIT):
        return "a call of another kind, dtype or size (its header does not read as one here)"
    kind = KINDS[what // 16]
    dtype = DTYPES[what % 16] if 0 <= what % 16 < len(DTYPES) else None
    text = f"{kind} #{seq}"
    if kind not in ("barrier", "exit"):
        text += f" of {size}" + (f" {dtype}" if dtype else "")
    if kind == "broadcast":
        text += f" from rank {extra}"
    if site:
        text += f" (call site {site:06x})"
    return text + (f" (backward passes since the last sync: {extra})" if kind.startswith("DDP b") else "")


def header_length(p):
    return len(FIELDS) * p


def write_header(call, table, sign=1):
    """Zeros, and this rank's codes in its own column (``sign=-1`` for a MIN reduction)."""
    column, call.expected = _template(call, sign)       # (the expected rest, for check_header)
    table[:] = column
    table[_world.rank] = sign * call.codes[0]


def check_header(call, table, sign=1):
    """After the reduction: raise CollectiveMismatch unless every column equals ours."""
    p = _world.size
    got = table.tolist()
    if sign == -1:
        got = [-v for v in got]
    if got[:p] != [call.codes[0]] * p or got[p:] != call.expected:
        rows = np.array(got).reshape(len(FIELDS), p)
        others = "; ".join(f"rank {r}: {describe(call.codes if r == _world.rank else rows[:, r])}"
                           for r in range(p))     # our own column may be unreadable in a mixed-up sum
        fail(CollectiveMismatch(
            f"rank {_world.rank}: {call} does not match the other ranks' calls ({others}). Every rank "
            "must make the same collective calls, in the same order, with the same sizes (an extra "
            "call or training step on some ranks, no_sync() or a comm hook on some ranks only?)"))


_templates = {}   # (codes but the sequence number, sign) -> (our column in zeros, the expected rest)


def _template(call, sign):
    """What stays the same from one call to the next at the same place: built once, reused."""
    key = (call.codes[1:], sign)
    found = _templates.get(key)
    if found is None:
        if len(_templates) > 4096:
            _templates.clear()
        p, r = _world.size, _world.rank
        column = np.zeros(len(FIELDS) * p)
        column[r::p] = [sign * c for c in call.codes]
        column[r] = 0                                  # the sequence number goes in per call
        found = _templates[key] = (column, [c for c in call.codes[1:] for _ in range(p)])
    return found


def exchange(call):
    """The header alone, all-reduced (int64): a checked barrier; returns every rank's size field."""
    MPI = _world.MPI
    table = np.empty(header_length(_world.size), dtype=np.int64)
    write_header(call, table)
    wait(call, [_world.comm.Iallreduce(MPI.IN_PLACE, table, op=MPI.SUM)])
    sizes = table.reshape(len(FIELDS), -1)[2].copy()
    if call.kind == "all_gather_bytes":                # sizes may differ: compare the rest only
        table.reshape(len(FIELDS), -1)[2] = call.codes[2]
    check_header(call, table)
    return sizes


def fail(error):
    """Record the failure (later collectives refuse to run) and raise it."""
    _world.failed = f"{type(error).__name__}: {error}"
    raise error


def test(call, requests):
    """True once every request has completed (no waiting); MPI errors become CollectiveMismatch."""
    try:
        return _world.MPI.Request.Testall(requests)
    except _world.MPI.Exception as err:
        fail(CollectiveMismatch(f"rank {_world.rank}: MPI failed in {call}: {err.Get_error_string()}; "
                                "the ranks called different collectives or sizes at this point"))


def wait(call, requests):
    """Poll ``requests`` until all complete; warn on a stall, raise on the deadline."""
    if len(requests) == 1:          # the usual case: its own Test, cheaper than Testall's list per poll
        done = requests[0].Test
    else:
        done = functools.partial(_world.MPI.Request.Testall, requests)
    try:
        for _ in range(32):                            # most small collectives end here
            if done():
                return
        _state.current, _state.replies = call, {}
        stall_after = min(60.0, call.timeout / 2)
        start = time.monotonic()
        next_look, polls, probed, warned = start, 0, False, False
        while not done():
            # Give the CPU away at every poll, as MPICH's own blocking wait does: with more ranks
            # than cores, a rank that spins starves the one it waits for (4 ranks on 2 cores, 10^3
            # float32: 4.5 ms per all_reduce spinning 1 ms before yielding, 0.7 ms yielding at once).
            os.sched_yield()
            polls += 1
            if polls % 64:
                continue
            now = time.monotonic()
            if now < next_look:
                continue
            next_look = now + 0.005
            serve_probes()
            if now - start > stall_after and not probed:
                send_probes(call)
                probed = True
            if probed and not warned and now - start > stall_after + 0.5:
                warned = True
                sys.stderr.write(f"[minigrad.distributed] WARNING rank {_world.rank}: {call} has waited "
                                 f"{now - start:.1f} s; {lagging(call)}\n")
                sys.stderr.flush()
            if now - start > call.timeout:
                send_probes(call)
                collect_for(0.5)
                fail(CollectiveTimeout(
                    f"rank {_world.rank}: {call} did not complete within its timeout of "
                    f"{call.timeout:g} s; {lagging(call)}. Set the timeout per call (timeout=), per process "
                    "(minigrad.distributed.set_timeout) or with MINIGRAD_COLLECTIVE_TIMEOUT"))
    except _world.MPI.Exception as err:
        fail(CollectiveMismatch(f"rank {_world.rank}: MPI failed in {call}: {err.Get_error_string()}; "
                                "the ranks called different collectives or sizes at this point"))
    finally:
        _state.current = None


def lagging(call):
    """'ranks [2] never arrived (rank 2 is in barrier #7)' from the probe answers so far."""
    collect_replies()
    missing, notes = [], []
    for r in range(_world.size):
        if r == _world.rank:
            continue
        codes = _state.replies.get(r)
        if codes is None or list(codes) != list(call.codes):
            missing.append(r)
            notes.append(f"rank {r} " + ("did not answer (busy outside minigrad's collectives, or stuck)"
                                         if codes is None else f"is waiting in {describe(codes)}"))
    if not missing:
        return "every rank has arrived; MPI has not finished the transfer"
    return f"ranks {missing} never arrived ({'; '.join(notes)})"


def send_probes(call):
    MPI = _world.MPI
    question = np.array(call.codes, dtype=np.int64)
    for r in range(_world.size):
        if r != _world.rank:
            _state.sends.append((_world.comm.Isend(question, dest=r, tag=PROBE_TAG), question))


def serve_probes():
    """Answer every probe that has arrived with the call this rank is waiting in."""
    for source, _ in _arrived(PROBE_TAG):
        mine = _state.current or _state.last
        answer = np.array(mine.codes if mine is not None else (0,) * len(FIELDS), dtype=np.int64)
        _state.sends.append((_world.comm.Isend(answer, dest=source, tag=REPLY_TAG), answer))
    _state.sends = [(req, buf) for req, buf in _state.sends if not req.Test()]
    collect_replies()


def collect_replies():
    for source, answer in _arrived(REPLY_TAG):
        _state.replies[source] = answer.tolist()


def _arrived(tag):
    """Receive, one by one, the probes or answers (``tag``) already here: yields (source rank, codes)."""
    MPI, comm = _world.MPI, _world.comm
    status = MPI.Status()
    while comm.Iprobe(source=MPI.ANY_SOURCE, tag=tag, status=status):
        codes = np.empty(len(FIELDS), dtype=np.int64)
        comm.Recv(codes, source=status.Get_source(), tag=tag)
        yield status.Get_source(), codes


def collect_for(seconds):
    """Serve probes and collect answers for a while (before writing a timeout's error)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end and len(_state.replies) < _world.size - 1:
        serve_probes()
        time.sleep(0.01)

