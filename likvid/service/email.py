"""Send rendered letters by email over SMTP (aiosmtplib), with retries on transient failures.

- :class:`SmtpSettings` comes from ``LIKVID_SMTP_*`` (:meth:`SmtpSettings.from_env`); no host
  means email is off (``None``).
- :func:`build_message` makes a multipart/alternative message (plain text + HTML, UTF-8) whose
  ``Message-ID`` is ``<{letter_id}@{message_id_domain}>``: deterministic, so a resend after a
  crash between the server's acceptance and our record carries the same Message-ID and the
  recipient's mail system can tell it is the same letter.
- :func:`send` / :func:`send_async` deliver it. Connection errors, timeouts and 4xx answers
  are retried with exponential backoff (tenacity) and end in :class:`TransientEmailFailure`
  once ``attempts`` are used up; a 5xx answer or a bad address is a
  :class:`PermanentEmailFailure` at once, without retrying: the caller sends a paper letter
  instead and records email-failed.

Personal data: the recipient's address and the body are never logged, and answers from the
server are stripped of the address before they go into an exception or a log line. Logs name
the letter id only.
"""

from __future__ import annotations

import asyncio
import email.policy
import logging
import math
import random
import re
from collections.abc import Mapping
from dataclasses import KW_ONLY, dataclass, field
from datetime import datetime
from email.header import Header
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Literal, get_args

import aiosmtplib
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
)

from likvid.clock import STOCKHOLM

log = logging.getLogger("likvid.email")

Security = Literal["none", "starttls", "tls"]
SECURITY_MODES: tuple[str, ...] = get_args(Security)

#: Port used when ``LIKVID_SMTP_PORT`` is not set, by security mode.
DEFAULT_PORTS = {"none": 25, "starttls": 587, "tls": 465}

#: Header naming the letter an email carries (the only identifier that is logged).
LETTER_HEADER = "X-Likvid-Letter"

#: Settings field -> environment variable.
ENV_VARIABLES = {
    "host": "LIKVID_SMTP_HOST",
    "port": "LIKVID_SMTP_PORT",
    "security": "LIKVID_SMTP_SECURITY",
    "username": "LIKVID_SMTP_USERNAME",
    "password": "LIKVID_SMTP_PASSWORD",
    "timeout_s": "LIKVID_SMTP_TIMEOUT_S",
    "sender": "LIKVID_SMTP_FROM",
    "sender_name": "LIKVID_SMTP_FROM_NAME",
    "message_id_domain": "LIKVID_SMTP_MESSAGE_ID_DOMAIN",
    "attempts": "LIKVID_SMTP_ATTEMPTS",
}


# --- errors ------------------------------------------------------------------------------


class PermanentEmailFailure(Exception):
    """The email cannot be delivered and retrying will not help: a 5xx answer, or an invalid
    or missing address. Send a paper letter instead and record email-failed.

    ``code`` is the SMTP reply code (None when no server answered, e.g. a bad address);
    ``reason`` a description free of the recipient's address.
    """

    def __init__(self, code: int | None, reason: str) -> None:
        super().__init__(f"{code} {reason}" if code is not None else reason)
        self.code = code
        self.reason = reason


class InvalidAddress(PermanentEmailFailure):
    """An address that is missing or not syntactically an email address (checked before any
    connection). ``field`` says which one: ``to`` or ``reply_to``."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(None, f"{field}: {reason}")
        self.field = field


class SmtpConfigurationError(PermanentEmailFailure):
    """A permanent failure caused by our side, not by this letter: the server refused the
    login, or does not offer STARTTLS/AUTH as configured. Every other letter will fail the same
    way, so besides falling back to paper the service should alert an operator."""


class TransientEmailFailure(Exception):
    """The email could not be delivered now: connection errors, timeouts, 4xx answers. Raised
    by :func:`send` once all ``attempts`` failed; a later retry may succeed."""

    def __init__(self, code: int | None, reason: str, attempts: int = 1) -> None:
        text = f"{code} {reason}" if code is not None else reason
        super().__init__(f"{text} (after {attempts} attempt{'s' if attempts != 1 else ''})")
        self.code = code
        self.reason = reason
        self.attempts = attempts


class SmtpSettingsError(ValueError):
    """An invalid SMTP setting; ``name`` is the field, or the variable when read from the
    environment, and starts the message."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"{name}: {reason}")
        self.name = name
        self.reason = reason


# --- addresses ---------------------------------------------------------------------------

