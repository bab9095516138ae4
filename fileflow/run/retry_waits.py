"""Jobs waiting for their next attempt (`retry_delay:`, `--retry-delay`, `retry_backoff:`):
how long each waits, and which are due. A waiting job holds no core and no resource: it
is back among the ready jobs only once its time has come. Layer 4.
"""
from __future__ import annotations

import heapq
import time

from fileflow.lang.model import Rule

__all__ = ["RETRY_DELAY_CAP", "retry_delay", "RetryWaits"]

# The longest wait retry_backoff grows a delay to (a retry_delay: longer than this is kept).
RETRY_DELAY_CAP = 3600.0


def retry_delay(rule: Rule, default: float, failed_attempt: int) -> float:
    """Seconds before the attempt after `failed_attempt` (1 for the first retry): the
    rule's retry_delay (else `default`), times retry_backoff for each earlier retry, at
    most RETRY_DELAY_CAP (or the delay itself, when that is longer)."""
    base = rule.retry_delay or default
    if base <= 0:
        return 0.0
    grown = base * rule.retry_backoff ** min(failed_attempt - 1, 64)
    return min(grown, max(base, RETRY_DELAY_CAP))


class RetryWaits:
    def __init__(self, clock=time.monotonic):
        self.clock = clock
        self.heap: list[tuple[float, int]] = []   # (when it is due, job id)

    def __bool__(self) -> bool:
        return bool(self.heap)

    def __len__(self) -> int:
        return len(self.heap)

    def add(self, job_id: int, delay: float) -> None:
        heapq.heappush(self.heap, (self.clock() + delay, job_id))

    def due(self) -> list[int]:
        """The jobs whose wait is over, taken out."""
        now, out = self.clock(), []
        while self.heap and self.heap[0][0] <= now:
            out.append(heapq.heappop(self.heap)[1])
        return out

    def next_in(self) -> float:
        """Seconds until the next job is due (a large number when none waits)."""
        return max(0.0, self.heap[0][0] - self.clock()) if self.heap else 3600.0

    def clear(self) -> None:
        self.heap.clear()
