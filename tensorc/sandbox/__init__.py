"""Theano's `theano.sandbox` namespace (only what tensorc offers)."""
