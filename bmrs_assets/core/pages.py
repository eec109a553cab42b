"""Writing a generated page: the HTML and its data as JSON beside it, each replaced atomically."""

from __future__ import annotations

import json
from pathlib import Path


def write_page(path: Path, page: str, data: dict) -> tuple[Path, Path]:
    """Write ``page`` to ``path`` and ``data`` to ``path`` with a ``.json`` suffix; a reader never sees a
    half-written file (each is written beside its target, then renamed over it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    json_path = path.with_suffix(".json")
    for target, text in ((path, page), (json_path, json.dumps(data, indent=1))):
        tmp = target.with_name(f".{target.name}.tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(target)
    return path, json_path
