"""What every entry point needs, built once per process: settings, policy, clock."""

from __future__ import annotations

from dataclasses import dataclass

from likvid.clock import Clock, make_clock
from likvid.policy import Policy, load_policy
from likvid.settings import Settings


@dataclass(frozen=True)
class App:
    settings: Settings
    policy: Policy
    clock: Clock

    @property
    def db(self) -> str:
        return self.settings.database_url


_APP: App | None = None


def bootstrap(settings: Settings | None = None, *, fresh: bool = False) -> App:
    """The process's App; ``fresh`` rebuilds it (tests switch databases and clocks)."""
    global _APP
    if _APP is None or fresh or settings is not None:
        settings = settings or Settings.from_env()
        _APP = App(settings, load_policy(settings.policy_path), make_clock(settings.clock_mode))
    return _APP


def sync_creditors(app: App) -> None:
    """Creditors come from the policy file; the table mirrors it (claims refer to it)."""
    from likvid.db import transaction
    from likvid.models import Creditor

    with transaction(app.db) as s:
        for c in app.policy.creditors.values():
            row = s.get(Creditor, c.id) or Creditor(id=c.id)
            row.name, row.org_number, row.bankgiro = c.name, c.org_number, c.bankgiro
            row.address, row.contact = c.address.model_dump(), c.contact.model_dump()
            s.add(row)


def prepare(app: App) -> None:
    """Schema at head and creditors in sync: what every long-running entry point needs."""
    from likvid.migrate import upgrade

    upgrade(app.db)
    sync_creditors(app)
