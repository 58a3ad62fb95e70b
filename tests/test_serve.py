"""`eodrec book serve`: the book on 127.0.0.1 and a Jupyter server only the book may drive."""

import json
import urllib.error
import urllib.request

import pytest

from eodrec.book.serve import ServeError, live_book
from eodrec.cli import main

ALLOWED_ORIGIN = "Access-Control-Allow-Origin"


EVIL = "http://evil.example"


@pytest.fixture
def built_book(tmp_path):
    html = tmp_path / "html"
    html.mkdir()
    (html / "index.html").write_text("<html><body>book</body></html>")
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    return html, notebooks


def _get(url, headers=None):
    """Status, body and the origin a browser would let read the response (CORS)."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read(), response.headers.get(ALLOWED_ORIGIN)
    except urllib.error.HTTPError as error:
        return error.code, error.read(), error.headers.get(ALLOWED_ORIGIN)


def test_only_the_book_learns_the_token_and_only_its_origin_may_read_the_server(built_book):
    html, notebooks = built_book
    with live_book(html, notebooks) as book:
        assert book.url.startswith("http://127.0.0.1:")
        assert _get(book.url)[1] == b"<html><body>book</body></html>"
        status, body, readable_by = _get(book.url + "_live/server.json", {"Origin": EVIL})
        server = json.loads(body)
        assert status == 200 and server["token"] == book.token
        assert readable_by is None  # same-origin only: a page from elsewhere cannot read it
        assert server["baseUrl"] == book.jupyter_url and server["wsUrl"].startswith(
            "ws://127.0.0.1:"
        )
        api = book.jupyter_url + "api/kernels"
        authorized = {"Authorization": f"token {book.token}"}
        assert _get(api)[0] == 403  # no token
        assert _get(api, {"Authorization": "token guessed"})[0] == 403
        origin = book.url.rstrip("/")
        assert _get(api, {**authorized, "Origin": origin})[::2] == (200, origin)
        # not allow_origin='*': a browser shows another page nothing of the server's answers
        assert _get(api, {**authorized, "Origin": EVIL})[2] == origin
        assert len(book.token) >= 32
    with pytest.raises(urllib.error.URLError):  # both servers stop with the context
        urllib.request.urlopen(book.jupyter_url + "api/status", timeout=2)


def test_without_live_code_there_is_no_announcement(built_book):
    html, notebooks = built_book
    with live_book(html, notebooks, live=False) as book:
        assert book.jupyter_url == ""
        assert _get(book.url + "_live/server.json")[0] == 404
        assert _get(book.url + "favicon.ico")[0] == 204  # browsers ask; no 404 in the console


def test_a_busy_port_is_one_line_naming_the_fix(built_book):
    html, notebooks = built_book
    with live_book(html, notebooks, live=False) as book:
        busy = int(book.url.rsplit(":", 1)[1].strip("/"))
        with pytest.raises(ServeError, match=f"cannot serve on 127.0.0.1:{busy}.*try --port"):
            with live_book(html, notebooks, port=busy):
                pass


def test_serving_an_unbuilt_book_is_one_line_naming_the_fix(tmp_path, capsys):
    with pytest.raises(ServeError, match="make book"):
        with live_book(tmp_path / "html", tmp_path):
            pass
    assert main(["book", "serve", "--book", str(tmp_path), "--no-live"]) == 1
    assert capsys.readouterr().err.strip().endswith("run `make book` first")
