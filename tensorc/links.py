"""`tensorc.links`, usually imported as `L`: parameterized layers and the containers
that hold them (Chainer's `chainer.Link`, `Chain`, `ChainList`, `chainer.links`).

    class MLP(tensorc.Chain):
        def __init__(self, n_units, n_out):
            super().__init__()
            with self.init_scope():
                self.l1 = L.Linear(None, n_units)  # input size taken from the data
                self.l2 = L.Linear(n_units, n_out)

        def forward(self, x):
            return self.l2(F.relu(self.l1(x)))

    model = L.Classifier(MLP(100, 10))
    optimizer = tensorc.optimizers.Adam().setup(model)
    optimizer.update(model, x, t)

A `Parameter` is a leaf Variable that a link owns. It may start uninitialized (no
data yet) and be initialized at the first call, when the input shows its shape.
Assignments inside `with link.init_scope():` register parameters (and, in a Chain,
child links); `params()` walks them in Chainer's order (a link's own parameters by
name, then its children by name, or by position in a ChainList).
"""

from __future__ import annotations

import contextlib
import copy
import math
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

import tensorc.functions as F
from tensorc import reporter
from tensorc.define_by_run.variable import Variable
from tensorc.initializers import NaN, as_initializer, generate_array

__all__ = [
    "Chain", "ChainList", "Classifier", "Convolution2D", "EmbedID", "Linear", "Link",
    "Parameter", "Sequential",
]


class Parameter(Variable):
    """A leaf Variable owned by a link (Chainer's `chainer.Parameter`).

    `initializer` is an array (used as the data), a number (a constant), a callable
    that fills arrays (`tensorc.initializers`) or None (NaN: never meant to be
    used uninitialized). Without `shape` (and without an array) the parameter
    stays uninitialized (`.data is None`) until `initialize(shape)`.
    """

    def __init__(self, initializer: Any = None, shape: Any = None,
                 name: str | None = None):
        self.name = name
        self._requires_grad = True
        self._data: np.ndarray | None = None
        self._node: Any = None
        self._grad = None
        self.update_enabled = True
        if isinstance(initializer, np.ndarray):
            self.initializer: Callable[[np.ndarray], None] = as_initializer(initializer)
            self.data = initializer
            return
        self.initializer = NaN() if initializer is None else as_initializer(initializer)
        if shape is not None:
            self.initialize(shape)

    @property
    def data(self) -> np.ndarray | None:
        return self._data

    @data.setter
    def data(self, value: Any) -> None:  # a parameter is always a leaf
        self._set_leaf_data(value)

    array = data

    @property
    def is_initialized(self) -> bool:
        return self._data is not None

    def initialize(self, shape: Any) -> None:
        """Give the parameter data of `shape` from its initializer."""
        shape = (shape,) if isinstance(shape, int) else tuple(shape)
        self.data = generate_array(self.initializer, shape)

    def copydata(self, source: Variable) -> None:
        """Copy `source`'s values into this parameter's array (initializing
        whichever of the two has no data yet)."""
        if source.data is None:
            if self._data is None:
                return
            if not isinstance(source, Parameter):
                raise TypeError(f"cannot copy from {source!r}: it has no data")
            source.initialize(self._data.shape)
        if self._data is None:
            self.initialize(source.data.shape)
        np.copyto(self._data, source.data)

    def _copy(self, mode: str) -> Parameter:
        """A new parameter of its own (`Link.copy`): sharing this one's array
        ("share"), with a copy of it ("copy") or newly initialized ("init")."""
        twin = Parameter(self.initializer, name=self.name)
        twin.update_enabled = self.update_enabled
        if self._data is not None:
            if mode == "init":
                twin.initialize(self._data.shape)
            else:
                twin.data = self._data if mode == "share" else self._data.copy()
        return twin

    def __repr__(self) -> str:
        if self._data is None:
            return f"Parameter(uninitialized, name={self.name!r})"
        return "parameter" + super().__repr__().removeprefix("variable")


