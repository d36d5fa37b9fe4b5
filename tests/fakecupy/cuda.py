"""``cupy.cuda`` of the stand-in: one pretend device; streams and synchronisation do nothing.

As nothing here is asynchronous, a missing ``synchronize`` cannot be caught.
"""
import types


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
    """Device 0, the only one (``Device(1)`` raises as CuPy does on a one-GPU machine)."""

    def __init__(self, device=None):
        self.id = 0 if device is None else int(device)
        if self.id != 0:
            raise RuntimeError(f"cudaErrorInvalidDevice: invalid device ordinal {self.id} (fakecupy has 1 device)")

    def use(self):
        pass

    def synchronize(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def get_current_stream():
    return Stream.null


def get_device_id():
    return 0


def synchronize():
    pass


runtime = types.SimpleNamespace(getDeviceCount=lambda: 1, deviceSynchronize=synchronize)
