"""SQLAlchemy 2.0 models. The schema is created only by Alembic migrations (``likvid migrate``)."""

from .base import Base
from .collection import HandlerStatement, Hold, Letter, LetterClaim, PaymentPlan, Task, Timer
from .handoff import Handoff, HandoffFile, Surveillance
from .ledger import COMPONENTS, ENTRY_KINDS, Claim, CollectionCase, LedgerEntry, Payment
from .messaging import (
    BusinessClock,
    DeadLetter,
    OutboxMessage,
    ParkedEvent,
    ReceivedEvent,
    RejectedEvent,
    TimelineEntry,
)
from .parties import Creditor, Customer
from .sinks import SinkDelivery
from .suspension import (
    DeliveryPointFlag,
    SocialServicesUndertaking,
    SuspensionClaim,
    SuspensionTrack,
)

__all__ = [
    "Base", "BusinessClock", "COMPONENTS", "Claim", "CollectionCase", "Creditor", "Customer",
    "DeadLetter", "ENTRY_KINDS", "Handoff", "HandoffFile", "Surveillance", "HandlerStatement", "Hold", "PaymentPlan", "Task", "LedgerEntry", "Letter", "LetterClaim", "OutboxMessage",
    "ParkedEvent", "Payment", "ReceivedEvent", "RejectedEvent", "TimelineEntry", "Timer",
    "DeliveryPointFlag", "SinkDelivery", "SocialServicesUndertaking", "SuspensionClaim", "SuspensionTrack",
]