class Link:
    """A set of parameters with a forward computation (`forward` or `__call__`)."""

    def __init__(self, **params: Any):
        object.__setattr__(self, "_params", [])
        object.__setattr__(self, "_persistent", [])
        object.__setattr__(self, "_within_init_scope", False)
        self.name: str | None = None
        for name, shape in params.items():  # Chainer's old `Link(W=(3, 2))`
            self.add_param(name, shape)

    # -- registration --------------------------------------------------------------
    @property
    def within_init_scope(self) -> bool:
        return getattr(self, "_within_init_scope", False)

    @contextlib.contextmanager
    def init_scope(self) -> Iterator[None]:
        """Inside the block, assigned Parameters (and links, in a Chain) register."""
        old = self._within_init_scope
        object.__setattr__(self, "_within_init_scope", True)
        try:
            yield
        finally:
            object.__setattr__(self, "_within_init_scope", old)

    def __setattr__(self, name: str, value: Any) -> None:
        if self.within_init_scope and isinstance(value, Parameter):
            value.name = name
            if name not in self._params:
                self._params.append(name)
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        for registry in (self._params, self._persistent):
            if name in registry:
                registry.remove(name)
        object.__delattr__(self, name)

    def add_param(self, name: str, shape: Any = None, dtype: Any = None,
                  initializer: Any = None) -> None:
        """Register a new parameter `name` (uninitialized without `shape`)."""
        if name in self.__dict__:
            raise AttributeError(f"{type(self).__name__} already has {name!r}")
        if initializer is None:
            initializer = NaN(dtype)
        with self.init_scope():
            setattr(self, name, Parameter(initializer, shape))

    def add_persistent(self, name: str, value: Any) -> None:
        """Register `value` as state saved with the link that is not a parameter."""
        if name in self.__dict__:
            raise AttributeError(f"{type(self).__name__} already has {name!r}")
        self._persistent.append(name)
        object.__setattr__(self, name, value)

    def register_persistent(self, name: str) -> None:
        if name not in self.__dict__:
            raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")
        if name not in self._persistent:
            self._persistent.append(name)

    # -- traversal -----------------------------------------------------------------
    def namedparams(self, include_uninit: bool = True
                    ) -> Iterator[tuple[str, Parameter]]:
        """('/name', parameter) pairs; a chain prefixes its children's paths."""
        for name in sorted(self._params):
            param = self.__dict__[name]
            if include_uninit or param.data is not None:
                yield "/" + name, param
        for prefix, child in self._named_children():
            for path, param in child.namedparams(include_uninit):
                yield "/" + prefix + path, param

    def params(self, include_uninit: bool = True) -> Iterator[Parameter]:
        for _, param in self.namedparams(include_uninit):
            yield param

    def _named_children(self) -> Iterator[tuple[str, Link]]:
        return iter(())

    def children(self) -> Iterator[Link]:
        for _, child in self._named_children():
            yield child

    def namedlinks(self, skipself: bool = False) -> Iterator[tuple[str, Link]]:
        """('/path', link) for this link ('/') and every link below it."""
        if not skipself:
            yield "/", self
        for prefix, child in self._named_children():
            for path, link in child.namedlinks():
                yield "/" + prefix + ("" if path == "/" else path), link

    def links(self, skipself: bool = False) -> Iterator[Link]:
        for _, link in self.namedlinks(skipself):
            yield link

    def count_params(self) -> int:
        """The number of parameter elements (initialized parameters only)."""
        return sum(p.data.size for p in self.params(include_uninit=False))

    # -- gradients and updates -----------------------------------------------------
    def cleargrads(self) -> None:
        """Forget every parameter's gradient (before a new backward pass)."""
        for param in self.params():
            param.cleargrad()

    def zerograds(self) -> None:
        """Set every initialized parameter's gradient to zeros."""
        for param in self.params(include_uninit=False):
            param.zerograd()

    def addgrads(self, link: Link) -> None:
        """Add the gradients of the same parameters of `link` to these."""
        theirs = dict(link.namedparams())
        for path, param in self.namedparams():
            grad = theirs[path].grad
            if grad is not None:
                param.grad = grad if param.grad is None else param.grad + grad

    @property
    def update_enabled(self) -> bool:
        """Whether optimizers update any of the parameters."""
        return any(p.update_enabled for p in self.params())

    def enable_update(self) -> None:
        for param in self.params():
            param.update_enabled = True

    def disable_update(self) -> None:
        """Freeze the parameters: optimizers leave them as they are."""
        for param in self.params():
            param.update_enabled = False

    # -- copies ----------------------------------------------------------------------
    def copyparams(self, link: Link, copy_persistent: bool = True) -> None:
        """Copy the values of `link`'s parameters (a link of the same structure)
        into these, in place; also its persistent values."""
        theirs = dict(link.namedparams())
        for path, param in self.namedparams():
            param.copydata(theirs[path])
        if copy_persistent:
            mine, others = dict(self.namedlinks()), dict(link.namedlinks())
            for path, target in mine.items():
                for name in target._persistent:
                    value = getattr(others[path], name)
                    if isinstance(value, np.ndarray):
                        np.copyto(getattr(target, name), value)
                    else:
                        object.__setattr__(target, name, copy.deepcopy(value))

    def copy(self, mode: str = "share") -> Link:
        """A link of the same structure with parameters of its own: sharing these
        arrays ("share"), with copies of them ("copy"), or newly initialized
        ("init"); gradients are not copied."""
        if mode not in ("share", "copy", "init"):
            raise ValueError(f"copy mode must be 'share', 'copy' or 'init', got {mode!r}")
        twin = copy.copy(self)
        object.__setattr__(twin, "_params", list(self._params))
        object.__setattr__(twin, "_persistent", list(self._persistent))
        for name in self._params:
            object.__setattr__(twin, name, self.__dict__[name]._copy(mode))
        for name in self._persistent:
            object.__setattr__(twin, name, copy.deepcopy(self.__dict__[name]))
        twin.name = None
        return twin

    # -- devices and calls -----------------------------------------------------------
    @property
    def xp(self) -> Any:
        """The array module of the parameters (numpy: they live on the host)."""
        return np

    def to_cpu(self) -> Link:
        """Parameters are host arrays already (kept for Chainer programs)."""
        return self

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        forward = getattr(self, "forward", None)
        if forward is None:
            raise TypeError(f"{type(self).__name__} defines neither forward nor "
                            "__call__")
        return forward(*args, **kwargs)

    def __repr__(self) -> str:
        params = ", ".join(
            f"{name}={'uninitialized' if p.data is None else p.shape}"
            for name, p in ((n, self.__dict__[n]) for n in self._params))
        return f"{type(self).__name__}({params})"


