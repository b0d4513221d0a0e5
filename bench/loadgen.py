"""A small closed-loop HTTP load generator: processes x threads, http.client, keep-alive.

Each client thread sends one request at a time over its own connection (reconnecting when the
server closes it, as gunicorn's sync workers do after every response), cycling through its
share of the URLs, and records each request's latency. Clients are spread over several
processes so that the generator itself is not held back by one interpreter's lock; each
process reports the CPU time it used, so the generator's own share of the machine is known.
"""

from __future__ import annotations

import http.client
import math
import multiprocessing
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from http.cookies import SimpleCookie


@dataclass(frozen=True)
class Target:
    """Where to send requests and with which fixed headers."""

    host: str
    port: int
    headers: tuple[tuple[str, str], ...] = ()
    cookie_name: str = "session"


@dataclass
class Outcome:
    """What one measurement saw."""

    requests: int = 0
    errors: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    latencies_ms: list[float] = field(default_factory=list)
    seconds: float = 0.0
    cpu_s: float = 0.0

    @property
    def rps(self) -> float:
        """Successful requests per second."""
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, share: float) -> float:
        """Nearest-rank latency percentile in milliseconds (0 if nothing was measured)."""
        if not self.latencies_ms:
            return 0.0
        ordered = sorted(self.latencies_ms)
        return ordered[max(math.ceil(share * len(ordered)) - 1, 0)]


def _client(
    target: Target,
    urls: Sequence[str],
    offset: int,
    warmup_until: float,
    stop_at: float,
    into: Outcome,
    lock: threading.Lock,
) -> None:
    connection = http.client.HTTPConnection(target.host, target.port, timeout=30)
    headers = dict(target.headers)
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    errors = 0
    i = offset
    while True:
        started = time.perf_counter()
        if started >= stop_at:
            break
        url = urls[i % len(urls)]
        i += 1
        try:
            connection.request("GET", url, headers=headers)
            response = connection.getresponse()
            response.read()
            status = response.status
            set_cookie = response.getheader("Set-Cookie")
            if response.will_close:
                connection.close()
        except (OSError, http.client.HTTPException):
            connection.close()
            errors += 1
            continue
        ended = time.perf_counter()
        if set_cookie and "Cookie" in headers:
            cookie = SimpleCookie(set_cookie)
            if target.cookie_name in cookie:
                headers["Cookie"] = f"{target.cookie_name}={cookie[target.cookie_name].value}"
        if started < warmup_until:
            continue
        statuses[status] = statuses.get(status, 0) + 1
        if 200 <= status < 400:
            latencies.append((ended - started) * 1000)
        else:
            errors += 1
    connection.close()
    with lock:
        into.latencies_ms += latencies
        into.errors += errors
        for status, count in statuses.items():
            into.statuses[status] = into.statuses.get(status, 0) + count


def _process(
    target: Target,
    urls: Sequence[str],
    clients: int,
    first_client: int,
    start_at: float,
    warmup: float,
    duration: float,
    results: multiprocessing.Queue,
) -> None:
    outcome = Outcome()
    lock = threading.Lock()
    # Wall clock (not perf_counter) so that every process starts and stops together.
    while time.time() < start_at:
        time.sleep(0.001)
    now_wall, now_perf = time.time(), time.perf_counter()
    warmup_until = now_perf + (start_at + warmup - now_wall)
    stop_at = warmup_until + duration
    threads = [
        threading.Thread(
            target=_client,
            args=(target, urls, (first_client + n) * 7, warmup_until, stop_at, outcome, lock),
        )
        for n in range(clients)
    ]
    for thread in threads:
        thread.start()
    time.sleep(max(warmup_until - time.perf_counter(), 0))
    cpu_before = os.times()  # the generator's CPU while measuring, not during the warm-up
    for thread in threads:
        thread.join()
    cpu_after = os.times()
    outcome.cpu_s = (cpu_after.user - cpu_before.user) + (cpu_after.system - cpu_before.system)
    outcome.requests = len(outcome.latencies_ms)
    results.put(outcome)


def run_load(
    target: Target,
    urls: Sequence[str],
    clients: int,
    duration: float,
    warmup: float = 2.0,
    processes: int = 2,
) -> Outcome:
    """`clients` concurrent clients for `warmup` (not counted) then `duration` seconds."""
    processes = max(1, min(processes, clients))
    context = multiprocessing.get_context("fork")
    results: multiprocessing.Queue = context.Queue()
    start_at = time.time() + 0.3
    shares = [
        clients // processes + (1 if n < clients % processes else 0) for n in range(processes)
    ]
    workers, first = [], 0
    for share in shares:
        worker = context.Process(
            target=_process,
            args=(target, urls, share, first, start_at, warmup, duration, results),
        )
        first += share
        worker.start()
        workers.append(worker)
    total = Outcome(seconds=duration)
    for _ in workers:
        part: Outcome = results.get()
        total.requests += part.requests
        total.errors += part.errors
        total.latencies_ms += part.latencies_ms
        total.cpu_s += part.cpu_s
        for status, count in part.statuses.items():
            total.statuses[status] = total.statuses.get(status, 0) + count
    for worker in workers:
        worker.join()
    return total
