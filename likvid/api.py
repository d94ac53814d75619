"""HTTP ingest and read API (ASGI, served by uvicorn): `likvid api`.

Endpoints
---------
``POST /v1/events``
    One event (a JSON object), a JSON array of events (``application/json``), or JSON lines
    (``application/x-ndjson``). Answers, checked in this order:

    - 401: no bearer token, or one that is not configured (``WWW-Authenticate: Bearer``);
    - 415: any other content type;
    - 413: a body over ``max_body_bytes``, or more events than ``max_batch``;
    - 422: a JSON body that does not parse, or an empty batch (nothing is recorded);
    - 403: an event whose ``type`` the token may not publish; the answer names the types and
      nothing of the batch is stored;
    - otherwise every event goes through :func:`likvid.service.publish.publish_lines` (the
      same path as ``likvid publish``): rejected events are recorded for ``likvid rejected
      list``, valid ones are queued through the outbox. 202 with ``{"results": [...]}`` (one
      ``{id, status, errors?}`` per event, in order: ``accepted``, ``duplicate`` or
      ``rejected`` with the field and reason) when at least one event was accepted or a
      duplicate; the rejected ones of such a *mixed* batch appear in the results with their
      errors, and the others are processed. 422 with the same results when every event was
      rejected. A line of an NDJSON body that is not JSON is a rejected event like any other.

``GET /v1/invoices/{id}``, ``GET /v1/customers/{id}``
    What ``likvid show invoice|customer --json`` prints; tokens with ``read = true`` only (403
    otherwise), 404 when unknown.

``GET /healthz``
    No authentication. 200 ``{"database": "ok", "redis": "ok"}``, or 503 naming what failed.

``GET /metrics``
    Prometheus text format, no authentication (serve it on an internal interface). Gauges
    computed from the database on every scrape, and counters of this process.

``GET /openapi.json``, ``/docs``
    The OpenAPI document FastAPI builds.

Tokens
------
Each publishing system has its own bearer token. The file named by ``LIKVID_API_TOKENS_FILE``
(kept apart from the policy file: it is a secret) stores only SHA-256 hashes::

    [[tokens]]
    name = "billing"                 # the publishing system, for logs and metrics
    sha256 = "<hex of sha256(token)>"  # `python -m likvid.api hash TOKEN` or hash_token()
    publish = ["invoice-issued", "invoice-credited"]   # "*" allows every type
    read = true                      # may use GET /v1/invoices/… and /v1/customers/…

Personal data: request bodies and show results are never logged.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets
import sys
import tomllib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import redis
from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from pydantic import BaseModel
from sqlalchemy import func, select, text
from sqlalchemy.exc import OperationalError
from starlette.concurrency import run_in_threadpool

from likvid.db import read_session
from likvid.messages import EVENT_TYPES
from likvid.service import show
from likvid.service.app import App, bootstrap
from likvid.service.publish import publish_lines

log = logging.getLogger("likvid.api")

#: Environment variable naming the tokens file.
TOKENS_ENV = "LIKVID_API_TOKENS_FILE"
DEFAULT_MAX_BATCH = 1000
DEFAULT_MAX_BODY_BYTES = 10_000_000

JSON_TYPES = ("application/json",)
NDJSON_TYPES = (
    "application/x-ndjson",
    "application/ndjson",
    "application/jsonl",
    "application/x-jsonlines",
    "application/jsonlines",
)


# --------------------------------------------------------------------------------------
# Tokens
# --------------------------------------------------------------------------------------


class TokenFileError(ValueError):
    """The tokens file is missing or invalid; the message names the file and the key."""


@dataclass(frozen=True)
class TokenConfig:
    name: str
    sha256: str
    publish: frozenset[str] = frozenset()
    read: bool = False

    def may_publish(self, event_type: str) -> bool:
        return "*" in self.publish or event_type in self.publish


def hash_token(token: str) -> str:
    """The hex SHA-256 of a token, as stored in the tokens file."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> tuple[str, str]:
    """A fresh random token and its hash (give the first to the publisher, store the second)."""
    token = secrets.token_urlsafe(32)
    return token, hash_token(token)


_TOKEN_KEYS = {"name", "sha256", "publish", "read"}


