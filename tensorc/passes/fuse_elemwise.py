"""tc-fuse-elemwise: clusters of elementwise tc ops -> `tc.composite` kernels.

Preconditions:
- the module verifies; tc ops sit in the top-level blocks of `func.func` bodies;
- tc-autodiff has run (a composite has no VJP rule).

Postconditions:
- every cluster of two or more elementwise ops (`tc.ELEMENTWISE_OPS`, and earlier
  composites) of one shape that are connected by producer -> consumer edges and
  form a convex set is one `tc.composite`; so is a single op that reads a
  broadcast of a non-splat (the broadcast becomes the composite's index map) or
  whose only user is a reduction (tc-bufferize computes a composite read only by
  a reduction inside the reduction's loop: `sum(x * y)` is one loop nest);
- its body is built by the ELEMENTWISE registry; splat constants and
  `tc.broadcast`s of them become scalar `arith.constant`s inside the body; other
  absorbed `tc.broadcast`s become broadcasting inputs (their source tensor);
- a composite has one output per member value used outside the cluster (multiple
  outputs, any number of users each) and at most `max-inputs` inputs;
- ops are in a valid (topological) order, and absorbed ops left without users are
  erased; every other op is untouched.

Convexity (never create a cycle): a set M of ops may become one composite only if
no path leaves M and comes back, i.e. no external input of M depends on a member
of M. Every op carries the bitset of fusible ops it depends on (`reach`); a merge
is accepted only if the union of its external inputs' `reach` is disjoint from the
bitset of its members. A composite reading the result of, say, a reduction of one
of its own members is therefore split there.

Clusters are built in one sweep in block order: each fusible op joins the
clusters of its operands' producers, one producer cluster at a time, in operand
order, skipping a merge that would break convexity, mix shapes or exceed
`max-inputs` inputs (so the split is deterministic). Each cluster is then
rewritten once: linear in the number of ops, plus bitset unions.

A `tc.broadcast` operand is absorbed only when its run-time check stays implied:
each dynamic target dim is a `tc.dim` of the broadcast's own source or of another
operand of the consuming op (the frontend's form), at the aligned axis, whose size
the composite's own shape rules then compare with the loop's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from xdsl.builder import Builder
from xdsl.context import Context
from xdsl.dialects import arith, func
from xdsl.dialects.builtin import (
    DYNAMIC_INDEX,
    FloatAttr,
    FusedLoc,
    IntegerAttr,
    ModuleOp,
    NameLoc,
    NoneAttr,
    StringAttr,
    TensorType,
)
from xdsl.ir import Attribute, Block, Operation, Region, SSAValue
from xdsl.passes import ModulePass
from xdsl.rewriter import InsertPoint, Rewriter

from tensorc.dialects import composite_expression, tc
from tensorc.dialects.composite_expression import Argument, Recipe, Step
from tensorc.lowering.composite import FUSIBLE_CONSUMERS
from tensorc.lowering.elementwise import ELEMENTWISE

Scalar = bool | int | float
"""The value of an absorbed splat constant."""


# ---------------------------------------------------------------------------------
# What a member reads: an input tensor (maybe through a broadcast) or a constant
# ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    """What the composite reads for one operand of a member: a tensor `value` (a
    member result, or an input, possibly of lower rank), or a `constant`."""

    value: SSAValue | None = None
    constant: Scalar | None = None


def _splat(value: SSAValue) -> Scalar | None:
    """The value of a splat `tc.constant` result, else None."""
    owner = value.owner
    if not isinstance(owner, tc.ConstantOp) or len(owner.value) != 1:
        return None
    return tc.array_from_dense(owner.value).reshape(-1)[0].item()


def _witness(bcast: tc.BroadcastOp, axis: int, dims: SSAValue) -> SSAValue | None:
    """The tensor whose size dynamic target dim `axis` of `bcast` reads (a tc.dim
    at the aligned axis of a tensor that broadcasts to the target), else None."""
    dim = dims.owner
    if not isinstance(dim, tc.DimOp):
        return None
    target = tensor_shape(bcast.result)
    t = dim.input.type
    assert isinstance(t, TensorType)
    aligned = (
        tc.aligned_shape(t, len(target)) if t.get_num_dims() <= len(target) else None
    )
    j = dim.axis.value.data
    if aligned is None or j != axis - (len(target) - t.get_num_dims()):
        return None
    compatible = all(
        d is None or d == 1 or d == DYNAMIC_INDEX or d == r or r == DYNAMIC_INDEX
        for d, r in zip(aligned, target)
    )
    return dim.input if compatible and aligned[axis] != 1 else None


def absorbed_broadcast(bcast: tc.BroadcastOp) -> list[SSAValue] | None:
    """The tensors whose sizes must agree with the loop's for `bcast` to become an
    index map of a composite (its witnesses), or None if some target dim is not
    such a `tc.dim` (then the broadcast stays an op)."""
    target = tensor_shape(bcast.result)
    dims = iter(bcast.dims)
    witnesses = []
    for axis, d in enumerate(target):
        if d == DYNAMIC_INDEX:
            witness = _witness(bcast, axis, next(dims))
            if witness is None:
                return None
            witnesses.append(witness)
    return witnesses


def source_of(value: SSAValue) -> tuple[Source, list[SSAValue]]:
    """What a fused op reads for its operand `value`, and the witnesses of an
    absorbed broadcast (read for their shapes only: the composite compares their
    sizes with the loop's, the check the broadcast made)."""
    constant = _splat(value)
    if constant is not None:
        return Source(constant=constant), []
    owner = value.owner
    if isinstance(owner, tc.BroadcastOp):
        witnesses = absorbed_broadcast(owner)
        if witnesses is not None:
            constant = _splat(owner.input)
            if constant is not None:
                return Source(constant=constant), witnesses
            return Source(value=owner.input), witnesses
    return Source(value=value), []


def tensor_shape(value: SSAValue) -> tuple[int, ...]:
    t = value.type
    assert isinstance(t, TensorType)
    return tuple(t.get_shape())


def fusible(op: Operation) -> bool:
    return type(op) in ELEMENTWISE or isinstance(op, tc.CompositeOp)


# ---------------------------------------------------------------------------------
# Planning: one sweep over a block
# ---------------------------------------------------------------------------------


@dataclass
class Cluster:
    """Ops to fuse (in block order), the bitset of their ids, and the tensors they
    read from outside (ordered by first use)."""

    members: list[Operation]
    ids: int
    shape: tuple[int, ...]
    inputs: dict[SSAValue, None] = field(default_factory=dict)

    def absorbs_broadcast(self) -> bool:
        return any(tensor_shape(v) != self.shape for v in self.inputs)


@dataclass
class Planner:
    """Builds the clusters of one block (see the module docstring)."""

    max_inputs: int
    ids: dict[Operation, int] = field(default_factory=dict)
    reach: dict[Operation, int] = field(default_factory=dict)
    cluster_of: dict[Operation, Cluster] = field(default_factory=dict)
    live: dict[int, Cluster] = field(default_factory=dict)
    """The clusters of two or more ops, by id."""
    sources: dict[Operation, list[Source]] = field(default_factory=dict)
    witnesses: dict[Operation, list[SSAValue]] = field(default_factory=dict)
    roots: dict[SSAValue, SSAValue] = field(default_factory=dict)
    replaced: dict[SSAValue, SSAValue] = field(default_factory=dict)
    """Member results already replaced by composite outputs (planning keeps the
    old values as keys; operands of new composites must be the new ones)."""

    def plan(self, block: Block) -> list[Cluster]:
        for op in block.ops:
            self.reach[op] = self._upstream(op)
            if fusible(op):
                self.ids[op] = len(self.ids)
                self._place(op)
        seen: dict[int, Cluster] = {}
        for cluster in self.cluster_of.values():
            seen.setdefault(id(cluster), cluster)
        return list(seen.values())

    def _bits_of(self, value: SSAValue) -> int:
        """The fusible ops `value` depends on, its own producer included."""
        owner = value.owner
        if not isinstance(owner, Operation):
            return 0
        own = 1 << self.ids[owner] if owner in self.ids else 0
        return self.reach.get(owner, 0) | own

    def _upstream(self, op: Operation) -> int:
        bits = 0
        for value in op.operands:
            bits |= self._bits_of(value)
        return bits

    def _place(self, op: Operation) -> None:
        sources, witnesses = [], []
        for value in op.operands:
            source, seen = source_of(value)
            sources.append(source)
            witnesses += seen
        self.sources[op] = sources
        root = self._shape_root(op.results[0])
        witnesses = [w for w in witnesses if self._shape_root(w) is not root]
        self.witnesses[op] = witnesses
        inputs = {s.value: None for s in sources if s.value is not None}
        inputs.update(dict.fromkeys(witnesses))
        cluster = Cluster([op], 1 << self.ids[op], tensor_shape(op.results[0]), inputs)
        self.cluster_of[op] = cluster
        producers = [
            s.value.owner
            for s in sources
            if s.value is not None and s.value.owner in self.cluster_of
        ]
        for producer in dict.fromkeys(producers):
            other = self.cluster_of[producer]  # type: ignore[index]
            if other is not cluster:
                cluster = self._merge(cluster, other)

    def _shape_root(self, value: SSAValue) -> SSAValue:
        """The value `value`'s dims were checked equal to: up through elementwise
        producers, along the first operand of the same type shape (not a
        broadcast). Values with one root have equal dims at run time, so a witness
        with the consumer's root adds no check (tc-canonicalize moves tc.dim up
        the same way, which makes such witnesses common)."""
        chain = []
        while value not in self.roots:
            chain.append(value)
            owner = value.owner
            if not isinstance(owner, Operation) or not fusible(owner):
                break
            same = [
                v
                for v in owner.operands
                if tensor_shape(v) == tensor_shape(value)
                and not isinstance(v.owner, tc.BroadcastOp)
            ]
            if not same:
                break
            value = same[0]
        root = self.roots.get(value, value)
        for v in chain:
            self.roots[v] = root
        return root

    def _merge(self, cluster: Cluster, other: Cluster) -> Cluster:
        """cluster + other if the union is convex, of one shape and small enough
        (the smaller cluster moves into the larger: linear overall)."""
        if other.shape != cluster.shape:
            return cluster
        ids = cluster.ids | other.ids
        inputs = {
            v: None
            for v in (*other.inputs, *cluster.inputs)
            if self.cluster_of.get(v.owner) not in (cluster, other)  # type: ignore
        }
        if len(inputs) > self.max_inputs:
            return cluster
        external = 0
        for value in inputs:
            external |= self._bits_of(value)
        if self._through_clusters(external, (cluster, other)) & ids:
            return cluster  # some input depends on a member: a cycle
        big, small = (cluster, other)
        if len(small.members) > len(big.members):
            big, small = small, big
        big.members.extend(small.members)
        big.ids, big.inputs = ids, inputs
        for member in small.members:
            self.cluster_of[member] = big
        self.live.pop(id(small), None)
        self.live[id(big)] = big
        return big

    def _through_clusters(self, bits: int, merging: tuple[Cluster, ...]) -> int:
        """`bits` closed over the other multi-op clusters: a value that depends on
        one member of a cluster depends on all of that cluster's inputs once the
        cluster is one op (without this, two clusters could feed each other)."""
        others = [c for c in self.live.values() if all(c is not m for m in merging)]
        changed = True
        while changed:
            changed = False
            for other in others:
                if other.ids & bits and (other.ids | self._inputs_bits(other)) & ~bits:
                    bits |= other.ids | self._inputs_bits(other)
                    changed = True
        return bits

    def _inputs_bits(self, cluster: Cluster) -> int:
        bits = 0
        for value in cluster.inputs:
            bits |= self._bits_of(value)
        return bits

    def ordered(self, cluster: Cluster) -> tuple[list[Operation], list[SSAValue]]:
        """The cluster's members in block order and its inputs by first use."""
        members = sorted(cluster.members, key=self.ids.__getitem__)
        inputs: dict[SSAValue, None] = {}
        for member in members:
            values = [s.value for s in self.sources[member] if s.value is not None]
            for value in (*values, *self.witnesses[member]):
                if self.cluster_of.get(value.owner) is not cluster:  # type: ignore
                    inputs[value] = None
        return members, list(inputs)


# ---------------------------------------------------------------------------------
# Rewriting one cluster into a composite
# ---------------------------------------------------------------------------------


@dataclass
class BodyBuilder:
    """The body of one composite: scalars for inputs, constants and members."""

    cluster: Cluster
    planner: Planner
    block: Block = field(init=False)
    scalars: dict[SSAValue, SSAValue] = field(default_factory=dict)
    arguments: dict[SSAValue, Argument] = field(default_factory=dict)
    steps: list[Step] = field(default_factory=list)
    constants: dict[tuple[str, Attribute], SSAValue] = field(default_factory=dict)
    templates: dict[tuple[object, ...], tuple[Block, SSAValue]] = field(
        default_factory=dict
    )
    locations: dict[tuple[str, Attribute], NameLoc] = field(default_factory=dict)

    def __post_init__(self) -> None:
        inputs = list(self.cluster.inputs)
        self.block = Block(arg_types=[_element(v) for v in inputs])
        for i, (value, arg) in enumerate(zip(inputs, self.block.args)):
            self.scalars[value] = arg
            self.arguments[value] = f"i{i}"

    def build(self, outputs: Sequence[SSAValue]) -> Region:
        builder = Builder(InsertPoint.at_end(self.block))
        for member in self.cluster.members:
            if isinstance(member, tc.CompositeOp):
                self._inline(member, builder)
            else:
                self._add(member, builder)
        builder.insert(tc.YieldOp(*(self.scalars[v] for v in outputs)))
        return Region(self.block)

    def _operand(self, source: Source, element: Attribute) -> tuple[SSAValue, Argument]:
        """The scalar for one member operand (one arith.constant per distinct
        literal, at the top of the body) and its recipe argument."""
        if source.value is not None:
            return self.scalars[source.value], self.arguments[source.value]
        key = (repr(source.constant), element)
        if key not in self.constants:
            value = _scalar_attr(source.constant, element)
            op = arith.ConstantOp(value)  # type: ignore[arg-type]
            previous = (
                self.constants[next(reversed(self.constants))]
                if self.constants
                else None
            )
            where = (
                InsertPoint.at_start(self.block)
                if previous is None
                else InsertPoint.after(previous.owner)
            )  # type: ignore[arg-type]
            Rewriter.insert_op(op, where)
            self.constants[key] = op.result
        return self.constants[key], source.constant  # type: ignore[return-value]

    def _add(self, member: Operation, builder: Builder) -> None:
        """Clone the member's scalar code (built once per op kind and types by the
        ELEMENTWISE registry: cloning is cheaper than building), located at it."""
        sources = self.planner.sources[member]
        operands = [
            self._operand(s, _element(v)) for s, v in zip(sources, member.operands)
        ]
        scalars = [o[0] for o in operands]
        template, result = self._template(member, [v.type for v in scalars])
        location = self._location(member)
        mapping: dict[SSAValue, SSAValue] = dict(zip(template.args, scalars))
        for op in template.ops:
            clone = op.clone(value_mapper=mapping)
            clone.location = location
            builder.insert(clone)
        self._record(
            member.results[0],
            mapping.get(result, result),
            Step(
                member.name.removeprefix("tc."),
                tuple(o[1] for o in operands),
                tc.dtype_of(member.results[0].type)
                if isinstance(member, tc.CastOp)
                else None,
            ),
        )

    def _location(self, member: Operation) -> NameLoc:
        """NameLoc("tc.<op>", the member's location), one attribute per distinct
        pair (members of a loop share their line)."""
        key = (member.name, member.location)
        if key not in self.locations:
            self.locations[key] = NameLoc(StringAttr(member.name), member.location)
        return self.locations[key]

    def _template(
        self, member: Operation, types: list[Attribute]
    ) -> tuple[Block, SSAValue]:
        key = (type(member), tuple(types), member.results[0].type)
        if key not in self.templates:
            block = Block(arg_types=types)
            build = ELEMENTWISE[type(member)]
            result = build(Builder(InsertPoint.at_end(block)), list(block.args), member)
            self.templates[key] = (block, result)
        return self.templates[key]

    def _record(self, value: SSAValue, scalar: SSAValue, step: Step) -> None:
        self.scalars[value] = scalar
        self.arguments[value] = f"%{len(self.steps)}"
        self.steps.append(step)

    def _inline(self, member: tc.CompositeOp, builder: Builder) -> None:
        """An earlier composite: its body ops, cloned, and its recipe renumbered."""
        sources = self.planner.sources[member]
        mapping: dict[SSAValue, SSAValue] = {}
        args: list[Argument] = []
        for arg, source, value in zip(member.block.args, sources, member.inputs):
            mapping[arg], text = self._operand(source, _element(value))
            args.append(text)
        for op in member.block.ops:
            if isinstance(op, tc.YieldOp):
                break
            builder.insert(op.clone(value_mapper=mapping))
        yielded = [mapping.get(v, v) for v in member.yield_op.values]
        refs = _inline_recipe(member, args, self.steps)
        for result, scalar, ref in zip(member.outputs, yielded, refs):
            self.scalars[result] = scalar
            self.arguments[result] = ref


def _inline_recipe(
    member: tc.CompositeOp, args: list[Argument], steps: list[Step]
) -> list[Argument]:
    """Append an earlier composite's recipe steps (renumbered) to `steps`; returns
    the references of its outputs. Without a recipe it is one opaque step."""
    text = member.expression.data if member.expression is not None else None
    if text is None:
        steps.append(Step("composite", tuple(args)))
        return [f"%{len(steps) - 1}"] * len(member.outputs)
    recipe = composite_expression.parse(text)
    offset = len(steps)

    def renumber(arg: Argument) -> Argument:
        if isinstance(arg, str) and arg.startswith("%"):
            return f"%{int(arg[1:]) + offset}"
        if isinstance(arg, str):
            return args[int(arg[1:])]
        return arg

    for step in recipe.steps:
        steps.append(Step(step.op, tuple(renumber(a) for a in step.args), step.dtype))
    return [renumber(ref) for ref in recipe.outputs]


def _element(value: SSAValue) -> Attribute:
    t = value.type
    assert isinstance(t, TensorType)
    return t.get_element_type()


def _scalar_attr(value: Scalar | None, element: Attribute) -> FloatAttr | IntegerAttr:
    if tc.is_float(element):
        return FloatAttr(float(value), element)  # type: ignore[arg-type]
    if tc.is_bool(element):
        return IntegerAttr(-1 if value else 0, element)  # type: ignore[arg-type]
    return IntegerAttr(int(value), element)  # type: ignore[arg-type]


def _outputs(cluster: Cluster) -> list[SSAValue]:
    """Member results used outside the cluster, in member order."""
    members = set(cluster.members)
    return [
        r
        for m in cluster.members
        for r in m.results
        if any(use.operation not in members for use in r.uses)
    ]


def _reading_order(
    cluster: Cluster, outputs: Sequence[SSAValue], planner: Planner
) -> list[SSAValue]:
    """The cluster's inputs in the order the outputs' expressions read them, left
    to right (so `x * (y + 2 * z)` prints as `Composite{...}(x, y, z)`); inputs
    read only for their shapes come last."""
    members = set(cluster.members)
    order: dict[SSAValue, None] = {}
    seen: set[Operation] = set()
    stack = list(reversed(outputs))
    while stack:
        value = stack.pop()
        owner = value.owner
        if owner not in members:
            order.setdefault(value, None)
        elif owner not in seen:
            seen.add(owner)  # type: ignore[arg-type]
            sources = planner.sources[owner]  # type: ignore[index]
            stack.extend(s.value for s in reversed(sources) if s.value is not None)
    order.update((v, None) for v in cluster.inputs if v not in order)
    return list(order)


def _fused_location(members: Sequence[Operation]) -> Attribute:
    locations = list(
        dict.fromkeys(
            loc
            for m in members
            for loc in (
                m.location.locations
                if isinstance(m.location, FusedLoc)
                else (m.location,)
            )
        )
    )
    return FusedLoc(locations, NoneAttr())


def worth_fusing(cluster: Cluster) -> bool:
    """Two or more ops; or one that would otherwise materialize a broadcast, or
    whose only user is a reduction (which then computes it in its own loop)."""
    if len(cluster.members) > 1:
        return True
    (member,) = cluster.members
    if isinstance(member, tc.CompositeOp):
        return False
    uses = list(member.results[0].uses)
    feeds_reduction = len(uses) == 1 and isinstance(
        uses[0].operation, FUSIBLE_CONSUMERS
    )
    return cluster.absorbs_broadcast() or feeds_reduction


def rewrite(cluster: Cluster, planner: Planner) -> tc.CompositeOp | None:
    """Replace the cluster's ops by one composite at the last member's place."""
    outputs = _outputs(cluster)
    if not outputs:
        return None  # dead ops (dce leaves none before this pass)
    cluster.inputs = dict.fromkeys(_reading_order(cluster, outputs, planner))
    body = BodyBuilder(cluster, planner)
    region = body.build(outputs)
    recipe = Recipe(tuple(body.steps), tuple(str(body.arguments[v]) for v in outputs))
    inputs = [planner.replaced.get(v, v) for v in cluster.inputs]
    composite = tc.CompositeOp(inputs, [v.type for v in outputs], region, recipe.text())
    composite.location = _fused_location(cluster.members)
    if not _determined(composite):
        return None
    last = cluster.members[-1]
    Rewriter.insert_op(composite, InsertPoint.before(last))
    for old, new in zip(outputs, composite.outputs):
        old.replace_all_uses_with(new)
        planner.replaced[old] = new
        if old.name_hint:
            new.name_hint = old.name_hint
    for member in reversed(cluster.members):
        Rewriter.erase_op(member)
    return composite


def _determined(composite: tc.CompositeOp) -> bool:
    """Every dynamic output dim is set by an input (not so when every input of a
    cluster was absorbed as a constant)."""
    sources = set()
    for i in range(len(composite.inputs)):
        sources.update(composite.dim_sources(i))
    shape = composite.result_type().get_shape()
    return all(d != DYNAMIC_INDEX or a in sources for a, d in enumerate(shape))


# ---------------------------------------------------------------------------------
# Order and cleanup
# ---------------------------------------------------------------------------------


def _in_order(block: Block) -> bool:
    seen: set[Operation] = set()
    for op in block.ops:
        for value in op.operands:
            owner = value.owner
            if (
                isinstance(owner, Operation)
                and owner.parent is block
                and owner not in seen
            ):
                return False
        seen.add(op)
    return True


def sort_topologically(block: Block) -> None:
    """Reorder `block` so that every op follows its operands' producers, keeping
    the original order wherever it is already valid (stable Kahn sort)."""
    import heapq

    ops = list(block.ops)
    position = {op: i for i, op in enumerate(ops)}
    waiting = {op: 0 for op in ops}
    users: dict[Operation, list[Operation]] = {op: [] for op in ops}
    for op in ops:
        for producer in {v.owner for v in op.operands}:
            if producer in position:
                waiting[op] += 1
                users[producer].append(op)  # type: ignore[index]
    ready = [position[op] for op in ops if waiting[op] == 0]
    heapq.heapify(ready)
    order: list[Operation] = []
    while ready:
        op = ops[heapq.heappop(ready)]
        order.append(op)
        for user in users[op]:
            waiting[user] -= 1
            if waiting[user] == 0:
                heapq.heappush(ready, position[user])
    assert len(order) == len(ops), "a cycle: fusion broke convexity"
    for op in ops:
        op.detach()
    block.add_ops(order)


def erase_dead_absorbed(block: Block) -> None:
    """Erase constants, broadcasts and dims that fusion left without users."""
    kinds = (tc.ConstantOp, tc.BroadcastOp, tc.DimOp)
    for op in reversed(list(block.ops)):
        if isinstance(op, kinds) and not any(r.uses for r in op.results):
            Rewriter.erase_op(op)


def fuse_block(block: Block, max_inputs: int) -> list[tc.CompositeOp]:
    planner = Planner(max_inputs)
    composites = []
    for cluster in planner.plan(block):
        cluster.members, inputs = planner.ordered(cluster)
        cluster.inputs = dict.fromkeys(inputs)
        if worth_fusing(cluster):
            composite = rewrite(cluster, planner)
            if composite is not None:
                composites.append(composite)
    if composites:
        if not _in_order(block):
            sort_topologically(block)
        erase_dead_absorbed(block)
    return composites


@dataclass(frozen=True)
class FuseElemwisePass(ModulePass):
    """Fuse convex clusters of elementwise tc ops into tc.composite (see the
    module docstring); `max-inputs` bounds the inputs of one composite."""

    name = "tc-fuse-elemwise"

    max_inputs: int = 32

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        if self.max_inputs < 1:
            raise ValueError("tc-fuse-elemwise: max-inputs must be at least 1")
        for fn in op.ops:
            if isinstance(fn, func.FuncOp) and not fn.is_declaration:
                fuse_block(fn.body.block, self.max_inputs)
