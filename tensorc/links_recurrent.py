"""Chainer's recurrent links (re-exported by `tensorc.links`): `LSTM` (stateful),
`StatelessLSTM`, `GRU` = `StatefulGRU` (stateful) and `StatelessGRU`.

    rnn = L.LSTM(None, 100)
    for x in sequence:            # x: (batch, features) at each time step
        y = rnn(x)                # rnn.c, rnn.h: the state, a recorded history
    loss.backward()               # backpropagation through time
    rnn.reset_state()             # a new sequence

The state is a Variable computed from the previous steps, so `backward()` reaches
every step since the last `reset_state()` (or `h.unchain()`, which truncates).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

import tensorc.functions as F
from tensorc.define_by_run.variable import Variable
from tensorc.functions_recurrent import lstm
from tensorc.initializers import as_initializer
from tensorc.links import Chain, Linear

__all__ = ["GRU", "LSTM", "StatefulGRU", "StatelessGRU", "StatelessLSTM"]


def _data(x: Any) -> np.ndarray:
    return x.data if isinstance(x, Variable) else np.asarray(x)


class _LSTMBase(Chain):
    """The upward (input -> 4 units, with bias) and lateral (state -> 4 units,
    no bias) connections of an LSTM, initialized as Chainer does: each weight
    block of `units` rows by `upward_init`/`lateral_init` (LeCunNormal), the
    biases of the sources a, i, o by `bias_init` (0) and of the forget gate f by
    `forget_bias_init` (1)."""

    def __init__(self, in_size: int | None, out_size: int | None = None,
                 lateral_init: Any = None, upward_init: Any = None,
                 bias_init: Any = None, forget_bias_init: Any = None):
        super().__init__()
        if out_size is None:
            in_size, out_size = None, in_size
        self.state_size: int = out_size  # type: ignore[assignment]
        self.lateral_init, self.upward_init = lateral_init, upward_init
        self.bias_init = 0 if bias_init is None else bias_init
        self.forget_bias_init = 1 if forget_bias_init is None else forget_bias_init
        with self.init_scope():
            self.upward = Linear(in_size, 4 * out_size, initialW=0)
            self.lateral = Linear(out_size, 4 * out_size, initialW=0, nobias=True)
        if in_size is not None:
            self._initialize_params()

    def _initialize_params(self) -> None:
        units = self.state_size
        lateral, upward = as_initializer(self.lateral_init), as_initializer(
            self.upward_init)
        for row in range(0, 4 * units, units):
            lateral(self.lateral.W.data[row:row + units])
            upward(self.upward.W.data[row:row + units])
        # The bias of source k of unit u is entry 4 u + k (F.lstm's layout).
        sources = self.upward.b.data.reshape(units, 4)  # type: ignore[union-attr]
        for k, value in enumerate([self.bias_init, self.bias_init,
                                   self.forget_bias_init, self.bias_init]):
            as_initializer(value)(sources[:, k])

    def _initialize_upward(self, x: np.ndarray) -> None:
        """At the first call of a link made without in_size: x shows it."""
        if self.upward.W.data is None:
            self.upward.in_size = math.prod(x.shape[1:])
            self.upward.W.initialize((4 * self.state_size, self.upward.in_size))
            self._initialize_params()


class StatelessLSTM(_LSTMBase):
    """An LSTM layer that keeps no state: `(c, h) = lstm(c, h, x)`; c or h None
    at the first step (zeros, and no lateral term)."""

    def forward(self, c: Any, h: Any, x: Any) -> tuple[Variable, Variable]:
        data = _data(x)
        self._initialize_upward(data)
        lstm_in = self.upward(x)
        if h is not None:
            lstm_in = lstm_in + self.lateral(h)
        if c is None:
            c = np.zeros((data.shape[0], self.state_size), data.dtype)
        return lstm(c, lstm_in)


class LSTM(_LSTMBase):
    """A fully connected LSTM layer with its state (Chainer's `L.LSTM`):
    `h = lstm(x)` advances `c` and `h` one step. The first step (h None) has
    no lateral term. A batch smaller than the state's (shorter sequences at the
    end of a batch sorted by length) advances only the first rows."""

    def __init__(self, in_size: int | None, out_size: int | None = None,
                 lateral_init: Any = None, upward_init: Any = None,
                 bias_init: Any = None, forget_bias_init: Any = None):
        super().__init__(in_size, out_size, lateral_init, upward_init, bias_init,
                         forget_bias_init)
        self.reset_state()

    def reset_state(self) -> None:
        """Forget the state: the next call starts a new sequence."""
        self.c: Variable | None = None
        self.h: Variable | None = None

    def set_state(self, c: Variable, h: Variable) -> None:
        if not isinstance(c, Variable) or not isinstance(h, Variable):
            raise TypeError(f"LSTM.set_state takes Variables, got {type(c).__name__} "
                            f"and {type(h).__name__}")
        self.c, self.h = c, h

    def forward(self, x: Any) -> Variable:
        data = _data(x)
        self._initialize_upward(data)
        batch = data.shape[0]
        lstm_in = self.upward(x)
        h_rest = None
        if self.h is not None:
            if self.h.shape[0] < batch:
                raise TypeError(f"LSTM: a batch of {batch} is larger than the "
                                f"state's {self.h.shape[0]}")
            if self.h.shape[0] > batch:
                h_update, h_rest = F.split_axis(self.h, [batch], axis=0)
                lstm_in = lstm_in + self.lateral(h_update)
            else:
                lstm_in = lstm_in + self.lateral(self.h)
        if self.c is None:
            self.c = Variable(np.zeros((batch, self.state_size), data.dtype),
                              requires_grad=False)
        self.c, y = lstm(self.c, lstm_in)
        self.h = y if h_rest is None else F.concat([y, h_rest], axis=0)
        return y


class _GRUBase(Chain):
    """The six connections of a GRU: W_r, W_z, W (input -> units; `init`) and
    U_r, U_z, U (units -> units; `inner_init`), all with biases (`bias_init`)."""

    def __init__(self, in_size: int | None, out_size: int | None = None,
                 init: Any = None, inner_init: Any = None, bias_init: Any = 0):
        super().__init__()
        if out_size is None:
            in_size, out_size = None, in_size
        self.state_size: int = out_size  # type: ignore[assignment]
        with self.init_scope():
            for name in ("W_r", "W_z", "W"):
                setattr(self, name, Linear(in_size, out_size, initialW=init,
                                           initial_bias=bias_init))
            for name in ("U_r", "U_z", "U"):
                setattr(self, name, Linear(out_size, out_size, initialW=inner_init,
                                           initial_bias=bias_init))

    def _step(self, h: Any, x: Any) -> Variable:
        """r = sigmoid(W_r x + U_r h), z = sigmoid(W_z x + U_z h),
        h_bar = tanh(W x + U (r h)), h' = (1 - z) h + z h_bar; without h
        (None): h' = sigmoid(W_z x) tanh(W x)."""
        if h is None:
            return F.sigmoid(self.W_z(x)) * F.tanh(self.W(x))
        r = F.sigmoid(self.W_r(x) + self.U_r(h))
        z = F.sigmoid(self.W_z(x) + self.U_z(h))
        h_bar = F.tanh(self.W(x) + self.U(r * h))
        return (1 - z) * h + z * h_bar


class StatelessGRU(_GRUBase):
    """A GRU layer without state: `h_new = gru(h, x)`."""

    def forward(self, h: Any, x: Any) -> Variable:
        return self._step(h, x)


class StatefulGRU(_GRUBase):
    """A GRU layer with its state `h` (Chainer's `L.StatefulGRU`, `L.GRU`):
    `h = gru(x)`; the first step (h None) has no recurrent terms."""

    def __init__(self, in_size: int | None, out_size: int | None = None,
                 init: Any = None, inner_init: Any = None, bias_init: Any = 0):
        super().__init__(in_size, out_size, init, inner_init, bias_init)
        self.reset_state()

    def reset_state(self) -> None:
        self.h: Variable | None = None

    def set_state(self, h: Variable) -> None:
        if not isinstance(h, Variable):
            raise TypeError(f"GRU.set_state takes a Variable, got {type(h).__name__}")
        self.h = h

    def forward(self, x: Any) -> Variable:
        self.h = self._step(self.h, x)
        return self.h


GRU = StatefulGRU
