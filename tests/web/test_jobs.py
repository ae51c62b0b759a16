"""The jobs pages in a real browser against a real server and a real worker (Whisper tiny.en and
a Piper voice from the offline packs, real ffmpeg): upload a short clip straight to storage,
create a dub with review, edit a line, resume, watch it finish, play and download the result;
and the upload → job creation path with the keyboard only."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from tests.conftest import SHORT_SPEECH, ffmpeg
from tests.web.conftest import UI

pytestmark = pytest.mark.slow
EDITED = "Mister Dashwood had time to think."


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 3.5 s H.264 + AAC mp4 of real English speech: the job runs in seconds."""
    out = tmp_path_factory.mktemp("clip") / "speech.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=160x120:rate=10:duration=3.6", "-i", str(SHORT_SPEECH),
           "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(out))  # fmt: skip
    return out


def _wait_ready_state(page, at_least: int, timeout: float = 30) -> None:  # type: ignore[no-untyped-def]
    """Poll the player's readyState (page.evaluate, not wait_for_function: the page CSP forbids eval)."""
    deadline = time.monotonic() + timeout
    while (state := page.evaluate("document.querySelector('#player').readyState")) < at_least:
        assert time.monotonic() < deadline, f"readyState {state} after {timeout}s"
        time.sleep(0.1)


def _choose_dub(page) -> None:  # type: ignore[no-untyped-def]
    page.get_by_label("Dubbed video").check()
    page.locator("#to-en").check()
    page.get_by_label("Speech recognition model").select_option("tiny.en")
    page.get_by_label("Let me review the translation before the voice is made").check()


def test_dub_with_review_from_upload_to_playback(ui: UI, clip: Path) -> None:
    email, _ = ui.app.signup()
    ui.login(email)
    page = ui.page
    ui.goto("/")
    assert "No jobs yet" in page.locator("main").inner_text()
    ui.shot("dashboard-empty")
    page.get_by_role("link", name="New job").click()
    page.wait_for_url("**/jobs/new")
    page.set_input_files("#files", str(clip))
    row = page.locator(".file-row")
    row.filter(has_text="Ready").wait_for(timeout=60_000)
    assert row.locator("progress").get_attribute("value") == "100"
    _choose_dub(page)
    page.locator("#estimate").filter(has_text="This costs 5 credits").wait_for()
    assert "Your balance: 30 credits" in page.locator("#estimate").inner_text()
    ui.shot("new-job")
    page.get_by_role("button", name="Create job").click()
    page.wait_for_url(re.compile(r".*/jobs/job_\w+$"))
    job_url = page.url
    # Live progress: the page follows the job's events and reloads when it waits for review.
    page.locator("#review-link").wait_for(timeout=180_000)
    assert page.locator("#job-status").inner_text() == "Waiting for your review"
    ui.shot("job-review")
    page.locator("#review-link").click()
    page.wait_for_url("**/review")
    first = page.get_by_label("Line 1", exact=True)
    assert first.input_value().strip()
    ui.shot("review")
    first.fill(EDITED)
    page.get_by_role("button", name="Save and make the voice").click()
    page.wait_for_url(job_url)
    assert "Resumed" in page.locator(".flashes").inner_text()
    video = page.locator("video#player")
    video.wait_for(timeout=240_000)  # the page reloads on the done event
    assert page.locator("#job-status").inner_text() == "Done"
    _wait_ready_state(page, 3)
    tracks = page.evaluate(
        "(v => v.audioTracks ? v.audioTracks.length : null)(document.querySelector('#player'))"
    )
    options = page.locator("#audio-track option").all_inner_texts()
    assert (tracks or 0) >= 2 or options == ["Dubbed audio", "Original audio"], (tracks, options)
    assert page.locator("video#player track").count() >= 1  # the VTT subtitles
    # Switching to the original audio keeps playing the same moment of the source.
    page.select_option("#audio-track", "original")
    _wait_ready_state(page, 1)
    ui.shot("job-done")
    srt = page.locator(".downloads a", has_text=re.compile(r"\.srt$"))
    with page.expect_download() as info:
        srt.first.click()
    text = Path(info.value.path()).read_text(encoding="utf-8")
    assert EDITED in " ".join(line for line in text.splitlines() if not re.match(r"^[\d:, >-]*$", line)), text
    ui.goto("/?status=done")
    assert page.locator("#jobs-table tbody tr").count() == 1
    assert "Done" in page.locator("#jobs-table").inner_text()
    ui.shot("dashboard")


def test_keyboard_only_upload_and_job_creation(ui: UI, clip: Path) -> None:
    email, _ = ui.app.signup()
    ui.login(email)
    page = ui.page
    ui.goto("/jobs/new")

    def tab_to(selector: str, limit: int = 60) -> None:
        for _ in range(limit):
            page.keyboard.press("Tab")
            if page.evaluate(f"document.activeElement === document.querySelector({selector!r})"):
                return
        raise AssertionError(f"Tab never reached {selector}")

    tab_to("#files")
    # The native file chooser is the browser's own dialog; the test hands it the file.
    page.set_input_files("#files", str(clip))
    page.locator(".file-row").filter(has_text="Ready").wait_for(timeout=60_000)
    tab_to("#make-subtitles")
    page.keyboard.press("ArrowDown")  # radio group: to "Translated subtitles"
    page.keyboard.press("ArrowUp")  # and back to "Subtitles"
    assert page.locator("#make-subtitles").is_checked()
    tab_to("#whisper-model")
    page.keyboard.press("ArrowDown")  # the first installed model
    page.locator("#estimate").filter(has_text="This costs").wait_for()
    tab_to("#create")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/jobs/job_\w+$"))
    assert page.locator("#job-status").inner_text() in ("Queued", "Running", "Done")


def test_jobs_templates_use_catalogued_strings_and_no_inline_code() -> None:
    from octavia.pipeline.jobs import KINDS
    from octavia.server.web.jobs_pages import LANGUAGES, STATUSES
    from octavia.server.web.render import TEMPLATES
    from octavia.server.web.strings import catalogue

    keys = set(catalogue())
    used: set[str] = set()
    for path in (TEMPLATES / "jobs").glob("*.html"):
        html = path.read_text()
        used |= set(re.findall(r"""\bt\(\s*["']([\w.]+)["']\s*[,)]""", html))
        assert not re.search(r"\sstyle=|\son[a-z]+=|<style|<script", html), path
    assert len(used) > 60 and not (used - keys), sorted(used - keys)
    built = {f"jobs.status.{s}" for s in STATUSES} | {f"jobs.kind.{k}" for k in KINDS}
    built |= {f"jobs.language.{c}" for c in LANGUAGES}
    assert not (built - keys), sorted(built - keys)
