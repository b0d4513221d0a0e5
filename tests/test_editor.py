"""The Markdown editor: its live preview endpoint and the hooks the edit page gives the script."""

from __future__ import annotations

import json

import lxml.html
import pytest
from flask.testing import FlaskClient

from portal.documents.forms import MAX_SOURCE_LENGTH
from portal.documents.preview import MAX_PREVIEW_BYTES
from portal.markdown import render_markdown
from portal.security import THROTTLES
from tests.conftest import csrf_token, sign_in

NEW_NOTE = "/documents/new?type=implementation_note"
PREVIEW = "/documents/preview"


def ask_preview(client: FlaskClient, body: object, token: str | None, **kwargs: object):
    """POST to the preview endpoint as editor.js does: JSON, token in X-CSRFToken."""
    headers = {"X-CSRFToken": token} if token else {}
    data = body if isinstance(body, bytes) else json.dumps(body)
    return client.post(
        PREVIEW, data=data, headers=headers, content_type="application/json", **kwargs
    )


@pytest.fixture
def writer(client, login_as):
    """A signed-in French official and the CSRF token of their editor page."""
    login_as("government", "FR")
    return csrf_token(client, NEW_NOTE)


def test_preview_renders_markdown_exactly_as_the_saved_document_will(client, writer):
    source = "## Scope\n\nWe apply a **catch-all** clause.\n\n| a | b |\n|---|---|\n| 1 | 2 |"
    response = ask_preview(client, {"source": source}, writer)
    assert response.status_code == 200
    assert response.is_json
    assert response.get_json() == {"html": render_markdown(source)}
    assert "<strong>catch-all</strong>" in response.get_json()["html"]
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    "source",
    [
        "<script>alert(1)</script>",
        '<img src="x" onerror="alert(1)">',
        "[click](javascript:alert(1))",
        '<a href="#" onclick="steal()">x</a>',
    ],
)
def test_preview_strips_anything_that_could_run_script(client, writer, source):
    html = ask_preview(client, {"source": source}, writer).get_json()["html"]
    assert html == render_markdown(source)
    for dangerous in ("<script", "onerror", "javascript:", "onclick"):
        assert dangerous not in html.lower()


def test_visitors_cannot_use_the_preview(client):
    token = csrf_token(client)  # a visitor's session has a token too
    response = ask_preview(client, {"source": "**hi**"}, token)
    assert response.status_code == 401
    assert "html" not in (response.get_json() or {})


def test_preview_without_the_csrf_token_is_refused(client, writer):
    response = ask_preview(client, {"source": "**hi**"}, None)
    assert response.status_code == 400
    assert b"<strong>hi</strong>" not in response.data


def test_preview_with_a_wrong_csrf_token_is_refused(client, writer):
    response = ask_preview(client, {"source": "**hi**"}, "not-the-token")
    assert response.status_code == 400


def test_text_longer_than_a_document_may_be_is_too_large_to_preview(client, writer):
    response = ask_preview(client, {"source": "a" * (MAX_SOURCE_LENGTH + 1)}, writer)
    assert response.status_code == 413
    assert "too long" in response.get_json()["error"]


def test_an_oversized_request_body_is_refused_before_it_is_read(client, writer):
    body = b'{"source": "' + b"a" * MAX_PREVIEW_BYTES + b'"}'
    response = ask_preview(client, body, writer)
    assert response.status_code == 413


