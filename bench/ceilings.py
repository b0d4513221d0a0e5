"""The load benchmark's reference apps, served by the same gunicorn settings as the portal.

    gunicorn -c gunicorn.conf.py bench.ceilings:hello
    SEARCH_INDEX_DIR=... gunicorn -c gunicorn.conf.py 'bench.ceilings:bare_search()'

`hello` is the framework's ceiling: a minimal Flask app. `bare_search()` answers
`/search?q=...` by running the same query (the portal's own parser) straight on the same
Whoosh index: top 10 titles and the total, no access filter, facets, snippets or template.
"""

from __future__ import annotations

import os

from flask import Flask, request
from whoosh import index as whoosh_index

hello = Flask("hello")


@hello.get("/")
def hello_world() -> str:
    """The smallest page Flask can serve."""
    return "Hello, World!"


def bare_search() -> Flask:
    """A Flask app running Whoosh queries on SEARCH_INDEX_DIR, one searcher per process."""
    from portal.search.query import parse

    app = Flask("bare_search")
    ix = whoosh_index.open_dir(os.environ["SEARCH_INDEX_DIR"])
    searchers: dict[int, object] = {}

    @app.get("/search")
    def search() -> dict[str, object]:
        searcher = searchers.get(os.getpid())
        if searcher is None:
            searcher = searchers[os.getpid()] = ix.searcher()
        results = searcher.search(parse(searcher, request.args.get("q", "")), limit=10)
        return {"total": len(results), "titles": [hit["heading"] for hit in results]}

    return app
