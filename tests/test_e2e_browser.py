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
import re
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
def _serve(tmp: Path, args: tuple[str, ...] = (), **more_env: str):
    """`streamlit run app.py` with its own run store and cache under ``tmp`` (``args``: more server flags);
    yields its URL."""
    env = {**os.environ, "DISC_RUNS_DIR": str(tmp / "runs"), "DISC_CACHE_DIR": str(tmp / "cache"),
           "HF_HUB_OFFLINE": "1", "DISC_MAX_CONCURRENT": "3", "TOKENIZERS_PARALLELISM": "false", **more_env}
    port = _free_port()
    log_path = tmp / "server.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
                                 "--server.port", str(port), *args], cwd=ROOT, env=env, stdout=log,
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
def served_app(tmp_path_factory):
    """One server for the tour tests; yields (its URL, its run store)."""
    from disc_core.runs.store import RunStore

    tmp = tmp_path_factory.mktemp("e2e")
    with _serve(tmp) as url:
        yield url, RunStore(tmp / "runs")
    # the workers the tests launched have ended (the tests wait for them); none is left behind
    assert not [r.id for r in RunStore(tmp / "runs").list() if r.active]


@pytest.fixture(scope="module")
def app_url(served_app):
    return served_app[0]



def _train_one_seed_of(page, model: str) -> None:
    """On the Train page: a local model folder, one seed."""
    _nav(page, "Train")
    page.get_by_text("local folder").click()
    field = page.get_by_label("Model folder (written by save_pretrained; safetensors weights)", exact=True)
    field.fill(model)
    field.press("Enter")
    seeds = page.get_by_label("Seeds", exact=True)
    try:
        seeds.wait_for(timeout=60_000)
    except Exception:
        _shot(page, "debug-train")
        raise
    seeds.fill("1")
    seeds.press("Enter")

def _shot(page, name: str, full_page: bool = True) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(500)  # let charts finish their transitions
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=full_page)


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
    page.get_by_text("BERT tokens (coloured by their symbol)").first.wait_for()  # the chips are drawn
    _no_exception(page)
    _shot(page, "3-token-mapping")

    _train_one_seed_of(page, tiny_model)
    steps = page.get_by_label("max steps (0 = by epochs)", exact=True)
    steps.fill("40")
    steps.press("Enter")
    page.get_by_text("3 runs: 3 variants × 1 seed").wait_for()
    page.get_by_text("3 runs × 40 steps = 120 steps").wait_for()  # the estimate of this plan, not the first one
    _no_exception(page)
    _shot(page, "4-train")
    page.get_by_role("button", name="Launch").click()
    page.get_by_text("Queued 3 runs").wait_for()

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
    page.locator("[data-testid='stImage']").first.wait_for()  # the report's figures (docs/figures)
    assert page.locator("[data-testid='stImage']").count() >= 10
    _no_exception(page)
    _shot(page, "8-reproduction")
    page.get_by_text("Ordering checks").first.scroll_into_view_if_needed()
    _shot(page, "8b-reproduction-orderings", full_page=False)
    page.locator("[data-testid='stImage']").first.scroll_into_view_if_needed()
    _shot(page, "8c-reproduction-figures", full_page=False)

    # inside the finished runs of the comparison: CKA by layer, embedding drift, attention
    _nav(page, "Inside the model")
    page.get_by_role("button", name=re.compile(r"Look inside \d+ run")).click()
    page.get_by_text("Looking inside").first.wait_for(state="hidden", timeout=180_000)
    page.get_by_text("Which layers the task rewrote").wait_for()
    page.locator(".js-plotly-plot").first.wait_for()
    _no_exception(page)
    _shot(page, "9-inside-the-model")
    page.close()


