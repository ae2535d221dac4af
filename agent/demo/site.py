"""A small multi-page demo site served with the standard library on 127.0.0.1."""

from __future__ import annotations

import socketserver
import threading
import time
from html import escape
from http import HTTPStatus
from http.cookies import CookieError, SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar
from urllib.parse import parse_qs, urlsplit

_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 40rem; margin: 2rem auto; color: #222; }
nav a { margin-right: 1rem; }
label { display: block; margin: 0.75rem 0 0.25rem; }
input, select, button { font: inherit; padding: 0.3rem 0.5rem; }
button { margin-top: 1rem; }
table { border-collapse: collapse; width: 100%; }
th, td { border: 1px solid #ccc; padding: 0.4rem; text-align: left; }
.error { color: #b00020; font-weight: bold; }
"""

_QUOTES: tuple[tuple[str, str, int], ...] = (
    ("The only thing we have to fear is fear itself.", "Franklin D. Roosevelt", 1933),
    ("That's one small step for man, one giant leap for mankind.", "Neil Armstrong", 1969),
    ("Ask not what your country can do for you.", "John F. Kennedy", 1961),
    ("I have a dream.", "Martin Luther King Jr.", 1963),
    ("The medium is the message.", "Marshall McLuhan", 1964),
    ("Premature optimization is the root of all evil.", "Donald Knuth", 1974),
)

_PLANS = (("basic", "Basic"), ("pro", "Pro"), ("enterprise", "Enterprise"))
_MAX_SLOW_MS = 30_000
_MAX_BODY_BYTES = 64 * 1024


def _page(title: str, body: str) -> str:
    return (
        "<!doctype html>\n"
        # The empty icon stops browsers requesting /favicon.ico (a 404 in the console log).
        '<html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>\n"
        f'<body><nav><a href="/">Home</a></nav>\n{body}\n</body></html>\n'
    )


def _int_param(query: dict[str, list[str]], name: str, default: int) -> int:
    try:
        return int(query[name][0])
    except (KeyError, ValueError):
        return default


def _login_page(username: str = "", error: bool = False) -> str:
    message = '<p class="error" id="login-error">Invalid username or password</p>' if error else ""
    return _page(
        "Sign in",
        f"""<h1>Sign in</h1>{message}
<form id="login-form" method="post" action="/login">
  <label for="username">Username</label>
  <input id="username" name="username" autocomplete="username" value="{escape(username)}">
  <label for="password">Password</label>
  <input id="password" name="password" type="password" autocomplete="current-password">
  <button type="submit" id="login-button">Sign in</button>
</form>""",
    )


class _Handler(BaseHTTPRequestHandler):
    server_version = "DemoSite/1.0"

    def log_message(self, format: str, *args: object) -> None:
        pass

    # -- plumbing -----------------------------------------------------------------

    def _send(self, status: int, html: str, headers: dict[str, str] | None = None) -> None:
        body = html.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _redirect(self, location: str, cookie: str | None = None) -> None:
        self.send_response(HTTPStatus.SEE_OTHER)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.send_header("Cache-Control", "no-store")
        if cookie is not None:
            self.send_header("Set-Cookie", cookie)
        self.end_headers()

    def _signed_in(self) -> bool:
        cookies = SimpleCookie()
        try:
            cookies.load(self.headers.get("Cookie", ""))
        except CookieError:
            return False
        morsel = cookies.get("session")
        return morsel is not None and morsel.value == DemoSite.USERNAME

    def _not_found(self) -> None:
        self._send(
            HTTPStatus.NOT_FOUND,
            _page("Not found", '<h1 id="not-found">Page not found</h1>'),
        )

    # -- routing ------------------------------------------------------------------

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        routes = {
            "/": self._index,
            "/login": lambda _q: self._send(HTTPStatus.OK, _login_page()),
            "/logout": self._logout,
            "/account": self._account,
            "/form": self._form_name,
            "/form/plan": self._form_plan,
            "/form/done": self._form_done,
            "/results": self._results,
            "/delayed": self._delayed,
            "/error": self._error,
            "/slow": self._slow,
            "/echo": self._echo,
        }
        route = routes.get(parts.path)
        if route is None:
            self._not_found()
        else:
            route(query)

    def do_POST(self) -> None:
        if urlsplit(self.path).path != "/login":
            self._not_found()
            return
        length = min(int(self.headers.get("Content-Length") or 0), _MAX_BODY_BYTES)
        form = parse_qs(self.rfile.read(length).decode("utf-8", "replace"))
        username = form.get("username", [""])[0]
        password = form.get("password", [""])[0]
        if username == DemoSite.USERNAME and password == DemoSite.PASSWORD:
            self._redirect(
                "/account", cookie=f"session={DemoSite.USERNAME}; Path=/; HttpOnly; SameSite=Lax"
            )
        else:
            # The password is deliberately never rendered back, even escaped.
            self._send(HTTPStatus.UNAUTHORIZED, _login_page(username, error=True))

    # -- pages --------------------------------------------------------------------

    def _index(self, _query: dict[str, list[str]]) -> None:
        links = [
            ("/login", "Sign in"),
            ("/account", "Account"),
            ("/form", "Multi-step form"),
            ("/results", "Results table"),
            ("/delayed", "Delayed content"),
            ("/error", "Error page"),
            ("/slow?ms=2000", "Slow page"),
            ("/echo", "Echo input"),
        ]
        items = "\n".join(f'  <li><a href="{escape(h)}">{escape(t)}</a></li>' for h, t in links)
        self._send(HTTPStatus.OK, _page("Demo site", f"<h1>Demo site</h1>\n<ul>\n{items}\n</ul>"))

    def _logout(self, _query: dict[str, list[str]]) -> None:
        self._redirect("/login", cookie="session=; Path=/; Max-Age=0")

    def _account(self, _query: dict[str, list[str]]) -> None:
        if not self._signed_in():
            self._redirect("/login")
            return
        body = (
            f'<h1 id="welcome">Welcome, {escape(DemoSite.USERNAME)}</h1>\n'
            '<p>You are signed in.</p>\n<p><a href="/logout" id="logout">Sign out</a></p>'
        )
        self._send(HTTPStatus.OK, _page("Account", body))

    def _form_name(self, _query: dict[str, list[str]]) -> None:
        body = """<h1>Sign up: step 1 of 2</h1>
<form id="name-form" method="get" action="/form/plan">
  <label for="full-name">Full name</label>
  <input id="full-name" name="name" autocomplete="name">
  <button id="next" type="submit">Next</button>
</form>"""
        self._send(HTTPStatus.OK, _page("Sign up", body))

    def _form_plan(self, query: dict[str, list[str]]) -> None:
        name = escape(query.get("name", [""])[0])
        options = "\n".join(f'    <option value="{v}">{label}</option>' for v, label in _PLANS)
        body = f"""<h1>Sign up: step 2 of 2</h1>
<p id="greeting">Hello, {name}</p>
<form id="plan-form" method="get" action="/form/done">
  <input type="hidden" name="name" value="{name}">
  <label for="plan">Plan</label>
  <select id="plan" name="plan">
{options}
  </select>
  <label><input type="checkbox" id="terms" name="terms" value="yes">
    I accept the terms</label>
  <label for="coupon">Coupon code</label>
  <input id="coupon" name="coupon">
  <button id="submit" type="submit">Submit</button>
</form>"""
        self._send(HTTPStatus.OK, _page("Sign up", body))

    def _form_done(self, query: dict[str, list[str]]) -> None:
        if query.get("terms", [""])[0] != "yes":
            body = (
                '<h1>Sign up</h1>\n<p class="error" id="form-error">You must accept the terms</p>'
                '\n<p><a href="/form">Start again</a></p>'
            )
            self._send(HTTPStatus.BAD_REQUEST, _page("Sign up", body))
            return
        name, plan, coupon = (escape(query.get(k, [""])[0]) for k in ("name", "plan", "coupon"))
        body = f"""<h1 id="thanks">Thank you</h1>
<dl id="summary">
  <dt>Name</dt><dd class="name">{name}</dd>
  <dt>Plan</dt><dd class="plan">{plan}</dd>
  <dt>Coupon</dt><dd class="coupon">{coupon}</dd>
</dl>"""
        self._send(HTTPStatus.OK, _page("Thank you", body))

    def _results(self, _query: dict[str, list[str]]) -> None:
        rows = "\n".join(
            f'    <tr class="quote"><td class="text">{escape(text)}</td>'
            f'<td class="author">{escape(author)}</td><td class="year">{year}</td></tr>'
            for text, author, year in _QUOTES
        )
        body = f"""<h1>Results</h1>
<table id="results">
  <thead><tr><th>Quote</th><th>Author</th><th>Year</th></tr></thead>
  <tbody>
{rows}
  </tbody>
</table>"""
        self._send(HTTPStatus.OK, _page("Results", body))

    def _delayed(self, query: dict[str, list[str]]) -> None:
        delay_ms = max(0, _int_param(query, "delay_ms", 1500))  # an int, safe to inline in JS
        body = f"""<h1>Delayed content</h1>
<p id="loading">Loading…</p>
<script>
setTimeout(function () {{
  document.getElementById("loading").remove();
  var late = document.createElement("div");
  late.id = "late-content";
  late.innerHTML = '<p class="message">The late content has arrived</p>';
  document.body.appendChild(late);
}}, {delay_ms});
</script>"""
        self._send(HTTPStatus.OK, _page("Delayed content", body))

    def _error(self, _query: dict[str, list[str]]) -> None:
        body = """<h1 id="error-title">Something went wrong</h1>
<p>This page fails on purpose.</p>
<script>
console.error("demo page error");
throw new Error("demo uncaught error");
</script>"""
        self._send(HTTPStatus.INTERNAL_SERVER_ERROR, _page("Error", body))

    def _slow(self, query: dict[str, list[str]]) -> None:
        ms = min(max(0, _int_param(query, "ms", 0)), _MAX_SLOW_MS)
        time.sleep(ms / 1000)
        self._send(
            HTTPStatus.OK, _page("Slow page", f'<p id="slow">done</p>\n<p>after {ms} ms</p>')
        )

    def _echo(self, _query: dict[str, list[str]]) -> None:
        body = """<h1>Echo</h1>
<label for="echo-input">Type something</label>
<input id="echo-input" autocomplete="off">
<p id="echo-output"></p>
<script>
document.getElementById("echo-input").addEventListener("input", function (event) {
  document.getElementById("echo-output").textContent = event.target.value;
});
</script>"""
        self._send(HTTPStatus.OK, _page("Echo", body))


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def server_bind(self) -> None:
        # HTTPServer.server_bind does a reverse DNS lookup (getfqdn) that can stall start-up.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)


class DemoSite:
    """The bundled demo site, served on 127.0.0.1 on a random free port in a background thread."""

    USERNAME: ClassVar[str] = "demo"
    PASSWORD: ClassVar[str] = "correct-horse-battery"

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._address = (host, port)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the demo site is not running; call start() first")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> DemoSite:
        if self._server is not None:
            return self
        self._server = _Server(self._address, _Handler)
        self._thread = threading.Thread(
            # A short poll interval keeps stop() (shutdown) fast.
            target=self._server.serve_forever,
            args=(0.05,),
            name="demo-site",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join()

    def __enter__(self) -> DemoSite:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
