"""Load benchmark: the portal under gunicorn against the framework's own ceiling, in one run.

    .venv/bin/python -m bench.load --documents 10000 --database sqlite|postgresql [--workdir DIR]

Builds a realistic database through the migrations (the canonical content/, then the search
benchmark's synthetic corpus: every type and visibility, 25 states, plenaries, rated reviews
and self-assessments) and its search index; with `--workdir` a database and index built
before with the same settings are reused. Then starts gunicorn on 127.0.0.1 with the
production settings (gunicorn.conf.py, PORTAL_ENV=production) and measures requests/s and
p50/p95/p99 latency at 8 and 32 concurrent clients for each page; in the same run a minimal
Flask "hello world" and a bare route running the same Whoosh queries on the same index, under
the same gunicorn settings. Prints each page's throughput as a share of those ceilings, the
peak memory of each worker, the generator's own CPU use and the machine's load.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import hashlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

from flask import Flask, session
from flask_migrate import upgrade
from sqlalchemy import create_engine, func, select, text, update
from sqlalchemy.engine import make_url

from bench.loadgen import Outcome, Target, run_load
from bench.search import (
    build_probes,
    build_vocabulary,
    create_users,
    generate_corpus,
    progress,
)
from portal import create_app
from portal.auth.sessions import start_session
from portal.content import load_content
from portal.extensions import db
from portal.models import (
    Assessment,
    Document,
    DocumentStatus,
    DocumentType,
    Revision,
    State,
    User,
    Visibility,
)

ROOT = Path(__file__).resolve().parent.parent
CONTENT_DIR = ROOT / "content"
SECRET_KEY = "bench-load-secret-key-not-for-production"
USER_AGENT = "bench-load/1"
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/bench_load"
PAGE_SAMPLE = 100  # distinct documents each document page cycles through
QUERIES_PER_KIND = 15  # x 4 kinds: 60 distinct search queries
BUILD_VERSION = 1  # bump when the built data changes shape


# -- building the database ---------------------------------------------------------------------


def database_url(args: argparse.Namespace, workdir: Path) -> str:
    """The SQLAlchemy URL of the benchmark's database."""
    if args.database == "sqlite":
        return f"sqlite:///{workdir / 'portal.sqlite3'}"
    url = args.database_url or os.environ.get("BENCH_DATABASE_URL") or DEFAULT_POSTGRES
    name = make_url(url).database or ""
    if not name.startswith("bench"):
        # The build drops the schema: never point it at a database that holds anything else.
        sys.exit(f"refusing to rebuild PostgreSQL database {name!r}: its name must start 'bench'")
    _create_database(url)
    return url


def _create_database(url: str) -> None:
    """Create the benchmark's PostgreSQL database if the server does not have it yet."""
    target = make_url(url)
    engine = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            exists = connection.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = :name"),
                {"name": target.database},
            )
            if not exists:
                print(f"Creating PostgreSQL database {target.database}", flush=True)
                quoted = target.database.replace('"', '""')
                connection.execute(text(f'CREATE DATABASE "{quoted}"'))
    finally:
        engine.dispose()


def make_app(url: str, index_dir: Path) -> Flask:
    """The portal app on the benchmark's database, for building (not serving)."""
    os.environ["SECRET_KEY"] = SECRET_KEY
    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "SEARCH_INDEX_DIR": str(index_dir),
            "SEARCH_APPLY_ON_COMMIT": False,
            "RATELIMIT_ENABLED": False,
        }
    )


def _reset_sequences() -> None:
    """PostgreSQL: explicit ids were inserted, so move each id sequence past them."""
    for table in ("users", "documents", "revisions"):
        db.session.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))"
            )
        )


