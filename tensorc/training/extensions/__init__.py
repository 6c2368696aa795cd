"""`tensorc.training.extensions`: what runs around the training loop (Chainer's
`chainer.training.extensions`).

Chainer's `dump_graph`/`DumpGraph` (a Graphviz file of the computational graph) is
not provided, nor the multi-node, parameter statistics and variable statistics
extensions. `PlotReport` draws only if matplotlib is installed
(`PlotReport.available()`).
"""

from tensorc.training.extensions.evaluator import Evaluator
from tensorc.training.extensions.log_report import LogReport
from tensorc.training.extensions.plot_report import PlotReport
from tensorc.training.extensions.print_report import PrintReport
from tensorc.training.extensions.progress_bar import ProgressBar
from tensorc.training.extensions.shifts import ExponentialShift, LinearShift
from tensorc.training.extensions.snapshot import Snapshot, snapshot, snapshot_object
from tensorc.training.extensions.value_observation import observe_lr, observe_value

__all__ = [
    "Evaluator", "ExponentialShift", "LinearShift", "LogReport", "PlotReport",
    "PrintReport", "ProgressBar", "Snapshot", "observe_lr", "observe_value", "snapshot",
    "snapshot_object",
]
