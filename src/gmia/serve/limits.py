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

    Answered batches sent with an idempotency key are kept (``remember``): a client whose reply
    was lost retries with the same key and gets the stored answer (``replay``) without a second
    charge. Kept per key name; the oldest beyond ``REPLIES_KEPT`` per name are dropped.
    """

    REPLIES_KEPT = 10_000

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS usage (name TEXT PRIMARY KEY, used INTEGER NOT NULL)")
        self._db.execute("CREATE TABLE IF NOT EXISTS replies (name TEXT NOT NULL, idem TEXT NOT NULL, digest TEXT NOT NULL, "
                         "body TEXT NOT NULL, at REAL NOT NULL, PRIMARY KEY (name, idem))")

    def used(self, name: str) -> int:
        row = self._db.execute("SELECT used FROM usage WHERE name = ?", (name,)).fetchone()
        return int(row[0]) if row else 0

    def charge(self, name: str, n: int, budget: int | None) -> tuple[bool, int]:
        """Add ``n`` records to ``name``'s count unless that would pass ``budget``; (ok, used)."""
        self._db.execute("INSERT OR IGNORE INTO usage (name, used) VALUES (?, 0)", (name,))
        limit = budget if budget is not None else 2**62
        cur = self._db.execute("UPDATE usage SET used = used + ? WHERE name = ? AND used + ? <= ?", (n, name, n, limit))
        return cur.rowcount == 1, self.used(name)

    def replay(self, name: str, idem: str) -> tuple[str, str] | None:
        """(digest of the request body, reply body) stored for ``name``'s idempotency key, or None."""
        row = self._db.execute("SELECT digest, body FROM replies WHERE name = ? AND idem = ?", (name, idem)).fetchone()
        return None if row is None else (row[0], row[1])

    def remember(self, name: str, idem: str, digest: str, body: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO replies (name, idem, digest, body, at) VALUES (?, ?, ?, ?, ?)",
                         (name, idem, digest, body, time.time()))
        self._db.execute("DELETE FROM replies WHERE name = ? AND at < (SELECT at FROM replies WHERE name = ? "
                         "ORDER BY at DESC LIMIT 1 OFFSET ?)", (name, name, self.REPLIES_KEPT))

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
