"""The dashboard's defences without a browser: its headers, the session cookie's flags, CSRF on
changes a cookie authenticates, what a read-only token is shown, and escaping in its pages."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from jobqueue.api.app import create_app
from jobqueue.api.tracking import Tracking
from jobqueue.auth.audit import AuditTrail
from jobqueue.auth.book import TokenBook, refresh_once
from jobqueue.auth.http import HttpAuth
from jobqueue.auth.session import SESSION_COOKIE, csrf_token, encode_session
from jobqueue.brokers import Broker
from jobqueue.registry.memory import InMemoryRegistry
from jobqueue.store import default_store_url
from jobqueue.ui.install import STATIC
from tests.auth.test_gate import add_token
from tests.store.conftest import open_store

PAGES = ("/ui", "/ui/jobs", "/ui/jobs/some-id", "/ui/dlq", "/ui/workers", "/ui/audit")
XSS = '"><script>window.__xss=1</script><img src=x onerror=alert(1)>'
XSS_ID = '"><img src=x onerror=alert(1)><b>bold'  # no '/': one path segment


class Site:
    """The app behind its gate, reached over plain HTTP and over HTTPS, with a token per scope."""

    def __init__(self, app: object, tokens: dict[str, str]) -> None:
        transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
        self.http = httpx.AsyncClient(transport=transport, base_url="http://dash.test")
        self.https = httpx.AsyncClient(transport=transport, base_url="https://dash.test")
        self.tokens = tokens

    def cookie(self, scope: str) -> dict[str, str]:
        """The session cookie of the token of ``scope``, as a header."""
        return {"Cookie": f"{SESSION_COOKIE}={encode_session(self.tokens[scope])}"}


@pytest.fixture
async def site(broker: Broker, tmp_path: Path) -> AsyncIterator[Site]:
    async with open_store(default_store_url(f"sqlite:///{tmp_path / 'jobqueue.db'}")) as store:
        book = TokenBook()
        auth = HttpAuth(book, AuditTrail(store))
        app = create_app(broker, InMemoryRegistry(), tracking=Tracking(store), auth=auth)
        tokens = {scope: await add_token(store, scope, scope) for scope in ("read", "admin")}
        await refresh_once(book, store)
        site = Site(app, tokens)
        async with site.http, site.https:
            yield site


async def test_every_ui_answer_carries_a_csp_without_inline_scripts(site: Site) -> None:
    answers = [await site.http.get(path, headers=site.cookie("admin")) for path in PAGES]
    answers += [
        await site.http.get("/ui/login"),
        await site.http.get("/ui/static/app.css"),
        await site.http.get("/ui/static/js/common.js"),
        await site.http.get("/ui/jobs"),  # refused: the redirect to the login carries it too
    ]
    for answer in answers:
        policy = answer.headers["Content-Security-Policy"]
        script_src = next(part for part in policy.split("; ") if part.startswith("script-src"))
        assert script_src == "script-src 'self'"
        assert "unsafe-inline" not in policy
        assert "frame-ancestors 'none'" in policy
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert [answer.status_code for answer in answers] == [200] * 9 + [303]


async def test_pages_hold_no_inline_script_handler_or_style(site: Site) -> None:
    for path in (*PAGES, "/ui/login"):
        html = (await site.http.get(path, headers=site.cookie("admin"))).text
        assert "<script>" not in html
        assert "<style" not in html
        assert " style=" not in html
        assert " onclick=" not in html
        assert " onload=" not in html
        assert "<script src=" in html or path == "/ui/login"


async def test_a_page_without_a_session_sends_the_browser_to_the_login(site: Site) -> None:
    answer = await site.http.get("/ui/jobs?state=dead")
    assert answer.status_code == 303
    assert answer.headers["Location"] == "/ui/login?next=%2Fui%2Fjobs%3Fstate%3Ddead"
    api = await site.http.get("/jobs")
    assert api.status_code == 401  # the JSON API still answers as an API
    assert (await site.http.get("/ui/stream?page=overview")).status_code == 401


async def test_login_sets_an_httponly_strict_cookie_secure_over_tls(site: Site) -> None:
    form = {"token": site.tokens["read"], "next": "/ui/workers"}
    plain = await site.http.post("/ui/login", data=form)
    assert plain.status_code == 303
    assert plain.headers["Location"] == "/ui/workers"
    cookie = plain.headers["Set-Cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}={encode_session(site.tokens['read'])};")
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert "Path=/" in cookie
    assert "Secure" not in cookie
    tls = await site.https.post("/ui/login", data=form)
    assert "Secure" in tls.headers["Set-Cookie"]


async def test_login_refuses_an_unknown_token_a_foreign_origin_and_a_far_next(
    site: Site,
) -> None:
    wrong = await site.http.post("/ui/login", data={"token": "jq_nothing"})
    assert wrong.status_code == 401
    assert "that token is not valid" in wrong.text
    assert "set-cookie" not in wrong.headers
    foreign = await site.http.post(
        "/ui/login", data={"token": site.tokens["read"]}, headers={"Origin": "https://evil.test"}
    )
    assert foreign.status_code == 401
    assert "set-cookie" not in foreign.headers
    far = await site.http.post(
        "/ui/login", data={"token": site.tokens["read"], "next": "//evil.test/ui"}
    )
    assert far.headers["Location"] == "/ui"


async def test_logout_clears_the_cookie(site: Site) -> None:
    answer = await site.http.post("/ui/logout", headers=site.cookie("admin"))
    assert answer.status_code == 303
    assert answer.headers["Location"] == "/ui/login"
    cookie = answer.headers["Set-Cookie"]
    assert cookie.startswith(f'{SESSION_COOKIE}="";')
    assert "Max-Age=0" in cookie


async def test_the_cookie_authenticates_reads_of_the_json_api(site: Site) -> None:
    assert (await site.http.get("/jobs", headers=site.cookie("read"))).status_code == 200
    assert (await site.http.get("/dlq", headers=site.cookie("read"))).status_code == 200
    stale = {"Cookie": f"{SESSION_COOKIE}={encode_session('jq_revoked')}"}
    assert (await site.http.get("/jobs", headers=stale)).status_code == 401


async def test_a_change_by_cookie_needs_the_sessions_csrf_token(site: Site) -> None:
    cookie = site.cookie("admin")
    bare = await site.http.delete("/dlq", headers=cookie)
    assert bare.status_code == 403
    assert bare.json()["error"]["code"] == "csrf_failed"
    forged = await site.http.delete("/dlq", headers={**cookie, "X-CSRF-Token": "0" * 64})
    assert forged.status_code == 403
    other = csrf_token(site.tokens["read"])  # another session's token is no good either
    assert (
        await site.http.delete("/dlq", headers={**cookie, "X-CSRF-Token": other})
    ).status_code == 403
    good = {**cookie, "X-CSRF-Token": csrf_token(site.tokens["admin"])}
    assert (await site.http.delete("/dlq", headers=good)).status_code == 200


async def test_a_bearer_token_needs_no_csrf_token(site: Site) -> None:
    bearer = {"Authorization": f"Bearer {site.tokens['admin']}"}
    assert (await site.http.delete("/dlq", headers=bearer)).status_code == 200


async def test_the_page_carries_the_sessions_csrf_token(site: Site) -> None:
    html = (await site.http.get("/ui/dlq", headers=site.cookie("admin"))).text
    assert f'<meta name="csrf-token" content="{csrf_token(site.tokens["admin"])}">' in html


async def test_a_read_only_token_sees_no_action_buttons(site: Site) -> None:
    markers = ("bulk-action", "replay-all", "purge-all", "cancel-job", "retry-job", "select-all")
    for path in PAGES:
        read_only = (await site.http.get(path, headers=site.cookie("read"))).text
        assert not any(marker in read_only for marker in markers)
        assert 'data-can-admin="no"' in read_only
    admin = (await site.http.get("/ui/dlq", headers=site.cookie("admin"))).text
    assert "replay-all" in admin
    assert 'data-can-admin="yes"' in admin


async def test_the_audit_page_says_it_is_for_admins(site: Site) -> None:
    page = (await site.http.get("/ui/audit", headers=site.cookie("read"))).text
    assert "The audit log is for admins" in page
    assert "audit.js" not in page
    stream = await site.http.get("/ui/stream?page=audit", headers=site.cookie("read"))
    assert stream.status_code == 403


async def test_the_stream_refuses_an_unknown_page_kind(site: Site) -> None:
    answer = await site.http.get("/ui/stream?page=nope", headers=site.cookie("read"))
    assert answer.status_code == 400
    assert "page must be one of" in answer.json()["error"]["message"]


async def test_filters_and_ids_from_the_url_are_escaped(site: Site) -> None:
    cookie = site.cookie("read")
    jobs = (await site.http.get("/ui/jobs", params={"type": XSS, "id": XSS}, headers=cookie)).text
    assert "<script>window.__xss" not in jobs
    assert "&lt;script&gt;window.__xss=1&lt;/script&gt;" in jobs
    job = (await site.http.get(f"/ui/jobs/{quote(XSS_ID)}", headers=cookie)).text
    assert "<b>bold" not in job
    assert 'data-job-id="&#34;&gt;&lt;img src=x onerror=alert(1)&gt;&lt;b&gt;bold"' in job
    for html in (jobs, job):
        assert "<img src=x" not in html
        assert "&#34;&gt;" in html  # the quote cannot close an attribute


def test_the_scripts_never_write_html() -> None:
    scripts = sorted((STATIC / "js").glob("*.js"))
    assert len(scripts) == 8  # schedules.js the eighth
    for script in scripts:
        text = script.read_text(encoding="utf-8")
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
            assert sink not in text, f"{script.name} uses {sink}"


async def test_the_login_page_offers_no_sign_out(site: Site) -> None:
    page = (await site.http.get("/ui/login")).text
    assert 'name="token"' in page
    assert "Sign out" not in page
    signed_in = (await site.http.get("/ui", headers=site.cookie("read"))).text
    assert "Sign out" in signed_in
    assert '<span class="who">read</span>' in signed_in


async def test_with_auth_off_pages_open_and_the_login_steps_aside(broker: Broker) -> None:
    app = create_app(broker, InMemoryRegistry())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://dash.test") as client:
        login = await client.get("/ui/login?next=/ui/dlq")
        assert login.status_code == 303
        assert login.headers["Location"] == "/ui/dlq"
        page = await client.get("/ui/dlq")
        assert page.status_code == 200
        assert 'data-can-admin="yes"' in page.text
        assert "Sign out" not in page.text
        assert page.headers["Content-Security-Policy"].startswith("default-src 'none'")
