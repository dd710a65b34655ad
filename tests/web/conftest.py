"""Browser tests of the web app: Playwright driving Debian's Chromium against real server processes.

One browser per test session and one server stack per backend (started on first use), each behind a
test proxy (see stack.Proxy). All browser tests share one xdist group, so they run on one worker.

Playwright's sync API marks its event loop as running in the thread that uses it, between calls too,
which would break every asyncio test that runs after it in the same process. So the browser lives on a
thread of its own, and browser tests run their bodies there (pytest_pyfunc_call below).
Every screen is checked with axe-core (no serious or critical violation) and photographed at phone and
desktop size into build/test-artifacts/web/<backend>/ (or $ECOECO_TEST_ARTIFACTS).
"""

from __future__ import annotations

import os
import re
import signal
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Page,
    Playwright,
    ViewportSize,
    expect,
    sync_playwright,
)

from tests.support import services
from tests.support.fixtures_openai import API_KEY as OPENAI_API_KEY
from tests.support.fixtures_openai import FakeOpenAI
from tests.web.stack import Proxy, Stack, start_distributed, start_embedded

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHONE: ViewportSize = {"width": 360, "height": 740}
DESKTOP: ViewportSize = {"width": 1280, "height": 800}
REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("ECOECO_TEST_ARTIFACTS", REPO / "build" / "test-artifacts")) / "web"
# Serious enough to fail a screen; "moderate" and "minor" findings are written to the artifacts.
BLOCKING_IMPACTS = frozenset({"serious", "critical"})

expect.set_options(timeout=30_000)
T = TypeVar("T")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "web" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.xdist_group("web-browser"))


class BrowserThread:
    """The one thread that creates and drives the browser."""

    def __init__(self) -> None:
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="playwright")

    def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return self.pool.submit(fn, *args, **kwargs).result()


@pytest.fixture(scope="session")
def browser_thread() -> Iterator[BrowserThread]:
    thread = BrowserThread()
    yield thread
    thread.pool.shutdown(wait=True)


