"""A real SMTP server for the tests (aiosmtpd), and what it received.

:class:`SmtpServer` listens on 127.0.0.1 and a free port in a thread of its own
(``aiosmtpd.controller.Controller``) and keeps every accepted message, parsed with the default
policy, with its envelope. Knobs:

- ``refuse_next(n, code=451, at="DATA")``: the next ``n`` DATA (or RCPT) commands are refused
  with ``code``, then the server accepts again;
- ``refuse_always(code=550, at="DATA")``: every DATA (or RCPT) is refused;
- ``accept()``: back to accepting everything;
- ``SmtpServer(auth=("user", "secret"))``: AUTH PLAIN/LOGIN with that login only, and MAIL
  is refused with 530 until the session is authenticated. Without TLS the server offers AUTH
  in plain text (``auth_require_tls=False``);
- ``SmtpServer(tls="starttls" | "implicit", certificate=...)``: STARTTLS (required before
  MAIL) or TLS from the first byte, with a certificate from :func:`self_signed_certificate`.
  Clients trust it when ``SSL_CERT_FILE`` names the certificate.

Refused RCPTs echo the address in the answer, as real servers do, so tests can check that it
does not leak into exceptions or logs.

:func:`silent_port` is a port that accepts TCP connections but never says anything (for
timeouts).
"""

from __future__ import annotations

import email
import email.policy
import logging
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Literal

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from likvid.runtime.redis_server import free_port

Stage = Literal["DATA", "RCPT"]


@dataclass(frozen=True)
class Received:
    """One accepted message: the envelope and the parsed message."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: EmailMessage
    raw: bytes


@dataclass(frozen=True)
class Certificate:
    cert: Path
    key: Path


def self_signed_certificate(directory: Path) -> Certificate:
    """A self-signed certificate for 127.0.0.1 and localhost (``openssl`` on PATH)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        raise RuntimeError("openssl is not on PATH")
    cert, key = directory / "smtp-cert.pem", directory / "smtp-key.pem"
    subprocess.run(
        [
            openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return Certificate(cert=cert, key=key)


class _Handler:
    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    def _refusal(self, stage: Stage) -> int | None:
        with self.server._lock:
            if stage == "DATA":
                self.server.data_attempts += 1
            else:
                self.server.rcpt_attempts += 1
            if self.server._refuse_at != stage:
                return None
            if self.server._refuse_always is not None:
                return self.server._refuse_always
            if self.server._refuse_remaining > 0:
                self.server._refuse_remaining -= 1
                return self.server._refuse_code
            return None

    async def handle_MAIL(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        mail_options: list[str],
    ) -> str:
        if self.server.auth is not None and not session.authenticated:
            return "530 5.7.0 Authentication required"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        code = self._refusal("RCPT")
        if code is not None:
            if code >= 500:
                return f"{code} 5.1.1 <{address}>: Recipient address rejected"
            return f"{code} 4.2.0 <{address}>: Recipient temporarily unavailable, try later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        code = self._refusal("DATA")
        if code is not None:
            if code >= 500:
                return f"{code} 5.7.1 Message refused"
            return f"{code} 4.3.0 Temporary failure, try again later"
        raw = bytes(envelope.original_content or envelope.content or b"")
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        with self.server._lock:
            self.server.received.append(
                Received(
                    mail_from=str(envelope.mail_from),
                    rcpt_tos=tuple(envelope.rcpt_tos),
                    message=message,
                    raw=raw,
                )
            )
            number = len(self.server.received)
        return f"250 2.0.0 OK: queued as T{number:04d}"


#: aiosmtpd logs every command (addresses included) at INFO: that is the test server talking,
#: not the service, and it would drown what the email tests look for in the log.
logging.getLogger("mail.log").setLevel(logging.WARNING)


class SmtpServer:
    """A running aiosmtpd server on 127.0.0.1 (use as a context manager)."""

    def __init__(
        self,
        *,
        auth: tuple[str, str] | None = None,
        tls: Literal["starttls", "implicit"] | None = None,
        certificate: Certificate | None = None,
    ) -> None:
        self.host = "127.0.0.1"
        self.port = free_port(self.host)
        self.auth = auth
        self.tls = tls
        self.received: list[Received] = []
        self.data_attempts = 0
        self.rcpt_attempts = 0
        self._lock = threading.Lock()
        self._refuse_at: Stage = "DATA"
        self._refuse_remaining = 0
        self._refuse_code = 451
        self._refuse_always: int | None = None

        kwargs: dict[str, Any] = {"enable_SMTPUTF8": False, "server_hostname": "smtp.test"}
        if auth is not None:
            kwargs["authenticator"] = self._authenticate
            # aiosmtpd only counts STARTTLS as TLS: with implicit TLS it would hide AUTH.
            kwargs["auth_require_tls"] = tls == "starttls"
        if tls is not None:
            if certificate is None:
                raise ValueError("tls needs a certificate (self_signed_certificate())")
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(certificate.cert, certificate.key)
            if tls == "starttls":
                kwargs["tls_context"] = context
                kwargs["require_starttls"] = True
            else:
                kwargs["ssl_context"] = context
        self._controller = Controller(_Handler(self), hostname=self.host, port=self.port, **kwargs)

    # --- knobs ---------------------------------------------------------------------------

    def refuse_next(self, n: int, code: int = 451, *, at: Stage = "DATA") -> None:
        """Refuse the next ``n`` DATA (or RCPT) commands with ``code``, then accept."""
        with self._lock:
            self._refuse_at, self._refuse_remaining, self._refuse_code = at, n, code
            self._refuse_always = None

    def refuse_always(self, code: int = 550, *, at: Stage = "DATA") -> None:
        """Refuse every DATA (or RCPT) command with ``code``."""
        with self._lock:
            self._refuse_at, self._refuse_always, self._refuse_remaining = at, code, 0

    def accept(self) -> None:
        with self._lock:
            self._refuse_remaining, self._refuse_always = 0, None

    # --- what arrived --------------------------------------------------------------------

    @property
    def messages(self) -> list[EmailMessage]:
        with self._lock:
            return [r.message for r in self.received]

    @property
    def recipients(self) -> list[tuple[str, ...]]:
        """The envelope recipients of each accepted message."""
        with self._lock:
            return [r.rcpt_tos for r in self.received]

    # --- lifecycle -----------------------------------------------------------------------

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        assert self.auth is not None
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        user, password = self.auth
        ok = auth_data.login == user.encode() and auth_data.password == password.encode()
        return AuthResult(success=ok, handled=False)

    def start(self) -> SmtpServer:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def __enter__(self) -> SmtpServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextmanager
def silent_port() -> Iterator[int]:
    """A port on 127.0.0.1 that completes TCP handshakes but never sends a greeting."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield int(sock.getsockname()[1])
