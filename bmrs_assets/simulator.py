"""A local Elexon Insights API: a real HTTP server on loopback serving the registered datasets.

Paths, parameter names, envelopes, field names and types follow the OpenAPI spec shipped in
``bmrs_assets/openapi``. Data are deterministic per (dataset, day) at realistic daily volumes, and
rows whose time has not yet come are not served. Unlike the live API, the simulator is strict: an
unknown or missing parameter, or a window larger than the endpoint allows, is a 400 - the live API
silently ignores unknown names, which hid bugs in the system bmrs_assets replaces.

    python -m bmrs_assets.simulator --port 8765 [--max-window FREQ=6h] [--extra-field BOALF=newFlag]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import signal
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from urllib.parse import parse_qs, urlsplit

import orjson

from bmrs_assets.settlement import (
    PERIOD,
    UTC,
    day_window,
    days_between,
    london_today,
    period_start,
    periods_in_day,
    settlement_period_of,
    utc_iso,
)

Row = dict[str, object]


@lru_cache(maxsize=1)
def spec() -> dict:
    """The OpenAPI subset shipped with the package (copied verbatim from the official spec)."""
    return json.loads(resources.files("bmrs_assets.openapi").joinpath("elexon-subset.json").read_text())


def spec_parameters(path: str) -> dict[str, dict]:
    """Parameter name -> OpenAPI parameter object, for the GET operation of ``path``."""
    return {p["name"]: p for p in spec()["paths"][path]["get"].get("parameters", [])}


# --- deterministic data ------------------------------------------------------------------------
def rng_for(code: str, day: date, salt: str = "") -> random.Random:
    return random.Random(zlib.crc32(f"{code}|{day.isoformat()}|{salt}".encode()))


def bm_units(n: int = 260) -> list[tuple[str | None, str]]:
    """(bmUnit, nationalGridBmUnit) pairs: transmission, embedded, supplier and VLP battery units."""
    units: list[tuple[str | None, str]] = []
    prefixes = ["T_", "T_", "E_", "2__", "V__", "T_"]
    for i in range(n):
        prefix = prefixes[i % len(prefixes)]
        name = f"SIM{i:03d}-{1 + i % 4}"
        units.append((f"{prefix}{name}", name if prefix in ("T_", "E_") else f"AG-{name}"))
    return units


def gen_boalf(day: date, cfg: SimulatorConfig) -> list[Row]:
    """About 19,000 acceptance level segments: ~4,700 acceptances of 3-5 segments each."""
    rng = rng_for("BOALF", day)
    window = day_window(day)
    minutes = int(window.duration.total_seconds() // 60)
    rows: list[Row] = []
    base_number = (day - date(2020, 1, 1)).days * 40
    for bm_unit, ng_unit in bm_units():
        number = base_number
        for _ in range(rng.randint(14, 22)):
            number += 1
            segments = rng.randint(3, 5)
            length = segments * 10
            start_min = rng.randrange(5, minutes - length - 1)
            accepted = window.start + timedelta(minutes=start_min - rng.randint(2, 5))
            level = rng.randint(-100, 400)
            t = window.start + timedelta(minutes=start_min)
            for _ in range(segments):
                dur = timedelta(minutes=rng.choice([5, 10, 15]))
                nxt_level = level + rng.randint(-50, 50)
                t_to = t + dur
                _, p_from = settlement_period_of(t)
                _, p_to = settlement_period_of(t_to - timedelta(seconds=1) if t_to == window.end else t_to)
                rows.append({
                    "dataset": "BOALF", "settlementDate": day.isoformat(),
                    "settlementPeriodFrom": p_from, "settlementPeriodTo": p_to,
                    "timeFrom": utc_iso(t), "timeTo": utc_iso(t_to),
                    "levelFrom": level, "levelTo": nxt_level,
                    "acceptanceNumber": number, "acceptanceTime": utc_iso(accepted),
                    "deemedBoFlag": rng.random() < 0.02, "soFlag": rng.random() < 0.4,
                    "amendmentFlag": "ORI", "storFlag": rng.random() < 0.01, "rrFlag": False,
                    "nationalGridBmUnit": ng_unit, "bmUnit": bm_unit,
                })
                t, level = t_to, nxt_level
    rows.sort(key=lambda r: (r["timeFrom"], r["bmUnit"], r["acceptanceNumber"]))
    return rows


def gen_freq(day: date, cfg: SimulatorConfig) -> list[Row]:
    """One spot frequency every 15 s (5,760 on a 48-period day)."""
    rng = rng_for("FREQ", day)
    window = day_window(day)
    n = int(window.duration.total_seconds() // 15)
    value, rows = 50.0, []
    for i in range(n):
        value += rng.gauss(0, 0.01) - (value - 50.0) * 0.05
        rows.append({"dataset": "FREQ", "measurementTime": utc_iso(window.start + timedelta(seconds=15 * i)),
                     "frequency": round(value, 3)})
    return rows


def gen_costs(day: date, cfg: SimulatorConfig) -> list[Row]:
    """One system price per settlement period; values move with the settlement run (``cfg.run``)."""
    rng = rng_for("COSTS", day)
    run_rng = rng_for("COSTS", day, f"run{cfg.run}")
    rows = []
    for sp in range(1, periods_in_day(day) + 1):
        price = round(rng.uniform(20, 140) + (run_rng.uniform(-3, 3) if cfg.run else 0.0), 2)
        niv = rng.uniform(-800, 800)
        start = period_start(day, sp)
        created = start + timedelta(hours=24, minutes=15) + timedelta(days=cfg.run * 14)
        rows.append({
            "settlementDate": day.isoformat(), "settlementPeriod": sp, "startTime": utc_iso(start),
            "createdDateTime": utc_iso(created), "systemSellPrice": price, "systemBuyPrice": price,
            "bsadDefaulted": False, "priceDerivationCode": rng.choice(["N", "P"]),
            "reserveScarcityPrice": 0.0, "netImbalanceVolume": niv,
            "sellPriceAdjustment": 0.0, "buyPriceAdjustment": 0.0,
            "replacementPrice": None if rng.random() < 0.5 else round(rng.uniform(20, 140), 4),
            "replacementPriceReferenceVolume": None, "totalAcceptedOfferVolume": abs(niv) + 400,
            "totalAcceptedBidVolume": -abs(niv) - 300, "totalAdjustmentSellVolume": 0.0,
            "totalAdjustmentBuyVolume": 0.0, "totalSystemTaggedAcceptedOfferVolume": abs(niv) + 399,
            "totalSystemTaggedAcceptedBidVolume": -abs(niv) - 299,
            "totalSystemTaggedAdjustmentSellVolume": None, "totalSystemTaggedAdjustmentBuyVolume": None,
        })
    return rows


@dataclass(frozen=True)
class Generator:
    """How to make a day of a dataset, and which field says when a row becomes available."""

    make: Callable[[date, SimulatorConfig], list[Row]]
    available_at: Callable[[Row], datetime]


def _ts(name: str, plus: timedelta = timedelta(0)) -> Callable[[Row], datetime]:
    return lambda r: datetime.fromisoformat(str(r[name]).replace("Z", "+00:00")) + plus


GENERATORS: dict[str, Generator] = {
    "BOALF": Generator(gen_boalf, _ts("acceptanceTime")),
    "FREQ": Generator(gen_freq, _ts("measurementTime")),
    "COSTS": Generator(gen_costs, _ts("startTime", PERIOD)),
}


@dataclass(frozen=True)
class Route:
    """One served path: which dataset, which envelope, which field the time filter applies to."""

    dataset: str
    envelope: str  # "array" | "data" | "metadata"
    time_field: str | None = None
    max_window: timedelta | None = None
    metadata_name: str | None = None


ROUTES: dict[str, Route] = {
    "/datasets/BOALF/stream": Route("BOALF", "array", "timeFrom"),
    "/datasets/BOALF": Route("BOALF", "data", "timeFrom"),
    "/datasets/FREQ/stream": Route("FREQ", "array", "measurementTime"),
    "/datasets/FREQ": Route("FREQ", "data", "measurementTime", max_window=timedelta(hours=24)),
    "/balancing/settlement/system-prices/{settlementDate}": Route("COSTS", "metadata", metadata_name="DISEBSP"),
}


@dataclass
class SimulatorConfig:
    """Knobs tests turn: window limits, unknown fields to add, the settlement run, 'now'."""

    max_window: dict[str, timedelta] = field(default_factory=dict)
    extra_fields: dict[str, str] = field(default_factory=dict)
    run: int = 0
    now: Callable[[], datetime] = lambda: datetime.now(UTC)


# --- request handling -----------------------------------------------------------------------
class BadRequest(Exception):
    pass


def _match(path: str) -> tuple[str, dict[str, str]] | None:
    for template in ROUTES:
        pattern = "^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template)) + "$"
        m = re.match(pattern, path)
        if m:
            return template, m.groupdict()
    return None


def _parse_instant(name: str, value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(f"The value '{value}' is not valid for {name}.") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _parse_date(name: str, value: str) -> date:
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        raise BadRequest(f"The value '{value}' is not valid for {name}.") from None


@lru_cache(maxsize=64)
def _day_rows(code: str, day: date, run: int, extra: tuple[tuple[str, str], ...]) -> tuple[Row, ...]:
    cfg = SimulatorConfig(run=run)
    rows = GENERATORS[code].make(day, cfg)
    for dataset, name in extra:
        if dataset == code:
            for r in rows:
                r[name] = f"{name}-value"
    return tuple(rows)


def serve_rows(template: str, path_params: dict[str, str], query: dict[str, list[str]],
               cfg: SimulatorConfig) -> list[Row]:
    """Validate a request against the spec and return the rows it selects."""
    route = ROUTES[template]
    declared = spec_parameters(template)
    unknown = sorted(set(query) - set(declared))
    if unknown:
        raise BadRequest(f"Unknown query parameter(s): {', '.join(unknown)}")
    for name, p in declared.items():
        if p.get("required") and p["in"] == "query" and name not in query:
            raise BadRequest(f"The {name} field is required.")
    q = {k: v[-1] for k, v in query.items()}
    limit = cfg.max_window.get(route.dataset, route.max_window)
    extra = tuple(sorted(cfg.extra_fields.items()))
    now = cfg.now()

    def rows_for(days: list[date]) -> list[Row]:
        out: list[Row] = []
        gen = GENERATORS[route.dataset]
        for d in days:
            if d > london_today(now):
                continue
            out.extend(r for r in _day_rows(route.dataset, d, cfg.run, extra) if gen.available_at(r) <= now)
        return out

    if "settlementDate" in path_params:
        return rows_for([_parse_date("settlementDate", path_params["settlementDate"])])

    time_params = [("measurementDateTimeFrom", "measurementDateTimeTo"), ("publishDateTimeFrom", "publishDateTimeTo")]
    for p_from, p_to in time_params:
        if p_from in declared:
            start = _parse_instant(p_from, q[p_from]) if p_from in q else now - timedelta(hours=1)
            end = _parse_instant(p_to, q[p_to]) if p_to in q else now
            return _time_filtered(route, start, end, limit, rows_for)

    if "from" in declared:
        if "settlementPeriodFrom" in q or "settlementPeriodTo" in q:
            first = _parse_date("from", q["from"])
            last = _parse_date("to", q["to"])
            sp_from = int(q.get("settlementPeriodFrom", 1))
            sp_to = int(q.get("settlementPeriodTo", 50))
            if not (1 <= sp_from <= 50 and 1 <= sp_to <= 50):
                raise BadRequest("Settlement periods must be between 1 and 50 inclusive.")
            if last < first:
                raise BadRequest("The from date must be before the to date.")
            size = (last - first).days * timedelta(hours=24) + (sp_to - sp_from + 1) * PERIOD
            if limit and size > limit:
                raise BadRequest(f"The requested range {size} exceeds the maximum of {limit} for {route.dataset}.")
            period_field = "settlementPeriod" if route.dataset not in ("BOALF",) else "settlementPeriodFrom"
            rows = rows_for(days_between(first, last))
            return [r for r in rows if (r["settlementDate"] != first.isoformat() or int(r[period_field]) >= sp_from)
                    and (r["settlementDate"] != last.isoformat() or int(r[period_field]) <= sp_to)]
        return _time_filtered(route, _parse_instant("from", q["from"]), _parse_instant("to", q["to"]), limit, rows_for)
    raise BadRequest("No usable time parameters")


def _time_filtered(route: Route, start: datetime, end: datetime, limit: timedelta | None,
                   rows_for: Callable[[list[date]], list[Row]]) -> list[Row]:
    if end < start:
        raise BadRequest("The from date must be before the to date.")
    if limit and end - start > limit:
        raise BadRequest(f"The requested window {end - start} exceeds the maximum of {limit} for {route.dataset}.")
    days = days_between(london_today(start) - timedelta(days=1), london_today(end))
    field_name = route.time_field or "startTime"
    lo, hi = utc_iso(start), utc_iso(end)
    return [r for r in rows_for(days) if lo <= str(r[field_name]) <= hi]  # ISO 'Z' strings sort in time order


class Handler(BaseHTTPRequestHandler):
    server: SimulatorServer

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        path = parts.path
        base = self.server.base_path
        if path.startswith(base):
            path = path[len(base):]
        matched = _match(path)
        status, body = 404, b'{"error":"Not Found"}'
        if matched:
            template, path_params = matched
            route = ROUTES[template]
            try:
                rows = serve_rows(template, path_params, parse_qs(parts.query, keep_blank_values=True), self.server.config)
            except BadRequest as exc:
                status, body = 400, orjson.dumps({"status": 400, "title": "Bad Request", "errors": [str(exc)]})
            else:
                status = 200
                if route.envelope == "array":
                    body = orjson.dumps(rows)
                elif route.envelope == "data":
                    body = orjson.dumps({"data": rows})
                else:
                    body = orjson.dumps({"metadata": {"datasets": [route.metadata_name]}, "data": rows})
        self.server.log_request_line(path, parts.query, status)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        return


class SimulatorServer(ThreadingHTTPServer):
    daemon_threads = True
    base_path = "/bmrs/api/v1"

    def __init__(self, host: str, port: int, config: SimulatorConfig) -> None:
        super().__init__((host, port), Handler)
        self.config = config
        self.requests: list[tuple[str, str, int]] = []
        self._lock = threading.Lock()

    def log_request_line(self, path: str, query: str, status: int) -> None:
        with self._lock:
            self.requests.append((path, query, status))

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}{self.base_path}"


def start_in_thread(config: SimulatorConfig | None = None, host: str = "127.0.0.1", port: int = 0) -> SimulatorServer:
    """Start a simulator on loopback in a background thread; call ``shutdown()`` to stop it."""
    server = SimulatorServer(host, port, config or SimulatorConfig())
    threading.Thread(target=server.serve_forever, name="elexon-simulator", daemon=True).start()
    return server


def _duration(text: str) -> timedelta:
    m = re.fullmatch(r"(\d+)([smhd])", text)
    if not m:
        raise argparse.ArgumentTypeError(f"bad duration {text!r} (e.g. 6h, 30m)")
    return timedelta(**{{"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[m[2]]: int(m[1])})


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bmrs_assets.simulator", description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--max-window", action="append", default=[], metavar="DATASET=DURATION")
    parser.add_argument("--extra-field", action="append", default=[], metavar="DATASET=FIELD")
    parser.add_argument("--run", type=int, default=0, help="settlement run number (revises COSTS)")
    args = parser.parse_args(argv)
    cfg = SimulatorConfig(
        max_window={k.upper(): _duration(v) for k, v in (x.split("=", 1) for x in args.max_window)},
        extra_fields={k.upper(): v for k, v in (x.split("=", 1) for x in args.extra_field)},
        run=args.run,
    )
    server = SimulatorServer(args.host, args.port, cfg)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    print(f"Elexon simulator listening on {server.url}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
