"""A real `occupancy serve` process and a headless Debian Chromium driven by Selenium.

Chromium and chromedriver are the system packages (`.ci/run` installs `chromium` and
`chromium-driver`); Selenium is given both paths, so it never looks for or downloads a browser.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from api_support import http_status, wait_until
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from servers import free_port
from servers.process import clean_env

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
OCCUPANCY = Path(sys.executable).parent / "occupancy"
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)


@contextmanager
def serving(home: Path, tracking_uri: str, model_name: str, *, ready: bool) -> Iterator[str]:
    """`occupancy serve` on a free port for `model_name`; yields its base URL once it answers
    (ready: once a model is loaded; otherwise once it is live)."""
    port = free_port()
    env = clean_env() | {
        "OCCUPANCY_HOME": str(home),
        "OCCUPANCY_MODEL_NAME": model_name,
        "MLFLOW_TRACKING_URI": tracking_uri,
        "OCCUPANCY_API_DRAIN_SECONDS": "0",  # no load balancer to drain from: stop at once
    }
    log = (home.parent / f"serve-{port}.log").open("wb")
    server = subprocess.Popen(  # nosec B603 - the venv's own entry point, fixed arguments
        [str(OCCUPANCY), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    probe = "/health/ready" if ready else "/health/live"
    try:
        wait_until(lambda: http_status(base + probe) == 200, 120, f"{model_name} at {base}{probe}")
        yield base
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=30)
        log.close()


@contextmanager
def chromium(profile: Path, *, javascript: bool = True) -> Iterator[webdriver.Chrome]:
    """A headless Chromium with a fresh profile, sized like a laptop window."""
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--window-size=1200,1900"):
        options.add_argument(flag)
    if not javascript:
        options.add_experimental_option(
            "prefs", {"profile.managed_default_content_settings.javascript": 2}
        )
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    try:
        yield driver
    finally:
        driver.quit()
