"""Launch planning for the GPU devices ('cuda' through pycuda, 'cuda-emu' through
the emulator): the host function of a GPU-lowered module as Python steps, which
tensorc/runtime/gpu_runner.py runs through a device adapter.

Precondition (/work/notes/gpu.md): the module holds a `gpu.module` of kernels and
a host `func.func @main(memrefs...) -> (memrefs...)` whose single block holds only
arith ops on index/integer scalars (and a few float ones: casts, +-*/, negation),
memref.dim, memref.alloc, memref.dealloc, memref.cast, memref.get_global (of a
module-level memref.global), memref.load of 0-d memrefs (a device -> host scalar
read), cf.assert, gpu.launch_func and func.return. Every returned memref is a
fresh alloc.

`plan_host(module)` turns that block into a `HostProgram` once: one closure per
op over a register list (HOST_OPS), constants folded, every `memref.dim` of an
alloc resolved to the alloc's size, and the run-time checks that depend only on
input shapes moved to the front, so a shape error is raised before any buffer is
allocated or any kernel runs. Per call the steps
- allocate through the adapter and free what the call does not return;
- raise ShapeError with a failed cf.assert's message (plus " (got a and b)" when
  its condition is an arith.cmpi, as the C backend does);
- launch with each memref passed as its buffer followed by one int64 per dim,
  index as int64 and other scalars as their own type; a launch with an empty grid
  or block (an empty tensor) is skipped.
Scalars follow C: integers wrap to their width, division by zero gives 0.

`GpuAdapter` is the interface both adapters (tensorc/runtime/cuda.py,
tensorc/runtime/cuda_emu.py) implement.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
from xdsl.dialects import arith, cf, func, gpu, memref
from xdsl.dialects.builtin import (
    DenseIntOrFPElementsAttr,
    IndexType,
    IntegerAttr,
    IntegerType,
    MemRefType,
    ModuleOp,
)
from xdsl.ir import Operation, SSAValue

from tensorc.dialects.tc import array_from_dense
from tensorc.errors import GpuKernelError, LoweringError, ShapeError
from tensorc.lowering.cpu.c_expr import c_scalar_type

if TYPE_CHECKING:
    from tensorc.runtime.gpu_runner import GpuRunner

DEVICES = ("cuda", "cuda-emu")


class GpuAdapter(Protocol):
    """What a GPU runtime provides; buffers are opaque handles."""

    name: str
    host_memory_is_device_memory: bool

    def compile(self, source: str) -> Any: ...
    def alloc(self, nbytes: int) -> Any: ...
    def free(self, buffer: Any) -> None: ...
    def to_device(self, array: np.ndarray) -> Any: ...
    def to_host(
        self, buffer: Any, shape: tuple[int, ...], dtype: np.dtype
    ) -> np.ndarray: ...
    def read_scalar(self, buffer: Any, dtype: np.dtype) -> Any: ...
    def launch(
        self,
        module: Any,
        name: str,
        grid: Sequence[int],
        block: Sequence[int],
        shared_bytes: int,
        args: Sequence[Any],
    ) -> None: ...


# region scalar semantics


def _bits(t: object) -> int:
    if isinstance(t, IndexType):
        return 64
    if isinstance(t, IntegerType):
        return t.width.data
    raise LoweringError(f"not an integer type: {t}")


def _wrap(value: int, bits: int) -> int:
    """`value` modulo 2**bits as a signed integer (i1 stays 0/1)."""
    if bits == 1:
        return value & 1
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


def _unsigned(value: int, bits: int) -> int:
    return value & ((1 << bits) - 1)


def _divsi(a: int, b: int, bits: int) -> int:
    """C division (toward zero); 0 for a zero divisor (as the C prelude does)."""
    if b == 0:
        return 0
    quotient = abs(a) // abs(b)
    return quotient if (a < 0) == (b < 0) else -quotient


def _remsi(a: int, b: int, bits: int) -> int:
    return 0 if b == 0 else a - b * _divsi(a, b, bits)


def _ceildivsi(a: int, b: int, bits: int) -> int:
    return 0 if b == 0 else -(-a // b)


def _shift_left(a: int, b: int, bits: int) -> int:
    return 0 if _unsigned(b, bits) >= bits else a << b


def _shift_right(a: int, b: int, bits: int) -> int:
    return (-1 if a < 0 else 0) if _unsigned(b, bits) >= bits else a >> b


def _unsigned_op(
    function: Callable[[int, int], int], zero_divisor: bool = False
) -> Callable[[int, int, int], int]:
    def apply(a: int, b: int, bits: int) -> int:
        ua, ub = _unsigned(a, bits), _unsigned(b, bits)
        return 0 if zero_divisor and ub == 0 else function(ua, ub)

    return apply


INT_BINARY: dict[type[Operation], Callable[[int, int, int], int]] = {
    arith.AddiOp: lambda a, b, _: a + b,
    arith.SubiOp: lambda a, b, _: a - b,
    arith.MuliOp: lambda a, b, _: a * b,
    arith.DivSIOp: _divsi,
    arith.RemSIOp: _remsi,
    arith.FloorDivSIOp: lambda a, b, _: 0 if b == 0 else a // b,
    arith.CeilDivSIOp: _ceildivsi,
    arith.DivUIOp: _unsigned_op(operator.floordiv, zero_divisor=True),
    arith.RemUIOp: _unsigned_op(operator.mod, zero_divisor=True),
    arith.CeilDivUIOp: _unsigned_op(lambda a, b: -(-a // b), zero_divisor=True),
    arith.MaxSIOp: lambda a, b, _: max(a, b),
    arith.MinSIOp: lambda a, b, _: min(a, b),
    arith.MaxUIOp: _unsigned_op(max),
    arith.MinUIOp: _unsigned_op(min),
    arith.AndIOp: lambda a, b, _: a & b,
    arith.OrIOp: lambda a, b, _: a | b,
    arith.XOrIOp: lambda a, b, _: a ^ b,
    arith.ShLIOp: _shift_left,
    arith.ShRSIOp: _shift_right,
    arith.ShRUIOp: _unsigned_op(lambda a, b: 0 if b >= 64 else a >> b),
}
"""Integer op -> f(a, b, bits) on signed values; the result is wrapped after."""

CMPI: tuple[Callable[[int, int, int], bool], ...] = (
    lambda a, b, _: a == b,
    lambda a, b, _: a != b,
    lambda a, b, _: a < b,
    lambda a, b, _: a <= b,
    lambda a, b, _: a > b,
    lambda a, b, _: a >= b,
    lambda a, b, n: _unsigned(a, n) < _unsigned(b, n),
    lambda a, b, n: _unsigned(a, n) <= _unsigned(b, n),
    lambda a, b, n: _unsigned(a, n) > _unsigned(b, n),
    lambda a, b, n: _unsigned(a, n) >= _unsigned(b, n),
)
"""arith.cmpi predicate (eq ne slt sle sgt sge ult ule ugt uge) -> test."""

FLOAT_BINARY: dict[type[Operation], Callable[[Any, Any], Any]] = {
    arith.AddfOp: operator.add,
    arith.SubfOp: operator.sub,
    arith.MulfOp: operator.mul,
    arith.DivfOp: operator.truediv,
}
"""On numpy float scalars of the result type (numpy rounds like C)."""


# endregion
# region planning


def dtype_of(memref_type: MemRefType) -> np.dtype:
    return np.dtype(c_scalar_type(memref_type.element_type).numpy_dtype)


@dataclass(eq=False)
class Buffer:
    """A memref at run time: a device buffer with its shape and dtype. `owned`
    buffers were allocated by this call and are freed unless returned."""

    handle: Any
    shape: tuple[int, ...]
    dtype: np.dtype
    owned: bool = False
    freed: bool = False


@dataclass
class Frame:
    """One call's state: one register per SSA value, and its buffers."""

    registers: list[Any]
    adapter: GpuAdapter
    module: Any
    runner: GpuRunner
    owned: list[Buffer] = field(default_factory=list)


