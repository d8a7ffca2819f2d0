"""Per-key query budgets (persistent) and request rates (in memory)."""

from __future__ import annotations

import math
import sqlite3
import time
from pathlib import Path


class Ledger:
    """Records answered per key, in SQLite so a restarted server keeps counting where it was.

    ``charge`` checks and adds in one UPDATE, so concurrent requests can never together exceed
    a budget, even from several server processes sharing the file.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS usage (name TEXT PRIMARY KEY, used INTEGER NOT NULL)")

    def used(self, name: str) -> int:
        row = self._db.execute("SELECT used FROM usage WHERE name = ?", (name,)).fetchone()
        return int(row[0]) if row else 0

    def charge(self, name: str, n: int, budget: int | None) -> tuple[bool, int]:
        """Add ``n`` records to ``name``'s count unless that would pass ``budget``; (ok, used)."""
        self._db.execute("INSERT OR IGNORE INTO usage (name, used) VALUES (?, 0)", (name,))
        limit = budget if budget is not None else 2**62
        cur = self._db.execute("UPDATE usage SET used = used + ? WHERE name = ? AND used + ? <= ?", (n, name, n, limit))
        return cur.rowcount == 1, self.used(name)

    def refund(self, name: str, n: int) -> None:
        self._db.execute("UPDATE usage SET used = MAX(0, used - ?) WHERE name = ?", (n, name))

    def close(self) -> None:
        self._db.close()


class RateLimiter:
    """A token bucket per key: ``rate`` requests per second on average, ``burst`` at once."""

    def __init__(self, clock=time.monotonic):
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}

    def acquire(self, name: str, rate: float | None, burst: int | None) -> float:
        """0 if the request may go now (and take its token), else the seconds to wait."""
        if rate is None:
            return 0.0
        cap = float(burst if burst is not None else max(1, math.ceil(rate)))
        now = self._clock()
        tokens, last = self._buckets.get(name, (cap, now))
        tokens = min(cap, tokens + (now - last) * rate)
        if tokens >= 1.0:
            self._buckets[name] = (tokens - 1.0, now)
            return 0.0
        self._buckets[name] = (tokens, now)
        return (1.0 - tokens) / rate