def parse_tokens(data: Any, where: str = "tokens file") -> list[TokenConfig]:
    """Validate the parsed TOML of a tokens file."""
    if not isinstance(data, dict):
        raise TokenFileError(f"{where}: must be a TOML table")
    unknown = set(data) - {"tokens"}
    if unknown:
        raise TokenFileError(
            f"{where}: unknown key(s) {', '.join(sorted(unknown))} (only [[tokens]])"
        )
    entries = data.get("tokens")
    if not isinstance(entries, list) or not entries:
        raise TokenFileError(f"{where}: tokens: at least one [[tokens]] table is required")
    out: list[TokenConfig] = []
    names: set[str] = set()
    hashes: set[str] = set()
    for i, entry in enumerate(entries):
        at = f"{where}: tokens[{i}]"
        if not isinstance(entry, dict):
            raise TokenFileError(f"{at}: must be a table")
        extra = set(entry) - _TOKEN_KEYS
        if extra:
            raise TokenFileError(f"{at}: unknown key(s) {', '.join(sorted(extra))}")
        name = entry.get("name")
        if not isinstance(name, str) or not name.strip():
            raise TokenFileError(f"{at}.name: required, a non-empty string")
        at = f"{where}: tokens[{i}] ({name})"
        if name in names:
            raise TokenFileError(f"{at}.name: {name!r} appears twice")
        digest = entry.get("sha256")
        if (
            not isinstance(digest, str)
            or len(digest) != 64
            or any(c not in "0123456789abcdefABCDEF" for c in digest)
        ):
            raise TokenFileError(
                f"{at}.sha256: required, the 64 hex digits of the token's SHA-256 "
                f"(`python -m likvid.api hash TOKEN`), never the token itself"
            )
        digest = digest.lower()
        if digest in hashes:
            raise TokenFileError(f"{at}.sha256: the same token is configured twice")
        publish = entry.get("publish", [])
        if not isinstance(publish, list) or not all(isinstance(t, str) for t in publish):
            raise TokenFileError(f'{at}.publish: must be a list of event types (or ["*"])')
        bad = [t for t in publish if t != "*" and t not in EVENT_TYPES]
        if bad:
            raise TokenFileError(f"{at}.publish: unknown event type(s) {', '.join(bad)}")
        read = entry.get("read", False)
        if not isinstance(read, bool):
            raise TokenFileError(f"{at}.read: must be true or false")
        names.add(name)
        hashes.add(digest)
        out.append(TokenConfig(name, digest, frozenset(publish), read))
    return out


