"""A model behind a prediction API as a black-box target (the paper's MLaaS setting).

`HttpTarget` turns encoded query rows into records, asks the service in batches, and
keeps every answer in a SQLite cache keyed by the service's model id and the record, so a
resumed audit never spends a query twice. Transient failures (HTTP 429 rate limits, 5xx,
connection errors, timeouts) are retried with exponential backoff, honouring Retry-After.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np

from gmia.data import Schema, decode_records
from gmia.base.errors import GmiaError, ResumableError, option
from gmia.targets.policy import OutputPolicy
from gmia.targets.base import QueryBudgetExhausted, check_client


def record_key(record: dict) -> str:
    return hashlib.sha256(json.dumps(record, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


class ResponseCache:
    """``(model id, record) → probabilities``; each batch of answers is one transaction."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("CREATE TABLE IF NOT EXISTS answers (model TEXT, record TEXT, proba TEXT, "
                             "PRIMARY KEY (model, record))")
        except (OSError, sqlite3.Error) as exc:
            raise GmiaError(f"query cache {str(self.path)!r} cannot be opened ({exc}); expected a writable SQLite file path") from None

    def get(self, model: str, keys: list[str]) -> dict[str, list[float]]:
        out: dict[str, list[float]] = {}
        for s in range(0, len(keys), 500):  # SQLite caps the number of bound parameters
            part = keys[s : s + 500]
            rows = self._db.execute(f"SELECT record, proba FROM answers WHERE model = ? AND record IN ({','.join('?' * len(part))})",
                                    (model, *part)).fetchall()
            out.update((k, json.loads(p)) for k, p in rows)
        return out

    def put(self, model: str, items: list[tuple[str, list[float]]]) -> None:
        with self._db:
            self._db.execute("BEGIN")
            self._db.executemany("INSERT OR REPLACE INTO answers VALUES (?, ?, ?)",
                                 [(model, k, json.dumps(p)) for k, p in items])

    def count(self, model: str) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM answers WHERE model = ?", (model,)).fetchone()[0])

    def close(self) -> None:
        self._db.close()


class TargetUnreachable(ResumableError):
    """The service gave no answer after every retry; answers so far are cached. ``last``: the
    last failure, as a first contact's error about the URL names it."""

    def __init__(self, message: str, last: str = ""):
        super().__init__(message)
        self.last = last


