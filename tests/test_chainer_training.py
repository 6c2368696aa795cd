"""Chainer's training loop on tensorc, with only the imports changed: a
train_mnist.py-style program end to end (datasets, SerialIterator,
StandardUpdater, Trainer, Evaluator, LogReport, PrintReport, snapshot), resuming
from a snapshot, and each piece against hand-computed expectations."""

import json
import os
from typing import ClassVar

import numpy as np
import pytest

import tensorc as chainer
import tensorc.functions as F
import tensorc.links as L
from tensorc import training
from tensorc.training import extensions
from tensorc.training.serialization import load_npz


class MLP(chainer.Chain):
    """The network of Chainer's MNIST example."""

    def __init__(self, n_units, n_out):
        super().__init__()
        with self.init_scope():
            self.l1 = L.Linear(None, n_units)
            self.l2 = L.Linear(None, n_units)
            self.l3 = L.Linear(None, n_out)

    def forward(self, x):
        h1 = F.relu(self.l1(x))
        h2 = F.relu(self.l2(h1))
        return self.l3(h2)


def synthetic_mnist(n, seed=0):
    """Ten noisy binary prototypes of 64 'pixels' (float32 in [0, 1]) and their
    int32 labels: separable, but not after one epoch of Adam's small steps."""
    rng = np.random.default_rng(seed)
    prototypes = np.random.default_rng(42).uniform(size=(10, 64)) > 0.7
    labels = rng.integers(0, 10, size=n).astype(np.int32)
    images = prototypes[labels] + rng.normal(scale=0.3, size=(n, 64))
    return np.clip(images, 0, 1).astype(np.float32), labels


def mnist_datasets(n_train=600, n_test=200):
    train = chainer.datasets.TupleDataset(*synthetic_mnist(n_train))
    test = chainer.datasets.TupleDataset(*synthetic_mnist(n_test, seed=1))
    return train, test


def build_trainer(out, epochs, batchsize=20, extra=()):
    """train_mnist.py's main(), as Chainer's example writes it."""
    model = L.Classifier(MLP(32, 10))
    optimizer = chainer.optimizers.Adam()
    optimizer.setup(model)
    train, test = mnist_datasets()
    train_iter = chainer.iterators.SerialIterator(train, batchsize)
    test_iter = chainer.iterators.SerialIterator(test, 100, repeat=False, shuffle=False)
    updater = training.updaters.StandardUpdater(train_iter, optimizer, device=-1)
    trainer = training.Trainer(updater, (epochs, "epoch"), out=str(out))
    trainer.extend(extensions.Evaluator(test_iter, model, device=-1))
    trainer.extend(extensions.snapshot(), trigger=(1, "epoch"))
    trainer.extend(extensions.LogReport())
    for extension in extra:
        trainer.extend(extension)
    return trainer, model, optimizer


ENTRIES = ["epoch", "main/loss", "validation/main/loss", "main/accuracy",
           "validation/main/accuracy", "elapsed_time"]


def test_train_mnist_style_program(tmp_path, capsys):
    np.random.seed(0)
    trainer, _, optimizer = build_trainer(
        tmp_path, epochs=4, extra=[extensions.PrintReport(ENTRIES),
                                   extensions.ProgressBar(update_interval=40)])
    trainer.run()

    with open(tmp_path / "log") as file:
        log = json.load(file)
    assert [entry["epoch"] for entry in log] == [1, 2, 3, 4]
    assert [entry["iteration"] for entry in log] == [30, 60, 90, 120]
    assert set(log[-1]) == set(ENTRIES) | {"iteration"}
    assert log[0]["validation/main/accuracy"] < 0.8
    assert log[-1]["validation/main/accuracy"] > 0.95
    assert log[-1]["main/loss"] < 0.5 * log[0]["main/loss"]
    assert 0 < log[0]["elapsed_time"] < log[-1]["elapsed_time"] == pytest.approx(
        trainer.elapsed_time, abs=0.5)
    assert trainer.updater.iteration == 120 and optimizer.t == 120
    assert optimizer.epoch == 4  # the updater starts each optimizer epoch
    assert sorted(os.listdir(tmp_path)) == [
        "log", "snapshot_iter_120", "snapshot_iter_30", "snapshot_iter_60",
        "snapshot_iter_90"]

    printed = capsys.readouterr().out.splitlines()
    table = [line for line in printed if not line.startswith("total [")]
    assert table[0].split() == ENTRIES
    assert [row.split()[0] for row in table[1:]] == ["1", "2", "3", "4"]
    assert float(table[-1].split()[4]) == pytest.approx(
        log[-1]["validation/main/accuracy"], rel=1e-5)
    progress = [line for line in printed if line.startswith("total [")]
    assert len(progress) == 3 and "80 iter, 2 epoch" in progress[1]