_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
_DOT_ATOM = re.compile(rf"{_ATEXT}+(?:\.{_ATEXT}+)*")
_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")


def _ascii_domain(domain: str) -> str | None:
    """The domain in ASCII (IDNA for "åre.se"), or None when it is not a host name with at
    least two labels and an alphabetic top-level label."""
    if not domain or domain.endswith(".") or any(c.isspace() for c in domain):
        return None
    if not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            return None
    labels = domain.split(".")
    if len(domain) > 253 or len(labels) < 2:
        return None
    if not all(_LABEL.fullmatch(label) for label in labels):
        return None
    if labels[-1].isdigit():
        return None
    return domain.lower()


def normalize_address(value: object, field: str = "to") -> str:
    """``local@domain`` with the domain in lower-case ASCII (IDNA), or :class:`InvalidAddress`.

    Accepts a bare address (surrounding whitespace is ignored), not ``Name <addr>``. The local
    part must be an ASCII dot-atom: quoted local parts and internationalised ones (SMTPUTF8)
    are refused, so such a recipient gets a paper letter rather than a bounce. The address
    itself never appears in the error.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        raise InvalidAddress(field, "no email address")
    if not isinstance(value, str):
        raise InvalidAddress(
            field, f"an email address must be a string, not {type(value).__name__}"
        )
    address = value.strip()
    local, at, domain = address.rpartition("@")
    if not at or not local:
        raise InvalidAddress(field, "not an email address (expected local-part@domain)")
    if len(local) > 64 or not _DOT_ATOM.fullmatch(local):
        raise InvalidAddress(field, "not an email address (invalid local part)")
    ascii_domain = _ascii_domain(domain)
    if ascii_domain is None:
        raise InvalidAddress(field, "not an email address (invalid domain)")
    normalized = f"{local}@{ascii_domain}"
    if len(normalized) > 254:
        raise InvalidAddress(field, "not an email address (longer than 254 characters)")
    return normalized


def _redact(text: str, addresses: list[str]) -> str:
    """``text`` (an answer from the server) with the recipient's address replaced."""
    for address in addresses:
        text = re.sub(re.escape(address), "<recipient>", text, flags=re.IGNORECASE)
        local = address.rpartition("@")[0]
        text = re.sub(rf"(?<![\w.+-]){re.escape(local)}@[\w.-]+", "<recipient>", text, flags=re.I)
    return text


