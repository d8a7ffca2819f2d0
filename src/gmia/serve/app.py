"""The prediction service: FastAPI routes over one model (a `gmia.models.file_format.Model` or a
`gmia.models.onnx_file.OnnxModel`; the routes use only ``predict_proba``, ``schema`` and ``fingerprint``).

Every request is checked in the order that costs the server least: API key (401), rate
(429 + Retry-After), body size (413), JSON (400), records against the schema (422), batch size
(413), budget (429, code ``budget_exhausted`` with the ``remaining`` queries, no Retry-After:
waiting will not help). Every error is ``{"error": {"code": ..., "message": ...}}``, the message
one sentence.

A ``POST /v1/predict`` with an ``Idempotency-Key`` header is charged once: its answer is kept,
and a repeat of the same key and body (a client retrying a reply it never received) gets that
answer again without a charge; the same key with another body is refused (422).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time

from gmia.data import RecordError, encode_records
from gmia.base.extras import require
from gmia.targets.policy import model_id
from gmia.serve.config import ACCESS_LOG, EXTRA, FEATURE, ServeConfig, public_schema
from gmia.serve.keys import ApiKey, KeyRing
from gmia.serve.limits import Ledger, RateLimiter

require("fastapi", EXTRA, FEATURE)  # one sentence, not a traceback, when the serve extra is missing

from fastapi import FastAPI, Request  # noqa: E402
from fastapi.exceptions import RequestValidationError  # noqa: E402
from fastapi.responses import JSONResponse, Response  # noqa: E402
from starlette.exceptions import HTTPException as StarletteHTTPException  # noqa: E402

__all__ = ["ACCESS_LOG", "ServeConfig", "create_app", "model_id", "public_schema"]


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict | None = None, **extra):
        super().__init__(message)
        self.status, self.code, self.message, self.headers, self.extra = status, code, message, headers or {}, extra


def _error(status: int, code: str, message: str, headers: dict | None = None, **extra) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message, **extra}}, status_code=status, headers=headers)


def create_app(model, keyring: KeyRing, ledger: Ledger, config: ServeConfig = ServeConfig(),
               limiter: RateLimiter | None = None) -> FastAPI:
    app = FastAPI(title="gmia prediction service", description="Class probabilities of one model, per API key budget.")
    log = logging.getLogger(ACCESS_LOG)
    limiter = limiter or RateLimiter()
    schema_doc = public_schema(model, config.policy)
    mid = schema_doc["model"]

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError):
        return _error(exc.status, exc.code, exc.message, exc.headers, **exc.extra)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return _error(exc.status_code, code, f"{request.method} {request.url.path}: {exc.detail}")

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        return _error(422, "invalid_request", str(exc.errors()[0].get("msg", "invalid request")))

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception):
        logging.getLogger("gmia.serve").exception("internal error")
        return _error(500, "internal", f"internal error ({type(exc).__name__}); the request was not charged")

    def authorise(request: Request) -> ApiKey:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        key = keyring.verify(token.strip() if scheme.lower() == "bearer" else None)
        if key is None:
            what = "no API key was sent" if not header else "the API key was not accepted"
            raise ApiError(401, "unauthorized", f"{what}; expected the header 'Authorization: Bearer <key>' with a valid key",
                           {"WWW-Authenticate": "Bearer"})
        return key

    def remaining(key: ApiKey, used: int) -> dict:
        return {"used": used, "budget": key.budget, "remaining": None if key.budget is None else max(0, key.budget - used)}

    @app.get("/healthz")
    async def healthz():
        return {"status": "ok", "model": mid}

    @app.get("/v1/schema")
    async def schema(request: Request):
        key = authorise(request)
        return {**schema_doc, "queries": remaining(key, ledger.used(key.name))}

    async def read_body(request: Request) -> bytes:
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > config.max_body_bytes:
            raise ApiError(413, "body_too_large", f"request body of {int(declared)} bytes is over the limit; expected at most {config.max_body_bytes} bytes")
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > config.max_body_bytes:
                raise ApiError(413, "body_too_large", f"request body is over the limit; expected at most {config.max_body_bytes} bytes")
        return bytes(body)

    @app.post("/v1/predict")
    async def predict(request: Request):
        start = time.perf_counter()
        key, status, n, used = None, 500, 0, None
        try:
            key = authorise(request)
            wait = limiter.acquire(key.name, key.rate, key.burst)
            if wait > 0:
                raise ApiError(429, "rate_limited", f"key {key.name!r} is over its rate of {key.rate:g} requests per second; retry after the Retry-After seconds",
                               {"Retry-After": str(max(1, math.ceil(wait)))})
            body = await read_body(request)
            idem, digest = request.headers.get("idempotency-key"), hashlib.sha256(body).hexdigest()
            if idem is not None:
                if not 0 < len(idem) <= 200 or not idem.isprintable():
                    raise ApiError(422, "invalid_request", "the Idempotency-Key header is empty, over 200 characters or not printable; expected a short unique token per batch")
                stored = ledger.replay(key.name, idem)
                if stored is not None:
                    if stored[0] != digest:
                        raise ApiError(422, "idempotency_key_reused", "this Idempotency-Key was used with another body; expected a new key for each batch")
                    status = 200
                    return Response(stored[1], media_type="application/json")  # answered before: not charged again
            try:
                payload = json.loads(body)
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise ApiError(400, "malformed_json", f"the body is not valid JSON ({getattr(exc, 'msg', exc)}); expected {{\"records\": [{{feature: value, ...}}, ...]}}") from None
            records = payload.get("records") if isinstance(payload, dict) else None
            if not isinstance(records, list) or not records:
                raise ApiError(422, "invalid_request", "the body has no non-empty \"records\" list; expected {\"records\": [{feature: value, ...}, ...]}")
            n = len(records)
            if n > config.max_batch:
                raise ApiError(413, "batch_too_large", f"a batch of {n} records is over the limit; expected at most {config.max_batch} records per request")
            try:
                x = encode_records(records, model.schema)
            except RecordError as exc:
                raise ApiError(422, "invalid_record", str(exc)) from None
            ok, used = ledger.charge(key.name, n, key.budget)
            if not ok:
                left = max(0, key.budget - used)
                raise ApiError(429, "budget_exhausted", f"key {key.name!r} has {left} of its {key.budget} queries left, fewer than the {n} records sent; expected a smaller batch or a larger budget",
                               remaining=left)
            try:
                proba = config.policy.apply(model.predict_proba(x))
            except Exception:
                ledger.refund(key.name, n)
                used -= n
                raise
            labels = [model.schema.classes[i] for i in proba.argmax(axis=1)]
            status = 200
            body = {"model": mid, "classes": list(model.schema.classes), "probabilities": proba.tolist(),
                    "labels": labels, "queries": remaining(key, used)}
            # json.dumps writes each float64 with repr: the client reads back the very same numbers.
            reply = json.dumps(body)
            if idem is not None:
                ledger.remember(key.name, idem, digest, reply)
            return Response(reply, media_type="application/json")
        except ApiError as exc:
            status = exc.status
            raise
        finally:
            log.info("%s key=%s status=%d records=%d used=%s budget=%s ms=%.1f", request.url.path,
                     key.name if key else "-", status, n if status == 200 else 0,
                     "-" if used is None else used, "-" if key is None or key.budget is None else key.budget,
                     1000 * (time.perf_counter() - start))

    return app
