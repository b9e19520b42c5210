"""The calendar in a real browser with 5,000 posts in one month (50,000 in the workspace).

Starts `postforge run` (embedded: SQLite, production build) on a free port with its own data
directory, writes the same data as bench/calendar_month.py into the demo workspace, signs in with
Debian's Chromium (Playwright) at 1440x900 and measures, for the busy month:

* month view: from the click on "next" to the month's events drawn (range load over the websocket
  + FullCalendar render), the long tasks (> 50 ms) in that window, DOM size and events drawn;
* week, day and list views: the same after clicking the view button;
* a drag in month view: frame gaps (requestAnimationFrame) during the drag and the time from the
  drop to the success toast.

    .venv/bin/python bench/calendar_browser.py      (takes ~3-5 min, mostly the production build)

It prints its figures; nothing is asserted.
"""

# ruff: noqa: E402 — the import path is fixed up before the imports (see below)
from __future__ import annotations

import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(_HERE.parent))

import importlib.util
import itertools
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import httpx

from postforge.db import make_engine

ROOT = _HERE.parent
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"]

_spec = importlib.util.spec_from_file_location("calendar_bench", _HERE / "calendar_month.py")
calendar_bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(calendar_bench)  # type: ignore[union-attr]

OBSERVE = """() => {
  window.__longTasks = [];
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) window.__longTasks.push([entry.startTime, entry.duration]);
  }).observe({ type: "longtask", buffered: false });
}"""

