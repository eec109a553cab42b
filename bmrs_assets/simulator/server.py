"""A local Elexon Insights API: a real HTTP server on loopback serving the registered datasets.

Paths, parameter names, envelopes, field names and types follow the OpenAPI spec shipped in
``bmrs_assets/elexon/openapi``. Data are deterministic per (dataset, day) at realistic daily volumes, and
rows whose time has not yet come are not served. Unlike the live API, the simulator is strict: an
unknown or missing parameter, or a window larger than the endpoint allows, is a 400 - the live API
silently ignores unknown names, which hid bugs in the system bmrs_assets replaces.

    python -m bmrs_assets.simulator --port 8765 [--max-window FREQ=6h] [--extra-field BOALF=newFlag]
                                    [--latency-ms 500] [--body-cache-mb 1024]
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import socket
import struct
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from urllib.parse import parse_qs, urlsplit

import orjson

from bmrs_assets.core.durations import parse_duration
from bmrs_assets.core.settlement import UTC, days_between, london_today, utc_iso
from bmrs_assets.elexon.datasets import REGISTRY, Dataset
from bmrs_assets.elexon.requests import RequestError, RequestStrategy, Scope
from bmrs_assets.settings import value
from bmrs_assets.simulator.data import GENERATORS, Row, SimState
from bmrs_assets.simulator.faults import KINDS, FaultPlan


@lru_cache(maxsize=1)
def spec() -> dict:
    """The OpenAPI subset shipped with the package (copied verbatim from the official spec)."""
    return json.loads(resources.files("bmrs_assets.elexon.openapi").joinpath("elexon-subset.json").read_text())


def spec_parameters(path: str) -> dict[str, dict]:
    """Parameter name -> OpenAPI parameter object, for the GET operation of ``path``."""
    return {p["name"]: p for p in spec()["paths"][path]["get"].get("parameters", [])}


@dataclass(frozen=True)
class Route:
    """One served path: the dataset whose generator answers it, its request strategy, its envelope."""

    dataset: str
    request: RequestStrategy  # reads the query back into the rows it selects
    envelope: str  # "array" | "data" | "metadata", as the spec's 200 response schema has it
    max_window: timedelta | None = None
    metadata_name: str | None = None


def envelope_of(path: str) -> str:
    """The JSON envelope of ``path``'s 200 response in the spec: a bare array, ``data``, or ``data`` + ``metadata``."""
    schema = spec()["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    if schema.get("type") == "array":
        return "array"
    component = spec()["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return "metadata" if "metadata" in component.get("properties", {}) else "data"


def routes(registry: Mapping[str, Dataset]) -> dict[str, Route]:
    """A route for every endpoint of every registry entry: adding a dataset adds its routes."""
    out: dict[str, Route] = {}
    for ds in registry.values():
        for endpoint in ds.endpoints:
            envelope = envelope_of(endpoint.path)
            out[endpoint.path] = Route(ds.code, ds.request, envelope, endpoint.max_window,
                                       ds.elexon_code if envelope == "metadata" else None)
    return out


ROUTES: dict[str, Route] = routes(REGISTRY)
# Query parameters that filter on a row field (a repeated parameter is a list of accepted values).
LIST_FILTERS = {"bmUnit": "bmUnit", "dataProviders": "dataProvider", "boundary": "boundary", "fuelType": "fuelType",
                "settlementPeriod": "settlementPeriod"}
IGNORED = {"format"}  # the simulator answers JSON only


@dataclass
class SimulatorConfig:
    """Knobs tests turn: window limits, unknown fields to add, the settlement run, 'now'."""

    max_window: dict[str, timedelta] = field(default_factory=dict)
    extra_fields: dict[str, str] = field(default_factory=dict)
    run: int = 0
    position: int = 0  # the source's later position: rows withdrawn (SimState.position)
    volume_error: float = 0.0  # share of acceptances whose BOAV/DISPTAV volumes are planted wrong (SimState)
    # dataset, or "dataset/YYYY-MM-DD" for one day -> fraction of each (that) day's rows served (a short answer)
    short: dict[str, float] = field(default_factory=dict)
    now: Callable[[], datetime] = lambda: datetime.now(UTC)
    faults: FaultPlan = field(default_factory=FaultPlan)
    latency_s: float = 0.0  # added before every response (the benchmark's latency scenario)
    body_cache_bytes: int = 0  # keep this many bytes of serialized 200 bodies per (path, query); 0: none

    def short_fraction(self, dataset: str, day: date) -> float:
        """The share of ``dataset``'s rows of ``day`` served: the day's own ``short`` entry, else the dataset's."""
        return self.short.get(f"{dataset}/{day.isoformat()}", self.short.get(dataset, 1.0))


# --- request handling -----------------------------------------------------------------------
BadRequest = RequestError  # answered with 400 and the message


def _match(path: str) -> tuple[str, dict[str, str]] | None:
    for template in ROUTES:
        pattern = "^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template)) + "$"
        m = re.match(pattern, path)
        if m:
            return template, m.groupdict()
    return None


@lru_cache(maxsize=8)
def _day_rows(generator: str, day: date, run: int, extra: tuple[tuple[str, str], ...], position: int = 0,
              short: float = 1.0, volume_error: float = 0.0) -> tuple[Row, ...]:
    rows = GENERATORS[generator].make(day, SimState(run=run, position=position, volume_error=volume_error))
    if short < 1.0:
        rows = rows[:int(len(rows) * short)]
    code = generator.split("/")[0]
    for dataset, name in extra:
        if dataset == code:
            for r in rows:
                r[name] = f"{name}-value"
    return tuple(rows)


def serve_rows(template: str, path_params: dict[str, str], query: dict[str, list[str]],
               cfg: SimulatorConfig) -> list[Row]:
    """Validate a request against the spec and the route's request strategy; return the rows it selects."""
    route = ROUTES[template]
    declared = spec_parameters(template)
    unknown = sorted(set(query) - set(declared))
    if unknown:
        raise BadRequest(f"Unknown query parameter(s): {', '.join(unknown)}")
    for name, p in declared.items():
        if p.get("required") and p["in"] == "query" and name not in query:
            raise BadRequest(f"The {name} field is required.")
    unserved = sorted(set(query) - set(route.request.query_params) - set(LIST_FILTERS) - IGNORED)
    if unserved:
        raise BadRequest(f"Query parameter(s) {', '.join(unserved)} are valid for the API, but this simulator "
                         f"serves {template} by {', '.join(route.request.query_params) or 'path'} only")
    now = cfg.now()
    scope = route.request.read({k: v[-1] for k, v in query.items()}, path_params, now)
    limit = cfg.max_window.get(route.dataset, route.max_window)
    if limit and scope.size is not None and scope.size > limit:
        raise BadRequest(f"The requested range {scope.size} exceeds the maximum of {limit} for {route.dataset}.")
    generator = "/".join([route.dataset, *(v for _, v in scope.variant)])
    extra = tuple(sorted(cfg.extra_fields.items()))
    filters = {LIST_FILTERS[k]: set(v) for k, v in query.items() if k in LIST_FILTERS}

    def rows_for(days: list[date]) -> list[Row]:
        out: list[Row] = []
        gen = GENERATORS[generator]
        for d in days:
            if d > london_today(now):
                continue
            out.extend(r for r in _day_rows(generator, d, cfg.run, extra, cfg.position,
                                            cfg.short_fraction(route.dataset, d), cfg.volume_error)
                       if gen.available_at(r) <= now
                       and all(str(r.get(f)) in accepted for f, accepted in filters.items()))
        return out

    if scope.current:  # a reference list: today's state, whatever day is asked
        return rows_for([london_today(now)])
    return _time_filtered(scope, rows_for) if scope.time_field else _date_filtered(scope, rows_for)


def _date_filtered(scope: Scope, rows_for: Callable[[list[date]], list[Row]]) -> list[Row]:
    """Rows of settlement dates first..last; the first day from ``periods[0]``, the last up to ``periods[1]``."""
    assert scope.first is not None and scope.last is not None
    span = days_between(scope.first, scope.last)
    wanted = {d.isoformat() for d in span}
    rows = [r for r in rows_for(span) if r.get("settlementDate") in wanted]
    if scope.periods is None:
        return rows
    (sp_from, sp_to), pf = scope.periods, scope.period_field
    first, last = scope.first.isoformat(), scope.last.isoformat()
    return [r for r in rows if (r["settlementDate"] != first or int(r[pf]) >= sp_from)
            and (r["settlementDate"] != last or int(r[pf]) <= sp_to)]


def _time_filtered(scope: Scope, rows_for: Callable[[list[date]], list[Row]]) -> list[Row]:
    """Rows whose time field lies in [start, end], both inclusive, as on the live API."""
    assert scope.start is not None and scope.end is not None and scope.time_field is not None
    days = days_between(london_today(scope.start) - timedelta(days=1), london_today(scope.end))
    field_name = scope.time_field
    lo, hi = utc_iso(scope.start), utc_iso(scope.end)
    return [r for r in rows_for(days) if lo <= str(r.get(field_name)) <= hi]  # ISO 'Z' strings sort in time order


class Handler(BaseHTTPRequestHandler):
    server: SimulatorServer

    def do_GET(self) -> None:
        self.arrived = time.time()
        parts = urlsplit(self.path)
        path = parts.path
        base = self.server.base_path
        if path.startswith(base):
            path = path[len(base):]
        matched = _match(path)
        status, body = 404, b'{"error":"Not Found"}'
        fault = self.server.config.faults.draw(splittable=ROUTES[matched[0]].request.splittable) if matched else None
        if matched and self._outage(ROUTES[matched[0]], matched[1], parts.query):
            fault = "outage"
        if fault:
            self.server.log_request_line(path, parts.query, -1, fault, self.arrived)
            self._inject(fault)
            return
        cache = self.server.body_cache
        cached = cache.get(self.path) if cache is not None else None
        if cached is not None:
            status, body = 200, cached
        elif matched:
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
                del rows
                if cache is not None:
                    cache.put(self.path, body)
        self.server.log_request_line(path, parts.query, status, None, self.arrived)
        if self.server.config.latency_s:
            time.sleep(self.server.config.latency_s)
        self._reply(status, body)

    def _reply(self, status: int, body: bytes, headers: dict[str, str] | None = None, cut: int | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        try:
            self.wfile.write(body if cut is None else body[:cut])
            if cut is not None:
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout): nothing to do
            self.close_connection = True
        if cut is not None:
            self.close_connection = True

    def _outage(self, route: Route, path_params: dict[str, str], query: str) -> bool:
        """Whether the request asks for a settlement date the fault plan has down (as its strategy reads it)."""
        outage = self.server.config.faults.outage
        if not outage:
            return False
        try:
            scope = route.request.read({k: v[-1] for k, v in parse_qs(query).items()}, path_params,
                                       self.server.config.now())
        except RequestError:
            return False
        return scope.first is not None and (route.dataset, scope.first.isoformat()) in outage

    def _inject(self, fault: str) -> None:
        """Misbehave the way real servers and networks do."""
        plan = self.server.config.faults
        n = sum(plan.injected.values())
        if fault == "429":
            self._reply(429, b'{"status":429,"title":"Too Many Requests"}')
        elif fault == "429-retry-after":
            self._reply(429, b'{"status":429,"title":"Too Many Requests"}', {"Retry-After": str(plan.retry_after_s)})
        elif fault in ("500", "503"):
            self._reply(int(fault), orjson.dumps({"status": int(fault), "title": f"simulated failure #{n}"}))
        elif fault == "outage":
            self._reply(503, b'{"status":503,"title":"simulated outage: this day never answers"}')
        elif fault == "reset":
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
        elif fault == "truncate":
            self._reply(200, b'[{"dataset": "X", "padding": "' + b"x" * 4096 + b'"}]', cut=1000)
        elif fault == "slow":
            time.sleep(plan.slow_s)
            self._reply(503, b'{"status":503,"title":"too late"}')
        elif fault == "400-too-large":
            self._reply(400, b'{"status":400,"errors":["The requested range exceeds the maximum allowed (simulated)."]}')

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        return


class BodyCache:
    """Serialized 200 bodies by request path and query, least recently used dropped past a byte budget.

    For benchmarks: a contender then measures its own work, not the simulator generating data."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes, self.size = max_bytes, 0
        self._bodies: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        with self._lock:
            body = self._bodies.get(key)
            if body is not None:
                self._bodies.move_to_end(key)
            return body

    def put(self, key: str, body: bytes) -> None:
        if len(body) > self.max_bytes:
            return
        with self._lock:
            old = self._bodies.pop(key, None)
            self.size += len(body) - (len(old) if old is not None else 0)
            self._bodies[key] = body
            while self.size > self.max_bytes:
                _, dropped = self._bodies.popitem(last=False)
                self.size -= len(dropped)


class SimulatorServer(ThreadingHTTPServer):
    daemon_threads = True
    base_path = "/bmrs/api/v1"

    def __init__(self, host: str, port: int, config: SimulatorConfig) -> None:
        super().__init__((host, port), Handler)
        self.config = config
        self.body_cache = BodyCache(config.body_cache_bytes) if config.body_cache_bytes > 0 else None
        self.requests: list[tuple[str, str, int]] = []
        self.request_times: list[tuple[float, str, str | None]] = []
        self._lock = threading.Lock()

    def log_request_line(self, path: str, query: str, status: int, fault: str | None = None,
                         arrived: float | None = None) -> None:
        with self._lock:
            self.requests.append((path, query, status))
            self.request_times.append((arrived or time.time(), path, fault))

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
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bmrs_assets.simulator", description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--max-window", action="append", default=[], metavar="DATASET=DURATION")
    parser.add_argument("--extra-field", action="append", default=[], metavar="DATASET=FIELD")
    parser.add_argument("--run", type=int, default=0, help="settlement run number (revises COSTS)")
    parser.add_argument("--position", type=int, default=0,
                        help="the source's later position: MELS/MILS redeclared, DISBSAD retracted, EBOCF rows dropped")
    parser.add_argument("--volume-error", type=float, default=0.0, metavar="SHARE",
                        help="plant a volume error: this share of acceptances settled 5%% too large in BOAV/DISPTAV")
    parser.add_argument("--fault-rate", type=float, default=value("BMRS_SIM_FAULT_RATE"),
                        help="fraction of requests answered with a fault (default 0, env BMRS_SIM_FAULT_RATE)")
    parser.add_argument("--fault-kinds", default=",".join(KINDS), help=f"comma-separated subset of {','.join(KINDS)}")
    parser.add_argument("--fault-seed", type=int, default=0)
    parser.add_argument("--slow-seconds", type=float, default=3.0, help="delay of a 'slow' fault")
    parser.add_argument("--outage", action="append", default=[], metavar="DATASET=YYYY-MM-DD",
                        help="a day that always answers 503")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="added before every response (default 0)")
    parser.add_argument("--body-cache-mb", type=float, default=0.0,
                        help="cache this many MB of serialized 200 bodies by request (default 0: none; for benchmarks)")
    args = parser.parse_args(argv)
    cfg = SimulatorConfig(
        max_window={k.upper(): _duration(v) for k, v in (x.split("=", 1) for x in args.max_window)},
        extra_fields={k.upper(): v for k, v in (x.split("=", 1) for x in args.extra_field)},
        run=args.run,
        position=args.position,
        volume_error=args.volume_error,
        faults=FaultPlan(rate=args.fault_rate, kinds=tuple(k for k in args.fault_kinds.split(",") if k),
                         seed=args.fault_seed, slow_s=args.slow_seconds,
                         outage={(k.upper(), v) for k, v in (x.split("=", 1) for x in args.outage)}),
        latency_s=args.latency_ms / 1000.0,
        body_cache_bytes=int(args.body_cache_mb * 1024 * 1024),
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
