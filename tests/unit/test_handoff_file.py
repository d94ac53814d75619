"""The fixed-width hand-off file (docs/handoff-file-layout.md)."""

from __future__ import annotations

from datetime import date

import pytest

from likvid.service.handoff_file import LINE, ClaimRecord, FileHeader, parse, render

HEADER = FileHeader(creditor_org="2120000415", creditor_name="Exempelby kommun", bankgiro="5050-1055",
                    target="kronofogden", file_date=date(2026, 3, 11), seq=1)


def record(**over: object) -> ClaimRecord:
    fields: dict[str, object] = dict(
        handoff_id="H0123456789abcdef012", identity_number="198112189876", party_type="person", protected=False,
        name="Åsa Öberg", care_of="", street="Storgatan 1", postal_code="123 45", city="Exempelby", country="SE",
        invoice_number="2026-0001", issue_date=date(2026, 1, 5), due_date=date(2026, 1, 30), capital_ore=100000,
        interest_ore=1234, interest_rate_bp=1000, interest_from=date(2026, 1, 31), fees_ore=18000,
        application_fee_ore=30000, own_work_ore=38000, claim_nature="civil", claim_kind="childcare",
        basis="Obetald faktura 2026-0001 avseende förskoleavgift. " * 6,
    )
    fields.update(over)
    return ClaimRecord(**fields)  # type: ignore[arg-type]


def test_every_line_is_200_characters_in_latin_1_and_reads_back() -> None:
    content = render(HEADER, [record(), record(handoff_id="H2", protected=True, street="Hemlig 1", city="Gömd")])
    raw = content.encode("iso-8859-1")
    assert all(len(line) == LINE for line in raw.split(b"\r\n") if line)
    records = parse(content)
    assert [r["type"] for r in records] == ["00", "10", "20", "30", "30", "10", "20", "30", "30", "99"]
    assert records[0]["target"] == "KFM-BFO" and records[0]["file_date"] == "20260311"
    debtor, claim = records[1], records[2]
    assert (debtor["name"], debtor["street"], debtor["postal_code"], debtor["protected"]) == ("Åsa Öberg", "Storgatan 1", "12345", "N")
    assert claim["capital"] == "0000000100000" and int(claim["total"]) == 100000 + 1234 + 18000 + 30000 + 38000
    assert claim["interest_from"] == "20260131" and claim["nature"] == "C"
    # protected identity: flagged, no address at all
    assert records[5]["protected"] == "J" and records[5]["street"] == records[5]["city"] == records[5]["country"] == ""
    assert "Hemlig" not in content and "Gömd" not in content
    assert records[-1]["claims"] == "000002" and int(records[-1]["total"]) == 2 * (100000 + 1234 + 18000 + 30000 + 38000)


def test_amounts_that_do_not_fit_are_refused_not_cut() -> None:
    with pytest.raises(ValueError, match="does not fit"):
        render(HEADER, [record(capital_ore=10**13)])
    with pytest.raises(ValueError):
        render(HEADER, [record(capital_ore=-1)])