FRAMES_START = """() => {
  window.__frames = []; window.__framing = true;
  const tick = (t) => { window.__frames.push(t); if (window.__framing) requestAnimationFrame(tick); };
  requestAnimationFrame(tick);
}"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_app(data_dir: Path) -> tuple[subprocess.Popen, str, Path]:
    port = _free_port()
    tools = ROOT / ".tools" / "bun" / "node_modules" / ".bin"
    env = {
        **os.environ,
        "PATH": f"{tools}{os.pathsep}{os.environ.get('PATH', '')}",
        "DATA_DIR": str(data_dir),
        "DATABASE_URL": "",
        "REDIS_URL": "",
        "PORT": str(port),
        "APP_URL": f"http://127.0.0.1:{port}",
        "ENVIRONMENT": "embedded",
        "REFLEX_TELEMETRY_ENABLED": "false",
        "REFLEX_CHECK_LATEST_VERSION": "0",
        "REFLEX_HTTP_CLIENT_BIND_ADDRESS": "0.0.0.0",  # noqa: S104 — an outgoing bind, as in the e2e tests
        "REFLEX_USE_SYSTEM_BUN": "1",
    }
    log = data_dir / "run.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "postforge.cli", "run"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"postforge run exited:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url + "/", timeout=2).status_code == 200:
                return process, url, log
        except httpx.HTTPError:
            pass
        time.sleep(2)
    raise SystemExit("the app did not start in 10 minutes")


def stop_app(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def long_tasks_since(page, since: float) -> tuple[int, float, float]:
    tasks = [d for s, d in page.evaluate("() => window.__longTasks") if s + d >= since]
    return len(tasks), sum(tasks), max(tasks, default=0.0)


def measure(page, label: str, action, ready) -> None:
    began = page.evaluate("() => performance.now()")
    action()
    ready()
    page.evaluate("() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))")
    took = page.evaluate("() => performance.now()") - began
    count, total, longest = long_tasks_since(page, began)
    nodes = page.evaluate("() => document.getElementsByTagName('*').length")
    drawn = page.locator(".fc-event").count()
    print(
        f"  {label:<22} {took:7.0f} ms to drawn | long tasks {count:2d}, {total:6.0f} ms total, longest "
        f"{longest:5.0f} ms | {drawn:5,d} events in the DOM, {nodes:6,d} elements"
    )


def run_browser(url: str, email: str, password: str, month_label: str, expected: int) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        page = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
        page.set_default_timeout(120_000)
        page.goto(url + "/sign-in")
        page.get_by_label("Email").fill(email)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(re.compile(r"/dashboard$"))
        page.goto(url + "/calendar")
        page.locator(".fc-daygrid-day").first.wait_for()
        page.evaluate(OBSERVE)
        title = page.locator(".fc-toolbar-title")
        count = page.locator("#calendar-count")
        print(f"Busy month {month_label}: {expected:,} posts in the month (1440x900, Chromium)")

        def month_ready():
            title.filter(has_text=month_label).wait_for()
            page.wait_for_function(
                "(n) => parseInt(document.querySelector('#calendar-count').innerText.replace(/\\D/g, '')) >= n",
                arg=expected,
            )
            page.locator(".pf-more").first.wait_for()

        def to_busy_month():
            page.locator(".fc-next-button").click()
            if month_label not in title.inner_text():
                page.wait_for_timeout(300)
                page.locator(".fc-next-button").click()

        # First the month before the busy one (little data), then the measured step into it.
        page.locator(".fc-next-button").click()
        page.wait_for_timeout(1500)
        measure(page, "month view", lambda: page.locator(".fc-next-button").click(), month_ready)

        def view(button: str, selector: str):
            return (
                lambda: page.get_by_role("button", name=button, exact=True).click(),
                lambda: (page.locator(selector).first.wait_for(), count.wait_for()),
            )

        measure(page, "week view", *view("Week", ".fc-timegrid-event, .fc-timegrid-more-link"))
        measure(page, "day view", *view("Day", ".fc-timegrid-event, .fc-timegrid-more-link"))
        measure(page, "list view (week)", *view("List", ".fc-list-event"))
        measure(
            page,
            "list view, next week",
            lambda: page.locator(".fc-next-button").click(),
            lambda: page.locator(".fc-list-event").first.wait_for(),
        )
        measure(page, "back to month view", *view("Month", ".pf-more"))

        # A drag in month view: frame gaps while dragging, then drop -> success toast.
        source = page.locator(".fc-daygrid-event.fc-event-draggable").nth(3)
        cell = source.locator("xpath=ancestor::td[@data-date]")
        target = page.locator(
            f'td.fc-daygrid-day[data-date="{_plus_days(cell.get_attribute("data-date"), 7)}"]'
        )
        box, goal = source.bounding_box(), target.bounding_box()
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        page.evaluate(FRAMES_START)
        began = page.evaluate("() => performance.now()")
        page.mouse.move(x, y)
        page.mouse.down()
        page.mouse.move(x + 8, y + 8, steps=4)
        page.mouse.move(goal["x"] + goal["width"] / 2, goal["y"] + goal["height"] / 2, steps=30)
        dropped = page.evaluate("() => performance.now()")
        page.mouse.up()
        page.locator("[data-sonner-toast]", has_text="Moved to").wait_for()
        saved = page.evaluate("() => performance.now()")
        frames = page.evaluate("() => { window.__framing = false; return window.__frames; }")
        gaps = sorted(b - a for a, b in itertools.pairwise(frames))
        count_, _total, longest = long_tasks_since(page, began)
        print(
            f"  drag (34 mouse moves)  frame gap p50 {gaps[len(gaps) // 2]:5.1f} ms, p95 "
            f"{gaps[int(len(gaps) * 0.95)]:5.1f} ms, max {gaps[-1]:5.0f} ms | drop -> toast "
            f"{saved - dropped:5.0f} ms | long tasks {count_}, longest {longest:.0f} ms"
        )
        browser.close()


def _plus_days(day: str, days: int) -> str:
    from datetime import date, timedelta

    return (date.fromisoformat(day) + timedelta(days=days)).isoformat()


def main() -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="pf-bench-calendar-"))
    process, url, log = start_app(data_dir)
    try:
        found = re.search(r"Demo user: (\S+)\s+password: (\S+)", log.read_text(errors="replace"))
        if not found:
            raise SystemExit("no demo credentials in the run log")
        email, password = found.groups()
        engine = make_engine(f"sqlite:///{data_dir / 'postforge.db'}")
        began = time.perf_counter()
        world = calendar_bench.populate(engine, email=email)
        engine.dispose()
        print(f"{calendar_bench.TOTAL:,} posts written in {time.perf_counter() - began:.1f} s (SQLite)")
        run_browser(url, email, password, f"{world['month']:%B %Y}", calendar_bench.IN_MONTH)
    finally:
        stop_app(process)
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