Step = Callable[[Frame], None]


@dataclass(frozen=True)
class InputSpec:
    dtype: np.dtype
    shape: tuple[int | None, ...]
    """Static dims; None where dynamic."""


@dataclass(frozen=True)
class HostProgram:
    """The host function, compiled to Python steps (see the module docstring)."""

    inputs: tuple[InputSpec, ...]
    input_slots: tuple[int, ...]
    initial: tuple[Any, ...]
    steps: tuple[Step, ...]
    results: tuple[int, ...]
    globals: dict[str, np.ndarray]
    kernels: tuple[str, ...]


class _Planner:
    """Assigns registers and translates each op of the host block (HOST_OPS)."""

    def __init__(self, module: ModuleOp) -> None:
        self.module = module
        self.slots: dict[SSAValue, int] = {}
        self.initial: list[Any] = []
        self.early: set[SSAValue] = set()
        self.prologue: list[Step] = []
        self.body: list[Step] = []
        self.kernels: list[str] = []
        self.globals: dict[str, np.ndarray] = {}
        self.results: tuple[int, ...] = ()

    def slot(self, value: SSAValue) -> int:
        if value not in self.slots:
            self.slots[value] = len(self.initial)
            self.initial.append(None)
        return self.slots[value]

    def alias(self, value: SSAValue, to: SSAValue) -> None:
        """`value` is always equal to `to`: share its register."""
        self.slots[value] = self.slot(to)
        if to in self.early:
            self.early.add(value)

    def constant(self, value: SSAValue, python: Any) -> None:
        self.initial[self.slot(value)] = python
        self.early.add(value)

    def add(self, op: Operation, step: Step | None) -> None:
        """Append `step`; it runs early if `op` reads only input shapes."""
        if all(operand in self.early for operand in op.operands):
            self.early.update(op.results)
            if step is not None:
                self.prologue.append(step)
        elif step is not None:
            self.body.append(step)

    def plan(self, function: func.FuncOp) -> HostProgram:
        arguments = function.body.block.args
        inputs = []
        for argument in arguments:
            if not isinstance(argument.type, MemRefType):
                raise LoweringError(
                    f"GPU entry arguments are memrefs, not {argument.type}"
                )
            self.slot(argument)
            self.early.add(argument)
            shape = tuple(None if d < 0 else d for d in argument.type.get_shape())
            inputs.append(InputSpec(dtype_of(argument.type), shape))
        for op in function.body.block.ops:
            translate = HOST_OPS.get(type(op))
            if translate is None:
                raise LoweringError(
                    f"the host function of a GPU module cannot hold {op.name} (only "
                    "scalar arith, memref.dim/alloc/dealloc/cast/get_global/load, "
                    "cf.assert, gpu.launch_func and func.return)"
                )
            translate(self, op)
        return HostProgram(
            tuple(inputs),
            tuple(self.slots[a] for a in arguments),
            tuple(self.initial),
            tuple(self.prologue + self.body),
            self.results,
            self.globals,
            tuple(dict.fromkeys(self.kernels)),
        )