@pytest.fixture(scope="session")
def browser(browser_thread: BrowserThread) -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        message = f"{CHROMIUM} is missing: install Debian's chromium (scripts/install-system-packages.sh)"
        if services.IN_CI:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    driver: Playwright = browser_thread.run(lambda: sync_playwright().start())
    chromium = browser_thread.run(driver.chromium.launch, executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield chromium
    browser_thread.run(chromium.close)
    browser_thread.run(driver.stop)


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run a browser test's body on the browser's thread."""
    if not {"web", "scripted_web"} & set(pyfuncitem.fixturenames):
        return None
    thread: BrowserThread = pyfuncitem._request.getfixturevalue("browser_thread")
    arguments = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
    thread.run(pyfuncitem.obj, **arguments)
    return True


class Stacks:
    """Server stacks started on first use, one per backend, for the whole session."""

    def __init__(self, tmp: pytest.TempPathFactory, worker: str, request: pytest.FixtureRequest) -> None:
        self.tmp = tmp
        self.worker = worker
        self.request = request
        self.running: dict[str, tuple[Stack, Proxy]] = {}

    def get(self, backend: str) -> tuple[Stack, Proxy]:
        """``embedded``, ``distributed``, or ``scripted``: ``ecoeco up`` whose vision model is the fake
        OpenAI server, so a test decides what the model sees (the local model knows no recyclable among
        our sample photos)."""
        if backend not in self.running:
            port = services.free_port()
            proxy = Proxy(port).start()
            data_dir = self.tmp.mktemp(f"web-{backend}")
            extra = [f"{proxy.url}/"]
            try:
                if backend == "embedded":
                    stack = services.require(start_embedded, data_dir, port, extra)
                elif backend == "scripted":
                    model: FakeOpenAI = self.request.getfixturevalue("fake_openai_server")
                    vision = {
                        "ECOECO_VISION_BACKEND": "openai",
                        "ECOECO_VISION_BASE_URL": model.base_url,
                        "ECOECO_VISION_API_KEY": OPENAI_API_KEY,
                        "ECOECO_VISION_MAX_RETRIES": "0",
                    }
                    stack = services.require(start_embedded, data_dir, port, extra, vision)
                else:
                    s3 = self.request.getfixturevalue("s3_endpoint")
                    name = f"web_{self.worker}".lower()
                    stack = services.require(start_distributed, data_dir, port, name, s3, [proxy.url])
            except BaseException:
                proxy.stop()
                raise
            self.running[backend] = (stack, proxy)
        return self.running[backend]

    def close(self) -> None:
        for stack, proxy in self.running.values():
            stack.close()
            proxy.stop()


@pytest.fixture(scope="session")
def web_stacks(
    tmp_path_factory: pytest.TempPathFactory, worker_id_str: str, request: pytest.FixtureRequest
) -> Iterator[Stacks]:
    stacks = Stacks(tmp_path_factory, worker_id_str, request)
    yield stacks
    stacks.close()


@dataclass
class Web:
    """The browser side of one test: contexts, pages and what went wrong in them."""

    browser: Browser
    stack: Stack
    proxy: Proxy
    backend: str
    problems: list[str] = field(default_factory=list)
    contexts: list[BrowserContext] = field(default_factory=list)

    def page(self, *, via_proxy: bool = False, viewport: ViewportSize = PHONE, **options: Any) -> Page:
        context = self.browser.new_context(
            base_url=self.proxy.url if via_proxy else self.stack.url,
            viewport=viewport,
            locale="ko-KR",
            timezone_id="Asia/Seoul",
            **options,
        )
        self.contexts.append(context)
        return self.watch(context.new_page())

    def watch(self, page: Page) -> Page:
        page.on("pageerror", lambda error: self.problems.append(f"uncaught: {error}"))
        page.on("console", self._console)
        return page

    def _console(self, message: Any) -> None:
        text = message.text
        if "Content Security Policy" in text or "Content-Security-Policy" in text:
            self.problems.append(f"CSP: {text}")

    def sign_in(self, page: Page, name: str | None = None) -> str:
        """Sign a new person in through the dev provider's consent page, as a person would."""
        name = name or f"web-{uuid.uuid4().hex[:10]}"
        page.goto("/")
        page.get_by_role("button", name=re.compile("개발용 계정")).click()
        page.wait_for_url(re.compile(r"/api/v1/auth/dev/consent"))
        page.fill("input[name=name]", name)
        page.get_by_role("button", name=re.compile("Allow")).click()
        expect(page.get_by_role("heading", level=1, name="무엇을 버리시나요?")).to_be_visible()
        return name

    def screen(self, page: Page, name: str) -> None:
        """Photograph the screen at phone and desktop size and check it with axe-core at both."""
        folder = ARTIFACTS / self.backend
        folder.mkdir(parents=True, exist_ok=True)
        before = page.viewport_size or PHONE
        for size in (PHONE, DESKTOP):
            page.set_viewport_size(size)
            page.screenshot(path=str(folder / f"{name}-{size['width']}x{size['height']}.png"))
            violations = Axe().run(page).response["violations"]
            blocking = [v for v in violations if v["impact"] in BLOCKING_IMPACTS]
            summary = [
                f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:5]}" for v in blocking
            ]
            assert not blocking, f"axe on {name} at {size}: {summary}"
            (folder / f"{name}-{size['width']}x{size['height']}.axe.txt").write_text(
                "\n".join(f"{v['id']} ({v['impact']}): {len(v['nodes'])} node(s)" for v in violations)
                or "none\n"
            )
        page.set_viewport_size(before)

    def close(self) -> None:
        for context in self.contexts:
            context.close()


def _session(
    browser: Browser, browser_thread: BrowserThread, web_stacks: Stacks, backend: str
) -> Iterator[Web]:
    stack, proxy = web_stacks.get(backend)
    session = Web(browser, stack, proxy, backend)
    yield session
    browser_thread.run(session.close)
    assert not session.problems, "\n".join(session.problems)


@pytest.fixture
def web(browser: Browser, browser_thread: BrowserThread, web_stacks: Stacks, backend: str) -> Iterator[Web]:
    yield from _session(browser, browser_thread, web_stacks, backend)


@pytest.fixture
def scripted_web(
    browser: Browser, browser_thread: BrowserThread, web_stacks: Stacks, fake_openai: FakeOpenAI
) -> Iterator[Web]:
    """A browser on ``ecoeco up`` whose vision model answers what ``fake_openai`` is told to."""
    yield from _session(browser, browser_thread, web_stacks, "scripted")


def freeze(process_pid: int) -> None:
    os.kill(process_pid, signal.SIGSTOP)


def thaw(process_pid: int) -> None:
    os.kill(process_pid, signal.SIGCONT)
