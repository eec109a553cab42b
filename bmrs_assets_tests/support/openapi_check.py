"""A small OpenAPI 3.0 schema validator (the subset the Elexon spec uses), for contract tests."""

from __future__ import annotations

import re
from datetime import date, datetime

DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def resolve(spec: dict, schema: dict) -> dict:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def errors(spec: dict, schema: dict, value: object, where: str = "$") -> list[str]:
    """Every way ``value`` breaks ``schema``; an empty list means it validates."""
    schema = resolve(spec, schema)
    if value is None:
        return [] if schema.get("nullable") else [f"{where}: null but not nullable"]
    kind = schema.get("type")
    out: list[str] = []
    if kind == "object" or "properties" in schema:
        if not isinstance(value, dict):
            return [f"{where}: expected object"]
        props = schema.get("properties", {})
        if schema.get("additionalProperties") is False:
            out += [f"{where}.{k}: not in the spec" for k in value if k not in props]
        for k, sub in props.items():
            if k in value:
                out += errors(spec, sub, value[k], f"{where}.{k}")
        out += [f"{where}.{k}: required" for k in schema.get("required", []) if k not in value]
    elif kind == "array":
        if not isinstance(value, list):
            return [f"{where}: expected array"]
        for i, item in enumerate(value):
            out += errors(spec, schema["items"], item, f"{where}[{i}]")
            if len(out) > 20:
                break
    elif kind == "integer":
        if not isinstance(value, int) or isinstance(value, bool):
            out.append(f"{where}: expected integer, got {value!r}")
    elif kind == "number":
        if not isinstance(value, int | float) or isinstance(value, bool):
            out.append(f"{where}: expected number, got {value!r}")
    elif kind == "boolean":
        if not isinstance(value, bool):
            out.append(f"{where}: expected boolean, got {value!r}")
    elif kind == "string":
        if not isinstance(value, str):
            return [f"{where}: expected string, got {value!r}"]
        fmt = schema.get("format")
        if fmt == "date":
            if not DATE.match(value):
                out.append(f"{where}: not a date: {value!r}")
            else:
                date.fromisoformat(value)
        elif fmt == "date-time":
            try:
                parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
                if parsed.tzinfo is None:
                    out.append(f"{where}: date-time without zone: {value!r}")
            except ValueError:
                out.append(f"{where}: not a date-time: {value!r}")
        if "enum" in schema and value not in schema["enum"]:
            out.append(f"{where}: {value!r} not in {schema['enum']}")
    return out
