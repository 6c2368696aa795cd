"""The `tck` dialect: the little kernel-level vocabulary upstream `gpu` lacks.

xDSL 0.74 has no `#gpu.address_space<workgroup>`, so memrefs inside kernels say
where they live with `#tck.memspace<...>`:

    %partial = memref.alloc() : memref<256xf64, #tck.memspace<shared>>

- `global`: device global memory. Inside a `gpu.func`, a `memref.alloc` in this
  space is a *block-scoped* scratch buffer whose placement is still open (each
  thread block owns one instance); `tc-promote-shared` decides where it goes.
- `shared`: the thread block's shared memory (`__shared__` in CUDA).
- `local`: thread-private memory (registers or CUDA local memory).

A memref without a memory space is host-visible device global memory (kernel
arguments and host allocations).

Kernel attributes (on `gpu.func`, written by the GPU passes):
- `tck.shared_bytes`: static shared-memory bytes the kernel's buffers take, as
  planned by tc-promote-shared (the CUDA emitter lays the buffers out the same way);
- `tck.kind`: what the kernel does (`elementwise`, `reduce_rows`, `matmul`, ...);
and on `scf.for`:
- `tck.block_loop`: a loop whose trip count is the same for every thread of a block
  (its induction variable depends on the block id only), e.g. the grid-stride loop
  over the rows a block reduces.
"""

from __future__ import annotations

from enum import StrEnum
from typing import cast

from xdsl.dialects.builtin import MemRefType, NoneAttr
from xdsl.dialects.utils import EnumAttribute
from xdsl.ir import Attribute, Dialect
from xdsl.irdl import irdl_attr_definition
from xdsl.parser import AttrParser
from xdsl.printer import Printer


class MemorySpace(StrEnum):
    GLOBAL = "global"
    SHARED = "shared"
    LOCAL = "local"


@irdl_attr_definition
class MemorySpaceAttr(EnumAttribute[MemorySpace]):
    """Where a memref lives: `#tck.memspace<global|shared|local>`."""

    name = "tck.memspace"

    def print_parameter(self, printer: Printer) -> None:
        printer.print_string(f"<{self.data.value}>")

    @classmethod
    def parse_parameter(cls, parser: AttrParser) -> MemorySpace:
        with parser.in_angle_brackets():
            return cast(MemorySpace, parser.parse_str_enum(MemorySpace))


GLOBAL = MemorySpaceAttr(MemorySpace.GLOBAL)
SHARED = MemorySpaceAttr(MemorySpace.SHARED)
LOCAL = MemorySpaceAttr(MemorySpace.LOCAL)

SHARED_BYTES = "tck.shared_bytes"
"""gpu.func attribute: planned static shared-memory bytes (IntegerAttr)."""
KIND = "tck.kind"
"""gpu.func attribute: what the kernel does (StringAttr), for tests and remarks."""
BLOCK_LOOP = "tck.block_loop"
"""scf.for attribute: the loop runs the same iterations in every thread of a block."""


def memory_space(t: Attribute) -> MemorySpace | None:
    """The tck memory space of a memref type; None for a plain (host-visible) one."""
    if not isinstance(t, MemRefType) or isinstance(t.memory_space, NoneAttr):
        return None
    space = t.memory_space
    return space.data if isinstance(space, MemorySpaceAttr) else None


def in_space(t: MemRefType, space: MemorySpaceAttr) -> MemRefType:
    """`t` with the same element type and shape in memory space `space`."""
    return MemRefType(t.element_type, t.get_shape(), memory_space=space)


TCK = Dialect("tck", [], [MemorySpaceAttr])
