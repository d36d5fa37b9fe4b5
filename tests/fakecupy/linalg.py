"""``cupy.linalg`` of the stand-in: NumPy's routines behind the device-array wall."""
from fakecupy._array import unwrap, wrap
import numpy as np


def _wrapped(name):
    numpy_function = getattr(np.linalg, name)

    def call(*args, **kwargs):
        args = unwrap(args, f"cupy.linalg.{name}")
        kwargs = {k: unwrap(v, f"cupy.linalg.{name}") for k, v in kwargs.items()}
        return wrap(numpy_function(*args, **kwargs))
    call.__name__ = call.__qualname__ = name
    return call


LinAlgError = np.linalg.LinAlgError
for _name in "cholesky det eigh eigvalsh inv lstsq norm qr slogdet solve svd".split():
    globals()[_name] = _wrapped(_name)
del _name