def load_tokens(path: str | os.PathLike[str]) -> list[TokenConfig]:
    """Read and validate a tokens file (see the module docstring for the format)."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise TokenFileError(f"{TOKENS_ENV}={p}: cannot read it ({exc.strerror})") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise TokenFileError(f"{p}: not valid TOML ({exc})") from None
    return parse_tokens(data, str(p))


def tokens_from_env(env: dict[str, str] | None = None) -> list[TokenConfig]:
    env = dict(os.environ if env is None else env)
    path = env.get(TOKENS_ENV)
    if not path:
        raise TokenFileError(
            f"{TOKENS_ENV} is not set: it must name the API tokens file "
            f"([[tokens]] name, sha256, publish, read)"
        )
    return load_tokens(path)


def _find_token(tokens: Iterable[TokenConfig], presented: str) -> TokenConfig | None:
    digest = hash_token(presented)
    found: TokenConfig | None = None
    for t in tokens:  # compare against every entry: time does not depend on which matched
        if hmac.compare_digest(t.sha256, digest):
            found = t
    return found


# --------------------------------------------------------------------------------------
# Response models (for the OpenAPI document)
# --------------------------------------------------------------------------------------


class FieldError(BaseModel):
    field: str
    reason: str


class EventResult(BaseModel):
    id: str | None
    status: Literal["accepted", "duplicate", "rejected"]
    errors: list[FieldError] = []


class PublishResponse(BaseModel):
    results: list[EventResult]


class RejectedResponse(BaseModel):
    detail: str
    results: list[EventResult]


class ErrorResponse(BaseModel):
    detail: str


class ForbiddenResponse(BaseModel):
    detail: str
    forbidden_types: list[str] = []


class HealthResponse(BaseModel):
    database: str
    redis: str


# --------------------------------------------------------------------------------------
# Metrics
# --------------------------------------------------------------------------------------


class _DatabaseCollector(Collector):
    """Gauges computed from the database on each scrape."""

    def __init__(self, app: App) -> None:
        self.app = app

    def collect(self) -> Iterator[Any]:
        from likvid.models import Claim, RejectedEvent
        from likvid.service.progress import backlog

        up = GaugeMetricFamily("likvid_database_up", "1 when the database answered this scrape")
        try:
            left = backlog(self.app)
            with read_session(self.app.db) as s:
                claims = s.execute(
                    select(Claim.stage, Claim.status, func.count()).group_by(
                        Claim.stage, Claim.status
                    )
                ).all()
                rejected = s.scalar(select(func.count()).select_from(RejectedEvent)) or 0
        except Exception as exc:  # a scrape must not fail because the database is down
            log.warning("metrics: database unavailable (%s)", type(exc).__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield GaugeMetricFamily(
            "likvid_outbox_unprocessed",
            "Outbox messages not yet processed",
            value=left["outbox_unprocessed"],
        )
        yield GaugeMetricFamily(
            "likvid_timers_due",
            "Pending timers due on the business clock",
            value=left["timers_due"],
        )
        yield GaugeMetricFamily(
            "likvid_timers_in_flight",
            "Timers emitted and not yet done",
            value=left["timers_emitted"],
        )
        g = GaugeMetricFamily(
            "likvid_claims", "Claims by stage and status", labels=["stage", "status"]
        )
        for stage, status, n in claims:
            g.add_metric([stage, status], n)
        yield g
        yield CounterMetricFamily(
            "likvid_rejected_events", "Rejected inbound events (all entry points)", value=rejected
        )


# --------------------------------------------------------------------------------------
# The application
# --------------------------------------------------------------------------------------


def _error(status: int, detail: str, **extra: Any) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"detail": detail, **extra}, status_code=status, headers=headers)


class _Refused(Exception):
    def __init__(self, response: JSONResponse) -> None:
        self.response = response


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _Refused(_error(413, f"body larger than {limit} bytes"))
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _Refused(_error(413, f"body larger than {limit} bytes"))
        chunks.append(chunk)
    return b"".join(chunks)


def create_app(
    app: App | None = None,
    tokens: list[TokenConfig] | None = None,
    redis_url: str | None = None,
    max_batch: int = DEFAULT_MAX_BATCH,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
) -> FastAPI:
    """The ASGI application. ``tokens`` default to ``$LIKVID_API_TOKENS_FILE``; ``redis_url``
    (for /healthz) to the app's resolved Redis URL, looked up on each check."""
    app = app or bootstrap()
    tokens = list(tokens) if tokens is not None else tokens_from_env()
    if max_batch < 1 or max_body_bytes < 1:
        raise ValueError("max_batch and max_body_bytes must be positive")

    registry = CollectorRegistry()
    registry.register(_DatabaseCollector(app))
    events_counter = Counter(
        "likvid_api_events",
        "Events received over HTTP, by token and result",
        ["token", "status"],
        registry=registry,
    )
    requests_counter = Counter(
        "likvid_api_requests",
        "HTTP requests by route and status code",
        ["route", "code"],
        registry=registry,
    )

    api = FastAPI(
        title="Likvid",
        version="1",
        summary="Event ingest and claim lookup for the municipality's debt collection",
        description="Events follow the contract in EVENTS.md (version 1).",
    )
    bearer = HTTPBearer(auto_error=False, description="The publishing system's own token")

    @api.exception_handler(_Refused)
    async def _refused(_request: Request, exc: _Refused) -> JSONResponse:
        return exc.response

    @api.exception_handler(OperationalError)
    async def _db_down(_request: Request, exc: OperationalError) -> JSONResponse:
        log.error(
            "database unavailable: %s", type(exc.orig).__name__ if exc.orig else "OperationalError"
        )
        return _error(503, "database unavailable, try again later")

    @api.middleware("http")
    async def _count(request: Request, call_next: Any) -> Any:
        response = await call_next(request)
        route = request.scope.get("route")
        requests_counter.labels(getattr(route, "path", "other"), str(response.status_code)).inc()
        return response

    def authenticated(
        credentials: HTTPAuthorizationCredentials | None = Depends(bearer),  # noqa: B008
    ) -> TokenConfig:
        if credentials is None or not credentials.credentials:
            raise _Refused(_error(401, "a bearer token is required"))
        token = _find_token(tokens, credentials.credentials)
        if token is None:
            raise _Refused(_error(401, "unknown token"))
        return token

    def reader(token: TokenConfig = Depends(authenticated)) -> TokenConfig:  # noqa: B008
        if not token.read:
            raise _Refused(_error(403, f"token {token.name!r} may not read"))
        return token

    auth_responses: dict[int | str, dict[str, Any]] = {
        401: {"model": ErrorResponse, "description": "No token, or an unknown one"},
        403: {"model": ForbiddenResponse, "description": "The token may not do this"},
    }

    @api.post(
        "/v1/events",
        summary="Publish one event, a JSON array of events, or NDJSON",
        status_code=202,
        response_model=PublishResponse,
        response_model_exclude_defaults=True,
        responses={
            **auth_responses,
            413: {"model": ErrorResponse, "description": "Body or batch too large"},
            415: {"model": ErrorResponse, "description": "Neither JSON nor NDJSON"},
            422: {
                "model": RejectedResponse,
                "description": "Not JSON, no events, or every event rejected (results name field and reason)",
            },
        },
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "oneOf": [
                                {"type": "object", "description": "one event (EVENTS.md envelope)"},
                                {
                                    "type": "array",
                                    "items": {"type": "object"},
                                    "maxItems": max_batch,
                                },
                            ]
                        }
                    },
                    "application/x-ndjson": {
                        "schema": {"type": "string", "description": "one event per line"}
                    },
                },
            }
        },
    )
    async def post_events(request: Request, token: TokenConfig = Depends(authenticated)) -> Any:  # noqa: B008
        """202 when at least one event was accepted or a duplicate; events of a mixed batch
        that were rejected appear in `results` with their errors (and are recorded for
        `likvid rejected list`), the others are processed. 422 when every event is rejected."""
        media = _media_type(request)
        ndjson = media in NDJSON_TYPES
        if not ndjson and media not in JSON_TYPES and not media.endswith("+json"):
            return _error(
                415, "send application/json (an event or an array) or application/x-ndjson"
            )
        body = await _read_body(request, max_body_bytes)
        try:
            text_body = body.decode("utf-8")
        except UnicodeDecodeError:
            return _error(422, "body is not UTF-8")

        lines: list[str]
        parsed: list[Any]
        if ndjson:
            lines = [ln for ln in text_body.splitlines() if ln.strip()]
            if len(lines) > max_batch:
                return _error(413, f"{len(lines)} events; at most {max_batch} per request")
            parsed = []
            for ln in lines:
                try:
                    parsed.append(json.loads(ln))
                except (json.JSONDecodeError, RecursionError):
                    parsed.append(None)  # rejected per event by publish_lines
        else:
            try:
                doc = json.loads(text_body)
            except json.JSONDecodeError as exc:
                return _error(
                    422,
                    f"body is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})",
                )
            except RecursionError:
                return _error(422, "body is not valid JSON here (nested too deeply)")
            parsed = doc if isinstance(doc, list) else [doc]
            if len(parsed) > max_batch:
                return _error(413, f"{len(parsed)} events; at most {max_batch} per request")
            lines = [json.dumps(e, ensure_ascii=False) for e in parsed]
        if not lines:
            return _error(422, "the body holds no events")

        forbidden = sorted(
            {
                e["type"]
                for e in parsed
                if isinstance(e, dict)
                and isinstance(e.get("type"), str)
                and not token.may_publish(e["type"])
            }
        )
        if forbidden:
            return _error(
                403,
                f"token {token.name!r} may not publish: {', '.join(forbidden)}",
                forbidden_types=forbidden,
            )

        results, _accepted = await run_in_threadpool(publish_lines, app, lines)
        counts: dict[str, int] = {}
        for r in results:
            counts[r["status"]] = counts.get(r["status"], 0) + 1
            events_counter.labels(token.name, r["status"]).inc()
        log.info(
            "token %s published %d events: %s",
            token.name,
            len(results),
            ", ".join(f"{k} {v}" for k, v in sorted(counts.items())),
        )
        if all(r["status"] == "rejected" for r in results):
            return JSONResponse(
                {"detail": "every event was rejected", "results": results}, status_code=422
            )
        return JSONResponse({"results": results}, status_code=202)

    @api.get(
        "/v1/invoices/{invoice_id}",
        summary="A claim as `likvid show invoice` shows it",
        responses={
            **auth_responses,
            404: {"model": ErrorResponse, "description": "Unknown invoice"},
        },
    )
    def get_invoice(invoice_id: str, _token: TokenConfig = Depends(reader)) -> dict[str, Any]:  # noqa: B008
        with read_session(app.db) as s:
            data = show.invoice(s, invoice_id, app)
        if data is None:
            raise _Refused(_error(404, "no such invoice"))
        return data

    @api.get(
        "/v1/customers/{customer_id}",
        summary="A customer across creditors, as `likvid show customer` shows it",
        responses={
            **auth_responses,
            404: {"model": ErrorResponse, "description": "Unknown customer"},
        },
    )
    def get_customer(customer_id: str, _token: TokenConfig = Depends(reader)) -> dict[str, Any]:  # noqa: B008
        with read_session(app.db) as s:
            data = show.customer(s, customer_id, app)
        if data is None:
            raise _Refused(_error(404, "no such customer"))
        return data

    @api.get(
        "/healthz",
        summary="Database and Redis reachable",
        response_model=HealthResponse,
        responses={503: {"model": HealthResponse, "description": "What failed"}},
    )
    def healthz() -> JSONResponse:
        status: dict[str, str] = {}
        try:
            with read_session(app.db) as s:
                s.execute(text("SELECT 1"))
            status["database"] = "ok"
        except Exception as exc:
            status["database"] = f"failed ({type(exc).__name__})"
        try:
            url = redis_url or app.settings.resolved_redis_url()
        except SystemExit:
            status["redis"] = "failed (no Redis URL: set LIKVID_REDIS_URL or run `likvid up`)"
        else:
            client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
            try:
                client.ping()
                status["redis"] = "ok"
            except Exception as exc:  # never echo the URL: it may hold a password
                status["redis"] = f"failed ({type(exc).__name__})"
            finally:
                client.close()
        ok = all(v == "ok" for v in status.values())
        return JSONResponse(status, status_code=200 if ok else 503)

    @api.get(
        "/metrics",
        summary="Prometheus metrics",
        response_class=Response,
        responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}},
    )
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return api


