"""The HTML report in a real headless browser (Chromium through Playwright): it renders as one
self-contained page (no request leaves it), its charts are drawn, the figures are on the page,
and the screenshot is a non-blank PNG of the expected size.

Chromium is the system's (`chromium` on PATH; .ci/run installs Debian's package). Locally the
test skips with the reason when it is missing; with CI set it fails instead."""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from likvid.cli.main import cli
from tests.conftest import _unavailable
from tests.support.scenario import run_quarter

WIDTH = 1200


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    _unavailable("no Chromium on PATH for the screenshot test (apt-get install chromium)")
    raise AssertionError("unreachable")


def test_the_html_report_renders_in_a_headless_browser(sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from PIL import Image
    from playwright.sync_api import sync_playwright

    browser_path = _chromium()
    q = run_quarter(tmp_path / "home", sqlite_url)
    for key, value in (("LIKVID_HOME", str(q.app.settings.home)), ("LIKVID_DATABASE_URL", sqlite_url),
                       ("LIKVID_CLOCK", "simulated"), ("LIKVID_POLICY", str(q.app.settings.policy_path))):
        monkeypatch.setenv(key, value)
    page_path = tmp_path / "report.html"
    out = CliRunner().invoke(cli, ["report", "--from", "2026-01-01", "--to", "2026-03-31", "--format", "html",
                                   "--output", str(page_path)])
    assert out.exit_code == 0, out.output
    html = page_path.read_text(encoding="utf-8")
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "") and "https://" not in html

    requests: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=browser_path, headless=True,
                                     args=["--no-sandbox"] if os.geteuid() == 0 else [])
        try:
            page = browser.new_page(viewport={"width": WIDTH, "height": 900})
            page.on("request", lambda r: requests.append(r.url))
            page.goto(page_path.as_uri())
            page.wait_for_load_state("load")
            text = page.inner_text("body")
            bars = page.eval_on_selector_all("#chart-outcomes rect", "els => els.map(e => e.getBoundingClientRect().width)")
            ageing = page.eval_on_selector_all("#chart-ageing rect", "els => els.map(e => e.getBoundingClientRect().width)")
            height = page.evaluate("document.documentElement.scrollHeight")
            png = page.screenshot(full_page=True)
        finally:
            browser.close()

    # Only the page itself was loaded: no stylesheet, font, script or image from elsewhere.
    assert requests == [page_path.as_uri()]
    # The figures of the hand-computed quarter (tests/flow/test_report.py) are on the page.
    for figure in ("20.0 %", "28.9", "5.00 kr", "272.7", "3.00", "34.0 %", "Over 90 days"):
        assert figure in text, figure
    # The charts are drawn: one bar per outcome and per age band, scaled to the largest.
    assert len(bars) == 8 and len(ageing) == 5
    assert max(bars) == 640 - 230 - 120 and bars[1] == 0  # "open" (3) is the longest; none paid late
    assert ageing[4] == max(ageing) > ageing[0] > 0
    # The screenshot: a PNG of the viewport's width and the page's height, not blank.
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG" and image.size == (WIDTH, height) and height > 900
    colours = image.convert("RGB").getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 50
    white = sum(n for n, rgb in colours if rgb == (255, 255, 255))
    assert white < 0.97 * image.size[0] * image.size[1]
