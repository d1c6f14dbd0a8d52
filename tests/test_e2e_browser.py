"""End to end in a real browser: `streamlit run app.py`, driven headless through Debian's chromium.

The test visits every page, launches a tiny comparison from the Train page (the tiny BERT fixture as a
local model folder, a few steps), watches the live loss curve appear on the Runs page without reloading
it, and sees the Results table fill. Screenshots of every page land in ``test-output/screenshots/``.

Needs ``/usr/bin/chromium`` (``.ci/run`` installs it with apt) and Playwright's Python package; it never
downloads a browser. Skips with the reason when either is missing.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / "test-output" / "screenshots"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium (`apt-get install chromium`; .ci/run does)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright Python package is not installed")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@contextlib.contextmanager
def _serve(tmp: Path):
    """`streamlit run app.py` with its own run store and cache under ``tmp``; yields its URL."""
    env = dict(os.environ, DISC_RUNS_DIR=str(tmp / "runs"), DISC_CACHE_DIR=str(tmp / "cache"), HF_HUB_OFFLINE="1",
               DISC_MAX_CONCURRENT="3", TOKENIZERS_PARALLELISM="false")
    port = _free_port()
    log_path = tmp / "server.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
                                 "--server.port", str(port)], cwd=ROOT, env=env, stdout=log,
                                stderr=subprocess.STDOUT)
        try:
            url = f"http://localhost:{port}"
            deadline = time.monotonic() + 60
            while True:
                try:
                    urllib.request.urlopen(f"{url}/_stcore/health", timeout=2)
                    break
                except OSError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        pytest.fail(f"streamlit did not start: {log_path.read_text()[-2000:]}")
                    time.sleep(0.2)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("e2e")
    with _serve(tmp) as url:
        yield url
    # the workers the test launched have ended (the test waits for them); none is left behind
    from disc_core.runs.store import RunStore

    assert not [r.id for r in RunStore(tmp / "runs").list() if r.active]


def _shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(500)  # let charts finish their transitions
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _nav(page, title: str) -> None:
    """Click a page in the sidebar navigation."""
    page.locator("[data-testid='stSidebarNav']").get_by_role("link", name=title).click()


def _no_exception(page) -> None:
    assert page.locator("[data-testid='stException']").count() == 0, page.locator(
        "[data-testid='stException']").first.inner_text()


def test_tour_launch_watch_and_compare(browser, app_url, tiny_model):
    page = browser.new_page(viewport={"width": 1400, "height": 1700})  # tall: Streamlit scrolls inside the page
    page.set_default_timeout(90_000)

    page.goto(app_url)
    page.get_by_role("button", name="Start the demo comparison").wait_for()
    _no_exception(page)
    _shot(page, "1-overview")

    _nav(page, "Datasets")
    page.get_by_text("2,700").wait_for()  # splice-synthetic's training split
    page.locator(".js-plotly-plot").nth(2).wait_for()
    _no_exception(page)
    _shot(page, "2-datasets")

    _nav(page, "Token mapping")
    page.get_by_text("A sample, both alphabets").wait_for()
    page.get_by_text("Most frequent tokens by").wait_for()
    _no_exception(page)
    _shot(page, "3-token-mapping")

    _nav(page, "Train")
    page.get_by_text("local folder").click()
    field = page.get_by_label("Model folder (written by save_pretrained; safetensors weights)", exact=True)
    field.fill(tiny_model)
    field.press("Enter")
    seeds = page.get_by_label("Seeds", exact=True)
    seeds.fill("1")
    seeds.press("Enter")
    page.get_by_text("Recipe (the paper's defaults)").click()
    steps = page.get_by_label("max steps (0 = by epochs)", exact=True)
    steps.fill("40")
    steps.press("Enter")
    page.get_by_text("3 run(s): 3 variant(s) × 1 seed(s)").wait_for()
    _no_exception(page)
    _shot(page, "4-train")
    page.get_by_role("button", name="Launch").click()
    page.get_by_text("Queued 3 run(s)").wait_for()

    page.get_by_role("link", name="Watch").click()
    page.get_by_text("Training loss").first.wait_for()
    assert page.get_by_text(" — finished").count() < 3  # still training: what follows is live updating
    # the live curve: a loss trace with points appears while the page is left alone (no reload)
    page.wait_for_function("""() => [...document.querySelectorAll('.js-plotly-plot')].some(
        p => (p.data || []).some(t => t.name && t.name.endsWith('s1') && (t.y || []).length > 0))""",
                           timeout=150_000)
    _shot(page, "5-runs-live")
    page.wait_for_function("""() => document.body.innerText.split(' — finished').length - 1 === 3""",
                           timeout=240_000)
    _no_exception(page)
    _shot(page, "6-runs-finished")

    _nav(page, "Results")
    table = page.locator("[data-testid='stTable']").first
    table.wait_for()
    text = table.inner_text()
    assert "pretrained" in text and "rand" in text and "re-emb" in text
    page.get_by_role("button", name="Markdown").wait_for()
    _no_exception(page)
    _shot(page, "7-results")

    # the published reproduction: its tables render from docs/REPRODUCTION.json
    _nav(page, "Reproduction")
    page.get_by_text("Ordering checks").first.wait_for()
    _no_exception(page)
    _shot(page, "8-reproduction")
    page.close()


def test_a_second_tab_and_a_reload_keep_the_state(browser, app_url):
    """State lives in the URL and the run store: a reload or a new tab shows the same run group."""
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.set_default_timeout(60_000)
    page.goto(f"{app_url}/runs")
    page.get_by_text("Training loss").first.wait_for()
    group = page.evaluate("() => new URLSearchParams(location.search).get('group')")
    assert group
    page.reload()
    page.get_by_text("Training loss").first.wait_for()
    other = browser.new_page()
    other.goto(f"{app_url}/runs?group={group}")
    other.get_by_text("Training loss").first.wait_for()
    assert other.get_by_text(" — finished").count() == 3
    other.close()
    page.close()


def test_a_fresh_servers_first_request_for_a_page_goes_through_the_app(browser, tmp_path):
    """Reloading /datasets after a server restart shows the app's navigation, not Streamlit's pages/ folder."""
    with _serve(tmp_path) as url:
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.set_default_timeout(60_000)
        page.goto(f"{url}/datasets")
        page.get_by_text("2,700").wait_for()
        nav = page.locator("[data-testid='stSidebarNav']")
        assert nav.get_by_role("link", name="Token mapping").count() == 1  # app.py's titles, not file names
        from ui.common import PAGES

        assert nav.get_by_role("link").count() == len(PAGES)  # every page of app.py, no extra file-name pages
        _shot(page, "0-first-request-datasets")
        page.close()