# --- settings ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to send. ``host`` and ``port`` may be positional, the rest are keywords.

    ``security``: ``tls`` connects with implicit TLS (465), ``starttls`` requires the server
    to upgrade with STARTTLS (587) and fails if it cannot, ``none`` sends in plain text (only
    for a relay on the same host or network). Certificates are verified against the system's
    trust store, or the file ``SSL_CERT_FILE`` names.
    """

    host: str
    port: int
    _: KW_ONLY
    security: Security = "starttls"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout_s: float = 15.0
    sender: str
    sender_name: str | None = None
    message_id_domain: str = "likvid.invalid"
    attempts: int = 5
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 30.0

    def __post_init__(self) -> None:
        if not isinstance(self.host, str) or not self.host.strip() or _has_space(self.host):
            raise SmtpSettingsError("host", f"must be a host name or address, not {self.host!r}")
        if not _is_int(self.port) or not 1 <= self.port <= 65535:
            raise SmtpSettingsError("port", f"must be a port number 1-65535, not {self.port!r}")
        if self.security not in SECURITY_MODES:
            raise SmtpSettingsError(
                "security", f"must be one of {', '.join(SECURITY_MODES)}, not {self.security!r}"
            )
        if self.username is not None and (not self.username or _has_control(self.username)):
            raise SmtpSettingsError("username", "must be a non-empty single line")
        if (self.username is None) != (self.password is None):
            missing = "password" if self.password is None else "username"
            raise SmtpSettingsError(missing, "username and password must be set together")
        if self.password is not None and not self.password:
            raise SmtpSettingsError("password", "must not be empty")
        if not _is_number(self.timeout_s) or not 0 < self.timeout_s < math.inf:
            raise SmtpSettingsError(
                "timeout_s", f"must be a positive number of seconds, not {self.timeout_s!r}"
            )
        try:
            normalize_address(self.sender, "sender")
        except InvalidAddress as exc:
            raise SmtpSettingsError(
                "sender", f"must be an email address, not {self.sender!r}"
            ) from exc
        if self.sender_name is not None and _has_control(self.sender_name):
            raise SmtpSettingsError("sender_name", "must be a single line")
        if (
            not isinstance(self.message_id_domain, str)
            or _ascii_domain(self.message_id_domain) != self.message_id_domain.lower()
        ):
            raise SmtpSettingsError(
                "message_id_domain",
                f"must be an ASCII domain name like likvid.example.se, not {self.message_id_domain!r}",
            )
        if not _is_int(self.attempts) or self.attempts < 1:
            raise SmtpSettingsError(
                "attempts", f"must be a whole number of at least 1, not {self.attempts!r}"
            )
        if not _is_number(self.backoff_initial_s) or not 0 <= self.backoff_initial_s < math.inf:
            raise SmtpSettingsError(
                "backoff_initial_s",
                f"must be a number of seconds >= 0, not {self.backoff_initial_s!r}",
            )
        if not _is_number(self.backoff_max_s) or not (
            self.backoff_initial_s <= self.backoff_max_s < math.inf
        ):
            raise SmtpSettingsError(
                "backoff_max_s",
                f"must be a number of seconds >= backoff_initial_s, not {self.backoff_max_s!r}",
            )

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> SmtpSettings | None:
        """Settings from ``LIKVID_SMTP_*``; None when ``LIKVID_SMTP_HOST`` is unset or empty
        (email is off). Empty variables count as unset. Raises :class:`SmtpSettingsError`
        whose message starts with the variable's name.

        ``LIKVID_SMTP_FROM`` is required with a host; ``LIKVID_SMTP_PORT`` defaults by
        ``LIKVID_SMTP_SECURITY`` (``starttls`` 587, ``tls`` 465, ``none`` 25).
        """

        def get(name: str) -> str | None:
            value = env.get(ENV_VARIABLES[name])
            if value is None:
                return None
            # Never strip a password: spaces may be part of it.
            value = value if name == "password" else value.strip()
            return value or None

        host = get("host")
        if host is None:
            return None
        sender = get("sender")
        if sender is None:
            raise SmtpSettingsError(
                ENV_VARIABLES["sender"],
                f"the sender address is required when {ENV_VARIABLES['host']} is set",
            )
        security = (get("security") or "starttls").lower()
        if security not in SECURITY_MODES:
            raise SmtpSettingsError(
                ENV_VARIABLES["security"],
                f"must be one of {', '.join(SECURITY_MODES)}, not {security!r}",
            )
        values: dict[str, object] = {"host": host, "security": security, "sender": sender}
        port = get("port")
        values["port"] = _parse_int("port", port) if port is not None else DEFAULT_PORTS[security]
        for name in ("username", "password", "sender_name", "message_id_domain"):
            if (value := get(name)) is not None:
                values[name] = value
        if (timeout := get("timeout_s")) is not None:
            values["timeout_s"] = _parse_float("timeout_s", timeout)
        if (attempts := get("attempts")) is not None:
            values["attempts"] = _parse_int("attempts", attempts)
        try:
            return cls(**values)  # type: ignore[arg-type]
        except SmtpSettingsError as exc:
            raise SmtpSettingsError(ENV_VARIABLES.get(exc.name, exc.name), exc.reason) from None


def _has_space(value: str) -> bool:
    return any(c.isspace() for c in value)


def _has_control(value: str) -> bool:
    return any(ord(c) < 32 or ord(c) == 127 for c in value)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _parse_int(name: str, value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise SmtpSettingsError(
            ENV_VARIABLES[name], f"must be a whole number, not {value!r}"
        ) from None


def _parse_float(name: str, value: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise SmtpSettingsError(
            ENV_VARIABLES[name], f"must be a number of seconds, not {value!r}"
        ) from None


# --- the message -------------------------------------------------------------------------


def message_id(letter_id: str, settings: SmtpSettings) -> str:
    """``<{letter_id}@{message_id_domain}>``: the same for every send of one letter."""
    if not isinstance(letter_id, str) or len(letter_id) > 200 or not _DOT_ATOM.fullmatch(letter_id):
        raise ValueError(
            f"letter_id must be a non-empty dot-atom of letters, digits and -._ etc. "
            f"(it becomes the Message-ID), not {letter_id!r}"
        )
    return f"<{letter_id}@{settings.message_id_domain.lower()}>"


def build_message(
    *,
    letter_id: str,
    to: str,
    subject: str,
    text: str,
    html: str,
    settings: SmtpSettings,
    reply_to: str | None = None,
    date: datetime | None = None,
) -> EmailMessage:
    """A multipart/alternative email: the plain text first, then the HTML (both UTF-8).

    Headers: From (``sender_name <sender>``), To, Subject, Date (``date``, default now, in
    Europe/Stockholm), ``Message-ID: <{letter_id}@{message_id_domain}>``,
    ``X-Likvid-Letter: {letter_id}``, Reply-To when given, and ``Auto-Submitted:
    auto-generated`` (RFC 3834: no vacation replies). Raises :class:`InvalidAddress` (a
    permanent failure) for a missing or malformed ``to`` or ``reply_to``, ValueError for a
    ``letter_id`` that cannot be part of a Message-ID.
    """
    msg_id = message_id(letter_id, settings)
    recipient = normalize_address(to, "to")
    if _has_control(subject):
        subject = " ".join(subject.split())
    if date is None:
        date = datetime.now(STOCKHOLM)
    elif date.tzinfo is None:
        raise ValueError("date must be timezone-aware")

    message = EmailMessage(policy=email.policy.SMTP)
    sender_local, _, sender_domain = normalize_address(settings.sender, "sender").rpartition("@")
    message["From"] = Address(
        display_name=settings.sender_name or "", username=sender_local, domain=sender_domain
    )
    local, _, domain = recipient.rpartition("@")
    message["To"] = Address(username=local, domain=domain)
    if reply_to is not None:
        reply_local, _, reply_domain = normalize_address(reply_to, "reply_to").rpartition("@")
        message["Reply-To"] = Address(username=reply_local, domain=reply_domain)
    if subject.isascii():
        message["Subject"] = subject
    else:
        # Encoded words throughout: the default folder splits "kommun, Samhällsbygg..." into
        # an ASCII run and an encoded word, and the reader then sees two spaces.
        message.set_raw("Subject", Header(subject, "utf-8", header_name="Subject").encode())
    message["Date"] = format_datetime(date)
    message["Message-ID"] = msg_id
    message[LETTER_HEADER] = letter_id
    message["Auto-Submitted"] = "auto-generated"
    # Quoted-printable: 7-bit safe for relays without 8BITMIME, still readable as source.
    message.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    message.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    return message


# --- sending -----------------------------------------------------------------------------


def send(message: EmailMessage, settings: SmtpSettings) -> str:
    """Send ``message`` (from :func:`build_message`) and return the server's final answer
    (e.g. ``"2.0.0 Ok: queued as 4Xb1"``). Blocking; see :func:`send_async` for the rules.
    Must not be called from a running event loop (await :func:`send_async` there)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass  # no loop in this thread: the normal case
    else:
        raise RuntimeError("send() cannot run inside an event loop: await send_async() instead")
    return asyncio.run(send_async(message, settings))


