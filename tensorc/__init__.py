"""tensorc: a Theano-style tensor compiler built on xDSL.

    import tensorc as theano
    import tensorc.tensor as T
    x = T.dmatrix('x')
    f = theano.function([x], T.exp(x).sum())
"""

from tensorc import gradient, tensor  # noqa: F401
from tensorc.config import config
from tensorc.frontend.function import Function, In, function
from tensorc.frontend.shared import SharedVariable, shared
from tensorc.gradient import grad
from tensorc.printing import pp
from tensorc.define_by_run import Variable
from tensorc import functions, gradient_check, optimizers  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "Function", "In", "SharedVariable", "config", "function", "grad", "gradient", "pp",
    "shared", "tensor",
    "Variable", "functions", "gradient_check", "optimizers",
]
