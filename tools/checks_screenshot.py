"""Produce docs/images/checks_per_partition.png: an asset's checks tab after a range run, per day.

The state is the one ``bmrs_assets_tests/integration/test_check_status_ui.py`` asserts
(``bmrs_assets_tests/support/check_scenario.py``), on the last 3 complete days: one run over them
of BOALF and FREQ against the bundled simulator on 127.0.0.1, FREQ's middle day served with half
its rows; the partitions start 4 days before, so the health bar is readable. Everything is in
a temporary DAGSTER_HOME and DuckDB file; the real ``dagster-webserver`` serves the UI and headless
Chromium, driven over its DevTools protocol, opens ``bmrs/freq``'s ``complete_partition`` check,
selects its Partitions tab and the short day, and takes the screenshot.

    .venv/bin/python tools/checks_screenshot.py [--out docs/images/checks_per_partition.png]
"""

from __future__ import annotations

import argparse
import base64
import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from datetime import timedelta
from pathlib import Path

import httpx

warnings.filterwarnings("ignore")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from websockets.sync.client import connect  # noqa: E402

from bmrs_assets.core.processes import free_port, stop_process_group  # noqa: E402
from bmrs_assets.core.settlement import london_today  # noqa: E402
from bmrs_assets.simulator.server import start_in_thread  # noqa: E402
from bmrs_assets_tests.support.check_scenario import prepare_home, run_range, simulator_config  # noqa: E402
from bmrs_assets_tests.support.dagster_ui import start_webserver  # noqa: E402

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--hide-scrollbars"]
PAGE = "/assets/bmrs/freq?view=checks&checkDetail=complete_partition"
SKIP_WELCOME = """(() => {  // the first-visit "Join the Dagster community" dialog
  const skip = [...document.querySelectorAll('button')].find(e => e.textContent.trim() === 'Skip');
  if (skip) skip.click();
  return true;
})()"""
# the check detail's own Partitions tab (after the asset's, in document order), once it has rendered
CLICK_CHECK_PARTITIONS = """(() => {
  if (!document.body.innerText.includes('Execution history')) return false;
  const tabs = [...document.querySelectorAll('[role=tab], button')].filter(e => e.textContent.trim() === 'Partitions');
  if (tabs.length < 2) return false;
  tabs[tabs.length - 1].click();
  return true;
})()"""


def click_text(text: str) -> str:
    """JS: click the innermost element whose whole text is ``text``; true when there was one."""
    return f"""(() => {{
  const hits = [...document.querySelectorAll('body *')].filter(e => e.textContent.trim() === {json.dumps(text)});
  if (!hits.length) return false;
  hits[hits.length - 1].click();
  return true;
}})()"""


class DevTools:
    """One page of a running Chromium, over its DevTools websocket (request/response by id)."""

    def __init__(self, port: int, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                pages = [t for t in httpx.get(f"http://127.0.0.1:{port}/json/list", timeout=2).json()
                         if t["type"] == "page"]
                if pages:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("chromium's DevTools endpoint did not come up")
            time.sleep(0.3)
        self.ws = connect(pages[0]["webSocketDebuggerUrl"], max_size=64 * 2**20)
        self.ids = itertools.count(1)

    def call(self, method: str, **params: object) -> dict:
        n = next(self.ids)
        self.ws.send(json.dumps({"id": n, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv(timeout=60))
            if message.get("id") == n:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})

    def evaluate(self, expression: str) -> object:
        return self.call("Runtime.evaluate", expression=expression, returnByValue=True)["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not self.evaluate(expression):
            if time.monotonic() > deadline:
                raise RuntimeError(f"timed out waiting for {expression}")
            time.sleep(0.5)


def screenshot(url: str, select: str, out: Path, tmp: Path, width: int = 1400, height: int = 900) -> None:
    """Open ``url`` (a check's page) in headless Chromium, select its Partitions tab and the partition
    ``select``, save a PNG to ``out``."""
    port = free_port()
    (tmp / "home").mkdir(exist_ok=True)
    proc = subprocess.Popen([shutil.which("chromium") or "chromium", *FLAGS, f"--user-data-dir={tmp / 'profile'}",
                             f"--remote-debugging-port={port}", f"--window-size={width},{height}", "about:blank"],
                            env={**os.environ, "HOME": str(tmp / "home")}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        page = DevTools(port)
        page.call("Page.enable")
        page.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False)
        page.call("Page.navigate", url=url)
        page.wait_for("document.body.innerText.includes('complete_partition')")
        time.sleep(2)
        page.evaluate(SKIP_WELCOME)
        page.wait_for(CLICK_CHECK_PARTITIONS)
        page.wait_for(click_text(select))  # the partition shown in the detail panel
        time.sleep(3)  # its executions load after the click
        shot = page.call("Page.captureScreenshot", format="png")
        out.write_bytes(base64.b64decode(shot["data"]))
        page.ws.close()
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # chromium and its helpers: the group is ours alone
        except ProcessLookupError:
            pass
        proc.wait()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=str(REPO / "docs" / "images" / "checks_per_partition.png"))
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bmrs-checks-"))
    last = london_today() - timedelta(days=1)  # recent days, few partitions before them: a readable health bar
    days = [last - timedelta(days=2), last - timedelta(days=1), last]
    sim = start_in_thread(simulator_config(days[1]))
    start = (days[0] - timedelta(days=4)).isoformat()
    os.environ.update(BMRS_API_BASE_URL=sim.url, BMRS_DUCKDB_PATH=str(tmp / "bmrs.duckdb"), BMRS_START_DATE=start,
                      BMRS_RATE_LIMIT_PER_S="50", BMRS_RATE_LIMIT_FILE=str(tmp / "rate_limit"))
    try:
        home = prepare_home(tmp / "dagster_home")
        run_range(home, days)
    finally:
        sim.shutdown()
        sim.server_close()
    env = {**os.environ, "DAGSTER_HOME": str(home), "BMRS_AUTOMATION": "off", "PYTHONPATH": str(REPO)}
    port = free_port()
    web = start_webserver(port, env, tmp / "webserver.log")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        screenshot(f"http://127.0.0.1:{port}{PAGE}", days[1].isoformat(), out, tmp)
    finally:
        stop_process_group(web)
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