def _rate_assessments(seed: int) -> None:
    """Give reviews a rating and turn a tenth of the notes into rated self-assessments."""
    rng = random.Random(seed)
    scale = list(Assessment)
    reviews = db.session.scalars(select(Document.id).where(Document.type == DocumentType.REVIEW))
    notes = db.session.scalars(
        select(Document.id).where(
            Document.type == DocumentType.IMPLEMENTATION_NOTE, Document.content_checksum.is_(None)
        )
    )
    changes = [(i, DocumentType.REVIEW) for i in reviews]
    changes += [(i, DocumentType.SELF_ASSESSMENT) for i in notes if i % 10 == 0]
    for document_id, doc_type in changes:
        db.session.execute(
            update(Document)
            .where(Document.id == document_id, Document.assessment.is_(None))
            .values(type=doc_type, assessment=rng.choice(scale))
            .execution_options(synchronize_session=False)
        )
    db.session.commit()


def _sample_slugs(visibility: Visibility, count: int, seed: int) -> list[str]:
    slugs = list(
        db.session.scalars(
            select(Document.slug)
            .where(
                Document.visibility == visibility,
                Document.status == DocumentStatus.PUBLISHED,
                Document.content_checksum.is_(None),
            )
            .order_by(Document.id)
        )
    )
    return random.Random(seed).sample(slugs, min(count, len(slugs)))


def schema_fingerprint() -> str:
    """Changes when a migration or the search schema changes: a reused build is then stale."""
    digest = hashlib.sha256()
    for path in sorted((ROOT / "migrations" / "versions").glob("*.py")):
        digest.update(path.name.encode())
    digest.update((ROOT / "portal" / "search" / "schema.py").read_bytes())
    return digest.hexdigest()[:16]


def build(args: argparse.Namespace, workdir: Path, url: str, index_dir: Path) -> dict[str, Any]:
    """Create the database and index (or reuse the ones built before); returns what to fetch."""
    manifest_path = workdir / f"built-{args.database}.json"
    app = make_app(url, index_dir)
    wanted = {
        "version": BUILD_VERSION,
        "documents": args.documents,
        "seed": args.seed,
        "url": url,
        "schema": schema_fingerprint(),
    }
    if manifest_path.exists():
        manifest = json.loads(manifest_path.read_text())
        with app.app_context():
            count = db.session.scalar(select(func.count()).select_from(Document)) or 0
            db.engine.dispose()
        if all(manifest.get(k) == v for k, v in wanted.items()) and count == manifest["rows"]:
            print(f"Reusing the database and index built in {workdir}", flush=True)
            return manifest
    started = time.perf_counter()
    shutil.rmtree(index_dir, ignore_errors=True)
    if args.database == "sqlite":  # the other database's build stays for its next run
        for suffix in ("", "-wal", "-shm"):
            (workdir / f"portal.sqlite3{suffix}").unlink(missing_ok=True)
    with app.app_context():
        if url.startswith("postgresql"):
            db.session.execute(text("DROP SCHEMA public CASCADE"))
            db.session.execute(text("CREATE SCHEMA public"))
            db.session.commit()
        upgrade()
        index = app.extensions["search"]
        index.index()  # an empty index now, so that the rebuild below is the only full build
        print("Loading content/ (states, commitments, starter documents, plenaries)...", flush=True)
        report = load_content(CONTENT_DIR)
        if report.errors:
            sys.exit(f"content/ did not load: {report.errors}")
        if db.session.scalar(select(func.count()).select_from(User)):
            sys.exit("content/ created accounts: the synthetic users need ids from 1")
        states = [
            (s.id, s.code, s.name) for s in db.session.scalars(select(State).order_by(State.code))
        ]
        context = create_users(states)
        first = 1 + max(
            db.session.scalar(select(func.max(Document.id))) or 0,
            db.session.scalar(select(func.max(Revision.id))) or 0,
        )
        vocab = build_vocabulary(8000, args.seed)
        print(f"Generating {args.documents:,} documents...", flush=True)
        generate_corpus(vocab, context, first, args.documents, args.seed)
        _rate_assessments(args.seed)
        if url.startswith("postgresql"):
            _reset_sequences()
        # The benchmark's government reader: a French official, enrolled in two-factor sign-in.
        france = next(s for s in states if s[1] == "FR")
        government_user_id = context.government_users[france[0]]
        db.session.execute(
            update(User)
            .where(User.id == government_user_id)
            .values(totp_secret="JBSWY3DPEHPK3PXP", totp_enabled_at=dt.datetime.now(dt.UTC))
        )
        db.session.commit()
        probes = build_probes(vocab, states, QUERIES_PER_KIND, args.seed)
        kinds = ("one word", "two words", "phrase", "field filter (state:xx word)")
        queries = [probe.text for kind in kinds for probe in probes[kind]]
        public = _sample_slugs(Visibility.PUBLIC, PAGE_SAMPLE, args.seed)
        government = _sample_slugs(Visibility.GOVERNMENT, PAGE_SAMPLE, args.seed)
        rows = db.session.scalar(select(func.count()).select_from(Document))
        print("Building the search index (the slow part)...", flush=True)
        index.rebuild(progress("index"), procs=args.procs)
        index.close()
    manifest = {
        **wanted,
        "rows": rows,
        "government_user_id": government_user_id,
        "public_slugs": public,
        "government_slugs": government,
        "queries": sorted(set(queries)),
        "build_s": time.perf_counter() - started,
    }
    manifest_path.write_text(json.dumps(manifest, indent=1))
    print(f"Built in {manifest['build_s']:.0f} s", flush=True)
    return manifest


