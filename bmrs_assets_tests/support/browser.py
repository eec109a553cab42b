"""Debian's Chromium, headless, for the tests of generated pages: run it, and read the DOM it dumps."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import ClassVar

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]


def chromium(args: list[str], tmp: Path, timeout: float = 90) -> str:
    """Run Debian's chromium headless with a throw-away profile and HOME; stop its process group by PID."""
    binary = shutil.which("chromium")
    assert binary, "chromium is not installed: apt-get install -y chromium (.ci/run does it)"
    home, profile = tmp / "home", tmp / "profile"
    home.mkdir(exist_ok=True)
    proc = subprocess.Popen([binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "HOME": str(home)}, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # helpers it may have left behind; the group is ours alone
        except ProcessLookupError:
            pass
        if proc.returncode is None:
            proc.wait()
    assert proc.returncode == 0, err[-2000:]
    return out


class Dom(HTMLParser):
    """Every element of a page with its attributes and its text content."""

    VOID: ClassVar[set[str]] = {"meta", "br", "img", "input", "link", "hr"}

    def __init__(self, text: str) -> None:
        super().__init__()
        self.elements: list[dict] = []
        self.stack: list[dict] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        el = {"tag": tag, "attrs": dict(attrs), "text": "", "children": []}
        if self.stack:
            self.stack[-1]["children"].append(el)
        self.elements.append(el)
        if tag not in self.VOID:
            self.stack.append(el)

    def handle_endtag(self, tag: str) -> None:
        while self.stack:
            if self.stack.pop()["tag"] == tag:
                break

    def handle_data(self, data: str) -> None:
        for el in self.stack:
            el["text"] += data

    def find(self, **attrs: str) -> list[dict]:
        return [e for e in self.elements if all(e["attrs"].get(k.replace("_", "-")) == v for k, v in attrs.items())]


def descendants(el: dict) -> list[dict]:
    out = []
    for c in el["children"]:
        out += [c, *descendants(c)]
    return out
