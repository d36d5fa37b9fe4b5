"""``cupy.cuda`` of the stand-in: pretend devices; streams and synchronisation do nothing.

As nothing here is asynchronous, a missing ``synchronize`` cannot be caught.
``FAKECUPY_DEVICES`` (default 1) sets the device count; every array is on the
current device (arrays do not remember where they were made).
"""
import os
import types

from fakecupy import nccl

_current = 0


def _device_count():
    return int(os.environ.get("FAKECUPY_DEVICES", "1"))


class Stream:
    """A CUDA stream that runs everything at once."""

    null = None

    def __init__(self, null=False, non_blocking=False, ptr=0):
        self.ptr = ptr

    def synchronize(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


Stream.null = Stream(null=True)


class Device:
    """A device ordinal; one that does not exist raises as in CuPy."""

    def __init__(self, device=None):
        self.id = _current if device is None else int(device)
        if not 0 <= self.id < _device_count():
            raise RuntimeError(f"cudaErrorInvalidDevice: invalid device ordinal {self.id} "
                               f"(fakecupy has {_device_count()})")

    def use(self):
        global _current
        _current = self.id

    def __eq__(self, other):
        return isinstance(other, Device) and other.id == self.id

    def synchronize(self):
        pass

    def __enter__(self):
        global _current
        self._previous, _current = _current, self.id
        return self

    def __exit__(self, *exc):
        global _current
        _current = self._previous
        return False


def get_current_stream():
    return Stream.null


def get_device_id():
    return _current


def synchronize():
    pass


runtime = types.SimpleNamespace(getDeviceCount=_device_count, deviceSynchronize=synchronize)