def session_cookie(app: Flask, user_id: int) -> str:
    """A signed-in session for `user_id`, made by the portal's own start_session."""
    with app.test_request_context(
        "/", headers={"User-Agent": USER_AGENT}, environ_base={"REMOTE_ADDR": "127.0.0.1"}
    ):
        start_session(db.session.get(User, user_id))
        return app.session_interface.get_signing_serializer(app).dumps(dict(session))


# -- serving ---------------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def worker_pids(master: int) -> list[int]:
    """The gunicorn master's child processes."""
    children: list[int] = []
    for task in Path(f"/proc/{master}/task").iterdir():
        with contextlib.suppress(OSError):
            children += [int(pid) for pid in (task / "children").read_text().split()]
    return children


def _status_kb(pid: int, key: str) -> int:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def process_cpu_s(pids: Sequence[int]) -> dict[int, float]:
    """User + system CPU seconds of each of `pids` so far."""
    ticks = os.sysconf("SC_CLK_TCK")
    seconds = {}
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            seconds[pid] = (int(fields[11]) + int(fields[12])) / ticks
    return seconds


@dataclass
class Server:
    """A running gunicorn."""

    process: subprocess.Popen[bytes]
    port: int

    def workers(self) -> list[int]:
        """Worker process ids."""
        return worker_pids(self.process.pid)

    def peak_rss_mb(self) -> list[float]:
        """Peak resident memory (VmHWM) of each worker, in MB."""
        return [_status_kb(pid, "VmHWM") / 1024 for pid in self.workers()]


