"""Define-by-run (Chainer-style) API: eager `Variable`s that record the graph they
are computed by, and `backward()` through compiled code of that graph."""

from tensorc.define_by_run.backward import BACKWARD_CACHE, BackwardCache
from tensorc.define_by_run.variable import Variable, as_variable

__all__ = ["BACKWARD_CACHE", "BackwardCache", "Variable", "as_variable"]
