"""Copy the paths the dataset registry names, and the schemas they reference, out of the official spec.

Usage: python tools/extract_spec_subset.py ../shared/reference/elexon-insights-openapi.json
The result (bmrs_assets/elexon/openapi/elexon-subset.json) ships with the package so the simulator and
the contract tests work on a machine without the shared reference folder.
"""

import json
import sys
from pathlib import Path

from bmrs_assets.elexon.datasets import REGISTRY

# Every path of every registry entry, in registry order (each entry's plain path before its stream).
PATHS = [e.path for ds in REGISTRY.values() for e in ds.endpoints]
OUT = Path(__file__).resolve().parents[1] / "bmrs_assets" / "elexon" / "openapi" / "elexon-subset.json"


def refs(node, found):
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            found.add(ref.rsplit("/", 1)[-1])
        for v in node.values():
            refs(v, found)
    elif isinstance(node, list):
        for v in node:
            refs(v, found)


def main(src: str) -> None:
    spec = json.loads(Path(src).read_text())
    paths = {p: spec["paths"][p] for p in PATHS}
    schemas, todo = {}, set()
    refs(paths, todo)
    while todo:
        name = todo.pop()
        if name in schemas:
            continue
        schemas[name] = spec["components"]["schemas"][name]
        refs(schemas[name], todo)
    subset = {"openapi": spec["openapi"], "info": spec["info"], "servers": spec["servers"],
              "paths": paths, "components": {"schemas": dict(sorted(schemas.items()))}}
    OUT.write_text(json.dumps(subset, indent=1) + "\n")
    print(f"wrote {OUT} ({len(paths)} paths, {len(schemas)} schemas)")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "../shared/reference/elexon-insights-openapi.json")
