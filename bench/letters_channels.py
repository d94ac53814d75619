"""Letters and emails: PDF letters/s on one core and emails/s to a local SMTP server.

The letters issue's "Must hold": PDF letters/s per core and emails/s against a local SMTP
server, both reported; build note: at least 100 one-page letters/s per core (for scale:
WeasyPrint about 4/s, ReportLab about 360/s on this machine). As every benchmark here, each
figure is a median over ``--runs`` rounds and is set next to a baseline measured in the same
round, in the same process, on the same machine:

1. **PDF, one core** (this process, one thread): ``likvid.service.pdf.render_pdf`` for a
   reminder and, separately, a collection demand (the context ``letters.dispatch`` builds:
   two claims, one interest line, the letter's fee; copied from ``tests/unit/test_pdf.py``).
   Baseline: a minimal ReportLab canvas, one A4 page with a few lines of Helvetica (the
   "ReportLab about 360/s" reference), and the same canvas with as many pages as our letter
   has, so the ratio shows our own overhead. Target: >= 100 letters/s for both kinds.
2. **Full letter** (informative): ``render_letter`` (subject, text, HTML) plus ``render_pdf``
   per reminder, i.e. all the rendering ``letters.dispatch`` does for one letter.
3. **Email**: ``likvid.service.email.build_message`` + ``send`` of a rendered reminder (text +
   HTML, as ``channels.send_email`` does: a new connection and event loop per message),
   sequentially, to the aiosmtpd server of ``tests/support/smtp.py`` running in a child
   process (a separate process, as a real local relay would be). Baseline: raw
   ``aiosmtplib.send`` of a tiny message to the same server, sequentially in one event loop,
   one connection per message. Informative: the same with ``asyncio.run`` per message, and
   raw sends of the very message Likvid builds (prebuilt once), which shows what the size of
   a 13 KiB multipart message costs on its own (flattening it, the server parsing it).

    uv run python bench/letters_channels.py [--letters 500] [--emails 300] [--runs 3]

Prints a table and, last, one JSON line (with the machine). Bounded by ``--timeout``; the
SMTP server process is stopped however the script ends (and exits by itself if orphaned).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import multiprocessing as mp
import os
import re
import signal
import sys
import time
from collections.abc import Callable
from email.message import EmailMessage
from importlib import metadata
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # `python bench/letters_channels.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiosmtplib  # noqa: E402
from reportlab.lib.pagesizes import A4  # noqa: E402
from reportlab.pdfgen.canvas import Canvas  # noqa: E402

from bench.common import ROOT, Stopwatch, machine_description, median, print_result  # noqa: E402
from likvid.service.email import SmtpSettings, build_message, send  # noqa: E402
from likvid.service.pdf import render_pdf  # noqa: E402
from likvid.service.render import render_letter  # noqa: E402

TARGET_PDF_PER_S = 100.0
LANGUAGE = "sv"
SENDER = "ekonomi@tanum.se"
RECIPIENT = "anna.andersson@example.se"
EXTRA_PACKAGES = ("reportlab", "aiosmtplib", "aiosmtpd", "tenacity")


class BenchmarkError(RuntimeError):
    pass


# --- a realistic letter context: the same sample the tests and `likvid letters preview` use ---

def make_context(kind: str) -> dict[str, Any]:
    from likvid.service.samples import sample_context

    return sample_context(kind, "sv")


_PAGE_OBJECT = re.compile(rb"/Type\s*/Page(?![a-zA-Z])")

_BASELINE_LINES = [
    "Tanums kommun, Samhällsbyggnadsförvaltningen",
    "Anna Andersson, Storgatan 12 B, 457 31 Tanumshede",
    "Påminnelse",
    "Faktura 2026-104711, förfallodag 2026-09-30, OCR 1047110467",
    "Att betala 1 799,81 kr senast 2026-11-29 till bankgiro 5050-1055.",
    "Med vänliga hälsningar",
]


def page_count(pdf: bytes) -> int:
    return len(_PAGE_OBJECT.findall(pdf))


def reportlab_minimal(pages: int = 1) -> bytes:
    """The baseline: a bare ReportLab canvas, A4, a few lines of Helvetica per page."""
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, invariant=1)
    for number in range(1, pages + 1):
        text = canvas.beginText(72, A4[1] - 72)
        text.setFont("Helvetica", 11)
        for line in _BASELINE_LINES:
            text.textLine(line)
        text.textLine(f"Sida {number} av {pages}")
        canvas.drawText(text)
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def rate(fn: Callable[[], object], n: int) -> float:
    """Calls per second of ``fn`` over ``n`` calls."""
    with Stopwatch() as sw:
        for _ in range(n):
            fn()
    return n / sw.elapsed


# --- the SMTP server, in a child process ----------------------------------------------------


def _smtp_server_main(conn: Connection, parent_pid: int, lifetime_s: float) -> None:
    """Run `tests.support.smtp.SmtpServer` until told to stop (or orphaned, or too old)."""
    sys.path.insert(0, str(ROOT))
    from tests.support.smtp import SmtpServer

    deadline = time.monotonic() + lifetime_s
    with SmtpServer() as server:
        conn.send(server.port)
        while time.monotonic() < deadline and os.getppid() == parent_pid:
            if not conn.poll(0.5):
                continue
            command = conn.recv()
            if command == "stop":
                break
            if command == "stats":
                with server._lock:
                    received = list(server.received)
                conn.send((len(received), sum(len(r.raw) for r in received)))
    conn.close()


class ServerProcess:
    """The SMTP server in a child process: ``with ServerProcess(lifetime) as server: ...``."""

    def __init__(self, lifetime_s: float) -> None:
        context = mp.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(
            target=_smtp_server_main,
            args=(child, os.getpid(), lifetime_s),
            name="likvid-bench-smtp",
            daemon=True,
        )
        self.port = 0

    def __enter__(self) -> ServerProcess:
        self._process.start()
        try:
            if not self._conn.poll(60):
                raise BenchmarkError("the SMTP server process did not start within 60 s")
            self.port = int(self._conn.recv())
        except EOFError:
            self.stop()
            raise BenchmarkError(
                f"the SMTP server process exited (code {self._process.exitcode})"
            ) from None
        except BaseException:
            self.stop()
            raise
        return self

    def stats(self) -> tuple[int, int]:
        """(messages accepted so far, their total size in bytes)."""
        self._conn.send("stats")
        if not self._conn.poll(30):
            raise BenchmarkError("the SMTP server process does not answer")
        count, size = self._conn.recv()
        return int(count), int(size)

    def stop(self) -> None:
        if self._process.is_alive():
            try:
                self._conn.send("stop")
            except OSError:
                pass
            self._process.join(10)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(5)
        if self._process.is_alive():
            self._process.kill()
            self._process.join(5)
        self._conn.close()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --- email --------------------------------------------------------------------------------


def _tiny_message() -> EmailMessage:
    message = EmailMessage()
    message["From"] = SENDER
    message["To"] = RECIPIENT
    message["Subject"] = "x"
    message.set_content("x")
    return message


async def _raw_sends(port: int, n: int, message: EmailMessage) -> float:
    with Stopwatch() as sw:
        for _ in range(n):
            await aiosmtplib.send(message, hostname="127.0.0.1", port=port, timeout=15)
    return n / sw.elapsed


def raw_sends_one_loop(port: int, n: int, message: EmailMessage | None = None) -> float:
    """Baseline: aiosmtplib.send of a tiny message (or ``message``), sequentially, in one
    event loop, one connection per message."""
    return asyncio.run(_raw_sends(port, n, message or _tiny_message()))


def raw_sends_loop_each(port: int, n: int) -> float:
    """The same with a new event loop per message (as `email.send` has)."""
    message = _tiny_message()
    return rate(
        lambda: asyncio.run(aiosmtplib.send(message, hostname="127.0.0.1", port=port, timeout=15)),
        n,
    )


def likvid_sends(settings: SmtpSettings, letter: Any, n: int, run: int) -> float:
    """build_message + send of the rendered reminder, sequentially."""
    counter = iter(range(n))

    def one() -> None:
        i = next(counter)
        message = build_message(
            letter_id=f"L-BENCH-{run:02d}-{i:06d}",
            to=RECIPIENT,
            subject=letter.subject,
            text=letter.text,
            html=letter.html,
            settings=settings,
        )
        send(message, settings)

    return rate(one, n)


# --- main ---------------------------------------------------------------------------------


def _versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in EXTRA_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


def _on_alarm(signum: int, frame: object) -> None:
    raise BenchmarkError("timed out (--timeout)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--letters", type=int, default=500, help="PDFs per measurement")
    parser.add_argument("--emails", type=int, default=300, help="emails per measurement")
    parser.add_argument("--runs", type=int, default=3, help="rounds (figures are medians)")
    parser.add_argument("--timeout", type=float, default=900, help="give up after N seconds")
    args = parser.parse_args(argv)
    if args.letters < 1 or args.emails < 1 or args.runs < 1:
        parser.error("--letters, --emails and --runs must be at least 1")

    signal.signal(signal.SIGALRM, _on_alarm)
    signal.alarm(max(1, int(args.timeout)))
    load_before = os.getloadavg()
    started = time.perf_counter()
    try:
        result = _measure(args)
    finally:
        signal.alarm(0)
    result["elapsed_s"] = round(time.perf_counter() - started, 1)
    result["load_average"] = {"before": load_before, "after": os.getloadavg()}
    machine = machine_description()
    machine["packages"] = {**machine["packages"], **_versions()}  # type: ignore[dict-item]
    print_result("letters_channels", {**result, "machine": machine})
    return 0 if result["pdf_verdict"] == "PASS" else 1


def _measure(args: argparse.Namespace) -> dict[str, Any]:
    contexts = {kind: make_context(kind) for kind in ("reminder", "collection_demand")}
    # Warm up (templates compiled, font metrics loaded) and check what we render.
    pages: dict[str, int] = {}
    sizes: dict[str, int] = {}
    for kind, context in contexts.items():
        pdf = render_pdf(kind, LANGUAGE, context)
        pages[kind], sizes[kind] = page_count(pdf), len(pdf)
        if not pdf.startswith(b"%PDF") or pages[kind] < 1:
            raise BenchmarkError(f"render_pdf({kind!r}) did not give a PDF")
    letter = render_letter("reminder", LANGUAGE, contexts["reminder"])
    matched = max(pages.values())
    for n_pages in {1, matched}:
        if page_count(reportlab_minimal(n_pages)) != n_pages:
            raise BenchmarkError("the ReportLab baseline does not have the expected pages")
    print(
        f"PDF: reminder {pages['reminder']} page(s), {sizes['reminder']:,} bytes; "
        f"collection demand {pages['collection_demand']} page(s), "
        f"{sizes['collection_demand']:,} bytes",
        file=sys.stderr,
    )

    rounds: list[dict[str, float]] = []
    with ServerProcess(lifetime_s=args.timeout + 60) as server:
        settings = SmtpSettings(
            "127.0.0.1",
            server.port,
            security="none",
            sender=SENDER,
            sender_name="Exempelby kommun",
            message_id_domain="likvid.bench.invalid",
        )
        # The rendered reminder as Likvid builds it, sent raw (informative: what the size of
        # the message costs without build_message, asyncio.run per message and tenacity).
        prebuilt = build_message(
            letter_id="L-BENCH-RAW",
            to=RECIPIENT,
            subject=letter.subject,
            text=letter.text,
            html=letter.html,
            settings=settings,
        )
        # Warm up the email paths once (imports, first connection).
        raw_sends_one_loop(server.port, 3)
        raw_sends_one_loop(server.port, 3, prebuilt)
        likvid_sends(settings, letter, 3, run=0)
        expected = 9
        count, _ = server.stats()
        if count != expected:
            raise BenchmarkError(f"the SMTP server accepted {count} of {expected} messages")

        n, m = args.letters, args.emails
        for run in range(1, args.runs + 1):
            r: dict[str, float] = {}
            r["rl_1page"] = rate(reportlab_minimal, n)
            r["rl_matched"] = rate(lambda: reportlab_minimal(matched), n)
            r["pdf_reminder"] = rate(
                lambda: render_pdf("reminder", LANGUAGE, contexts["reminder"]), n
            )
            r["pdf_demand"] = rate(
                lambda: render_pdf("collection_demand", LANGUAGE, contexts["collection_demand"]), n
            )
            r["full_reminder"] = rate(
                lambda: (
                    render_letter("reminder", LANGUAGE, contexts["reminder"]),
                    render_pdf("reminder", LANGUAGE, contexts["reminder"]),
                ),
                n,
            )

            before, size_before = server.stats()
            r["raw_email"] = raw_sends_one_loop(server.port, m)
            after_raw, size_raw = server.stats()
            r["raw_email_loop_each"] = raw_sends_loop_each(server.port, m)
            r["raw_email_same"] = raw_sends_one_loop(server.port, m, prebuilt)
            after_loop, size_loop = server.stats()
            r["likvid_email"] = likvid_sends(settings, letter, m, run=run)
            after, size_after = server.stats()
            counts = (after_raw - before, after_loop - after_raw, after - after_loop)
            if counts != (m, 2 * m, m):
                raise BenchmarkError(
                    f"round {run}: the SMTP server accepted {counts} messages, "
                    f"expected {(m, 2 * m, m)}"
                )
            r["email_bytes"] = (size_after - size_loop) / m
            r["raw_email_bytes"] = (size_raw - size_before) / m
            rounds.append(r)
            print(
                f"round {run}: reminder PDF {r['pdf_reminder']:.0f}/s (ReportLab 1 page "
                f"{r['rl_1page']:.0f}/s), emails {r['likvid_email']:.0f}/s "
                f"(raw {r['raw_email']:.0f}/s)",
                file=sys.stderr,
            )

    med = {key: median(r[key] for r in rounds) for key in rounds[0]}
    slowest_kind = min(med["pdf_reminder"], med["pdf_demand"])
    verdict = "PASS" if slowest_kind >= TARGET_PDF_PER_S else "FAIL"

    print()
    print(
        f"PDF letters on one core (one process, one thread), {args.letters} per measurement; "
        f"emails sequential, {args.emails} per measurement, {args.runs} rounds"
    )
    print()
    head = (
        "| round | ReportLab 1 p /s | ReportLab "
        f"{matched} p /s | reminder PDF /s | demand PDF /s | full reminder /s "
        "| raw SMTP /s | raw SMTP, loop each /s | raw SMTP, same message /s | Likvid email /s |"
    )
    print(head)
    print("|---|" + "---:|" * 9)
    keys = ("rl_1page", "rl_matched", "pdf_reminder", "pdf_demand", "full_reminder",
            "raw_email", "raw_email_loop_each", "raw_email_same", "likvid_email")  # fmt: skip
    for i, r in enumerate(rounds, start=1):
        print(f"| {i} | " + " | ".join(_fmt(r[k]) for k in keys) + " |")
    print("| **median** | " + " | ".join(f"**{_fmt(med[k])}**" for k in keys) + " |")
    print()
    print(
        f"PDF: reminder {med['pdf_reminder']:.0f} letters/s ({pages['reminder']} pages each, "
        f"{med['pdf_reminder'] * pages['reminder']:.0f} pages/s), collection demand "
        f"{med['pdf_demand']:.0f} letters/s ({pages['collection_demand']} pages); "
        f"ratio to the 1-page ReportLab canvas {med['pdf_reminder'] / med['rl_1page']:.2f} "
        f"(demand {med['pdf_demand'] / med['rl_1page']:.2f}), to the {matched}-page canvas "
        f"{med['pdf_reminder'] / med['rl_matched']:.2f} "
        f"(demand {med['pdf_demand'] / med['rl_matched']:.2f})"
    )
    print(
        f"Target >= {TARGET_PDF_PER_S:.0f} letters/s per core (slower kind "
        f"{slowest_kind:.0f}/s): {verdict}"
    )
    print(
        f"Full reminder (render_letter + render_pdf): {med['full_reminder']:.0f} letters/s "
        "(informative)"
    )
    print(
        f"Email: {med['likvid_email']:.0f}/s ({med['email_bytes'] / 1024:.1f} KiB each) "
        f"against raw aiosmtplib {med['raw_email']:.0f}/s "
        f"({med['raw_email_bytes']:.0f} bytes each): ratio "
        f"{med['likvid_email'] / med['raw_email']:.2f}; raw with an event loop per message "
        f"{med['raw_email_loop_each']:.0f}/s, raw with the same (prebuilt) message "
        f"{med['raw_email_same']:.0f}/s"
    )
    print()
    return {
        "letters": args.letters,
        "emails": args.emails,
        "runs": args.runs,
        "language": LANGUAGE,
        "pages": pages,
        "pdf_bytes": sizes,
        "pdf_reminder_per_s": round(med["pdf_reminder"], 1),
        "pdf_demand_per_s": round(med["pdf_demand"], 1),
        "reportlab_1page_per_s": round(med["rl_1page"], 1),
        f"reportlab_{matched}page_per_s": round(med["rl_matched"], 1),
        "pdf_ratio_1page": round(med["pdf_reminder"] / med["rl_1page"], 3),
        "pdf_ratio_matched": round(med["pdf_reminder"] / med["rl_matched"], 3),
        "pdf_target_per_s": TARGET_PDF_PER_S,
        "pdf_verdict": verdict,
        "full_reminder_per_s": round(med["full_reminder"], 1),
        "email_per_s": round(med["likvid_email"], 1),
        "raw_email_per_s": round(med["raw_email"], 1),
        "raw_email_loop_each_per_s": round(med["raw_email_loop_each"], 1),
        "raw_email_same_message_per_s": round(med["raw_email_same"], 1),
        "email_ratio": round(med["likvid_email"] / med["raw_email"], 3),
        "email_bytes": round(med["email_bytes"]),
        # A mapping, not a list, so that the readable summary line leaves it out.
        "rounds": {
            str(i): {k: round(v, 1) for k, v in r.items()} for i, r in enumerate(rounds, start=1)
        },
    }


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchmarkError as exc:
        print(f"letters_channels: {exc}", file=sys.stderr)
        sys.exit(2)