def test_a_document_of_the_longest_allowed_length_can_be_previewed(client, writer):
    response = ask_preview(client, {"source": "word " * (MAX_SOURCE_LENGTH // 5)}, writer)
    assert response.status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b'{"source": "unterminated',
        b'{"source": "\xff\xfe"}',
        b'["a list, not an object"]',
        b'{"text": "the wrong key"}',
        b'{"source": 42}',
        b'{"source": "nul \\u0000 character"}',
        b"[" * 100_000 + b"]" * 100_000,
        b'{"source": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    ],
    ids=lambda body: body[:30].decode("utf-8", "replace"),
)
def test_malformed_preview_requests_get_a_clear_400(client, writer, body):
    response = ask_preview(client, body, writer)
    assert response.status_code == 400
    assert response.get_json()["error"]


def test_a_list_nested_hundreds_of_levels_deep_is_previewed_as_plain_text(client, writer):
    source = "".join("    " * level + "- item\n" for level in range(300))
    response = ask_preview(client, {"source": source}, writer)
    assert response.status_code == 200
    assert response.get_json()["html"].startswith('<pre class="unformatted">')


def test_preview_only_answers_posts(client, writer):
    assert client.get(PREVIEW).status_code in (404, 405)


def test_preview_is_throttled_in_the_one_throttling_table():
    assert "documents.preview" in THROTTLES


@pytest.mark.throttled
def test_a_flood_of_previews_is_throttled(client, writer):
    limit = int(THROTTLES["documents.preview"][0].limit.split()[0])
    statuses = [ask_preview(client, {"source": "x"}, writer).status_code for _ in range(limit)]
    assert set(statuses) == {200}
    assert ask_preview(client, {"source": "x"}, writer).status_code == 429


@pytest.mark.throttled
def test_colleagues_behind_one_office_address_have_their_own_preview_allowance(
    app, client, writer, make_user
):
    limit = int(THROTTLES["documents.preview"][0].limit.split()[0])
    for _ in range(limit):
        ask_preview(client, {"source": "x"}, writer)
    assert ask_preview(client, {"source": "x"}, writer).status_code == 429
    colleague = app.test_client()
    sign_in(colleague, make_user("government", "FR").email)
    token = csrf_token(colleague, NEW_NOTE)
    assert ask_preview(colleague, {"source": "x"}, token).status_code == 200


def test_edit_page_gives_the_editor_its_hooks(client, writer):
    page = lxml.html.fromstring(client.get(NEW_NOTE).get_data(as_text=True))
    assert page.xpath("//head/script[@src='/static/editor.js' and @defer]")
    assert page.xpath("//form[@data-editor]//textarea[@id='source' and @name='source']")
    [toolbar] = page.xpath("//*[@id='editor-toolbar']")
    assert toolbar.get("role") == "toolbar" and toolbar.get("aria-label") == "Formatting"
    buttons = toolbar.xpath(".//button")
    assert [b.get("data-action") for b in buttons] == [
        "heading", "bold", "italic", "bullets", "numbers", "link", "table"
    ]
    assert all(b.get("type") == "button" and b.text_content().strip() for b in buttons)
    [count] = page.xpath("//*[@id='word-count']")
    assert count.get("aria-live") == "polite"
    [preview] = page.xpath("//*[@id='markdown-preview']")
    assert preview.get("aria-live") == "polite"
    assert preview.xpath(".//h2")[0].text_content() == "Preview"
    assert page.xpath("//form[@data-editor]")[0].get("data-preview-url") == PREVIEW


def test_editor_works_without_javascript_through_the_preview_button(client, writer):
    page = lxml.html.fromstring(client.get(NEW_NOTE).get_data(as_text=True))
    # Nothing that needs the script is shown until it runs.
    for hook in ("editor-toolbar", "word-count", "markdown-preview"):
        assert page.get_element_by_id(hook).get("hidden") is not None
    response = client.post(
        NEW_NOTE,
        data={
            "csrf_token": writer,
            "title": "A note",
            "state": "FR",
            "commitments": [1],
            "visibility": "public",
            "status": "draft",
            "source": "Some **bold** text <script>x()</script>",
            "preview": "Preview",
        },
    )
    assert response.status_code == 200
    assert "<script>x()" not in response.get_data(as_text=True)
    page = lxml.html.fromstring(response.get_data(as_text=True))
    preview = page.get_element_by_id("markdown-preview")
    assert preview.get("hidden") is None
    assert preview.xpath(".//strong")[0].text == "bold"


def test_editor_script_is_served_from_the_portal(client):
    with client.get("/static/editor.js") as response:
        assert response.status_code == 200
        script = response.get_data(as_text=True)
    assert "X-CSRFToken" in script and "beforeunload" in script
    assert "markdown-preview" in script and "word-count" in script