async def send_async(message: EmailMessage, settings: SmtpSettings) -> str:
    """Send ``message`` to its single To address, retrying transient failures.

    Every attempt is a new connection with ``timeout=settings.timeout_s`` for the connect and
    each command, TLS per ``security`` and a login when ``username`` is set. Connection
    errors, timeouts and 4xx answers are retried, ``attempts`` attempts in all, waiting
    ``backoff_initial_s * 2**n`` plus up to ``backoff_initial_s`` of jitter (at most
    ``backoff_max_s``) in between; then :class:`TransientEmailFailure`. A 5xx answer raises
    :class:`PermanentEmailFailure` (:class:`SmtpConfigurationError` for a refused login or a
    missing STARTTLS/AUTH) at once.

    A failure after the server accepted the data but before its answer arrived means the
    letter may arrive twice; both copies carry the same Message-ID.
    """
    letter_id = str(message.get(LETTER_HEADER) or "?")
    recipients = _recipients(message)
    retrying = AsyncRetrying(
        stop=stop_after_attempt(settings.attempts),
        wait=lambda state: _backoff(settings, state.attempt_number),
        retry=retry_if_exception_type(TransientEmailFailure),
        before_sleep=lambda state: _log_retry(letter_id, settings.attempts, state),
        reraise=True,
    )
    attempt_number = 0
    try:
        async for attempt in retrying:
            with attempt:
                attempt_number = attempt.retry_state.attempt_number
                reply = await _send_once(message, settings, recipients)
    except TransientEmailFailure as exc:
        log.error(
            "letter %s: email not sent, transient failure after %d attempt(s): %s",
            letter_id,
            attempt_number,
            exc.reason if exc.code is None else f"{exc.code} {exc.reason}",
        )
        raise TransientEmailFailure(exc.code, exc.reason, attempts=attempt_number) from None
    except PermanentEmailFailure as exc:
        log.error("letter %s: email not sent, permanent failure: %s", letter_id, exc)
        raise
    log.info("letter %s: email accepted by the SMTP server (attempt %d)", letter_id, attempt_number)
    return reply


