"""The module `dramatiq` loads in worker processes: configure the broker, then declare actors."""

from likvid.db import engine_for
from likvid.logs import mask_existing_handlers
from likvid.rules.calendar import preload
from likvid.runtime.gc_tuning import tune
from likvid.service.app import bootstrap
from likvid.workers.broker import configure

mask_existing_handlers()

settings = bootstrap().settings
configure(settings.resolved_redis_url(), worker=settings)

from likvid.workers import actors  # noqa: E402,F401  (after the broker, as dramatiq requires)

preload()  # the bank-day calendar: at boot, not at the first deadline
# The database engine and its driver (psycopg: 0.15 s of CPU to import) at boot, not inside
# the first message: an import's first batch of payments waited for it in every process.
# (No connection is opened here; the pool opens its first when the first message needs it.)
engine_for(settings.database_url)
tune(settings.gc_threshold)  # everything above lives as long as the process
