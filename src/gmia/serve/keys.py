"""API keys of the prediction service: who may query, how much, how fast.

The keys file is JSON, ``{"keys": [{"name": ..., "sha256": ..., "budget": ..., "rate": ...,
"burst": ...}]}``. ``sha256`` is the hex digest of the key, so the file never holds a usable
secret (``"key"`` with the plain key is accepted for hand-written test files). ``budget`` is the
number of records the key may ever have answered (null: no limit); ``rate`` the requests per
second it may send on average and ``burst`` how many at once (null: no limit).
``gmia keys add`` creates a key and appends its entry.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, StrictStr, ValidationError

from gmia.base.errors import GmiaError, invalid_document

KEY_PREFIX = "gmia_"


class KeyEntry(BaseModel):
    """One entry of the keys file as it must be: the declared model every file is checked
    against (``rate: true`` or ``budget: "10"`` are refused, not coerced)."""

    model_config = ConfigDict(extra="forbid")
    name: StrictStr = Field(min_length=1)
    sha256: StrictStr = Field(pattern=r"^[0-9a-f]{64}$")
    budget: StrictInt | None = Field(None, ge=0)
    rate: StrictFloat | None = Field(None, gt=0)
    burst: StrictInt | None = Field(None, ge=1)


def digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ApiKey:
    name: str
    sha256: str
    budget: int | None = None
    rate: float | None = None
    burst: int | None = None

    def __post_init__(self):
        try:
            KeyEntry(**asdict(self))  # the one declared shape of an entry
        except ValidationError as exc:
            raise invalid_document(exc, f"API key {self.name!r}", "a non-empty name, budget an integer >= 0 or null, "
                                   "rate requests per second > 0 or null, burst an integer >= 1 or null") from None


class KeyRing:
    """The accepted keys; `verify` compares digests in constant time."""

    def __init__(self, keys: list[ApiKey]):
        names = [k.name for k in keys]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise GmiaError(f"API key name {dup[0]!r} appears more than once; expected unique names")
        self.keys = list(keys)

    def verify(self, presented: str | None) -> ApiKey | None:
        """The key's entry, or None. Every entry is compared, so the time taken does not tell
        which entry (or how much of a digest) matched."""
        if not presented:
            return None
        d = digest(presented).encode()
        found = None
        for k in self.keys:
            if hmac.compare_digest(d, k.sha256.encode()):
                found = k
        return found

    @classmethod
    def load(cls, path: str | Path) -> "KeyRing":
        path = Path(path)
        try:
            data = json.loads(path.read_text())
        except OSError as exc:
            raise GmiaError(f"API keys file {str(path)!r} cannot be read ({exc.strerror}); expected a JSON file made by `gmia keys add`") from None
        except json.JSONDecodeError as exc:
            raise GmiaError(f"API keys file {str(path)!r} is not valid JSON ({exc.msg} at line {exc.lineno}); expected {{\"keys\": [...]}}") from None
        entries = data.get("keys") if isinstance(data, dict) else None
        if not isinstance(entries, list):
            raise GmiaError(f"API keys file {str(path)!r} has no \"keys\" list; expected {{\"keys\": [{{\"name\": ..., \"sha256\": ...}}]}}")
        keys = []
        for i, e in enumerate(entries):
            if not isinstance(e, dict):
                raise GmiaError(f"entry {i} of API keys file {str(path)!r} is not an object; expected name, sha256 (or key), budget, rate")
            e = dict(e)
            if "key" in e:
                e["sha256"] = digest(str(e.pop("key")))
            if "sha256" not in e:
                raise GmiaError(f"entry {i} of API keys file {str(path)!r} has no sha256 or key; expected name, sha256 (or key), budget, rate, burst")
            if isinstance(e["sha256"], str):
                e["sha256"] = e["sha256"].lower()
            try:
                entry = KeyEntry(**e)
            except ValidationError as exc:
                raise invalid_document(exc, f"entry {i} of API keys file {str(path)!r}",
                                       "name, sha256 (64 hex digits) or key, budget (an integer >= 0 or null), "
                                       "rate (requests per second > 0 or null), burst (an integer >= 1 or null)") from None
            keys.append(ApiKey(**entry.model_dump()))
        if not keys:
            raise GmiaError(f"API keys file {str(path)!r} lists no keys; expected at least one (add one with `gmia keys add`)")
        return cls(keys)


def add_key(path: str | Path, name: str, budget: int | None, rate: float | None, burst: int | None) -> str:
    """Create a key, append its digest entry to the keys file (made if absent), return the key."""
    from gmia.base.io import atomic_write_json

    path = Path(path)
    keys = KeyRing.load(path).keys if path.exists() else []
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    ring = KeyRing(keys + [ApiKey(name=name, sha256=digest(key), budget=budget, rate=rate, burst=burst)])
    atomic_write_json(path, {"keys": [asdict(k) for k in ring.keys]})
    return key


def read_key_file(path: str | Path) -> str:
    """The client's key: the first non-empty line of the file."""
    path = Path(path)
    try:
        lines = [ln.strip() for ln in path.read_text().splitlines() if ln.strip()]
    except OSError as exc:
        raise GmiaError(f"API key file {str(path)!r} cannot be read ({exc.strerror}); expected a file holding the key") from None
    if not lines:
        raise GmiaError(f"API key file {str(path)!r} is empty; expected the key on its first line")
    return lines[0]
