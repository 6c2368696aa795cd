"""`tensorc.dataset`: the pieces data pipelines are built from (Chainer's
`chainer.dataset`): `concat_examples` turns a list of examples into batch arrays,
`DatasetMixin` makes a dataset from `__len__` and `get_example`, `Iterator` is the
base class of `tensorc.iterators`.

    batch = train_iter.next()                # [(x0, t0), (x1, t1), ...]
    x, t = dataset.concat_examples(batch)    # arrays of shape (n, ...) and (n,)
"""

from tensorc.dataset import convert
from tensorc.dataset.convert import concat_examples, to_device
from tensorc.dataset.dataset_mixin import DatasetMixin
from tensorc.dataset.iterator import Iterator

__all__ = ["DatasetMixin", "Iterator", "concat_examples", "convert", "to_device"]
