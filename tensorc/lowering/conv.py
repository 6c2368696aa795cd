"""tc-bufferize lowerings of the patch ops of convolutions: `tc.im2col` and its
adjoint `tc.col2im`.

Both are one parallel loop nest over their result, so every element is written
once and no two iterations conflict (the GPU outliner and the C loop splitter can
use every outer loop):
- im2col loops over (n, oh, ow, c, kh, kw) and reads the image element at
  (oh * SH + kh * DH - pad_top, ow * SW + kw * DW - pad_left), or 0 where that
  is in the padding (an `scf.if`: a padding position has no address to load);
- col2im gathers: it loops over (n, c, h, w) and carries a sum through a
  (kh, kw) loop that adds the patch element (oh, ow, kh, kw) that read (h, w),
  where one exists: h + pad_top - kh * DH divisible by SH with a quotient oh in
  [0, OH) (likewise w). The sum runs in kernel-offset order, as the reference.

Run-time checks (`cf.assert`, naming the op and the user's line): the kernel fits
in the padded image (OH, OW >= 1); col2im's requested H, W are not negative and
give the OH, OW of its input. Static violations are ShapeErrors now.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from xdsl.builder import Builder
from xdsl.dialects import arith, scf
from xdsl.ir import Block, Region, SSAValue
from xdsl.rewriter import InsertPoint

from tensorc.dialects import tc
from tensorc.errors import ShapeError
from tensorc.lowering.buffers import (
    FunctionLowering,
    Splat,
    message,
    static_index,
    store,
    tensor_type_of,
)
from tensorc.lowering.elementwise import cmpi, constant, element_kind, emit
from tensorc.lowering.reductions import COMBINERS


def _divide(fl: FunctionLowering, value: SSAValue, divisor: int) -> SSAValue:
    """value // divisor for value >= 0, at the top level (folded when static)."""
    if divisor == 1:
        return value
    if (static := static_index(value)) is not None:
        return fl.index(static // divisor)
    return fl.arith(arith.DivSIOp(value, fl.index(divisor)))


def _window_counts(
    fl: FunctionLowering, op: tc.WindowOp, image_dims: Sequence[SSAValue]
) -> list[SSAValue]:
    """(OH, OW) of an image with `image_dims`, after checking that the kernel fits
    in the padded image (at run time unless the sizes are static)."""
    kernel, strides, dilations, pads = op.window()
    counts = []
    for axis in range(2):
        extent = dilations[axis] * (kernel[axis] - 1) + 1
        padded = fl.add(image_dims[2 + axis], fl.index(pads[axis] + pads[axis + 2]))
        what = (
            f"the kernel spans more elements along image dim {2 + axis} than the "
            "padded image has (padded size, kernel extent)"
        )
        if (static := static_index(padded)) is not None:
            if static < extent:
                raise ShapeError(f"{message(op, what)} ({static} < {extent})")
        else:
            fl.check(cmpi(fl.builder, "sge", padded, fl.index(extent)), op, what)
        span = fl.add(padded, fl.index(-extent))
        counts.append(fl.add(_divide(fl, span, strides[axis]), fl.index(1)))
    return counts


def _guarded(
    b: Builder,
    condition: SSAValue | None,
    read: Callable[[Builder], SSAValue],
    otherwise: SSAValue,
) -> SSAValue:
    """`read(builder)` where `condition` holds, else `otherwise` (an `scf.if`
    yielding one value; just `read` when there is no condition)."""
    if condition is None:
        return read(b)
    then, orelse = Block(), Block()
    inner = Builder(InsertPoint.at_end(then))
    inner.insert(scf.YieldOp(read(inner)))
    Builder(InsertPoint.at_end(orelse)).insert(scf.YieldOp(otherwise))
    branch = b.insert(
        scf.IfOp(condition, [otherwise.type], Region(then), Region(orelse))
    )
    return branch.results[0]


def _tap(
    fl: FunctionLowering,
    b: Builder,
    position: SSAValue,
    offset: SSAValue,
    stride: int,
    dilation: int,
    pad: int,
) -> SSAValue:
    """The image coordinate position * stride + offset * dilation - pad."""
    coordinate = position
    if stride != 1:
        coordinate = emit(b, arith.MuliOp(position, fl.index(stride)))
    tap = offset if dilation == 1 else emit(b, arith.MuliOp(offset, fl.index(dilation)))
    coordinate = emit(b, arith.AddiOp(coordinate, tap))
    if pad:
        coordinate = emit(b, arith.AddiOp(coordinate, fl.index(-pad)))
    return coordinate


def _all(b: Builder, conditions: Sequence[SSAValue]) -> SSAValue | None:
    """The conjunction of `conditions` (None when there are none)."""
    result: SSAValue | None = None
    for condition in conditions:
        result = (
            condition if result is None else emit(b, arith.AndIOp(result, condition))
        )
    return result


def lower_im2col(fl: FunctionLowering, op: tc.Im2colOp) -> SSAValue | Splat:
    kernel, strides, dilations, pads = op.window()
    n, c, *sizes = fl.dims(op.input)
    counts = _window_counts(fl, op, [n, c, *sizes])
    dims = fl.result_dims(op, [n, *counts, c, fl.index(kernel[0]), fl.index(kernel[1])])
    padded = [pads[a] > 0 or pads[a + 2] > 0 for a in range(2)]
    if op.input in fl.splats and not any(padded):
        return Splat(fl.splats[op.input].value, dims)
    out = fl.alloc(tensor_type_of(op.result), dims)
    zero = constant(fl.builder, 0, tensor_type_of(op.result).get_element_type())

    def body(b: Builder, ivs: list[SSAValue], _: list[SSAValue]) -> list[SSAValue]:
        n_iv, oh, ow, c_iv, i, j = ivs
        rows = _tap(fl, b, oh, i, strides[0], dilations[0], pads[0])
        columns = _tap(fl, b, ow, j, strides[1], dilations[1], pads[1])
        # Unsigned: a negative coordinate is huge, so one compare covers both ends
        # (without padding every window lies inside the image).
        inside = _all(
            b,
            [
                cmpi(b, "ult", coordinate, size)
                for coordinate, size, check in zip((rows, columns), sizes, padded)
                if check
            ],
        )
        coords = [n_iv, c_iv, rows, columns]
        value = _guarded(b, inside, lambda ib: fl.element(ib, op.input, coords), zero)
        store(b, value, out, ivs)
        return []

    fl.loops(dims, body)
    return out


def _image_dims(
    fl: FunctionLowering, op: tc.Col2imOp, patch_dims: list[SSAValue]
) -> list[SSAValue]:
    """(N, C, H, W) of col2im's result: N and C from the patches, H and W static
    in the result type or read from the `dims` operands (checked >= 0)."""
    sizes = fl.target_dims(op, op.dims, first=2)
    return fl.result_dims(op, [patch_dims[0], patch_dims[3], *sizes])


def _source_window(
    fl: FunctionLowering,
    b: Builder,
    position: SSAValue,
    offset: SSAValue,
    count: SSAValue,
    stride: int,
    dilation: int,
    pad: int,
) -> tuple[SSAValue, SSAValue]:
    """(window index, whether it exists) of the window whose tap `offset` reads
    image `position`: (position + pad - offset * dilation) / stride when that
    divides exactly and lies in [0, count)."""
    shifted = position
    if pad:
        shifted = emit(b, arith.AddiOp(position, fl.index(pad)))
    tap = offset if dilation == 1 else emit(b, arith.MuliOp(offset, fl.index(dilation)))
    shifted = emit(b, arith.SubiOp(shifted, tap))
    if stride == 1:
        return shifted, cmpi(b, "ult", shifted, count)
    # Truncating division: a negative `shifted` either leaves a remainder or
    # gives a negative quotient, which the unsigned compare rejects.
    quotient = emit(b, arith.DivSIOp(shifted, fl.index(stride)))
    exact = cmpi(
        b, "eq", emit(b, arith.RemSIOp(shifted, fl.index(stride))), fl.index(0)
    )
    return quotient, emit(b, arith.AndIOp(exact, cmpi(b, "ult", quotient, count)))


def lower_col2im(fl: FunctionLowering, op: tc.Col2imOp) -> SSAValue:
    kernel, strides, dilations, pads = op.window()
    patch_dims = fl.dims(op.input)
    dims = _image_dims(fl, op, patch_dims)
    counts = _window_counts(fl, op, dims)
    for axis in range(2):
        what = (
            f"input dim {1 + axis} differs from the window count of result dim "
            f"{2 + axis}"
        )
        fl.check_equal(patch_dims[1 + axis], counts[axis], op, what)
        what = f"input dim {4 + axis} differs from the kernel"
        fl.check_equal(patch_dims[4 + axis], fl.index(kernel[axis]), op, what)
    element = tensor_type_of(op.result).get_element_type()
    add = COMBINERS["sum"].step[element_kind(element)]
    out = fl.alloc(tensor_type_of(op.result), dims)
    zero = constant(fl.builder, 0, element)
    taps = [fl.index(k) for k in kernel]

    def body(b: Builder, ivs: list[SSAValue], _: list[SSAValue]) -> list[SSAValue]:
        n, c, h, w = ivs

        def accumulate(
            ib: Builder, offsets: list[SSAValue], total: list[SSAValue]
        ) -> list[SSAValue]:
            windows = [
                _source_window(fl, ib, position, offset, count, *window)
                for position, offset, count, window in zip(
                    (h, w), offsets, patch_dims[1:3], zip(strides, dilations, pads[:2])
                )
            ]
            coords = [n, windows[0][0], windows[1][0], c, *offsets]
            inside = _all(ib, [exists for _, exists in windows])

            def read(rb: Builder) -> SSAValue:
                return emit(rb, add(total[0], fl.element(rb, op.input, coords)))

            return [_guarded(ib, inside, read, total[0])]

        (total,) = fl.loops(taps, accumulate, [zero], builder=b)
        store(b, total, out, ivs)
        return []

    fl.loops(dims, body)
    return out