def test_resuming_from_a_snapshot_continues_the_same_run(tmp_path):
    """Two epochs in one run, and one epoch then a resumed second epoch in a new
    trainer, give the same parameters, optimizer state, iterator state and log."""
    np.random.seed(1)
    straight, model, optimizer = build_trainer(tmp_path / "a", epochs=2, batchsize=30)
    straight.run()

    np.random.seed(2)  # a different shuffle, overwritten by the snapshot's order
    resumed, model_b, optimizer_b = build_trainer(tmp_path / "b", epochs=2,
                                                  batchsize=30)
    # as Chainer's examples resume a trainer
    chainer.serializers.load_npz(tmp_path / "a" / "snapshot_iter_20", resumed)
    assert resumed.updater.iteration == 20 and optimizer_b.t == 20
    assert resumed.updater.get_iterator("main").epoch == 1
    resumed.run()

    # Equal parameters: the second epoch saw the snapshot's batch order.
    for (name, param), (_, twin) in zip(model.namedparams(), model_b.namedparams(),
                                        strict=True):
        np.testing.assert_array_equal(param.data, twin.data, err_msg=name)
        state, twin_state = optimizer._state[id(param)], optimizer_b._state[id(twin)]
        assert state.keys() == twin_state.keys() == {"m", "v"}
        np.testing.assert_array_equal(state["m"], twin_state["m"])
    iterator, twin_iterator = (t.updater.get_iterator("main") for t in (straight,
                                                                        resumed))
    assert (iterator.epoch, iterator.current_position, iterator.iteration) == (
        twin_iterator.epoch, twin_iterator.current_position, twin_iterator.iteration)
    log, twin_log = (t.get_extension("LogReport").log for t in (straight, resumed))
    assert len(twin_log) == 2 and twin_log[0] == log[0]
    for key in ("main/loss", "validation/main/accuracy"):
        assert twin_log[1][key] == pytest.approx(log[1][key], rel=1e-12)
    assert twin_log[1]["elapsed_time"] > log[0]["elapsed_time"]


def test_snapshot_object_and_best_value_trigger(tmp_path):
    np.random.seed(3)
    trainer, model, _ = build_trainer(tmp_path, epochs=2, batchsize=30)
    trainer.extend(extensions.snapshot_object(model, "model_{.updater.epoch}"),
                   trigger=training.triggers.MaxValueTrigger(
                       "validation/main/accuracy"))
    trainer.run()
    assert {"model_1", "model_2"} <= set(os.listdir(tmp_path))  # better each epoch
    copy = L.Classifier(MLP(32, 10))
    chainer.serializers.load_npz(tmp_path / "model_2", copy)
    np.testing.assert_array_equal(copy.predictor.l3.W.data, model.predictor.l3.W.data)
    from_trainer = L.Classifier(MLP(32, 10))
    load_npz(tmp_path / "snapshot_iter_40", from_trainer, path="updater/model:main/")
    np.testing.assert_array_equal(from_trainer.predictor.l1.b.data,
                                  model.predictor.l1.b.data)


# -- iterators -------------------------------------------------------------------------


