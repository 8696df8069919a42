"""Out-of-memory retries: train again from the start with half the batch."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from accelerate.utils.memory import should_reduce_batch_size

T = TypeVar("T")


def halving_batch_on_oom(train: Callable[[int], T], batch_size: int) -> T:
    """`train(batch_size)`, retried with half the batch after each out-of-memory error, down to 1.

    Accelerate's `find_executable_batch_size` shrinks by 10 % per try; halving finds a size that fits in
    log2 tries and keeps batch sizes that divide the original.
    """
    while True:
        try:
            return train(batch_size)
        except Exception as error:  # only out-of-memory errors are retried; the rest propagate unchanged
            if batch_size == 1 or not should_reduce_batch_size(error):
                raise
            batch_size //= 2