class Chain(Link):
    """A link made of named child links (assigned inside `init_scope`)."""

    def __init__(self, **links: Link):
        object.__setattr__(self, "_children", [])
        super().__init__()
        for name, link in links.items():  # Chainer's old `Chain(l1=L.Linear(...))`
            self.add_link(name, link)

    def __setattr__(self, name: str, value: Any) -> None:
        if self.within_init_scope and isinstance(value, Link):
            if name in self.__dict__ and name not in self._children:
                raise AttributeError(f"cannot register link {name!r}: "
                                     f"{type(self).__name__} already has {name!r}")
            value.name = name
            if name not in self._children:
                self._children.append(name)
        super().__setattr__(name, value)

    def __delattr__(self, name: str) -> None:
        if name in self._children:
            self._children.remove(name)
        super().__delattr__(name)

    def __getitem__(self, name: str) -> Link:
        return self.__dict__[name]

    def add_link(self, name: str, link: Link) -> None:
        """Register `link` as the child `name` (what `init_scope` assignment does)."""
        if name in self.__dict__:
            raise AttributeError(f"{type(self).__name__} already has {name!r}")
        with self.init_scope():
            setattr(self, name, link)

    def _named_children(self) -> Iterator[tuple[str, Link]]:
        for name in sorted(self._children):
            yield name, self.__dict__[name]

    def copy(self, mode: str = "share") -> Chain:
        twin = super().copy(mode)
        object.__setattr__(twin, "_children", list(self._children))
        for name in self._children:
            child = self.__dict__[name].copy(mode)
            child.name = name
            object.__setattr__(twin, name, child)
        return twin  # type: ignore[return-value]

    def __repr__(self) -> str:
        inner = "".join(f"\n  ({name}): " + repr(child).replace("\n", "\n  ")
                        for name, child in self._named_children())
        return f"{type(self).__name__}({inner}\n)" if inner else super().__repr__()


class ChainList(Link):
    """A link made of a list of child links (`ChainList(l0, l1)`, `append`)."""

    def __init__(self, *links: Link):
        object.__setattr__(self, "_children", [])
        super().__init__()
        for link in links:
            self.add_link(link)

    def __setattr__(self, name: str, value: Any) -> None:
        if self.within_init_scope and isinstance(value, Link):
            raise TypeError("a ChainList holds its links by position: use "
                            "add_link(link) or append(link), not attributes")
        super().__setattr__(name, value)

    def add_link(self, link: Link) -> None:
        link.name = str(len(self._children))
        self._children.append(link)

    append = add_link

    def __getitem__(self, index: int) -> Link:
        return self._children[index]

    def __iter__(self) -> Iterator[Link]:
        return iter(self._children)

    def __len__(self) -> int:
        return len(self._children)

    def _named_children(self) -> Iterator[tuple[str, Link]]:
        for index, child in enumerate(self._children):
            yield str(index), child

    def copy(self, mode: str = "share") -> ChainList:
        twin = super().copy(mode)
        children = [child.copy(mode) for child in self._children]
        for index, child in enumerate(children):
            child.name = str(index)
        object.__setattr__(twin, "_children", children)
        return twin  # type: ignore[return-value]