def test_serial_iterator_epochs_in_order():
    iterator = chainer.iterators.SerialIterator(list(range(10)), 4, shuffle=False)
    assert iterator.previous_epoch_detail is None and iterator.epoch_detail == 0
    expected = [  # batch, epoch, is_new_epoch, current_position, previous detail
        ([0, 1, 2, 3], 0, False, 4, 0.0),
        ([4, 5, 6, 7], 0, False, 8, 0.4),
        ([8, 9, 0, 1], 1, True, 2, 0.8),  # filled up from the next epoch
        ([2, 3, 4, 5], 1, False, 6, 1.2),
        ([6, 7, 8, 9], 2, True, 0, 1.6),
    ]
    for batch, epoch, new, position, previous in expected:
        assert iterator.next() == batch
        assert (iterator.epoch, iterator.is_new_epoch, iterator.current_position) == (
            epoch, new, position)
        assert iterator.previous_epoch_detail == pytest.approx(previous)
        assert iterator.epoch_detail == pytest.approx(epoch + position / 10)
    assert iterator.iteration == 5
    iterator.reset()
    assert (iterator.epoch, iterator.current_position, iterator.iteration) == (0, 0, 0)
    assert iterator.next() == [0, 1, 2, 3]


def test_serial_iterator_without_repeat_stops_after_one_epoch():
    iterator = chainer.iterators.SerialIterator(np.arange(10), 4, repeat=False,
                                                shuffle=False)
    assert [list(batch) for batch in iterator] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert iterator.epoch == 1 and iterator.is_new_epoch
    with pytest.raises(StopIteration):
        iterator.next()


def test_serial_iterator_shuffles_each_epoch_with_numpy_seed():
    def epochs(seed):
        np.random.seed(seed)
        iterator = chainer.iterators.SerialIterator(list(range(12)), 4)
        return [[i for _ in range(3) for i in iterator.next()] for _ in range(3)]

    first = epochs(0)
    assert all(sorted(epoch) == list(range(12)) for epoch in first)
    assert first[0] != first[1] != first[2]
    assert epochs(0) == first and epochs(1) != first


# -- datasets and conversion -----------------------------------------------------------


def test_tuple_and_dict_datasets():
    x, t = np.arange(12.0).reshape(6, 2), np.arange(6, dtype=np.int32)
    tuples = chainer.datasets.TupleDataset(x, t)
    assert len(tuples) == 6
    example = tuples[4]
    assert isinstance(example, tuple) and example[1] == 4
    np.testing.assert_array_equal(example[0], [8.0, 9.0])
    assert [e[1] for e in tuples[1:5:2]] == [1, 3]
    assert [e[1] for e in tuples[[5, 0]]] == [5, 0]
    dicts = chainer.datasets.DictDataset(x=x, t=t)
    assert dicts[2]["t"] == 2 and [d["t"] for d in dicts[:2]] == [0, 1]
    with pytest.raises(ValueError, match="different lengths"):
        chainer.datasets.TupleDataset(x, t[:5])


def test_split_dataset_random_is_deterministic_with_a_seed():
    data = chainer.datasets.TupleDataset(np.arange(20), np.arange(20) * 10)
    first, rest = chainer.datasets.split_dataset_random(data, 15, seed=7)
    again, _ = chainer.datasets.split_dataset_random(data, 15, seed=7)
    other, _ = chainer.datasets.split_dataset_random(data, 15, seed=8)
    assert (len(first), len(rest)) == (15, 5)
    firsts = [int(x) for x, _ in first]
    assert firsts == [int(x) for x, _ in again] != [int(x) for x, _ in other]
    assert sorted(firsts + [int(x) for x, _ in rest]) == list(range(20))
    assert firsts == list(np.random.RandomState(7).permutation(20)[:15])
    assert rest[-1] == data[int(np.random.RandomState(7).permutation(20)[-1])]
    with pytest.raises(IndexError):
        rest[5]


def test_split_dataset_and_views():
    head, tail = chainer.datasets.split_dataset(list("abcdef"), 2)
    assert head[:] == ["a", "b"] and tail[[0, -1]] == ["c", "f"]
    with pytest.raises(ValueError, match="first_size"):
        chainer.datasets.split_dataset(list("abc"), 4)
    doubled = chainer.datasets.TransformDataset(list(range(3)), lambda v: 2 * v)
    assert doubled[:] == [0, 2, 4]
    joined = chainer.datasets.ConcatenatedDataset([0, 1], [], [2, 3, 4])
    assert len(joined) == 5 and joined[:] == [0, 1, 2, 3, 4] and joined[-2] == 3


