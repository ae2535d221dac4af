"""The bundled demo site, exercised over real HTTP (no browser)."""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest

from agent.demo.site import DemoSite

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_no_redirect = urllib.request.build_opener(_NoRedirect)


def fetch(
    url: str, data: dict[str, str] | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], str]:
    """Return status, headers and body without following redirects or raising on errors."""
    body = urlencode(data).encode() if data is not None else None
    request = urllib.request.Request(url, data=body, headers=headers or {})
    try:
        with _no_redirect.open(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, dict(error.headers), error.read().decode()


@pytest.fixture(scope="module")
def site() -> Iterator[DemoSite]:
    with DemoSite() as running:
        yield running


@pytest.mark.parametrize(
    ("path", "status", "marker"),
    [
        ("/", 200, "<title>Demo site</title>"),
        ("/login", 200, '<form id="login-form" method="post" action="/login">'),
        ("/form", 200, '<input id="full-name" name="name"'),
        ("/form/plan?name=Ada", 200, '<select id="plan" name="plan">'),
        ("/form/done?name=Ada&plan=pro&terms=yes&coupon=X", 200, '<h1 id="thanks">'),
        ("/results", 200, '<table id="results">'),
        ("/delayed?delay_ms=10", 200, "late-content"),
        ("/error", 500, '<h1 id="error-title">Something went wrong</h1>'),
        ("/slow?ms=0", 200, '<p id="slow">done</p>'),
        ("/echo", 200, '<input id="echo-input"'),
        ("/no/such/page", 404, "Page not found"),
    ],
)
def test_pages(site: DemoSite, path: str, status: int, marker: str) -> None:
    code, headers, body = fetch(site.url + path)
    assert code == status
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert marker in body


def test_url_has_no_trailing_slash(site: DemoSite) -> None:
    parts = urlsplit(site.url)
    assert parts.scheme == "http"
    assert parts.hostname == "127.0.0.1"
    assert parts.path == ""


def test_results_table_has_quote_rows(site: DemoSite) -> None:
    _, _, body = fetch(site.url + "/results")
    assert "<h1>Results</h1>" in body
    assert body.count('<tr class="quote">') >= 5
    for cell in ('class="text"', 'class="author"', 'class="year"'):
        assert body.count(cell) >= 5


def test_plan_page_escapes_the_name(site: DemoSite) -> None:
    _, _, body = fetch(site.url + "/form/plan?" + urlencode({"name": "<b>Ada</b>"}))
    assert "Hello, &lt;b&gt;Ada&lt;/b&gt;" in body
    assert "<b>Ada</b>" not in body
    for value in ("basic", "pro", "enterprise"):
        assert f'<option value="{value}">' in body


def test_wrong_login_is_401_and_never_echoes_the_password(site: DemoSite) -> None:
    password = "hunter2-very-secret"
    code, _, body = fetch(site.url + "/login", {"username": "demo", "password": password})
    assert code == 401
    assert '<p class="error" id="login-error">Invalid username or password</p>' in body
    assert password not in body
    assert 'value="demo"' in body


def test_correct_login_redirects_to_account(site: DemoSite) -> None:
    credentials = {"username": DemoSite.USERNAME, "password": DemoSite.PASSWORD}
    code, headers, body = fetch(site.url + "/login", credentials)
    assert code == 303
    assert headers["Location"] == "/account"
    assert headers["Set-Cookie"].startswith("session=demo")
    assert DemoSite.PASSWORD not in body

    code, _, body = fetch(site.url + "/account", headers={"Cookie": "session=demo"})
    assert code == 200
    assert '<h1 id="welcome">Welcome, demo</h1>' in body
    assert "Sign out" in body


def test_account_without_session_redirects_to_login(site: DemoSite) -> None:
    code, headers, _ = fetch(site.url + "/account")
    assert code == 303
    assert headers["Location"] == "/login"


def test_form_done_without_terms_is_400(site: DemoSite) -> None:
    code, _, body = fetch(site.url + "/form/done?name=Ada&plan=pro")
    assert code == 400
    assert '<p class="error" id="form-error">You must accept the terms</p>' in body


def test_form_done_summary(site: DemoSite) -> None:
    query = urlencode({"name": "Ada", "plan": "pro", "terms": "yes", "coupon": "WELCOME10"})
    _, _, body = fetch(site.url + "/form/done?" + query)
    assert '<dd class="name">Ada</dd>' in body
    assert '<dd class="plan">pro</dd>' in body
    assert '<dd class="coupon">WELCOME10</dd>' in body


def test_delayed_page_uses_the_requested_delay(site: DemoSite) -> None:
    _, _, body = fetch(site.url + "/delayed?delay_ms=250")
    assert "}, 250);" in body
    _, _, body = fetch(site.url + "/delayed")
    assert "}, 1500);" in body


def test_slow_page_waits(site: DemoSite) -> None:
    started = time.monotonic()
    code, _, body = fetch(site.url + "/slow?ms=300")
    assert time.monotonic() - started >= 0.29
    assert code == 200
    assert '<p id="slow">done</p>' in body


def test_stop_frees_the_port() -> None:
    site = DemoSite().start()
    port = urlsplit(site.url).port
    assert port is not None
    assert fetch(site.url + "/")[0] == 200
    site.stop()
    site.stop()  # idempotent
    with pytest.raises(RuntimeError):
        _ = site.url
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    # Served connections leave the port in TIME_WAIT, so rebinding needs SO_REUSEADDR
    # (which HTTPServer sets); a fresh site on the same port proves it is free.
    with DemoSite(port=port) as again:
        assert again.url == f"http://127.0.0.1:{port}"


@pytest.mark.parametrize("script", sorted(EXAMPLES.glob("*.json")), ids=lambda p: p.name)
def test_example_scripts_are_json(script: Path) -> None:
    data = json.loads(script.read_text(encoding="utf-8"))
    assert {"name", "version", "steps"} <= data.keys()
    assert data["variables"]["base_url"]["required"] is True


def test_examples_exist() -> None:
    names = {p.name for p in EXAMPLES.glob("*.json")}
    assert {
        "login.json",
        "multi_step_form.json",
        "results_table.json",
        "delayed_content.json",
        "fails_on_purpose.json",
    } <= names