HostTranslation = Callable[[_Planner, Any], None]


def _constant(planner: _Planner, op: arith.ConstantOp) -> None:
    value = op.value
    if not isinstance(value, IntegerAttr):
        dtype = np.dtype(c_scalar_type(op.result.type).numpy_dtype)
        planner.constant(op.result, dtype.type(value.value.data))  # type: ignore[attr-defined]
    else:
        planner.constant(op.result, _wrap(value.value.data, _bits(op.result.type)))


def _int_binary(planner: _Planner, op: Operation) -> None:
    function = INT_BINARY[type(op)]
    bits = _bits(op.results[0].type)
    a, b = (planner.slot(v) for v in op.operands)
    out = planner.slot(op.results[0])

    def step(frame: Frame) -> None:
        registers = frame.registers
        registers[out] = _wrap(function(registers[a], registers[b], bits), bits)

    planner.add(op, step)


def _float_binary(planner: _Planner, op: Operation) -> None:
    function = FLOAT_BINARY[type(op)]
    a, b = (planner.slot(v) for v in op.operands)
    out = planner.slot(op.results[0])

    def step(frame: Frame) -> None:
        registers = frame.registers
        with np.errstate(all="ignore"):
            registers[out] = function(registers[a], registers[b])

    planner.add(op, step)


