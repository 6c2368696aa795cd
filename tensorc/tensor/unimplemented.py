"""Theano functions tensorc does not provide yet: calling one raises
`NotImplementedInTensorc` naming it (not an AttributeError that reads like a typo).

Only names Theano programs commonly use are listed; each says why it is missing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tensorc.errors import TensorcError


class NotImplementedInTensorc(TensorcError, NotImplementedError):
    """A Theano function that tensorc does not implement (yet)."""


UNIMPLEMENTED: dict[str, str] = {
    "T.sort": "sorting needs a sort op (none of tc's ops sorts in O(n log n))",
    "T.argsort": "sorting needs a sort op (none of tc's ops sorts in O(n log n))",
    "T.gammaln": "it needs a special-function op (tc has erf only)",
    "T.psi": "it needs a special-function op (tc has erf only)",
    "T.nlinalg.matrix_inverse": "tc has no linear-algebra solver op",
    "T.nlinalg.det": "tc has no linear-algebra factorization op",
    "T.nlinalg.eig": "tc has no linear-algebra factorization op",
    "T.nlinalg.eigh": "tc has no linear-algebra factorization op",
    "T.nlinalg.svd": "tc has no linear-algebra factorization op",
    "T.nlinalg.pinv": "tc has no linear-algebra factorization op",
    "theano.printing.pydotprint": (
        "it draws with pydot and graphviz, which tensorc does not depend on; "
        "tensorc.printing.debugprint prints the graph as text"
    ),
    "theano.gradient.grad_clip": (
        "its backward pass clips the cotangent, which is not linear in it: no "
        "composition of tc ops has that gradient (it needs its own VJP rule)"
    ),
}
"""Qualified Theano name -> why tensorc lacks it."""


def unimplemented(qualified_name: str) -> Callable[..., Any]:
    """A function that raises NotImplementedInTensorc for `qualified_name`."""
    reason = UNIMPLEMENTED[qualified_name]

    def missing(*args: Any, **kwargs: Any) -> Any:
        raise NotImplementedInTensorc(
            f"tensorc does not implement {qualified_name} yet: {reason}")

    missing.__name__ = qualified_name.rsplit(".", 1)[-1]
    missing.__qualname__ = missing.__name__
    missing.__doc__ = f"Not implemented in tensorc: {reason}."
    return missing