class HttpTarget:
    """``predict_proba(x)`` against ``url``: encoded rows ``[n, D]`` → probabilities ``[n, C]``.

    Parameters
    ----------
    budget : the most records ever sent to this model from this cache (answers cached by
        earlier runs count), or None for no limit of our own (the service may still have one).
    batch_size : records per request.
    max_retries, backoff, max_backoff : retry i waits min(max_backoff, backoff·2^i) seconds, or
        the service's Retry-After.
    on_batch : called with the number of records after each answered request (progress).
    transport : an httpx transport to send through (tests wrap the real one to lose a reply).

    Each batch goes with an ``Idempotency-Key`` that its retries repeat: a service that charged
    a batch and lost its reply (a read timeout) answers the retry from what it stored, without
    charging again (`gmia.serve.limits.Ledger.replay`). The first request (``/v1/schema``) is
    tried twice at most, and a URL that never answered is an error about the URL, not a
    resumable stop: nothing was received that a rerun could resume from.
    """

    def __init__(self, url: str, api_key: str, cache: str | Path, *, budget: int | None = None, batch_size: int = 100,
                 timeout: float = 30.0, max_retries: int = 5, backoff: float = 0.5, max_backoff: float = 30.0,
                 on_batch: Callable[[int], None] | None = None, sleep: Callable[[float], None] = time.sleep,
                 transport: httpx.BaseTransport | None = None):
        check_client(url, budget, batch_size, timeout, max_retries, backoff)
        self.url = url.rstrip("/")
        self.budget, self.batch_size = budget, batch_size
        self.max_retries, self.backoff, self.max_backoff = max_retries, backoff, max_backoff
        self.on_batch, self._sleep = on_batch, sleep
        self.cache = ResponseCache(cache)
        self._client = httpx.Client(timeout=timeout, headers={"Authorization": f"Bearer {api_key}"}, transport=transport)
        self.sent = 0  # records sent by this process
        self.cache_hits = 0
        self.server_queries: dict = {}
        try:
            doc = self._request("GET", "/v1/schema", retries=min(self.max_retries, 1))
        except TargetUnreachable as exc:
            raise GmiaError(f"target URL {self.url} did not answer ({exc.last}); expected a gmia prediction service "
                            "running at that address (gmia serve)") from None
        try:
            self.model_id: str = doc["model"]
            self.schema = Schema.from_dict(doc["encoding"], f"the schema target {self.url} answered")
            self.policy = OutputPolicy(**doc.get("output", {}))
            self.server_queries = doc.get("queries", {})
            # how the served file says it was trained (gmia.auditing.matching.model_description); None from older services
            self.training: dict | None = doc.get("training")
        except (KeyError, TypeError) as exc:
            raise GmiaError(f"target {self.url} answered /v1/schema without {exc}; expected a gmia prediction service") from None

    # -- requests ---------------------------------------------------------------------------

    def _request(self, method: str, path: str, payload: dict | None = None, headers: dict | None = None,
                 retries: int | None = None) -> dict:
        last = ""
        retries = self.max_retries if retries is None else retries
        for attempt in range(retries + 1):
            wait = min(self.max_backoff, self.backoff * 2**attempt)
            try:
                resp = self._client.request(method, self.url + path, json=payload, headers=headers)
            except httpx.TransportError as exc:
                last = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            else:
                if resp.status_code == 200:
                    return resp.json()
                code, message, remaining = _error_of(resp)
                if code == "budget_exhausted":
                    exc = QueryBudgetExhausted(f"the service's query budget for this key is spent ({message}); {self._kept()}")
                    exc.service_message, exc.remaining = message, remaining
                    raise exc
                if resp.status_code != 429 and resp.status_code < 500:
                    raise GmiaError(f"target {self.url} refused {method} {path} with HTTP {resp.status_code} ({message})")
                last = f"HTTP {resp.status_code} ({message})"
                retry_after = resp.headers.get("retry-after", "")
                if retry_after.replace(".", "", 1).isdigit():
                    wait = min(self.max_backoff, float(retry_after))
            if attempt < retries:
                self._sleep(wait)
        raise TargetUnreachable(f"target {self.url} gave no answer to {method} {path} after {retries + 1} tries "
                                f"(last: {last}); {self._kept()}", last)

    def _kept(self) -> str:
        return (f"the {self.cache.count(getattr(self, 'model_id', ''))} answers received so far are cached in "
                f"{self.cache.path}, and rerunning the same command resumes from them")

    # -- queries ----------------------------------------------------------------------------

    def _keys(self, x: np.ndarray) -> tuple[list[dict], list[str]]:
        # Exact values, not rounded for display: the service re-encodes them bit for bit, and the
        # answer cache keys on them (a rounded key would miss every answer cached before).
        records = decode_records(np.atleast_2d(x), self.schema, rounded=False)
        return records, [record_key(r) for r in records]

    def answered(self, x: np.ndarray) -> np.ndarray:
        """Cached answers for the rows of ``x``; rows never answered are NaN. Sends nothing."""
        _, keys = self._keys(x)
        got = self.cache.get(self.model_id, keys)
        out = np.full((len(keys), len(self.schema.classes)), np.nan)
        for i, k in enumerate(keys):
            if k in got:
                out[i] = got[k]
        return out

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        records, keys = self._keys(x)
        got = self.cache.get(self.model_id, keys)
        self.cache_hits += sum(k in got for k in keys)
        todo: dict[str, dict] = {}
        for r, k in zip(records, keys):
            if k not in got:
                todo.setdefault(k, r)
        items = list(todo.items())
        for s in range(0, len(items), self.batch_size):
            batch = items[s : s + self.batch_size]
            if self.budget is not None:
                left = self.budget - self.cache.count(self.model_id)
                if left < len(batch):
                    if left > 0:
                        self._send(batch[:left], got)
                    raise QueryBudgetExhausted(
                        f"the audit's query budget of {self.budget} records is spent with {len(items) - s - max(left, 0)} "
                        f"records still to ask; {self._kept()} (raise {option('budget')})")
            try:
                self._send(batch, got)
            except QueryBudgetExhausted as exc:
                left = getattr(exc, "remaining", 0)
                if not 0 < left < len(batch):
                    raise
                self._send(batch[:left], got)  # spend what the service still allows, then stop
                raise QueryBudgetExhausted(f"the service's query budget for this key is spent ({exc.service_message}); {self._kept()}") from None
        return np.array([got[k] for k in keys], dtype=np.float64)

    def _send(self, batch: list[tuple[str, dict]], got: dict) -> None:
        # One key per batch, the same on every retry of it: the service charges it once.
        doc = self._request("POST", "/v1/predict", {"records": [r for _, r in batch]},
                            headers={"Idempotency-Key": uuid.uuid4().hex})
        if doc.get("model") != self.model_id:
            raise GmiaError(f"target {self.url} changed model during the audit (now {doc.get('model')!r}, was {self.model_id!r}); expected the same model throughout")
        proba = doc["probabilities"]
        if len(proba) != len(batch):
            raise GmiaError(f"target {self.url} answered {len(proba)} rows for {len(batch)} records; expected one per record")
        answers = [(k, list(map(float, p))) for (k, _), p in zip(batch, proba)]
        self.cache.put(self.model_id, answers)
        got.update(answers)
        self.sent += len(batch)
        self.server_queries = doc.get("queries", self.server_queries)
        if self.on_batch:
            self.on_batch(len(batch))

    def close(self) -> None:
        self._client.close()
        self.cache.close()


def _error_of(resp: httpx.Response) -> tuple[str, str, int]:
    """(code, message, remaining queries) of a service's error answer, whatever its shape."""
    try:
        err = resp.json()["error"]
        remaining = err.get("remaining")
        return str(err.get("code", "")), str(err.get("message", "")), remaining if isinstance(remaining, int) else 0
    except Exception:
        return "", (resp.text[:200] or resp.reason_phrase), 0
