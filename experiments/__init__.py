"""Running scenarios: replications, and (later) comparisons and sweeps."""

from experiments.runner import RunResult, run

__all__ = ["RunResult", "run"]
