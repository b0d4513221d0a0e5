"""Gunicorn settings for `make serve`, all from the environment (see README "Deployment").

    gunicorn -c gunicorn.conf.py app:app

Assumes a migrated database (`flask --app app db upgrade` first).
"""

from __future__ import annotations

import multiprocessing
import os


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


bind = f"{os.environ.get('HOST', '127.0.0.1')}:{_int('PORT', 8000)}"
# Sync workers by default: measured on this app, gthread workers let one worker accept
# every keep-alive connection unless worker_connections equals threads (bench/load.py).
worker_class = os.environ.get("WEB_WORKER_CLASS", "sync")
workers = _int("WEB_WORKERS", 2 * multiprocessing.cpu_count() + 1)
threads = _int("WEB_THREADS", 1)
if worker_class == "gthread":
    worker_connections = _int("WEB_WORKER_CONNECTIONS", threads)
timeout = _int("WEB_TIMEOUT", 30)
graceful_timeout = _int("WEB_GRACEFUL_TIMEOUT", 30)
keepalive = _int("WEB_KEEPALIVE", 5)
# WEB_MAX_REQUESTS > 0 replaces a worker after that many requests (plus jitter), bounding
# slow memory growth at the price of a worker boot (about a second of CPU) each time.
max_requests = _int("WEB_MAX_REQUESTS", 0)
max_requests_jitter = max_requests // 10
accesslog = os.environ.get("WEB_ACCESS_LOG") or None
errorlog = "-"
loglevel = os.environ.get("WEB_LOG_LEVEL", "info")
# X-Forwarded-* headers are the app's business (TRUSTED_PROXIES), never gunicorn's.
secure_scheme_headers: dict[str, str] = {}
# Gunicorn 24+'s control socket has one path per user: several servers on a machine (nodes,
# benchmarks, tests) would take it from each other. Older versions ignore this name.
control_socket_disable = True
