"""What a non-blocking collective hands back: ``Work`` (``torch.distributed``'s) and ``Future``.

    work = dist.all_reduce(x, async_op=True)   # returns at once
    ...                                        # compute meanwhile
    work.wait()                                # x holds the sum

``Future`` is the part of ``torch.futures.Future`` that communication hooks use
(``wait``, ``value``, ``done``, ``then``): DDP waits for the Future each hook
returns at the end of backward.
"""
from minigrad.distributed import guard


class Work:
    """A started collective, as ``torch.distributed``'s: ``wait()`` finishes it, ``is_completed()`` polls."""

    def __init__(self, call, requests, finish):
        self.call, self.requests, self._finish = call, requests, finish

    def is_completed(self):
        if self._finish is not None and guard.test(self.call, self.requests):
            self._complete()
        return self._finish is None

    def wait(self):
        if self._finish is not None:
            guard.wait(self.call, self.requests)
            self._complete()
        return True

    def _complete(self):
        finish, self._finish = self._finish, None
        finish()


    def get_future(self, value=None):
        """A ``Future`` completed with ``[value]`` (PyTorch: the list of tensors) once the work is done."""
        return Future(lambda: (self.wait(), [value])[1], poll=self.is_completed)


class Future:
    """A result that may still be on its way: the part of ``torch.futures.Future`` comm hooks use.

    ``compute()`` produces the value (waiting if needed) and runs once; ``poll()``
    tells, without waiting, whether ``compute`` would return at once.
    """

    def __init__(self, compute, poll=None):
        self._compute, self._poll, self._value = compute, poll, None

    @classmethod
    def completed(cls, value):
        future = cls(None)
        future._value = value
        return future

    def done(self):
        return self._compute is None or (self._poll is not None and self._poll())

    def wait(self):
        if self._compute is not None:
            compute, self._compute = self._compute, None
            self._value = compute()
        return self._value

    def value(self):
        if self._compute is not None:
            raise RuntimeError("Future.value: not completed yet; call wait()")
        return self._value

    def then(self, callback):
        """A Future of ``callback(self)``, run once this one is done."""
        return Future(lambda: (self.wait(), callback(self))[1], poll=self.done)


class _Done(Work):
    def __init__(self):
        super().__init__(None, [], None)
