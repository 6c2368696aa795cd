"""Random numbers in compiled graphs (Theano's `RandomStreams`).

Numbers come from `tc.hash_uniform`, a counter-based generator: each element hashes
its own 64-bit counter, so a graph draws any shape (static or symbolic) in parallel,
inside fused loops, and every backend gives the same bits. A stream's counters mix its
seed, a per-call counter (a shared variable that `function` advances after each call
through its `default_update`) and a per-draw site number, so two draws in one graph
differ, each call of a function gives new numbers, and `no_default_updates=True`
repeats them. Inside a scan's step the step index is mixed in too, so each step
draws new numbers.

    srng = RandomStreams(seed=234)
    rv_u = srng.uniform((2, 2))
    f = tensorc.function([], rv_u)   # new numbers at every call
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tensorc.frontend.elemwise import (
    add, as_variable, cast, constant, cos, floor, log, lt, mul, node, sqrt, sub,
)
from tensorc.frontend.reduce import sum as reduce_sum
from tensorc.frontend.scan import step_indices
from tensorc.frontend.shape_ops import _product, _shape_entries, arange, reshape
from tensorc.frontend.shared import shared
from tensorc.frontend.variable import Variable, normalize_dtype

# Odd 64-bit multipliers spread (seed, call, site) over the counter space; the hash
# decorrelates neighbouring counters.
_SEED_FACTOR = 0x2545F4914F6CDD1D
_CALL_FACTOR = 0x5851F42D4C957F2D
_SITE_FACTOR = 0x14057B7EF767814F
_STEP_FACTOR = 0x9E3779B97F4A7C15


def _wrap(value: int) -> int:
    value %= 2**64
    return value - 2**64 if value >= 2**63 else value


class RandomStreams:
    """A source of random variables whose state lives in shared variables."""

    def __init__(self, seed: int | None = None):
        self._seed = shared(np.int64(0 if seed is None else seed), name="rng_seed")
        self.state = shared(np.int64(0), name="rng_call")
        self.state.default_update = self.state + 1
        self._sites = 0

    def seed(self, seed: int) -> None:
        """Restart every variable of this stream from `seed`."""
        self._seed.set_value(np.int64(seed))
        self.state.set_value(np.int64(0))

    def _uniform_bits(self, size: Any, dtype: str, extra: tuple[int, ...] = ()) -> Variable:
        """Floats in [0, 1) of shape `size` (+ `extra` static dims) from a new site."""
        dims = _shape_entries(size) + list(extra)
        site = self._sites
        self._sites += 1
        offset = add(
            mul(add(mul(self._seed, _wrap(_SEED_FACTOR)), self.state), _wrap(_CALL_FACTOR)),
            constant(np.int64(_wrap(site * _SITE_FACTOR))),
        )
        for depth, step in enumerate(step_indices()):  # drawn inside a scan's step
            offset = add(offset, mul(step, _wrap(_STEP_FACTOR * (2 * depth + 1))))
        counters = add(arange(_product(dims) if dims else 1, dtype="int64"), offset)
        counters = reshape(counters, dims)
        return node("hash_uniform", [counters], dtype, counters.type.shape)

    def uniform(self, size: Any = (), low: Any = 0.0, high: Any = 1.0, ndim: Any = None,
                dtype: Any = None) -> Variable:
        """Uniform numbers in [low, high)."""
        dtype = normalize_dtype(dtype or "floatX")
        u = self._uniform_bits(size, dtype)
        return cast(add(mul(u, sub(high, low)), low), dtype)

    def normal(self, size: Any = (), avg: Any = 0.0, std: Any = 1.0, ndim: Any = None,
               dtype: Any = None) -> Variable:
        """Normal numbers (Box-Muller on two uniform draws)."""
        dtype = normalize_dtype(dtype or "floatX")
        u1 = self._uniform_bits(size, dtype)
        u2 = self._uniform_bits(size, dtype)
        radius = sqrt(mul(-2.0, log(sub(1.0, u1))))  # 1 - u1 is in (0, 1]
        z = mul(radius, cos(mul(u2, 2.0 * math.pi)))
        return cast(add(mul(z, std), avg), dtype)

    def binomial(self, size: Any = (), n: int = 1, p: Any = 0.5, ndim: Any = None,
                 dtype: Any = "int64") -> Variable:
        """Number of successes in `n` trials of probability `p`."""
        dtype = normalize_dtype(dtype)
        p = as_variable(p)
        if n == 1:
            return cast(lt(self._uniform_bits(size, p.dtype if p.dtype != "int64"
                                              else "float64"), p), dtype)
        trials = lt(self._uniform_bits(size, "float64", extra=(int(n),)), p)
        return cast(reduce_sum(trials, axis=-1), dtype)

    def random_integers(self, size: Any = (), low: int = 0, high: int = 1, ndim: Any = None,
                        dtype: Any = "int64") -> Variable:
        """Integers uniformly drawn from [low, high] (both ends included)."""
        u = self._uniform_bits(size, "float64")
        return cast(add(floor(mul(u, high - low + 1)), low), normalize_dtype(dtype))


MRG_RandomStreams = RandomStreams
"""Theano's `theano.sandbox.rng_mrg.MRG_RandomStreams` has the same interface."""