def test_concat_examples_tuples_dicts_and_padding():
    batch = [(np.array([1, 2], np.int32), 0), (np.array([3, 4], np.int32), 1)]
    x, t = chainer.dataset.concat_examples(batch)
    np.testing.assert_array_equal(x, [[1, 2], [3, 4]])
    assert x.dtype == np.int32 and list(t) == [0, 1]
    ragged = [(np.ones(3, np.float32), np.ones((1, 2))), (np.ones(1, np.float32),
                                                           np.ones((2, 1)))]
    x, y = chainer.dataset.concat_examples(ragged, padding=(-1, 0))
    np.testing.assert_array_equal(x, [[1, 1, 1], [1, -1, -1]])
    np.testing.assert_array_equal(y, [[[1, 1], [0, 0]], [[1, 0], [1, 0]]])
    assert x.dtype == np.float32
    as_dict = chainer.dataset.concat_examples([{"a": np.zeros(2)}, {"a": np.ones(1)}],
                                              padding=9)
    np.testing.assert_array_equal(as_dict["a"], [[0, 0], [1, 9]])
    assert chainer.convert.concat_examples is chainer.dataset.concat_examples
    with pytest.raises(ValueError, match="empty"):
        chainer.dataset.concat_examples([])
    with pytest.raises(ValueError, match="host"):
        chainer.dataset.concat_examples(batch, device=0)


# -- reporter --------------------------------------------------------------------------


def test_classifier_reports_loss_and_accuracy():
    model = L.Classifier(L.Linear(3, 2))
    x = np.random.default_rng(0).normal(size=(4, 3)).astype(np.float32)
    t = np.array([0, 1, 1, 0], np.int32)
    reporter = chainer.Reporter()
    reporter.add_observer("main", model)
    observation = {}
    with reporter.scope(observation):
        loss = model(x, t)
    assert set(observation) == {"main/loss", "main/accuracy"}
    assert float(observation["main/loss"].data) == float(loss.data)
    assert observation["main/loss"].is_leaf  # reported without the graph
    assert float(observation["main/accuracy"].data) == float(model.accuracy.data)
    model(x, t)  # no reporter active: nothing to report to, no error
    with chainer.Reporter(), pytest.raises(KeyError, match="not registered"):
        model(x, t)


def test_report_scope_and_dict_summary():
    reporter = chainer.Reporter()
    outer, inner = {}, {}
    with reporter.scope(outer):
        chainer.report({"a": 1.0})
        with chainer.report_scope(inner):
            chainer.report({"b": 2.0})
    assert outer == {"a": 1.0} and inner == {"b": 2.0}
    summary = chainer.DictSummary()
    for value in (1.0, 2.0, 6.0):
        summary.add({"x": value, "v": chainer.Variable(np.array(value)), "s": "text"})
    assert summary.compute_mean() == {"x": 3.0, "v": 3.0}
    stats = summary.make_statistics()
    assert stats["x.std"] == pytest.approx(np.std([1.0, 2.0, 6.0]))


# -- trainer, triggers and extensions --------------------------------------------------