def _cmpi(planner: _Planner, op: arith.CmpiOp) -> None:
    test = CMPI[op.predicate.value.data]
    bits = _bits(op.lhs.type)
    a, b, out = planner.slot(op.lhs), planner.slot(op.rhs), planner.slot(op.result)

    def step(frame: Frame) -> None:
        registers = frame.registers
        registers[out] = int(test(registers[a], registers[b], bits))

    planner.add(op, step)


def _select(planner: _Planner, op: arith.SelectOp) -> None:
    c, a, b = (planner.slot(v) for v in op.operands)
    out = planner.slot(op.result)

    def step(frame: Frame) -> None:
        registers = frame.registers
        registers[out] = registers[a] if registers[c] else registers[b]

    planner.add(op, step)


def _int_cast(planner: _Planner, op: Operation) -> None:
    """index_cast, extsi, trunci (wrap to the result) and extui (zero-extend)."""
    source, result = op.operands[0], op.results[0]
    a, out, bits = planner.slot(source), planner.slot(result), _bits(result.type)
    source_bits = _bits(source.type)
    zero_extend = isinstance(op, arith.ExtUIOp)

    def step(frame: Frame) -> None:
        value = frame.registers[a]
        if zero_extend:
            value = _unsigned(value, source_bits)
        frame.registers[out] = _wrap(value, bits)

    planner.add(op, step)


def _float_cast(planner: _Planner, op: Operation) -> None:
    """sitofp, uitofp, extf, truncf, negf: numpy scalars round like C."""
    source, result = op.operands[0], op.results[0]
    a, out = planner.slot(source), planner.slot(result)
    scalar = np.dtype(c_scalar_type(result.type).numpy_dtype).type
    unsigned_bits = _bits(source.type) if isinstance(op, arith.UIToFPOp) else None
    negate = isinstance(op, arith.NegfOp)

    def step(frame: Frame) -> None:
        value = frame.registers[a]
        if unsigned_bits is not None:
            value = _unsigned(value, unsigned_bits)
        with np.errstate(all="ignore"):
            frame.registers[out] = -scalar(value) if negate else scalar(value)

    planner.add(op, step)


def _fptosi(planner: _Planner, op: arith.FPToSIOp) -> None:
    """Toward zero; NaN and out-of-range values give the minimum (as x86 and
    the C prelude do)."""
    a, out, bits = (
        planner.slot(op.input),
        planner.slot(op.result),
        _bits(op.result.type),
    )

    def step(frame: Frame) -> None:
        value = float(frame.registers[a])
        low = -(1 << (bits - 1))
        inside = not math.isnan(value) and low <= value < -low
        frame.registers[out] = int(value) if inside else low

    planner.add(op, step)


def _dim(planner: _Planner, op: memref.DimOp) -> None:
    index_op = op.index.owner
    if not isinstance(index_op, arith.ConstantOp):
        raise LoweringError("memref.dim in a GPU host function needs a constant index")
    axis = index_op.value.value.data  # type: ignore[attr-defined]
    source = op.source
    owner = source.owner
    if isinstance(owner, memref.AllocOp):  # the alloc's own size operand
        shape = source.type.get_shape()  # type: ignore[attr-defined]
        if shape[axis] >= 0:
            planner.constant(op.result, shape[axis])
        else:
            dynamic = sum(1 for d in shape[:axis] if d < 0)
            planner.alias(op.result, owner.dynamic_sizes[dynamic])
        return
    a, out = planner.slot(source), planner.slot(op.result)

    def step(frame: Frame) -> None:
        frame.registers[out] = frame.registers[a].shape[axis]

    planner.add(op, step)