class Sequential(ChainList):
    """Layers applied in turn: links (registered, with parameters) and plain
    functions such as `F.relu`. `Sequential(L.Linear(None, 100), F.relu,
    L.Linear(100, 10))(x)`."""

    def __init__(self, *layers: Callable[..., Any]):
        super().__init__()
        self._layers: list[Callable[..., Any]] = []
        for layer in layers:
            self.append(layer)

    def append(self, layer: Callable[..., Any]) -> None:  # type: ignore[override]
        if not callable(layer):
            raise TypeError(f"Sequential layers must be callable, got {layer!r}")
        if isinstance(layer, Link):
            self.add_link(layer)
        self._layers.append(layer)

    def forward(self, *x: Any) -> Any:
        for layer in self._layers:
            x = layer(*x) if isinstance(x, tuple) else layer(x)
        return x

    def copy(self, mode: str = "share") -> Sequential:
        twin = super().copy(mode)
        links = iter(twin._children)
        layers = [next(links) if isinstance(f, Link) else f for f in self._layers]
        object.__setattr__(twin, "_layers", layers)
        return twin  # type: ignore[return-value]


# -- links ---------------------------------------------------------------------------


class Linear(Link):
    """y = x W^T + b with W of shape (out_size, in_size).

    `Linear(out_size)` or `Linear(None, out_size)` leaves `in_size` to the first
    call (the size of an input sample). W starts from `initialW` (default:
    LeCunNormal, N(0, 1/in_size)), b from `initial_bias` (default 0); `nobias`
    drops b.
    """

    def __init__(self, in_size: int | None, out_size: int | None = None,
                 nobias: bool = False, initialW: Any = None,
                 initial_bias: Any = None):
        super().__init__()
        if out_size is None:
            in_size, out_size = None, in_size
        self.in_size = in_size
        self.out_size = out_size
        with self.init_scope():
            self.W = Parameter(as_initializer(initialW))
            if in_size is not None:
                self.W.initialize((out_size, in_size))
            bias = as_initializer(0 if initial_bias is None else initial_bias)
            self.b = None if nobias else Parameter(bias, out_size)

    def forward(self, x: Any, n_batch_axes: int = 1) -> Variable:
        if self.W.data is None:
            self.in_size = math.prod(np.shape(_data(x))[n_batch_axes:])
            self.W.initialize((self.out_size, self.in_size))
        return F.linear(x, self.W, self.b, n_batch_axes=n_batch_axes)


def _data(x: Any) -> Any:
    return x.data if isinstance(x, Variable) else x


