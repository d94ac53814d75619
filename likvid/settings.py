"""Settings from ``LIKVID_*`` environment variables.

All state lives under ``LIKVID_HOME`` (default ``./var``): the SQLite database, the embedded
Redis server's data, rendered letters and the runtime file through which other ``likvid``
commands find a running instance.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

#: Clock modes: the system clock in production, a stored instant for demos and tests.
CLOCK_MODES = ("system", "simulated")


@dataclass(frozen=True)
class Settings:
    home: Path
    database_url: str
    redis_url: str | None
    clock_mode: str
    policy_path: Path | None
    #: How often the scheduler looks for due timers, in milliseconds.
    scheduler_interval_ms: int = 500
    #: How often the outbox relay looks for new rows when idle, in milliseconds.
    relay_interval_ms: int = 50
    #: Outbound sinks (likvid.service.sinks): an HTTP webhook with an HMAC-SHA256 signed body,
    #: and a JSON-lines file. Off unless set.
    webhook_url: str | None = None
    webhook_secret: str | None = None
    webhook_timeout_s: float = 10.0
    webhook_attempts: int = 3
    outbound_jsonl: str | None = None
    #: The dramatiq worker processes' Prometheus exposition (workers/broker.py): off unless a
    #: port is set (two instances side by side never fight over one); 0 lets `likvid up` and
    #: `likvid worker` choose a free port. Loopback unless the host says otherwise.
    worker_metrics_port: int | None = None
    worker_metrics_host: str = "127.0.0.1"
    #: The garbage collector's young threshold in the service's processes
    #: (likvid/runtime/gc_tuning.py); 0 keeps Python's own settings.
    gc_threshold: int = 50_000

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        home = Path(env.get("LIKVID_HOME", "./var")).resolve()
        database_url = env.get("LIKVID_DATABASE_URL") or f"sqlite:///{home / 'likvid.db'}"
        clock_mode = env.get("LIKVID_CLOCK", "system")
        if clock_mode not in CLOCK_MODES:
            raise SystemExit(
                f"LIKVID_CLOCK: must be one of {', '.join(CLOCK_MODES)}, not {clock_mode!r}"
            )
        policy = env.get("LIKVID_POLICY")
        return cls(
            home=home,
            database_url=database_url,
            redis_url=env.get("LIKVID_REDIS_URL") or None,
            clock_mode=clock_mode,
            policy_path=Path(policy) if policy else None,
            scheduler_interval_ms=int(env.get("LIKVID_SCHEDULER_INTERVAL_MS", "500")),
            relay_interval_ms=int(env.get("LIKVID_RELAY_INTERVAL_MS", "50")),
            webhook_url=env.get("LIKVID_WEBHOOK_URL") or None,
            webhook_secret=env.get("LIKVID_WEBHOOK_SECRET") or None,
            webhook_timeout_s=float(env.get("LIKVID_WEBHOOK_TIMEOUT_S", "10")),
            webhook_attempts=int(env.get("LIKVID_WEBHOOK_ATTEMPTS", "3")),
            outbound_jsonl=env.get("LIKVID_OUTBOUND_JSONL") or None,
            worker_metrics_port=_port(env, "LIKVID_WORKER_METRICS_PORT"),
            worker_metrics_host=env.get("LIKVID_WORKER_METRICS_HOST") or "127.0.0.1",
            gc_threshold=whole_number(env, "LIKVID_GC_THRESHOLD", 50_000),
        )

    @property
    def runtime_file(self) -> Path:
        return self.home / "run" / "runtime.json"

    @property
    def letters_dir(self) -> Path:
        return self.home / "letters"

    def resolved_redis_url(self) -> str:
        """The Redis URL from the environment, else the one a running ``likvid up`` wrote."""
        if self.redis_url:
            return self.redis_url
        try:
            data = json.loads(self.runtime_file.read_text())
        except FileNotFoundError:
            raise SystemExit(
                f"No Redis: set LIKVID_REDIS_URL, or start the service with `likvid up` "
                f"(LIKVID_HOME={self.home})."
            ) from None
        return str(data["redis_url"])


def whole_number(env: dict[str, str], name: str, default: int, minimum: int = 0) -> int:
    """A whole number from ``env[name]`` (``minimum`` or more): the default when unset or empty."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not (raw.isascii() and raw.isdigit() and int(raw) >= minimum):
        raise SystemExit(f"{name}: must be a whole number ({minimum} or more), not {raw!r}")
    return int(raw)


def _port(env: dict[str, str], name: str) -> int | None:
    """A TCP port from ``env[name]``: None when unset or empty, 0 for "a free one"."""
    raw = env.get(name, "").strip()
    if not raw:
        return None
    if not (raw.isascii() and raw.isdigit()) or int(raw) > 65535:
        raise SystemExit(f"{name}: must be a TCP port number (1-65535, or 0 for a free one), not {raw!r}")
    return int(raw)
