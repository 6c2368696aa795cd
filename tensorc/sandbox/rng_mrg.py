"""`theano.sandbox.rng_mrg.MRG_RandomStreams`: the same generator as RandomStreams."""

from tensorc.tensor.shared_randomstreams import MRG_RandomStreams, RandomStreams

__all__ = ["MRG_RandomStreams", "RandomStreams"]