class Convolution2D(Link):
    """Chainer's 2-d convolution layer: F.convolution_2d(x, W, b, ...) with W of
    shape (out_channels, in_channels / groups, kh, kw).

    `Convolution2D(None, out_channels, ksize)` or `Convolution2D(out_channels,
    ksize)` leaves in_channels to the first call (x.shape[1]). W starts from
    `initialW` (default: LeCunNormal, N(0, 1/fan_in) with fan_in = in_channels /
    groups * kh * kw), b from `initial_bias` (default 0); `nobias` drops b.
    """

    def __init__(self, in_channels: int | None, out_channels: int,
                 ksize: int | tuple[int, int] | None = None, stride: Any = 1,
                 pad: Any = 0, nobias: bool = False, initialW: Any = None,
                 initial_bias: Any = None, *, dilate: Any = 1, groups: int = 1):
        super().__init__()
        if ksize is None:
            in_channels, out_channels, ksize = None, in_channels, out_channels  # type: ignore[assignment]
        self.ksize = (ksize, ksize) if isinstance(ksize, int) else tuple(ksize)  # type: ignore[arg-type]
        self.stride, self.pad, self.dilate, self.groups = stride, pad, dilate, groups
        self.in_channels, self.out_channels = in_channels, out_channels
        with self.init_scope():
            self.W = Parameter(as_initializer(initialW))
            if in_channels is not None:
                self._initialize_W(in_channels)
            bias = as_initializer(0 if initial_bias is None else initial_bias)
            self.b = None if nobias else Parameter(bias, out_channels)

    def _initialize_W(self, in_channels: int) -> None:
        if in_channels % self.groups or self.out_channels % self.groups:
            raise ValueError(f"Convolution2D: {in_channels} input and "
                             f"{self.out_channels} output channels do not split into "
                             f"groups={self.groups}")
        self.in_channels = in_channels
        self.W.initialize((self.out_channels, in_channels // self.groups, *self.ksize))

    def forward(self, x: Any) -> Variable:
        if self.W.data is None:
            self._initialize_W(np.shape(_data(x))[1])
        return F.convolution_2d(x, self.W, self.b, self.stride, self.pad,
                                dilate=self.dilate, groups=self.groups)


class EmbedID(Link):
    """Word embeddings: row `id` of W (in_size, out_size) for each integer id;
    ids equal to `ignore_label` embed as zeros. W starts from `initialW`
    (default: N(0, 1))."""

    def __init__(self, in_size: int, out_size: int, initialW: Any = None,
                 ignore_label: int | None = None):
        from tensorc.initializers import Normal

        super().__init__()
        self.ignore_label = ignore_label
        initializer = Normal(1.0) if initialW is None else as_initializer(initialW)
        with self.init_scope():
            self.W = Parameter(initializer, (in_size, out_size))

    def forward(self, x: Any) -> Variable:
        return F.embed_id(x, self.W, ignore_label=self.ignore_label)


class Classifier(Chain):
    """A predictor with a loss: `classifier(*inputs, t)` runs
    `y = predictor(*inputs)` and returns `loss = lossfun(y, t)`, keeping `.y`,
    `.loss` and (with `compute_accuracy`) `.accuracy = accfun(y, t)`, and reports
    them as "loss" and "accuracy" to the current reporter (`tensorc.reporter`).

    `label_key` says which argument is the label: a position (default: the last)
    or a keyword name.
    """

    compute_accuracy = True

    def __init__(self, predictor: Link,
                 lossfun: Callable[..., Variable] = F.softmax_cross_entropy,
                 accfun: Callable[..., Variable] = F.accuracy,
                 label_key: int | str = -1):
        if not isinstance(label_key, int | str):
            raise TypeError(f"label_key must be an int or a str, got {label_key!r}")
        super().__init__()
        self.lossfun = lossfun
        self.accfun = accfun
        self.label_key = label_key
        self.y: Variable | None = None
        self.loss: Variable | None = None
        self.accuracy: Variable | None = None
        with self.init_scope():
            self.predictor = predictor

    def forward(self, *args: Any, **kwargs: Any) -> Variable:
        if isinstance(self.label_key, str):
            if self.label_key not in kwargs:
                raise ValueError(f"Classifier: label key {self.label_key!r} not given")
            t = kwargs.pop(self.label_key)
        else:
            if not -len(args) <= self.label_key < len(args):
                raise ValueError(f"Classifier: label key {self.label_key} out of range "
                                 f"for {len(args)} arguments")
            position = self.label_key % len(args)
            t = args[position]
            args = args[:position] + args[position + 1:]
        self.y = self.loss = self.accuracy = None
        self.y = self.predictor(*args, **kwargs)
        self.loss = self.lossfun(self.y, t)
        reporter.report({"loss": self.loss}, self)
        if self.compute_accuracy:
            self.accuracy = self.accfun(self.y, t)
            reporter.report({"accuracy": self.accuracy}, self)
        return self.loss


# Links defined in modules of their own, which build on the classes above:
# imported at first use, so that either module may be imported first.
_LINK_MODULES = {
    "BatchNormalization": "tensorc.links_normalization",
    **dict.fromkeys(["GRU", "LSTM", "StatefulGRU", "StatelessGRU", "StatelessLSTM"],
                    "tensorc.links_recurrent"),
}
__all__ += [  # noqa: F822  (module __getattr__)
    "GRU", "LSTM", "BatchNormalization", "StatefulGRU", "StatelessGRU", "StatelessLSTM",
]


def __getattr__(name: str) -> Any:
    import importlib

    if name not in _LINK_MODULES:
        raise AttributeError(f"module 'tensorc.links' has no attribute {name!r}")
    return getattr(importlib.import_module(_LINK_MODULES[name]), name)
