"""Email over SMTP against a REAL server (aiosmtpd in a thread, tests/support/smtp.py): what
arrives (headers, both parts, the amounts), retries on 4xx and connection failures with every
email arriving once, 5xx and bad addresses as permanent failures without retries, AUTH, TLS,
the deterministic Message-ID, and settings from LIKVID_SMTP_*."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import shutil
import time
import traceback
from pathlib import Path
from typing import Any

import pytest

from likvid.rules.money import format_kronor
from likvid.runtime.redis_server import free_port
from likvid.service.email import (
    InvalidAddress,
    PermanentEmailFailure,
    SmtpConfigurationError,
    SmtpSettings,
    SmtpSettingsError,
    TransientEmailFailure,
    build_message,
    send,
    send_async,
)
from likvid.service.render import render_letter
from tests.support.smtp import SmtpServer, self_signed_certificate, silent_port
from tests.unit.test_render import flat, make_context, plain

pytestmark = pytest.mark.timeout(30)

TO = "anna.andersson@example.se"
SENDER = "ekonomi@tanum.se"
LETTER = "L-2026-000417"


def settings_for(server: SmtpServer | None = None, **changes: Any) -> SmtpSettings:
    """Plain-text settings for the test server, with tiny backoffs."""
    values: dict[str, Any] = {
        "security": "none",
        "sender": SENDER,
        "sender_name": "Tanums kommun",
        "message_id_domain": "brev.tanum.se",
        "timeout_s": 5.0,
        "attempts": 4,
        "backoff_initial_s": 0.001,
        "backoff_max_s": 0.01,
    }
    values.update(changes)
    host = server.host if server is not None else "127.0.0.1"
    port = server.port if server is not None else free_port()
    return SmtpSettings(host, port, **values)


def simple_message(settings: SmtpSettings, letter_id: str = LETTER, to: str = TO) -> Any:
    return build_message(
        letter_id=letter_id,
        to=to,
        subject="Påminnelse: faktura 2026-104711",
        text="Att betala: 1 234,50 kr\nÅterbetalning, ändring, övrigt.\n",
        html="<p>Att betala: <strong>1 234,50 kr</strong></p><p>Återbetalning, ändring, övrigt.</p>",
        settings=settings,
    )


@pytest.fixture
def server():
    with SmtpServer() as running:
        yield running


# --- what arrives ------------------------------------------------------------------------


@pytest.mark.parametrize("language", ["sv", "en"])
def test_a_rendered_reminder_arrives_with_headers_both_parts_and_the_amounts(server, language):
    context = make_context("reminder", language)
    letter = render_letter("reminder", language, context)
    settings = settings_for(server)
    message = build_message(
        letter_id=LETTER,
        to=TO,
        subject=letter.subject,
        text=letter.text,
        html=letter.html,
        settings=settings,
        reply_to="invandning@tanum.se",
    )

    reply = send(message, settings)

    assert "queued as" in reply
    assert len(server.messages) == 1
    got = server.messages[0]
    assert server.recipients == [(TO,)]
    assert server.received[0].mail_from == SENDER
    assert got["From"].addresses[0].addr_spec == SENDER
    assert got["From"].addresses[0].display_name == "Tanums kommun"
    assert str(got["To"]) == TO
    assert str(got["Reply-To"]) == "invandning@tanum.se"
    assert str(got["Subject"]) == letter.subject
    assert str(got["Message-ID"]) == f"<{LETTER}@brev.tanum.se>"
    assert str(got["X-Likvid-Letter"]) == LETTER
    assert got["Date"].datetime is not None
    assert got.get_content_type() == "multipart/alternative"

    parts = [part for part in got.iter_parts()]
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert all(p.get_content_charset() == "utf-8" for p in parts)
    text, html = (p.get_content().replace("\r\n", "\n") for p in parts)
    assert text.strip() == letter.text.strip()
    assert html.strip() == letter.html.strip()

    amounts = [
        context["payment"]["amount_ore"],
        context["totals"]["capital_ore"],
        context["claims"][0]["capital_ore"],
        context["fees"][0]["amount_ore"],
    ]
    for ore in amounts:
        assert format_kronor(ore, language) in flat(text)
        assert format_kronor(ore, language) in plain(html)
    if language == "sv":
        assert "Påminnelse" in text and "Påminnelse" in html
        assert "förfallodagen" in text


def test_swedish_letters_survive_a_relay_without_8bit(server):
    """Both parts are quoted-printable (7-bit on the wire); å ä ö come back intact."""
    settings = settings_for(server)
    send(simple_message(settings), settings)

    raw = server.received[0].raw
    assert raw.isascii()
    got = server.messages[0]
    assert str(got["Subject"]) == "Påminnelse: faktura 2026-104711"
    text, html = (p.get_content() for p in got.iter_parts())
    assert "1 234,50 kr" in text and "Återbetalning, ändring, övrigt." in text
    assert "<strong>1 234,50 kr</strong>" in html and "ändring" in html


# --- retries -----------------------------------------------------------------------------


@pytest.mark.parametrize("stage", ["DATA", "RCPT"])
def test_a_server_refusing_twice_with_451_then_accepting_gets_the_email_once(server, stage):
    settings = settings_for(server)
    server.refuse_next(2, 451, at=stage)

    reply = send(simple_message(settings), settings)

    assert "queued as" in reply
    assert len(server.messages) == 1
    attempts = server.data_attempts if stage == "DATA" else server.rcpt_attempts
    assert attempts == 3


def test_4xx_to_the_end_is_transient_after_all_attempts(server):
    settings = settings_for(server, attempts=3)
    server.refuse_always(421)

    with pytest.raises(TransientEmailFailure) as failure:
        send(simple_message(settings), settings)

    assert failure.value.code == 421
    assert failure.value.attempts == 3
    assert server.data_attempts == 3
    assert server.messages == []


def test_a_server_that_is_down_is_transient_after_all_attempts():
    settings = settings_for(None, attempts=3)  # a free port: nothing listens there

    started = time.monotonic()
    with pytest.raises(TransientEmailFailure) as failure:
        send(simple_message(settings), settings)

    assert failure.value.code is None
    assert failure.value.attempts == 3
    assert "connection failed" in failure.value.reason
    assert time.monotonic() - started < 3


def test_a_server_that_never_answers_times_out_and_is_transient():
    with silent_port() as port:
        settings = dataclasses.replace(
            settings_for(None, attempts=2, timeout_s=0.2), host="127.0.0.1", port=port
        )
        started = time.monotonic()
        with pytest.raises(TransientEmailFailure) as failure:
            send(simple_message(settings), settings)

    assert failure.value.attempts == 2
    assert "timed out" in failure.value.reason
    assert time.monotonic() - started < 3


def test_retries_wait_with_exponential_backoff(server):
    settings = settings_for(server, attempts=3, backoff_initial_s=0.1, backoff_max_s=1.0)
    server.refuse_next(2, 451)

    started = time.monotonic()
    send(simple_message(settings), settings)

    # 0.1 s then 0.2 s (plus up to 0.1 s jitter each).
    assert 0.3 <= time.monotonic() - started < 2
    assert len(server.messages) == 1


# --- permanent failures ------------------------------------------------------------------


def test_a_550_refusal_is_permanent_at_once_without_retries(server):
    settings = settings_for(server)
    server.refuse_always(550)

    with pytest.raises(PermanentEmailFailure) as failure:
        send(simple_message(settings), settings)

    assert failure.value.code == 550
    assert "Message refused" in failure.value.reason
    assert server.data_attempts == 1
    assert server.messages == []


def test_a_refused_recipient_is_permanent_and_the_address_stays_out_of_errors_and_logs(
    server, caplog
):
    settings = settings_for(server)
    server.refuse_always(550, at="RCPT")  # the answer echoes "<anna.andersson@example.se>"

    with caplog.at_level(logging.DEBUG, logger="likvid.email"):
        with pytest.raises(PermanentEmailFailure) as failure:
            send(simple_message(settings), settings)

    assert failure.value.code == 550
    assert server.rcpt_attempts == 1
    assert TO not in str(failure.value) and TO not in failure.value.reason
    assert "<recipient>" in failure.value.reason
    # Nor in the traceback a caller might log (aiosmtplib's exception is not chained).
    assert TO not in "".join(traceback.format_exception(failure.value))
    assert LETTER in caplog.text
    assert TO not in caplog.text and "anna" not in caplog.text


def test_logs_name_the_letter_only_never_the_address_or_the_body(server, caplog):
    settings = settings_for(server)
    server.refuse_next(1, 451, at="RCPT")

    with caplog.at_level(logging.DEBUG, logger="likvid.email"):
        send(simple_message(settings), settings)

    assert LETTER in caplog.text
    assert "retrying" in caplog.text and "accepted" in caplog.text
    assert "anna" not in caplog.text.lower()
    assert "1 234,50" not in caplog.text


@pytest.mark.parametrize(
    "address",
    [
        "",
        "   ",
        "anna.andersson",
        "anna@",
        "@example.se",
        "anna@@example.se",
        "anna andersson@example.se",
        "anna@example",
        "anna@-example.se",
        "anna@example..se",
        "anna@[127.0.0.1]",
        "anna@example.123",
        ".anna@example.se",
        "anna..a@example.se",
        '"anna"@example.se',
        "åsa@example.se",
        "Anna <anna@example.se>",
        "anna@example.se\r\nBcc: x@example.se",
        "a" * 65 + "@example.se",
    ],
)
def test_an_invalid_or_missing_address_is_permanent(address):
    settings = settings_for(None)
    with pytest.raises(InvalidAddress) as failure:
        simple_message(settings, to=address)
    assert isinstance(failure.value, PermanentEmailFailure)
    assert failure.value.code is None
    assert failure.value.field == "to"


def test_a_message_without_a_recipient_is_permanent_and_never_connects(server):
    settings = settings_for(server)
    message = simple_message(settings)
    del message["To"]

    with pytest.raises(InvalidAddress, match="no email address"):
        send(message, settings)
    assert server.rcpt_attempts == 0 and server.data_attempts == 0


def test_international_domains_are_sent_as_idna(server):
    settings = settings_for(server)
    send(simple_message(settings, to="Anna@Åre.SE"), settings)

    assert server.recipients == [("Anna@xn--re-xia.se",)]
    assert str(server.messages[0]["To"]) == "Anna@xn--re-xia.se"


def test_an_invalid_reply_to_is_refused():
    settings = settings_for(None)
    with pytest.raises(InvalidAddress) as failure:
        build_message(
            letter_id=LETTER, to=TO, subject="s", text="t", html="<p>h</p>", settings=settings,
            reply_to="not an address",
        )  # fmt: skip
    assert failure.value.field == "reply_to"


# --- AUTH and TLS ------------------------------------------------------------------------


def test_auth_with_username_and_password():
    with SmtpServer(auth=("likvid", "hemligt lösen")) as server:
        settings = settings_for(server, username="likvid", password="hemligt lösen")
        send(simple_message(settings), settings)
        assert len(server.messages) == 1


def test_a_wrong_password_is_a_permanent_configuration_error_without_retries():
    with SmtpServer(auth=("likvid", "rätt")) as server:
        settings = settings_for(server, username="likvid", password="fel")
        with pytest.raises(SmtpConfigurationError) as failure:
            send(simple_message(settings), settings)
        assert failure.value.code == 535
        assert isinstance(failure.value, PermanentEmailFailure)
        assert "fel" not in str(failure.value)
        assert server.messages == []


def test_no_login_where_one_is_required_is_permanent():
    with SmtpServer(auth=("likvid", "rätt")) as server:
        settings = settings_for(server)
        with pytest.raises(PermanentEmailFailure) as failure:
            send(simple_message(settings), settings)
        assert failure.value.code == 530


def test_starttls_required_but_not_offered_is_a_configuration_error(server):
    settings = settings_for(server, security="starttls")
    with pytest.raises(SmtpConfigurationError, match="STARTTLS"):
        send(simple_message(settings), settings)
    assert server.messages == []


@pytest.fixture
def trusted_certificate(tmp_path: Path, monkeypatch):
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    certificate = self_signed_certificate(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate.cert))
    return certificate


@pytest.mark.parametrize(("security", "tls"), [("starttls", "starttls"), ("tls", "implicit")])
def test_tls_modes_with_login(trusted_certificate, security, tls):
    with SmtpServer(auth=("likvid", "hemligt"), tls=tls, certificate=trusted_certificate) as server:
        settings = settings_for(server, security=security, username="likvid", password="hemligt")
        send(simple_message(settings), settings)
        assert len(server.messages) == 1


# --- Message-ID ----------------------------------------------------------------------------


def test_the_same_letter_built_twice_has_the_same_message_id(server):
    settings = settings_for(server)
    first = simple_message(settings)
    second = simple_message(settings)
    other = simple_message(settings, letter_id="L-2026-000418")

    assert first["Message-ID"] == second["Message-ID"] == f"<{LETTER}@brev.tanum.se>"
    assert other["Message-ID"] == "<L-2026-000418@brev.tanum.se>"

    # A resend after a crash between the server's acceptance and our record.
    send(first, settings)
    send(second, settings)
    assert [str(m["Message-ID"]) for m in server.messages] == [f"<{LETTER}@brev.tanum.se>"] * 2


def test_a_letter_id_that_cannot_be_a_message_id_is_refused():
    settings = settings_for(None)
    for bad in ["", "L 1", "L-1@x", "<L-1>", ".L-1"]:
        with pytest.raises(ValueError, match="letter_id"):
            simple_message(settings, letter_id=bad)


def test_send_async_in_a_running_loop_and_send_refuses_one(server):
    settings = settings_for(server)
    message = simple_message(settings)

    async def main() -> str:
        with pytest.raises(RuntimeError, match="send_async"):
            send(message, settings)
        return await send_async(message, settings)

    assert "queued as" in asyncio.run(main())
    assert len(server.messages) == 1


# --- settings ------------------------------------------------------------------------------


def test_from_env_without_a_host_is_none():
    assert SmtpSettings.from_env({}) is None
    assert SmtpSettings.from_env({"LIKVID_SMTP_HOST": "  ", "LIKVID_SMTP_FROM": SENDER}) is None


def test_from_env_reads_every_variable():
    settings = SmtpSettings.from_env(
        {
            "LIKVID_SMTP_HOST": "smtp.tanum.se",
            "LIKVID_SMTP_PORT": "2525",
            "LIKVID_SMTP_SECURITY": "TLS",
            "LIKVID_SMTP_USERNAME": "likvid",
            "LIKVID_SMTP_PASSWORD": " med mellanslag ",
            "LIKVID_SMTP_TIMEOUT_S": "7.5",
            "LIKVID_SMTP_FROM": SENDER,
            "LIKVID_SMTP_FROM_NAME": "Tanums kommun",
            "LIKVID_SMTP_MESSAGE_ID_DOMAIN": "brev.tanum.se",
            "LIKVID_SMTP_ATTEMPTS": "3",
        }
    )
    assert settings == SmtpSettings(
        "smtp.tanum.se",
        2525,
        security="tls",
        username="likvid",
        password=" med mellanslag ",
        timeout_s=7.5,
        sender=SENDER,
        sender_name="Tanums kommun",
        message_id_domain="brev.tanum.se",
        attempts=3,
    )
    assert "med mellanslag" not in repr(settings)


@pytest.mark.parametrize(("security", "port"), [("starttls", 587), ("tls", 465), ("none", 25)])
def test_from_env_default_port_follows_security(security, port):
    env = {"LIKVID_SMTP_HOST": "smtp", "LIKVID_SMTP_FROM": SENDER, "LIKVID_SMTP_SECURITY": security}
    settings = SmtpSettings.from_env(env)
    assert settings is not None and settings.port == port


def test_from_env_defaults():
    settings = SmtpSettings.from_env({"LIKVID_SMTP_HOST": "smtp", "LIKVID_SMTP_FROM": SENDER})
    assert settings is not None
    assert (settings.security, settings.port, settings.timeout_s, settings.attempts) == (
        "starttls",
        587,
        15.0,
        5,
    )
    assert settings.username is None and settings.password is None


@pytest.mark.parametrize(
    ("changes", "variable"),
    [
        ({"LIKVID_SMTP_FROM": ""}, "LIKVID_SMTP_FROM"),
        ({"LIKVID_SMTP_FROM": "not-an-address"}, "LIKVID_SMTP_FROM"),
        ({"LIKVID_SMTP_PORT": "twentyfive"}, "LIKVID_SMTP_PORT"),
        ({"LIKVID_SMTP_PORT": "70000"}, "LIKVID_SMTP_PORT"),
        ({"LIKVID_SMTP_PORT": "0"}, "LIKVID_SMTP_PORT"),
        ({"LIKVID_SMTP_SECURITY": "ssl"}, "LIKVID_SMTP_SECURITY"),
        ({"LIKVID_SMTP_TIMEOUT_S": "soon"}, "LIKVID_SMTP_TIMEOUT_S"),
        ({"LIKVID_SMTP_TIMEOUT_S": "0"}, "LIKVID_SMTP_TIMEOUT_S"),
        ({"LIKVID_SMTP_TIMEOUT_S": "inf"}, "LIKVID_SMTP_TIMEOUT_S"),
        ({"LIKVID_SMTP_ATTEMPTS": "0"}, "LIKVID_SMTP_ATTEMPTS"),
        ({"LIKVID_SMTP_ATTEMPTS": "2.5"}, "LIKVID_SMTP_ATTEMPTS"),
        ({"LIKVID_SMTP_USERNAME": "likvid"}, "LIKVID_SMTP_PASSWORD"),
        ({"LIKVID_SMTP_PASSWORD": "hemligt-lösen"}, "LIKVID_SMTP_USERNAME"),
        ({"LIKVID_SMTP_MESSAGE_ID_DOMAIN": "not a domain"}, "LIKVID_SMTP_MESSAGE_ID_DOMAIN"),
        ({"LIKVID_SMTP_FROM_NAME": "Tanum\nBcc: x@y.se"}, "LIKVID_SMTP_FROM_NAME"),
    ],
)
def test_from_env_errors_name_the_variable(changes, variable):
    env = {"LIKVID_SMTP_HOST": "smtp.tanum.se", "LIKVID_SMTP_FROM": SENDER, **changes}
    with pytest.raises(SmtpSettingsError) as failure:
        SmtpSettings.from_env(env)
    assert str(failure.value).startswith(f"{variable}: ")
    assert failure.value.name == variable
    assert "hemligt-lösen" not in str(failure.value)


def test_settings_validate_when_built_directly():
    with pytest.raises(SmtpSettingsError, match="^backoff_max_s: "):
        SmtpSettings("smtp", 25, sender=SENDER, backoff_initial_s=2.0, backoff_max_s=1.0)
    with pytest.raises(SmtpSettingsError, match="^security: "):
        SmtpSettings("smtp", 25, sender=SENDER, security="ssl")  # type: ignore[arg-type]
