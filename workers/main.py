"""The module `dramatiq` loads in worker processes: configure the broker, then declare actors."""

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
tune(settings.gc_threshold)  # everything above lives as long as the process