def _answers(port: int, path: str, host_header: str) -> bool:
    """True once the server answers `path` with 200."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(f"GET {path} HTTP/1.0\r\nHost: {host_header}\r\n\r\n".encode())
            return sock.recv(64).split(b"\r\n")[0].endswith(b" 200 OK")
    except OSError:
        return False


@contextlib.contextmanager
def gunicorn(app_spec: str, env: dict[str, str], probe: str, host_header: str) -> Iterator[Server]:
    """Start gunicorn with gunicorn.conf.py on a free port; wait until `probe` answers."""
    port = free_port()
    environ = {**os.environ, **env, "HOST": "127.0.0.1", "PORT": str(port)}
    log = tempfile.TemporaryFile()  # noqa: SIM115  (closed in the finally below)
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "-c", "gunicorn.conf.py", app_spec],
        cwd=ROOT,
        env=environ,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    server = Server(process, port)
    try:
        deadline = time.time() + 120
        while True:
            if process.poll() is not None or time.time() > deadline:
                log.seek(0)
                sys.exit(f"gunicorn {app_spec} did not start:\n{log.read().decode()[-3000:]}")
            if _answers(port, probe, host_header):
                break
            time.sleep(0.3)
        # Every worker imports the app lazily: let all of them boot before measuring.
        expected = int(env.get("WEB_WORKERS", "1"))
        while len(server.workers()) < expected and time.time() < deadline:
            time.sleep(0.2)
        time.sleep(2)
        yield server
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


# -- measuring -------------------------------------------------------------------------------


@dataclass
class Result:
    """One page at one concurrency."""

    page: str
    clients: int
    outcome: Outcome
    server_cpu_s: float
    load: float
    ceiling: Result | None = None  # hello world, measured just before
    bare: Result | None = None  # the bare Whoosh route, just after (search only)

    @property
    def cpu_per_request_ms(self) -> float:
        """Worker CPU per request (the database server's own CPU not included)."""
        return self.server_cpu_s / self.outcome.requests * 1000 if self.outcome.requests else 0


def measure(
    server: Server,
    host_header: str,
    page: str,
    urls: Sequence[str],
    clients: int,
    args: argparse.Namespace,
    cookie: str | None = None,
) -> Result:
    """Run the load on `urls` and print one line."""
    headers = [("Host", host_header), ("User-Agent", USER_AGENT)]
    if cookie:
        headers.append(("Cookie", f"session={cookie}"))
    target = Target("127.0.0.1", server.port, tuple(headers))
    workers = server.workers()
    load = os.getloadavg()[0]
    cpu_before = process_cpu_s(workers)
    outcome = run_load(target, urls, clients, args.duration, args.warmup, args.generators)
    cpu_after = process_cpu_s(workers)
    server_cpu = sum(cpu_after[pid] - cpu_before[pid] for pid in cpu_after if pid in cpu_before)
    result = Result(page, clients, outcome, server_cpu, load)
    print(
        f"  {page:<34} c={clients:<3} {outcome.rps:7.1f} req/s  p50 {outcome.percentile(0.5):6.1f}"
        f"  p95 {outcome.percentile(0.95):6.1f}  p99 {outcome.percentile(0.99):6.1f} ms"
        f"  errors {outcome.errors}  load {load:.2f}",
        flush=True,
    )
    if outcome.errors:
        print(f"    statuses: {outcome.statuses}", flush=True)
    return result


def server_env(args: argparse.Namespace) -> dict[str, str]:
    """gunicorn's settings, the same for the portal and the reference apps."""
    return {
        "WEB_WORKERS": str(args.workers),
        "WEB_THREADS": str(args.threads),
        "WEB_WORKER_CLASS": args.worker_class,
        "WEB_LOG_LEVEL": "warning",
    }


def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """Build, serve, measure; returns the figures."""
    url = database_url(args, workdir)
    index_dir = workdir / f"search-index-{args.database}"
    manifest = build(args, workdir, url, index_dir)
    if args.build_only:
        sys.exit(0)
    app = make_app(url, index_dir)
    with app.app_context():
        cookie = session_cookie(app, manifest["government_user_id"])
    host = "127.0.0.1"
    env = server_env(args)
    portal_env = {
        **env,
        "PORTAL_ENV": "production",
        "SECRET_KEY": SECRET_KEY,
        "PORTAL_BASE_URL": f"https://{host}",
        "DATABASE_URL": url,
        "SEARCH_INDEX_DIR": str(index_dir),
        "RATELIMIT_ENABLED": "false",
        # Where production keeps the pages its workers share (on by default), in the workdir.
        "KEPT_PAGES_DIR": str(workdir / "kept-pages"),
    }
    quote = urllib.parse.quote_plus
    pages: list[tuple[str, list[str], str | None]] = [
        ("home", ["/"], None),
        ("document list", [f"/documents/?page={n}" for n in range(1, 11)], None),
        ("document page", [f"/documents/{s}" for s in manifest["public_slugs"]], None),
        ("search with facets", [f"/search?q={quote(q)}" for q in manifest["queries"]], None),
        ("commitments matrix", ["/commitments/matrix"], None),
        ("government user's document page",
         [f"/documents/{s}" for s in manifest["government_slugs"]], cookie),
    ]  # fmt: skip
    if args.feed_url:
        pages.insert(5, ("Atom feed", [args.feed_url], None))
    if args.pages:
        pages = [p for p in pages if any(w in p[0] for w in args.pages.split(","))]
    if args.no_shared_pages:
        portal_env["KEPT_PAGES_DIR"] = ""
    if args.no_visitor_pages:
        portal_env["VISITOR_PAGE_SECONDS"] = "0"
    concurrency = [int(c) for c in args.clients.split(",")]
    results: list[Result] = []
    print(
        f"\nServing with gunicorn: {args.worker_class} workers={args.workers} "
        f"threads={args.threads}; {args.duration:.0f} s per measurement after "
        f"{args.warmup:.0f} s warm-up; {args.generators} generator processes",
        flush=True,
    )
    bare_urls = [f"/search?q={quote(q)}" for q in manifest["queries"]]
    with contextlib.ExitStack() as stack:
        hello = stack.enter_context(gunicorn("bench.ceilings:hello", env, "/", host))
        bare = stack.enter_context(
            gunicorn(
                "bench.ceilings:bare_search()",
                {**env, "SEARCH_INDEX_DIR": str(index_dir)},
                "/search?q=export",
                host,
            )
        )
        portal = stack.enter_context(gunicorn("app:app", portal_env, "/", host))
        for page, urls, page_cookie in pages:
            page_cookie = check_page(portal.port, host, urls[0], page_cookie)
            for clients in concurrency:
                # Each page is paired with its ceiling measured just before it: this machine's
                # load drifts, and a ratio is only fair between neighbouring measurements.
                ceiling = measure(hello, host, "  hello world (ceiling)", ["/"], clients, args)
                result = measure(portal, host, page, urls, clients, args, page_cookie)
                result.ceiling = ceiling
                if "search" in page:
                    result.bare = measure(
                        bare, host, "  bare Whoosh route", bare_urls, clients, args
                    )
                results.append(result)
        memory = {
            "hello world": hello.peak_rss_mb(),
            "bare Whoosh": bare.peak_rss_mb(),
            "portal": portal.peak_rss_mb(),
        }
    return {"manifest": manifest, "results": results, "memory": memory}


def check_page(port: int, host: str, url: str, cookie: str | None) -> str | None:
    """Fail early if a page does not answer 200 (a signed-in page must not fall back to 404).

    Returns the session cookie a browser holds after reading the page: every client of the
    load starts from it, as the tabs of one browser would (the first page a session renders
    adds its CSRF secret to the cookie).
    """
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Host": host, "User-Agent": USER_AGENT}
    if cookie:
        headers["Cookie"] = f"session={cookie}"
    connection.request("GET", url, headers=headers)
    response = connection.getresponse()
    body = response.read()
    if response.status != 200:
        sys.exit(f"{url} answered {response.status}: {body[:500]!r}")
    if cookie and b"Sign out" not in body:
        sys.exit(f"{url} was not served to a signed-in user")
    returned = SimpleCookie(response.getheader("Set-Cookie") or "")
    return returned["session"].value if cookie and "session" in returned else cookie


# -- reporting -------------------------------------------------------------------------------

TARGET_SHARE = 0.35
SEARCH_SHARE = 0.50
P99_LIMIT_MS = 250
MEMORY_LIMIT_MB = 300


def table(figures: dict[str, Any], args: argparse.Namespace) -> str:
    """The Markdown table: each page, its paired ceiling and the ratio, and the verdict."""
    cores = os.cpu_count() or 1
    lines = [
        "| page | clients | req/s | p50 / p95 / p99 ms | hello world req/s | ratio "
        "| bare Whoosh req/s | ratio | target | worker CPU / req | generator CPU | load |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in figures["results"]:
        o = r.outcome
        ceiling = r.ceiling.outcome.rps if r.ceiling else 0
        share = o.rps / ceiling if ceiling else 0
        bare = r.bare.outcome.rps if r.bare else 0
        versus_bare = o.rps / bare if bare else 0
        fast = r.clients < 32 or o.percentile(0.99) < P99_LIMIT_MS
        met = fast and (versus_bare >= SEARCH_SHARE if r.bare else share >= TARGET_SHARE)
        verdict = "met" if met and not o.errors else "**missed**"
        generator = o.cpu_s / (cores * args.duration) * 100
        lines.append(
            f"| {r.page} | {r.clients} | {o.rps:.0f} | {o.percentile(0.5):.0f} / "
            f"{o.percentile(0.95):.0f} / {o.percentile(0.99):.0f} | {ceiling:.0f} | {share:.0%} "
            f"| {f'{bare:.0f}' if bare else ''} | {f'{versus_bare:.0%}' if bare else ''} "
            f"| {verdict} | {r.cpu_per_request_ms:.1f} ms | {generator:.0f}% | {r.load:.1f} |"
        )
    ceilings = [r.ceiling for r in figures["results"] if r.ceiling]
    if ceilings:
        cpu = sum(c.cpu_per_request_ms for c in ceilings) / len(ceilings)
        generator = sum(c.outcome.cpu_s for c in ceilings) / (cores * args.duration * len(ceilings))
        lines.append(
            f"\nHello world: {min(c.outcome.rps for c in ceilings):.0f}-"
            f"{max(c.outcome.rps for c in ceilings):.0f} req/s over the run, {cpu:.2f} ms worker "
            f"CPU per request; the generator used {generator:.0%} of the machine meanwhile."
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    """Parse arguments, run, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--documents", type=int, default=10_000)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--database-url", help=f"PostgreSQL URL (default {DEFAULT_POSTGRES})")
    parser.add_argument("--workdir", help="keep the database and index here and reuse them")
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--procs", type=int, default=2, help="processes building the index")
    parser.add_argument("--clients", default="8,32", help="concurrency levels, comma-separated")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per measurement")
    parser.add_argument("--warmup", type=float, default=2.0, help="uncounted seconds first")
    parser.add_argument("--generators", type=int, default=2, help="load generator processes")
    cores = os.cpu_count() or 1
    parser.add_argument("--workers", type=int, default=2 * cores + 1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--worker-class", default="sync", choices=("sync", "gthread"))
    parser.add_argument(
        "--feed-url", default="/feeds/documents.atom", help="the Atom feed's path ('' to skip)"
    )
    parser.add_argument("--build-only", action="store_true", help="build (or check) and stop")
    parser.add_argument("--pages", help="only pages whose name contains one of these words")
    parser.add_argument(
        "--no-visitor-pages", action="store_true", help="render every page (no kept pages)"
    )
    parser.add_argument(
        "--no-shared-pages", action="store_true", help="each worker keeps only its own pages"
    )
    args = parser.parse_args(argv)
    if args.worker_class == "gthread" and args.threads == 1:
        args.threads = 4
    if args.workdir:
        workdir = Path(args.workdir).resolve()
        workdir.mkdir(parents=True, exist_ok=True)
        figures = run(args, workdir)
    else:
        with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
            figures = run(args, Path(tmp))
    manifest = figures["manifest"]
    print(
        f"\n{manifest['rows']:,} documents on {args.database}; {os.cpu_count()} cores; "
        f"load average now {os.getloadavg()[0]:.2f}; {dt.date.today().isoformat()}\n"
    )
    print(table(figures, args))
    if not args.feed_url:
        print("\nAtom feed: not measured (--feed-url was empty).")
    print("\nPeak RSS per worker (MB):")
    for name, values in figures["memory"].items():
        peak = max(values, default=0)
        verdict = "met" if peak < MEMORY_LIMIT_MB else "MISSED"
        shown = ", ".join(f"{v:.0f}" for v in values)
        print(f"  {name}: {shown}" + (f"  (target < {MEMORY_LIMIT_MB}: {verdict})"
              if name == "portal" else ""))  # fmt: skip
    print(
        f"\nTargets: every page >= {TARGET_SHARE:.0%} of hello world's req/s and p99 < "
        f"{P99_LIMIT_MS} ms at 32 clients; search >= {SEARCH_SHARE:.0%} of the bare Whoosh "
        "route. Generator CPU is the load generator's share of all the machine's cores."
    )


if __name__ == "__main__":
    main()