def _backoff(settings: SmtpSettings, failed_attempts: int) -> float:
    """Seconds to wait after the ``failed_attempts``-th failure: exponential from
    ``backoff_initial_s`` plus up to ``backoff_initial_s`` of jitter, at most
    ``backoff_max_s``."""
    exponential = settings.backoff_initial_s * 2 ** min(failed_attempts - 1, 60)
    jitter = random.uniform(0, settings.backoff_initial_s)
    return min(settings.backoff_max_s, exponential + jitter)


def _recipients(message: EmailMessage) -> list[str]:
    header = message.get("To")
    addresses = list(getattr(header, "addresses", ())) if header is not None else []
    if not addresses:
        raise InvalidAddress("to", "no email address")
    if len(addresses) != 1:
        raise ValueError("send() delivers to exactly one To address")
    return [normalize_address(addresses[0].addr_spec, "to")]


def _log_retry(letter_id: str, attempts: int, state: RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome is not None else None
    if isinstance(exc, TransientEmailFailure):
        what = exc.reason if exc.code is None else f"{exc.code} {exc.reason}"
    else:
        what = repr(exc)
    wait = state.next_action.sleep if state.next_action is not None else 0.0
    log.warning(
        "letter %s: transient SMTP failure on attempt %d of %d (%s), retrying in %.2f s",
        letter_id,
        state.attempt_number,
        attempts,
        what,
        wait,
    )


async def _send_once(message: EmailMessage, settings: SmtpSettings, recipients: list[str]) -> str:
    """One connection; aiosmtplib's errors become Permanent- or TransientEmailFailure."""
    try:
        _errors, reply = await aiosmtplib.send(
            message,
            sender=normalize_address(settings.sender, "sender"),
            recipients=recipients,
            hostname=settings.host,
            port=settings.port,
            username=settings.username,
            password=settings.password,
            timeout=settings.timeout_s,
            use_tls=settings.security == "tls",
            start_tls=settings.security == "starttls",
        )
    except aiosmtplib.SMTPRecipientsRefused as exc:
        refusals = sorted(exc.recipients, key=lambda r: not 500 <= r.code < 600)
        first = refusals[0] if refusals else None
        code = first.code if first is not None else None
        reason = _redact(first.message, recipients) if first is not None else "recipient refused"
        raise _classify(code, f"recipient refused: {reason}") from None
    except aiosmtplib.SMTPAuthenticationError as exc:
        reason = f"login refused: {_redact(exc.message, recipients)}"
        if 400 <= exc.code < 500:
            raise TransientEmailFailure(exc.code, reason) from None
        raise SmtpConfigurationError(exc.code, reason) from None
    except aiosmtplib.SMTPResponseException as exc:
        what = {
            aiosmtplib.SMTPSenderRefused: "sender refused",
            aiosmtplib.SMTPDataError: "message refused",
            aiosmtplib.SMTPHeloError: "EHLO refused",
        }.get(type(exc), "refused")
        raise _classify(exc.code, f"{what}: {_redact(exc.message, recipients)}") from None
    except (aiosmtplib.SMTPTimeoutError, TimeoutError) as exc:  # before connect errors
        raise TransientEmailFailure(
            None, f"timed out after {settings.timeout_s:g} s: {exc}"
        ) from None
    except (aiosmtplib.SMTPConnectError, aiosmtplib.SMTPServerDisconnected) as exc:
        raise TransientEmailFailure(None, f"connection failed: {exc.message}") from None
    except aiosmtplib.SMTPNotSupported as exc:
        raise SmtpConfigurationError(None, f"not supported by the server: {exc.message}") from None
    except aiosmtplib.SMTPException as exc:
        # STARTTLS or AUTH not offered by the server although configured.
        raise SmtpConfigurationError(None, exc.message) from None
    except OSError as exc:  # e.g. a TLS handshake failure outside aiosmtplib's wrapping
        raise TransientEmailFailure(
            None, f"connection failed: {type(exc).__name__}: {exc}"
        ) from None
    return reply


def _classify(code: int | None, reason: str) -> Exception:
    """5xx -> permanent; 4xx and anything unexpected -> transient (retry)."""
    if code is not None and 500 <= code < 600:
        return PermanentEmailFailure(code, reason)
    return TransientEmailFailure(code, reason)
