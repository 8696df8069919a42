"""transfer-bench: which checkpoint to reuse, and what reuse buys. `benchmark.evaluate` runs a suite from Python."""

from benchmark.api import EvaluationError, evaluate

__all__ = ["EvaluationError", "evaluate"]
