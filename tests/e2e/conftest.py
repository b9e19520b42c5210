"""Start the whole product the way `make run` does and drive it with Debian's Chromium."""

import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from postforge import routes
from tests.conftest import ON_CI, ROOT
from tests.fakes.oidc_provider import FakeOIDCProvider
from tests.fakes.server import serve
from tests.fakes.tiktok_api import Creator, FakeTikTok
from tests.fakes.youtube_api import Channel, FakeYouTube

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
START_TIMEOUT_SECONDS = 300


def _missing(what: str) -> None:
    if ON_CI:
        pytest.fail(f"CI=true requires {what}", pytrace=False)
    pytest.skip(f"{what} is not available; install it to run browser tests")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RunningApp:
    def __init__(self, url: str, data_dir: Path, log: Path) -> None:
        self.url, self.data_dir, self.log = url, data_dir, log

    def demo_credentials(self) -> tuple[str, str]:
        """The demo user's email and password, as `postforge run` printed them."""
        found = re.search(r"Demo user: (\S+)\s+password: (\S+)", self.log.read_text(errors="replace"))
        assert found, f"no demo credentials in the run log:\n{self.log_tail()}"
        return found.group(1), found.group(2)

    def latest_mail(self, to: str, *, subject_contains: str, timeout: float = 15.0) -> str:
        """The body of the newest mail the app sent to `to` whose subject says `subject_contains`."""
        deadline = time.monotonic() + timeout
        while True:
            with sqlite3.connect(self.data_dir / "postforge.db") as connection:
                row = connection.execute(
                    "SELECT body_text FROM outbox_messages WHERE to_address = ? AND subject LIKE ?"
                    " ORDER BY id DESC LIMIT 1",
                    (to, f"%{subject_contains}%"),
                ).fetchone()
            if row is not None:
                return row[0]
            if time.monotonic() > deadline:
                raise AssertionError(f"no mail to {to} about {subject_contains!r}")
            time.sleep(0.2)

    def log_tail(self, lines: int = 80) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


class RunningProvider:
    """The fake OpenID Connect provider the app's single sign-on button points at."""

    def __init__(self, provider: FakeOIDCProvider, issuer: str) -> None:
        self.provider, self.issuer = provider, issuer


@pytest.fixture(scope="session")
def oidc_provider() -> Iterator[RunningProvider]:
    """Started before the app (which reads OIDC_ISSUER once), shared by every journey."""
    provider = FakeOIDCProvider(client_id="postforge-e2e", client_secret="e2e-client-secret")
    with serve(provider.app) as issuer:
        yield RunningProvider(provider, issuer)


@dataclass
class VideoPlatforms:
    """Fake YouTube and TikTok the app's connect buttons and uploads point at."""

    youtube: FakeYouTube
    youtube_url: str
    tiktok: FakeTikTok
    tiktok_url: str

    def env(self) -> dict[str, str]:
        return {
            "YOUTUBE_CLIENT_ID": self.youtube.client_id,
            "YOUTUBE_CLIENT_SECRET": self.youtube.client_secret,
            "YOUTUBE_API_BASE": self.youtube_url,
            "YOUTUBE_AUTH_BASE": self.youtube_url,
            "YOUTUBE_OAUTH_BASE": self.youtube_url,
            "TIKTOK_CLIENT_KEY": self.tiktok.client_key,
            "TIKTOK_CLIENT_SECRET": self.tiktok.client_secret,
            "TIKTOK_API_BASE": self.tiktok_url,
            "TIKTOK_AUTH_BASE": self.tiktok_url,
        }


@pytest.fixture(scope="session")
def video_platforms() -> Iterator[VideoPlatforms]:
    """Started before the app (which reads its settings once), shared by every journey."""
    # No avatar addresses: the browser would try to load them from hosts that don't exist.
    youtube, tiktok = FakeYouTube(channel=Channel(thumbnail="")), FakeTikTok(creator=Creator(avatar_url=""))
    with serve(youtube.app) as youtube_url, serve(tiktok.app) as tiktok_url:
        yield VideoPlatforms(youtube, youtube_url, tiktok, tiktok_url)


