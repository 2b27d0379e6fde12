"""Debian's Chromium driven by Playwright for the console's browser tests, and the screenshots they keep."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from backend.settings import PROJECT_ROOT
from tests.databases import missing

CHROMIUM = "/usr/bin/chromium"
#: Where each page's screenshot is kept (CI keeps the folder as the run's artifacts); TEST_ARTIFACTS_DIR moves it.
ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS_DIR") or PROJECT_ROOT / "tests" / "artifacts") / "console"


def chromium_or_missing() -> str:
    """The Chromium Playwright drives: Debian's (Playwright cannot download its own browser on these machines)."""
    if not (os.access(CHROMIUM, os.X_OK) or shutil.which("chromium")):
        missing(f"{CHROMIUM} is not installed: `apt-get install -y chromium` (.ci/run installs it)")
    return CHROMIUM if os.access(CHROMIUM, os.X_OK) else shutil.which("chromium")


def screenshot(page, name: str) -> Path:
    """Keep a full-page screenshot of what the browser shows now, as `name`.png under ARTIFACTS."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