def test_a_second_tab_and_a_reload_keep_the_state(browser, served_app):
    """State lives in the URL and the run store: a reload or a new tab shows the same run group. The test makes
    its own finished group (no other test's runs)."""
    from disc_core.engine.config import RunConfig

    url, store = served_app
    for label in ("pretrained", "rand", "re-emb"):
        rid = store.create(RunConfig(dataset="splice-synthetic", variant=label, seed=1, max_steps=3), group="kept-g")
        store.update(rid, status="running")
        store.finish(rid, "finished", results={"metric": "accuracy", "score": 0.5})
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.set_default_timeout(60_000)
    page.goto(f"{url}/runs?group=kept-g")
    page.get_by_text("Training loss").first.wait_for()
    assert page.evaluate("() => new URLSearchParams(location.search).get('group')") == "kept-g"
    page.reload()
    page.get_by_text("Training loss").first.wait_for()
    page.wait_for_function("""() => document.body.innerText.split(' — finished').length - 1 === 3""")
    other = browser.new_page()
    other.goto(f"{url}/runs?group=kept-g")
    other.get_by_text("Training loss").first.wait_for()
    other.wait_for_function("""() => document.body.innerText.split(' — finished').length - 1 === 3""")
    other.close()
    page.close()


def test_a_fresh_servers_first_request_for_a_page_goes_through_the_app(browser, tmp_path):
    """Reloading /datasets after a server restart shows the app's navigation and its titles, nothing else."""
    with _serve(tmp_path) as url:
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.set_default_timeout(60_000)
        page.goto(f"{url}/datasets")
        page.get_by_text("2,700").wait_for()
        nav = page.locator("[data-testid='stSidebarNav']")
        assert nav.get_by_role("link", name="Token mapping").count() == 1  # app.py's titles, not file names
        from ui.nav import PAGES

        assert nav.get_by_role("link").count() == len(PAGES)  # every page of app.py, no extra file-name pages
        _shot(page, "0-first-request-datasets")
        page.close()


def _midi_zip(path: Path) -> Path:
    """A zipped MIDI folder as a Mac makes it: the folder inside, one sub-folder per class, __MACOSX beside."""
    import io
    import zipfile

    import pretty_midi

    with zipfile.ZipFile(path, "w") as zf:
        for c, base in (("low", 40), ("high", 70)):
            for k in range(5):
                pm = pretty_midi.PrettyMIDI()
                inst = pretty_midi.Instrument(program=0)
                inst.notes = [pretty_midi.Note(80, base + (i * (k + 3)) % 12, i * 0.2, i * 0.2 + 0.2)
                              for i in range(150)]
                pm.instruments.append(inst)
                buf = io.BytesIO()
                pm.write(buf)
                zf.writestr(f"songs/{c}/{c}{k}.mid", buf.getvalue())
        zf.writestr("__MACOSX/songs/._low0.mid", b"\x00\x05\x16\x07")
    return path


def test_tour_imports_a_zipped_midi_folder_and_removes_it(browser, app_url, tmp_path):
    """Your own data through the Datasets page: a zipped MIDI folder in, its warnings on the page, removed."""
    z = _midi_zip(tmp_path / "songs.zip")
    page = browser.new_page(viewport={"width": 1400, "height": 1700})
    page.set_default_timeout(90_000)
    page.goto(f"{app_url}/datasets")
    page.get_by_text("2,700").wait_for()
    page.get_by_text("Your own", exact=True).click()
    # this server has no dataset of one's own yet, so the import form is open
    page.get_by_label("Name it", exact=True).wait_for()
    page.locator("[data-testid='stFileUploaderDropzoneInput']").first.set_input_files(str(z))
    page.get_by_text("A zip of a folder of MIDI files").wait_for()
    name = page.get_by_label("Name it", exact=True)
    name.fill("tour-songs")
    name.press("Enter")
    page.get_by_role("button", name="Import", exact=True).click()
    page.get_by_text("Imported songs.zip as").wait_for()
    page.get_by_text("Source: songs.zip").wait_for()
    page.get_by_text("ignored metadata that is not music (left by macOS or an editor): __MACOSX").wait_for()
    _no_exception(page)
    _shot(page, "9-datasets-own-midi")
    page.get_by_role("button", name="Remove tour-songs").click()
    page.get_by_text("Removed tour-songs").wait_for()
    _no_exception(page)
    assert page.get_by_text("Source: songs.zip").count() == 0
    page.close()