@pytest.fixture(scope="session")
def running_app(
    tmp_path_factory: pytest.TempPathFactory, oidc_provider: RunningProvider, video_platforms: VideoPlatforms
) -> Iterator[RunningApp]:
    """`postforge run` (web + worker + beat, embedded) on a free port with its own data dir."""
    if not Path(CHROMIUM).exists():
        _missing(f"Chromium at {CHROMIUM}")
    if not shutil.which("bun", path=_path_with_tools()):
        _missing("bun (run `make install`)")
    data_dir = tmp_path_factory.mktemp("app-data")
    port = _free_port()
    env = {
        **os.environ,
        "PATH": _path_with_tools(),
        "DATA_DIR": str(data_dir),
        "DATABASE_URL": "",
        "REDIS_URL": "",
        "PORT": str(port),
        "APP_URL": f"http://127.0.0.1:{port}",
        "HEARTBEAT_INTERVAL_SECONDS": "2",
        "ENVIRONMENT": "embedded",
        "ANTHROPIC_API_KEY": "",  # browser journeys use the offline generator, never a paid API
        "REFLEX_TELEMETRY_ENABLED": "false",
        "REFLEX_CHECK_LATEST_VERSION": "0",
        "REFLEX_HTTP_CLIENT_BIND_ADDRESS": "0.0.0.0",
        "REFLEX_USE_SYSTEM_BUN": "1",
        "OIDC_ISSUER": oidc_provider.issuer,
        "OIDC_CLIENT_ID": oidc_provider.provider.client_id,
        "OIDC_CLIENT_SECRET": oidc_provider.provider.client_secret,
        "OIDC_LABEL": "Single sign-on",
        "API_URL": "",  # one port: the sign-on routes are served where the pages are
        **video_platforms.env(),
    }
    log = data_dir / "postforge-run.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "postforge.cli", "run"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    app = RunningApp(f"http://127.0.0.1:{port}", data_dir, log)
    try:
        _wait_until_serving(app, process)
        yield app
    finally:
        _stop(process)


def _path_with_tools() -> str:
    return f"{ROOT / '.tools' / 'bun' / 'node_modules' / '.bin'}{os.pathsep}{os.environ.get('PATH', '')}"


def _wait_until_serving(app: RunningApp, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"`postforge run` exited with {process.returncode}:\n{app.log_tail()}")
        try:
            if httpx.get(app.url + "/", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    pytest.fail(f"the app did not serve within {START_TIMEOUT_SECONDS} s:\n{app.log_tail()}")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C does
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


# Module scope: Playwright's sync API keeps an event loop running in this thread, which must be
# gone before any asyncio test runs.
@pytest.fixture(scope="module")
def browser(running_app: RunningApp) -> Iterator:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


class ConsoleWatch:
    """Collects console errors and uncaught page errors; a test fails on any of them."""

    def __init__(self, page) -> None:
        self.errors: list[str] = []
        page.on("console", lambda msg: msg.type == "error" and self.errors.append(f"console: {msg.text}"))
        page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        page.on(
            "response",
            lambda response: (
                response.status >= 400 and self.errors.append(f"HTTP {response.status}: {response.url}")
            ),
        )


@pytest.fixture
def page(browser, running_app: RunningApp) -> Iterator:
    context = browser.new_context(base_url=running_app.url, viewport={"width": 1440, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    watch = ConsoleWatch(page)
    page.console_watch = watch
    try:
        yield page
    finally:
        context.close()


def sign_in(page, email: str, password: str) -> None:
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def register(page, *, name: str, email: str, password: str) -> None:
    """Fill the sign-up form; the page answers "check your inbox" (nobody is signed in yet)."""
    page.goto(routes.REGISTER)
    page.get_by_label("Name").fill(name)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Create account").click()
    expect(page.locator("#form-notice")).to_contain_text(f"We sent a link to {email}")


def follow_confirmation_link(page, running_app: RunningApp, email: str) -> None:
    """Open the newest confirmation mail to `email` (the person's inbox: the app's outbox) and follow its link.

    Only a system admin may read the dev outbox page, so the test reads the person's mail where the
    app delivered it, as their mail program would.
    """
    body = running_app.latest_mail(email, subject_contains="Confirm your email")
    found = re.search(r"https?://\S+/verify-email\?token=[A-Za-z0-9_-]+", body)
    assert found, f"no confirmation link in: {body}"
    page.goto(found.group(0))
    expect(page).to_have_url(re.compile(routes.DASHBOARD + "$"))


def register_and_confirm(page, running_app: RunningApp, *, name: str, email: str, password: str) -> None:
    """A new member the way people sign up: the form, then the link from the mail (signs them in)."""
    register(page, name=name, email=email, password=password)
    follow_confirmation_link(page, running_app, email)
