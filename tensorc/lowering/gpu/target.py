"""The one description of the GPU that the passes and the CUDA emitter read.

Limits live here and nowhere else: tc-outline-gpu-kernels takes block sizes, tile
sizes and grid caps from it, tc-promote-shared the shared-memory budget, the tests
the architectures to compile for. `shared_layout` is the single rule that places a
kernel's shared buffers, so the bytes tc-promote-shared plans are the bytes the
CUDA source declares (and ptxas reports).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from xdsl.dialects.builtin import MemRefType

from tensorc.lowering.cpu.c_expr import c_scalar_type


@dataclass(frozen=True)
class GpuTarget:
    """Limits and tuning of the CUDA devices tensorc compiles for (sm_75 and up)."""

    max_threads_per_block: int = 1024
    shared_bytes_per_block: int = 48 * 1024
    """Static shared memory a block may declare (without opt-in carve-outs)."""
    warp_size: int = 32
    block_size: int = 256
    """Threads per block of 1-D kernels (elementwise, reductions); a power of 2."""
    tile: int = 16
    """Matrix products: tile x tile threads per block, two tile x tile shared tiles."""
    max_grid_blocks: int = 65535
    """Cap on the blocks of a grid-stride launch (fits every grid dimension)."""
    max_partial_blocks: int = 256
    """Blocks of the first pass of a full reduction (one partial result each)."""
    shared_alignment: int = 8
    """Alignment of every shared buffer (the widest element is 8 bytes)."""
    archs: tuple[str, ...] = ("sm_75", "sm_80", "sm_90")

    def __post_init__(self) -> None:
        if self.block_size & (self.block_size - 1) or self.block_size < 2:
            raise ValueError(f"block_size {self.block_size} must be a power of 2")
        if self.block_size > self.max_threads_per_block:
            raise ValueError("block_size exceeds max_threads_per_block")
        if self.tile * self.tile > self.max_threads_per_block:
            raise ValueError("tile * tile exceeds max_threads_per_block")


DEFAULT_TARGET = GpuTarget()


def buffer_bytes(t: MemRefType) -> int:
    """Bytes of a statically shaped memref (i1 elements take one byte)."""
    count = 1
    for size in t.get_shape():
        if size < 0:
            raise ValueError(f"{t} has a dynamic shape")
        count *= size
    element = c_scalar_type(t.element_type)
    return count * max(element.bits // 8, 1)


def shared_layout(
    types: Sequence[MemRefType], target: GpuTarget = DEFAULT_TARGET
) -> tuple[list[int], int]:
    """Byte offsets of shared buffers laid out in order, each aligned to
    `target.shared_alignment`, and the total (a multiple of the alignment)."""
    align = target.shared_alignment
    offsets: list[int] = []
    total = 0
    for t in types:
        offsets.append(total)
        total += -(-buffer_bytes(t) // align) * align
    return offsets, total