class CountingUpdater(training.Updater):
    """Five iterations per epoch, no model."""

    def __init__(self):
        self.iteration = 0
        self.optimizer = chainer.optimizers.SGD(lr=0.1)

    epoch = property(lambda self: self.iteration // 5)
    epoch_detail = property(lambda self: self.iteration / 5)

    def get_optimizer(self, name):
        return self.optimizer

    def get_all_optimizers(self):
        return {"main": self.optimizer}

    def update(self):
        self.iteration += 1
        chainer.report({"value": float(self.iteration)})

    def serialize(self, serializer):
        self.iteration = serializer("iteration", self.iteration)


def test_triggers_priorities_and_shifts(tmp_path):
    calls = []

    @training.make_extension(trigger=(2, "iteration"), priority=50)
    def late(trainer):
        calls.append(("late", trainer.updater.iteration))

    @training.make_extension(trigger=(1, "epoch"), priority=500)
    def early(trainer):
        calls.append(("early", trainer.updater.iteration))

    trainer = training.Trainer(CountingUpdater(), (3, "epoch"), out=str(tmp_path))
    trainer.extend(late)
    trainer.extend(early)
    trainer.extend(extensions.ExponentialShift("lr", 0.5), trigger=(1, "epoch"))
    trainer.extend(extensions.observe_lr())
    trainer.extend(extensions.LogReport(log_name=None))
    plot = extensions.PlotReport(["value"], "epoch", file_name="value.png")
    trainer.extend(plot)
    trainer.extend(training.make_extension()(lambda trainer: None), name="late")
    trainer.extend(lambda trainer: calls.append(("manual", trainer.updater.iteration)),
                   name="manual",
                   trigger=training.triggers.ManualScheduleTrigger([3, 7], "iteration"))
    trainer.run()

    assert trainer.updater.iteration == 15
    assert [i for name, i in calls if name == "early"] == [5, 10, 15]
    assert [i for name, i in calls if name == "late"] == [2, 4, 6, 8, 10, 12, 14]
    assert [i for name, i in calls if name == "manual"] == [3, 7]
    assert calls.index(("early", 10)) < calls.index(("late", 10))  # priority order
    assert "late_1" in trainer._extensions
    log = trainer.get_extension("LogReport").log
    assert [entry["value"] for entry in log] == [3.0, 8.0, 13.0]  # means per epoch
    # observe_lr (a writer) reads lr before the shift (a reader, added earlier).
    assert [entry["lr"] for entry in log] == [0.1, 0.05, 0.025]
    assert trainer.updater.optimizer.lr == pytest.approx(0.1 * 0.5**3)
    assert plot.data == {"value": [(1, 3.0), (2, 8.0), (3, 13.0)]}
    assert os.path.exists(tmp_path / "value.png") == plot.available()  # matplotlib


def test_min_value_trigger_fires_on_improvement_only():
    trigger = training.triggers.MinValueTrigger("loss", trigger=(1, "iteration"))

    class Fake:
        observation: ClassVar[dict] = {}
        updater = CountingUpdater()

    fired = []
    for loss in (5.0, 3.0, 4.0, 3.0, 1.0):
        Fake.updater.iteration += 1
        Fake.observation = {"loss": loss}
        fired.append(trigger(Fake))
    assert fired == [True, True, False, False, True]


def test_evaluator_runs_without_training_mode_or_graphs():
    seen = []

    def eval_func(x, t):
        seen.append((chainer.config.train, chainer.config.enable_backprop, len(x)))
        chainer.report({"loss": float(x.sum())}, model)

    model = L.Classifier(L.Linear(2, 2))
    data = chainer.datasets.TupleDataset(np.ones((5, 2)), np.zeros(5, np.int32))
    iterator = chainer.iterators.SerialIterator(data, 2, repeat=False, shuffle=False)
    evaluator = extensions.Evaluator(iterator, model, eval_func=eval_func)
    evaluator.name = "validation"
    first = evaluator()
    assert seen == [(False, False, 2), (False, False, 2), (False, False, 1)]
    assert first == {"validation/main/loss": pytest.approx(10 / 3)}
    assert evaluator() == first  # the iterator is reset for each evaluation
    assert chainer.config.train and chainer.config.enable_backprop


def test_standard_updater_passes_dicts_as_keywords_and_rejects_gpus():
    model = L.Classifier(L.Linear(2, 2), label_key="t")
    optimizer = chainer.optimizers.SGD(lr=0.5).setup(model)
    data = chainer.datasets.DictDataset(x=np.eye(2, dtype=np.float32).repeat(3, 0),
                                        t=np.array([0, 0, 0, 1, 1, 1], np.int32))
    iterator = chainer.iterators.SerialIterator(data, 6)
    updater = training.StandardUpdater(iterator, optimizer)
    losses = []
    for _ in range(20):
        updater.update()
        losses.append(float(model.loss.data))
    assert updater.iteration == 20 and updater.epoch == 20 and optimizer.epoch == 20
    assert losses[-1] < 0.2 * losses[0]
    with pytest.raises(ValueError, match="host"):
        training.StandardUpdater(iterator, optimizer, device=0)


def test_log_report_keys_filter(tmp_path):
    trainer = training.Trainer(CountingUpdater(), (4, "iteration"), out=str(tmp_path))
    trainer.extend(extensions.LogReport(keys=["missing"], trigger=(2, "iteration"),
                                        log_name="log_{iteration}"))
    trainer.run()
    with open(tmp_path / "log_4") as file:
        assert [set(entry) for entry in json.load(file)] == [
            {"epoch", "iteration", "elapsed_time"}] * 2