def _alloc(planner: _Planner, op: memref.AllocOp) -> None:
    memref_type = op.memref.type
    dtype = dtype_of(memref_type)
    static = memref_type.get_shape()
    sizes = [planner.slot(v) for v in op.dynamic_sizes]
    out = planner.slot(op.memref)
    where = f"memref.alloc of {memref_type}"

    def step(frame: Frame) -> None:
        given = iter(sizes)
        registers = frame.registers
        shape = tuple(d if d >= 0 else registers[next(given)] for d in static)
        if any(d < 0 for d in shape):
            raise MemoryError(f"{where}: negative size in {shape}")
        count = int(np.prod(shape, dtype=np.int64))
        buffer = Buffer(frame.adapter.alloc(count * dtype.itemsize), shape, dtype, True)
        frame.owned.append(buffer)
        registers[out] = buffer

    planner.body.append(step)


def _dealloc(planner: _Planner, op: memref.DeallocOp) -> None:
    a = planner.slot(op.memref)

    def step(frame: Frame) -> None:
        buffer: Buffer = frame.registers[a]
        if buffer.owned and not buffer.freed:
            frame.adapter.free(buffer.handle)
            buffer.freed = True

    planner.body.append(step)


def _cast(planner: _Planner, op: memref.CastOp) -> None:
    planner.alias(op.dest, op.source)


def _get_global(planner: _Planner, op: memref.GetGlobalOp) -> None:
    name = op.name_.string_value()
    definition = next(
        (
            g
            for g in planner.module.walk()
            if isinstance(g, memref.GlobalOp) and g.sym_name.data == name
        ),
        None,
    )
    if definition is None or not isinstance(
        definition.initial_value, DenseIntOrFPElementsAttr
    ):
        raise LoweringError(f"memref.get_global @{name}: no initialized memref.global")
    array = np.asarray(array_from_dense(definition.initial_value), order="C")
    planner.globals[name] = array.astype(dtype_of(definition.type)).reshape(
        definition.type.get_shape()
    )
    out = planner.slot(op.memref)

    def step(frame: Frame) -> None:
        frame.registers[out] = frame.runner.global_buffer(name)

    planner.body.append(step)


def _load(planner: _Planner, op: memref.LoadOp) -> None:
    if op.indices:
        raise LoweringError("a GPU host function reads only 0-d memrefs (memref.load)")
    a, out = planner.slot(op.memref), planner.slot(op.res)
    dtype = dtype_of(op.memref.type)  # type: ignore[arg-type]
    integer = dtype.kind in "biu"

    def step(frame: Frame) -> None:
        buffer: Buffer = frame.registers[a]
        value = frame.adapter.read_scalar(buffer.handle, buffer.dtype)
        frame.registers[out] = int(value) if integer else value

    planner.body.append(step)


def _assert(planner: _Planner, op: cf.AssertOp) -> None:
    message = op.msg.data
    condition = planner.slot(op.arg)
    compared = op.arg.owner
    pair = (
        (planner.slot(compared.lhs), planner.slot(compared.rhs))
        if isinstance(compared, arith.CmpiOp)
        else None
    )

    def step(frame: Frame) -> None:
        registers = frame.registers
        if not registers[condition]:
            got = (
                f" (got {registers[pair[0]]} and {registers[pair[1]]})" if pair else ""
            )
            raise ShapeError(message + got)

    planner.add(op, step)


def _memref_argument(slot: int) -> Callable[[list[Any], list[Any]], None]:
    def append(registers: list[Any], args: list[Any]) -> None:
        buffer: Buffer = registers[slot]
        args.append(buffer.handle)
        args.extend(np.int64(d) for d in buffer.shape)

    return append


def _scalar_argument(slot: int, scalar: type) -> Callable[[list[Any], list[Any]], None]:
    def append(registers: list[Any], args: list[Any]) -> None:
        args.append(scalar(registers[slot]))

    return append


