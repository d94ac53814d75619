"""`likvid import bgmax` accepts the events it builds without validating them again only when
they are valid as built (`bankfile.valid_as_built`): over generated BgMax files, that is
exactly when the event models accept them."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from likvid import bgmax
from likvid.bgmax_writer import PaymentSpec, SectionSpec, write_bgmax
from likvid.clock import STOCKHOLM
from likvid.messages import EventRejected, parse_event
from likvid.rules.money import MAX_AMOUNT_ORE
from likvid.rules.ocr import generate_ocr
from likvid.service.bankfile import _event, valid_as_built

#: What a TK26 name field can hold once the file passed its checks: printable ISO 8859-1.
_LATIN1_PRINTABLE = "".join(chr(c) for c in [*range(0x20, 0x7F), *range(0xA0, 0x100)])

_payments = st.lists(
    st.builds(
        PaymentSpec,
        reference=st.one_of(st.from_regex(r"[1-9][0-9]{1,20}", fullmatch=True).map(generate_ocr),
                            st.from_regex(r"[0-9]{2,25}", fullmatch=True)),
        amount_ore=st.one_of(st.just(0), st.integers(1, MAX_AMOUNT_ORE), st.just(MAX_AMOUNT_ORE + 1),
                             st.integers(MAX_AMOUNT_ORE, 10**17 - 1)),  # (8 of them still fit the deposit total)
        bgc_serial=st.integers(0, 10**12 - 1),
        payer_name=st.one_of(st.none(), st.text(alphabet=_LATIN1_PRINTABLE, max_size=35)),
    ),
    min_size=1, max_size=8,
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(_payments)
def test_valid_as_built_exactly_when_the_event_models_accept_the_event(tmp_path: Path,
                                                                        specs: list[PaymentSpec]) -> None:
    path = tmp_path / "generated.bgmax"
    write_bgmax(path, [SectionSpec("9912346", date(2026, 1, 20), 1, specs)],
                written_at=datetime(2026, 1, 21, 6, 0, tzinfo=STOCKHOLM))
    summary = bgmax.verify(path)
    matchable = [p for p in bgmax.payments(path) if p.kind == "payment" and p.ocr_matchable]
    for p in matchable:
        event = _event(p, summary.written_at.isoformat())
        try:
            parse_event(event)
            accepted = True
        except EventRejected:
            accepted = False
        assert valid_as_built(p) is accepted, (p.amount_ore, p.payer_name, p.reference)
