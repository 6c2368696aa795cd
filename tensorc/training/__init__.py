"""`tensorc.training`: Chainer's training loop (`chainer.training`).

    from tensorc import training
    from tensorc.training import extensions

    updater = training.updaters.StandardUpdater(train_iter, optimizer)
    trainer = training.Trainer(updater, (20, 'epoch'), out='result')
    trainer.extend(extensions.Evaluator(test_iter, model))
    trainer.extend(extensions.LogReport())
    trainer.extend(extensions.PrintReport(['epoch', 'main/loss', 'elapsed_time']))
    trainer.run()
"""

from tensorc.training import extensions, triggers, updaters
from tensorc.training.extension import (
    PRIORITY_EDITOR,
    PRIORITY_READER,
    PRIORITY_WRITER,
    Extension,
    make_extension,
)
from tensorc.training.trainer import Trainer
from tensorc.training.triggers import get_trigger
from tensorc.training.updaters import StandardUpdater, Updater

__all__ = [
    "PRIORITY_EDITOR", "PRIORITY_READER", "PRIORITY_WRITER", "Extension",
    "StandardUpdater", "Trainer", "Updater", "extensions", "get_trigger",
    "make_extension", "triggers", "updaters",
]