def _kernel_argument(planner: _Planner, value: SSAValue) -> Callable[..., None]:
    slot = planner.slot(value)
    if isinstance(value.type, MemRefType):
        return _memref_argument(slot)
    if isinstance(value.type, IndexType):
        return _scalar_argument(slot, np.int64)
    # registers hold integers already wrapped to their type (i1 as 0/1)
    return _scalar_argument(slot, np.dtype(c_scalar_type(value.type).numpy_dtype).type)


def _launch(planner: _Planner, op: gpu.LaunchFuncOp) -> None:
    if op.asyncDependencies or op.clusterSizeX is not None:
        raise LoweringError(
            "gpu.launch_func: async launches and clusters are not supported"
        )
    name = (op.kernel.nested_references.data or (op.kernel.root_reference,))[-1].data
    planner.kernels.append(name)
    sizes = [
        planner.slot(v)
        for v in (
            op.gridSizeX,
            op.gridSizeY,
            op.gridSizeZ,
            op.blockSizeX,
            op.blockSizeY,
            op.blockSizeZ,
        )
    ]
    shared = op.dynamicSharedMemorySize
    shared_slot = None if shared is None else planner.slot(shared)
    arguments = [_kernel_argument(planner, v) for v in op.kernelOperands]

    def step(frame: Frame) -> None:
        registers = frame.registers
        grid = tuple(registers[s] for s in sizes[:3])
        block = tuple(registers[s] for s in sizes[3:])
        if 0 in grid or 0 in block:
            return  # nothing to do (an empty tensor)
        if min(grid + block) < 0:
            raise GpuKernelError(
                f"kernel {name!r}: negative grid {grid} or block {block}"
            )
        args: list[Any] = []
        for append in arguments:
            append(registers, args)
        shared_bytes = 0 if shared_slot is None else registers[shared_slot]
        frame.adapter.launch(frame.module, name, grid, block, shared_bytes, args)

    planner.body.append(step)


def _return(planner: _Planner, op: func.ReturnOp) -> None:
    planner.results = tuple(planner.slot(v) for v in op.arguments)


HOST_OPS: dict[type[Operation], HostTranslation] = {
    arith.ConstantOp: _constant,
    **{op: _int_binary for op in INT_BINARY},
    **{op: _float_binary for op in FLOAT_BINARY},
    arith.CmpiOp: _cmpi,
    arith.SelectOp: _select,
    arith.IndexCastOp: _int_cast,
    arith.ExtSIOp: _int_cast,
    arith.ExtUIOp: _int_cast,
    arith.TruncIOp: _int_cast,
    arith.SIToFPOp: _float_cast,
    arith.UIToFPOp: _float_cast,
    arith.ExtFOp: _float_cast,
    arith.TruncFOp: _float_cast,
    arith.NegfOp: _float_cast,
    arith.FPToSIOp: _fptosi,
    memref.DimOp: _dim,
    memref.AllocOp: _alloc,
    memref.DeallocOp: _dealloc,
    memref.CastOp: _cast,
    memref.GetGlobalOp: _get_global,
    memref.LoadOp: _load,
    cf.AssertOp: _assert,
    gpu.LaunchFuncOp: _launch,
    func.ReturnOp: _return,
}
"""Host op -> translation into a step (see _Planner)."""


def plan_host(module: ModuleOp, entry: str = "main") -> HostProgram:
    """The host program of the GPU-lowered `module` (see the module docstring)."""
    function = next(
        (
            op
            for op in module.ops
            if isinstance(op, func.FuncOp) and op.sym_name.data == entry
        ),
        None,
    )
    if function is None or function.is_declaration:
        raise LoweringError(f"the module has no host function @{entry}")
    return _Planner(module).plan(function)


# endregion


def build_runner(module: ModuleOp, source: str, device: str) -> GpuRunner:
    """The runner of GPU-lowered `module` whose kernels are CUDA `source`."""
    from tensorc.runtime.gpu_runner import GpuRunner, adapter_for

    return GpuRunner(plan_host(module), adapter_for(device), source)