def serve(host: str = "127.0.0.1", port: int = 8080) -> None:
    """Run the API with uvicorn (blocking). Limits from ``LIKVID_API_MAX_BATCH`` and
    ``LIKVID_API_MAX_BODY_BYTES``; tokens from ``LIKVID_API_TOKENS_FILE``."""
    import uvicorn

    from likvid.logs import setup_logging

    setup_logging()
    try:
        max_batch = int(os.environ.get("LIKVID_API_MAX_BATCH", DEFAULT_MAX_BATCH))
        max_body = int(os.environ.get("LIKVID_API_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES))
    except ValueError as exc:
        raise SystemExit(f"LIKVID_API_MAX_BATCH / LIKVID_API_MAX_BODY_BYTES: {exc}") from None
    try:
        api = create_app(max_batch=max_batch, max_body_bytes=max_body)
    except TokenFileError as exc:
        raise SystemExit(str(exc)) from None
    # log_config=None: uvicorn logs through the root handler, which masks identity numbers.
    uvicorn.run(api, host=host, port=port, log_config=None)


def main(argv: list[str] | None = None) -> None:
    """`python -m likvid.api hash TOKEN` prints the hash; `new` makes a token and its hash."""
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["hash"] and len(args) == 2:
        print(hash_token(args[1]))
    elif args == ["new"]:
        token, digest = new_token()
        print(f"token:  {token}\nsha256: {digest}")
    else:
        raise SystemExit("usage: python -m likvid.api hash TOKEN | new")


if __name__ == "__main__":
    main()