# --------------------------------------------------------------------------------------------
# The classroom (issue 11): one demo for many tabs, the queue, a group cancel, honest results
# --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def classroom(tmp_path_factory):
    """A server that trains one run at a time, as a CPU machine does; yields (URL, its run store)."""
    from disc_core.runs.store import RunStore

    from disc_core.runs.runner import cancel_group

    tmp = tmp_path_factory.mktemp("classroom")
    with _serve(tmp, DISC_MAX_CONCURRENT="1") as url:
        yield url, RunStore(tmp / "runs")
    left = [r for r in RunStore(tmp / "runs").list() if r.active]
    for group in {r.group for r in left}:  # a failed test must not leave MiniLM workers training
        cancel_group(group, store=RunStore(tmp / "runs"))
    assert not [r.id for r in left]


def _group(page) -> str:
    return page.evaluate("() => new URLSearchParams(location.search).get('group')")


def test_classroom_one_demo_the_queue_a_group_cancel_and_results_that_do_not_pool(browser, classroom, tiny_model):
    url, store = classroom
    tabs = [browser.new_page(viewport={"width": 1400, "height": 1400}) for _ in range(2)]
    for tab in tabs:
        tab.set_default_timeout(90_000)
        tab.goto(url)
        tab.get_by_text("How long here").first.wait_for()  # the demo's time on this machine, before pressing
    _shot(tabs[0], "classroom-1-overview")
    # two students press the demo button at the same moment: one demo, both tabs on it
    for tab in tabs:
        tab.get_by_role("button", name="Start the demo comparison").click(no_wait_after=True)
    for tab in tabs:
        tab.get_by_text("Training loss").first.wait_for()
        tab.wait_for_function("() => new URLSearchParams(location.search).get('group')")
        _no_exception(tab)
    demo = _group(tabs[0])
    assert demo and _group(tabs[1]) == demo
    assert [g for g in store.groups() if g.startswith("demo-")] == [demo] and len(store.list(group=demo)) == 3
    said = []
    for tab in tabs:  # one tab started the demo, the other joined it
        tab.get_by_text(re.compile("You started the demo|so you joined it")).wait_for()
        said.append("joined" if tab.get_by_text("so you joined it").count() else "started")
        tab.get_by_text(re.compile(r"seed 1 — (queued|running)")).first.wait_for()  # the run lines
    assert sorted(said) == ["joined", "started"]
    _shot(tabs[0], "classroom-2-demo-tab-1")
    _shot(tabs[1], "classroom-2-demo-tab-2")
    tabs[1].close()
    page = tabs[0]
    # a third look at the Overview: its card says a press joins the demo that is on, not what a new one costs
    _nav(page, "Overview")
    page.get_by_text(re.compile("A demo with these settings is (queued|running) now")).wait_for()
    page.get_by_role("button", name="Join the demo comparison").wait_for()
    # (the STS-B demo's card, shown where its data is, still gives its own cost: "2 runs")
    assert page.get_by_text(re.compile(r"How long here:\s*3 runs")).count() == 0
    _shot(page, "classroom-2b-overview-joins")

    # a second launch waits behind the demo; the Train page says what it costs before Launch
    _train_one_seed_of(page, tiny_model)
    steps = page.get_by_label("max steps (0 = by epochs)", exact=True)  # outside the collapsed recipe
    steps.fill("20")
    steps.press("Enter")
    try:
        page.get_by_text("3 runs × 20 steps = 60 steps").wait_for()
    except Exception:
        _shot(page, "debug-classroom-train")
        raise
    _no_exception(page)
    _shot(page, "classroom-3-train-estimate")
    page.get_by_role("button", name="Launch").dblclick()  # a double click queues once
    page.get_by_text("Queued 3 runs").wait_for()
    page.get_by_text("runs ahead, starts in").first.wait_for()
    launched = [g for g in store.groups() if not g.startswith("demo-")]
    assert len(launched) == 1 and len(store.list(group=launched[0])) == 3
    page.get_by_role("link", name="Watch").click()
    page.get_by_text("3 runs ahead, starts in").first.wait_for()  # behind the demo's three
    page.get_by_text(re.compile(r"On this machine: \d running, \d queued")).wait_for()
    page.get_by_role("button", name="Cancel the whole group").first.wait_for()
    _no_exception(page)
    _shot(page, "classroom-4-runs-queued")

    # the teacher cancels the whole demo group with one button; the launched runs then train
    page.goto(f"{url}/runs?group={demo}")
    page.get_by_role("button", name="Cancel the whole group").first.click()
    page.wait_for_function("""() => document.body.innerText.split(' — cancelled').length - 1 === 3""")
    assert [r.status for r in store.list(group=demo)] == ["cancelled"] * 3
    _no_exception(page)
    _shot(page, "classroom-5-group-cancelled")
    page.goto(f"{url}/runs?group={launched[0]}")
    page.wait_for_function("""() => document.body.innerText.split(' — finished').length - 1 === 3""",
                           timeout=600_000)  # a machine shared with other jobs can take minutes for 3 tiny runs

    # another configuration of the same dataset (learning rate 1e-3), from the library
    from disc_core.engine.config import RunConfig
    from disc_core.runs.runner import launch_group, wait

    other = launch_group([RunConfig(dataset="splice-synthetic", model_name_or_path=tiny_model, variant=v, seed=1,
                                    max_steps=10, learning_rate=1e-3, max_eval_examples=50, save_model=False,
                                    group="splice-synthetic-lr1e-3") for v in ("pretrained", "rand")], store=store)
    assert all(r.status == "finished" for r in wait(other, store=store, timeout=300))

    # Results: one group by default (the newest); two configurations are shown apart, never pooled
    page.goto(f"{url}/results")
    page.locator("[data-testid='stTable']").first.wait_for()
    page.get_by_role("button", name="Markdown").wait_for()
    assert page.locator("[data-testid='stTable']").count() == 1
    page.get_by_text("splice-synthetic-lr1e-3").first.wait_for()
    page.get_by_text("chance level").first.wait_for()
    _shot(page, "classroom-6-results-one-group")
    page.goto(f"{url}/results?group={launched[0]}")
    page.locator("[data-testid='stTable']").first.wait_for()
    page.locator("[data-testid='stMultiSelect']").click()
    page.get_by_role("option", name="splice-synthetic-lr1e-3").click()
    page.keyboard.press("Escape")
    page.get_by_text("are not pooled").wait_for()
    page.get_by_text("learning_rate: 0.0001").wait_for()  # the Train page's 1e-4 against 1e-3
    page.locator("[data-testid='stTable']").nth(1).wait_for()
    assert page.locator("[data-testid='stTable']").count() == 2
    _no_exception(page)
    _shot(page, "classroom-7-results-not-pooled")
    page.close()


def test_served_to_a_room_a_student_watches_and_the_teacher_secret_unlocks(browser, tmp_path):
    """Served beyond localhost with a teacher secret: Launch and Cancel are off until the secret is typed."""
    with _serve(tmp_path, ("--server.address", "0.0.0.0"), DISC_TEACHER_SECRET="room-42-secret") as url:
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        page.set_default_timeout(60_000)
        page.goto(f"{url}/train")
        page.get_by_text("Student: you watch every page").wait_for()
        launch = page.get_by_role("button", name="Launch")
        launch.wait_for()
        assert launch.is_disabled()
        _shot(page, "roles-1-student-train")
        field = page.get_by_label("Teacher secret", exact=True)
        field.fill("room-42-secret")
        field.press("Enter")
        page.get_by_text("Teacher: you may launch").wait_for()
        page.wait_for_function("""() => [...document.querySelectorAll('button')].some(
            b => b.innerText.includes('Launch') && !b.disabled)""")
        _no_exception(page)
        _shot(page, "roles-2-teacher-train")
        page.close()
