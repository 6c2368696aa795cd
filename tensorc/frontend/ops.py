"""All graph-building functions in one namespace (the operators of `Variable` and the
`tensorc.tensor` module delegate here)."""

from tensorc.frontend.elemwise import *  # noqa: F403
from tensorc.frontend.elemwise import abs, pow, round  # noqa: F401  (shadow builtins)
from tensorc.frontend.reduce import *  # noqa: F403
from tensorc.frontend.reduce import max, min, sum  # noqa: F401
from tensorc.frontend.shape_ops import *  # noqa: F403
