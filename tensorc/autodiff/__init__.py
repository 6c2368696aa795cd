"""Reverse-mode automatic differentiation on the tc dialect: the VJP_RULES registry
(`vjp_rules`) and the typed op builder its rules use (`builder`). The reverse sweep
itself is the `tc-autodiff` pass (tensorc/passes/autodiff.py)."""

from tensorc.autodiff.builder import GradBuilder
from tensorc.autodiff.vjp_rules import VJP_RULES, NonDifferentiable, Rule

__all__ = ["VJP_RULES", "GradBuilder", "NonDifferentiable", "Rule"]
