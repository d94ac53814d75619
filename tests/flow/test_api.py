"""The HTTP API on a real loopback socket, in front of the real pipeline (Redis, workers, relay,
scheduler, SQLite): every status code, per-token scopes, batches, and an accepted event that
is processed end to end."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import func, select

from likvid.api import TokenFileError, create_app, hash_token, load_tokens
from likvid.db import read_session
from likvid.models import OutboxMessage, ReceivedEvent, RejectedEvent
from likvid.runtime.redis_server import RedisServer
from likvid.service.progress import wait_quiet
from tests.support.pipeline import (
    Pipeline,
    customer,
    emptied_redis,
    invoice,
    payment,
    running_pipeline,
)

BILLING = "billing-secret-token"  # publishes customers and invoices, may not read
OPS = "ops-secret-token"  # reads only
ADMIN = "admin-secret-token"  # publishes everything and reads

TOKENS_TOML = f"""
[[tokens]]
name = "billing"
sha256 = "{hash_token(BILLING)}"
publish = ["customer-registered", "invoice-issued", "invoice-credited"]

[[tokens]]
name = "ops"
sha256 = "{hash_token(OPS)}"
read = true

[[tokens]]
name = "admin"
sha256 = "{hash_token(ADMIN)}"
publish = ["*"]
read = true
"""

MAX_BATCH = 5
MAX_BODY = 20_000


@dataclass
class Api:
    client: httpx.Client
    pipe: Pipeline

    def post(
        self,
        body: Any,
        token: str | None = BILLING,
        *,
        ndjson: bool = False,
        raw: bytes | None = None,
        content_type: str | None = None,
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if raw is None:
            raw = ("\n".join(json.dumps(e) for e in body) if ndjson else json.dumps(body)).encode()
        headers["Content-Type"] = content_type or (
            "application/x-ndjson" if ndjson else "application/json"
        )
        return self.client.post("/v1/events", content=raw, headers=headers)

    def get(self, path: str, token: str | None = OPS) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return self.client.get(path, headers=headers)

    def counts(self) -> tuple[int, int, int]:
        # Let what earlier requests queued finish first, so a count cannot move under us.
        from likvid.service.progress import wait_quiet

        wait_quiet(self.pipe.app, 60)
        with read_session(self.pipe.app.db) as s:
            return (
                s.scalar(select(func.count()).select_from(OutboxMessage)) or 0,
                s.scalar(select(func.count()).select_from(RejectedEvent)) or 0,
                s.scalar(select(func.count()).select_from(ReceivedEvent)) or 0,
            )


@pytest.fixture(scope="module")
def api(redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """One pipeline and one API server for the module (starting them is the slow part)."""
    tmp = tmp_path_factory.mktemp("api")
    emptied_redis(redis_server)
    tokens_file = tmp / "tokens.toml"
    tokens_file.write_text(TOKENS_TOML)
    with running_pipeline(f"sqlite:///{tmp}/likvid.db", redis_server.url, tmp / "home") as pipe:
        asgi = create_app(
            pipe.app,
            load_tokens(tokens_file),
            redis_server.url,
            max_batch=MAX_BATCH,
            max_body_bytes=MAX_BODY,
        )
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        server = uvicorn.Server(uvicorn.Config(asgi, log_level="warning", lifespan="off"))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            try:
                yield Api(client, pipe)
            finally:
                server.should_exit = True
                thread.join(10)
                sock.close()


def _statuses(resp: httpx.Response) -> list[str]:
    return [r["status"] for r in resp.json()["results"]]


def test_accepted_events_one_array_and_ndjson_are_processed(api: Api) -> None:
    one = customer("C-API")
    resp = api.post(one)
    assert resp.status_code == 202, resp.text
    assert resp.json()["results"] == [{"id": one["id"], "status": "accepted"}]

    array = [invoice("I-API-1", "C-API"), invoice("I-API-2", "C-API", amount="250.00")]
    resp = api.post(array)
    assert resp.status_code == 202, resp.text
    assert [r["id"] for r in resp.json()["results"]] == [e["id"] for e in array]
    assert _statuses(resp) == ["accepted", "accepted"]

    lines = [invoice("I-API-3", "C-API"), invoice("I-API-4", "C-API")]
    resp = api.post(lines, ndjson=True)
    assert resp.status_code == 202, resp.text
    assert _statuses(resp) == ["accepted", "accepted"]

    ids = [e["id"] for e in [one, *array, *lines]]
    wait_quiet(api.pipe.app, 60, ids)

    # Processed: the claim is in the ledger and `show` sees it over HTTP.
    got = api.get("/v1/invoices/I-API-2")
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["invoice_id"] == "I-API-2" and body["customer_id"] == "C-API"
    assert body["status"] == "open" and body["balance"]["total"] == "250.00"
    assert body == api.pipe.invoice("I-API-2")
    cust = api.get("/v1/customers/C-API", token=ADMIN)
    assert cust.status_code == 200 and cust.json() == api.pipe.customer("C-API")

    # The same id again: acknowledged as a duplicate, in a batch with a new one.
    resp = api.post([one, invoice("I-API-5", "C-API")], ndjson=True)
    assert resp.status_code == 202
    assert _statuses(resp) == ["duplicate", "accepted"]


def test_without_or_with_a_wrong_token_401(api: Api) -> None:
    before = api.counts()
    for token in (None, "not-a-configured-token"):
        resp = api.post(invoice("I-NOAUTH"), token=token)
        assert resp.status_code == 401, resp.text
        assert resp.headers["www-authenticate"] == "Bearer"
        assert api.get("/v1/invoices/I-API-1", token=token).status_code == 401
    # A configured hash is not a token.
    assert api.post(invoice("I-NOAUTH"), token=hash_token(BILLING)).status_code == 401
    assert api.counts() == before


def test_a_type_the_token_may_not_publish_403_and_nothing_stored(api: Api) -> None:
    before = api.counts()
    batch = [invoice("I-FORBIDDEN", "C-API"), payment("P-FORBIDDEN", "10.00", invoice_id="I-API-1")]
    resp = api.post(batch, token=BILLING)
    assert resp.status_code == 403, resp.text
    assert resp.json()["forbidden_types"] == ["payment-received"]
    assert "payment-received" in resp.json()["detail"]
    # A read-only token may publish nothing.
    assert api.post(invoice("I-FORBIDDEN"), token=OPS).status_code == 403
    assert api.counts() == before  # no outbox message, no rejection, no event
    # The wildcard token may publish it.
    resp = api.post(batch[1:], token=ADMIN)
    assert resp.status_code == 202 and _statuses(resp) == ["accepted"]


def test_too_many_events_or_too_large_a_body_413(api: Api) -> None:
    before = api.counts()
    many = [invoice(f"I-MANY-{i}", "C-API") for i in range(MAX_BATCH + 1)]
    assert api.post(many).status_code == 413
    assert api.post(many, ndjson=True).status_code == 413
    big = invoice("I-BIG", "C-API", description="x" * (MAX_BODY + 1))
    resp = api.post(big)
    assert resp.status_code == 413, resp.text
    # Exactly the maximum is fine (and all of it rejected here: wrong amount, so 422).
    ok = [invoice(f"I-MAX-{i}", "C-API", amount="-1") for i in range(MAX_BATCH)]
    assert api.post(ok).status_code == 422
    after = api.counts()
    assert after[0] == before[0] and after[2] == before[2]


def test_invalid_json_and_all_rejected_422_mixed_202(api: Api) -> None:
    before = api.counts()
    resp = api.post(None, raw=b'{"id": "broken", ')
    assert resp.status_code == 422 and "not valid JSON" in resp.json()["detail"]
    assert api.post([]).status_code == 422
    assert api.counts() == before  # a body that is not JSON is not an event

    bad = invoice("I-BAD-1", "C-API")
    del bad["data"]["invoice_number"]
    worse = invoice("I-BAD-2", "C-API", amount="-5")
    resp = api.post([bad, worse])
    assert resp.status_code == 422, resp.text
    results = resp.json()["results"]
    assert [r["status"] for r in results] == ["rejected", "rejected"]
    assert results[0]["errors"][0]["field"] == "data.invoice_number"
    assert results[1]["errors"][0] == {"field": "data.amount", "reason": "must not be negative"}
    assert api.counts()[1] == before[1] + 2  # recorded for `likvid rejected list`

    # NDJSON: a line that is not JSON is a rejected event, the others go on (202).
    good = invoice("I-MIXED", "C-API")
    raw = (json.dumps(good) + "\n{not json\n").encode()
    resp = api.post(None, raw=raw, ndjson=True)
    assert resp.status_code == 202, resp.text
    results = resp.json()["results"]
    assert results[0] == {"id": good["id"], "status": "accepted"}
    assert results[1]["status"] == "rejected" and results[1]["errors"][0]["field"] == "$"

    assert api.post(None, raw=b"{}", content_type="text/plain").status_code == 415


def test_read_scopes_and_unknown_ids(api: Api) -> None:
    assert api.get("/v1/invoices/I-API-1", token=BILLING).status_code == 403
    assert api.get("/v1/customers/C-API", token=BILLING).status_code == 403
    assert api.get("/v1/invoices/NO-SUCH", token=OPS).status_code == 404
    assert api.get("/v1/customers/NO-SUCH", token=OPS).status_code == 404


def test_health_metrics_openapi(api: Api) -> None:
    resp = api.get("/healthz", token=None)
    assert resp.status_code == 200 and resp.json() == {"database": "ok", "redis": "ok"}

    wait_quiet(api.pipe.app, 60)
    text = api.get("/metrics", token=None).text
    for name in (
        "likvid_outbox_unprocessed ",
        "likvid_timers_due ",
        "likvid_rejected_events_total ",
        'likvid_claims{stage="issued",status="open"}',
        "likvid_database_up 1.0",
    ):
        assert name in text, name
    assert 'likvid_api_events_total{status="accepted",token="billing"}' in text

    doc = api.get("/openapi.json", token=None).json()
    assert {
        "/v1/events",
        "/v1/invoices/{invoice_id}",
        "/v1/customers/{customer_id}",
        "/healthz",
        "/metrics",
    } <= set(doc["paths"])
    post = doc["paths"]["/v1/events"]["post"]
    assert post["summary"] and {"202", "401", "403", "413", "422"} <= set(post["responses"])
    assert "application/x-ndjson" in post["requestBody"]["content"]


def test_healthz_names_what_failed(api: Api) -> None:
    # Redis on a port nobody listens on: 503 naming Redis; the database is still fine.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"redis://127.0.0.1:{s.getsockname()[1]}/0"
    asgi = create_app(api.pipe.app, [], dead)

    async def check() -> httpx.Response:
        transport = httpx.ASGITransport(app=asgi)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            return await client.get("/healthz")

    resp = asyncio.run(check())
    assert resp.status_code == 503
    assert resp.json()["database"] == "ok" and resp.json()["redis"].startswith("failed")


def test_token_file_errors_name_the_key(tmp_path: Path) -> None:
    path = tmp_path / "tokens.toml"
    cases = {
        '[[tokens]]\nname = "a"\nsha256 = "abc"\n': "tokens[0] (a).sha256",
        f'[[tokens]]\nsha256 = "{hash_token("x")}"\n': "tokens[0].name",
        f'[[tokens]]\nname = "a"\nsha256 = "{hash_token("x")}"\npublish = ["invoice-paid"]\n': "tokens[0] (a).publish: unknown event type(s) invoice-paid",
        f'[[tokens]]\nname = "a"\nsha256 = "{hash_token("x")}"\nread = "yes"\n': "tokens[0] (a).read",
        f'[[tokens]]\nname = "a"\nsha256 = "{hash_token("x")}"\ntoken = "x"\n': "unknown key(s) token",
    }
    for content, expected in cases.items():
        path.write_text(content)
        with pytest.raises(TokenFileError, match=re.escape(expected)):
            load_tokens(path)
    with pytest.raises(TokenFileError, match="cannot read"):
        load_tokens(tmp_path / "missing.toml")
