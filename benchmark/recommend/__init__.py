"""Recommend a checkpoint before training: cheap signals on a new task, combined as the zoo says works best.

`from benchmark.recommend import recommend` ranks a shelf for a task and returns a pandas DataFrame;
`transfer-bench recommend` prints the same shortlist.
"""

from benchmark.recommend.command import recommend

__all__ = ["recommend"]
