"""The documentation pages load everything from the API itself, and the package carries it."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from jobqueue.api.docs import STATIC_DIR

ROOT = Path(__file__).resolve().parents[2]
PACKAGE_DIR = ROOT / "src/jobqueue"
PAGES = ["/docs", "/redoc"]
CONTENT_TYPES = {
    ".js": ("text/javascript", "application/javascript"),
    ".css": ("text/css",),
    ".png": ("image/png",),
    ".json": ("application/json",),
}


def referenced_urls(page: str) -> list[str]:
    """What a page loads: its ``src``, ``href`` and ReDoc's ``spec-url``, and Swagger UI's
    ``url:`` (the OpenAPI document)."""
    attributes = re.findall(r'(?:src|href|spec-url)="([^"]*)"', page)
    return attributes + re.findall(r"\burl: '([^']*)'", page)


@pytest.mark.parametrize("path", PAGES)
async def test_docs_page_names_no_outside_host(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert re.findall(r"\w+://\S*", response.text) == []


@pytest.mark.parametrize("path", PAGES)
async def test_every_file_a_docs_page_loads_is_served_with_its_type(
    client: httpx.AsyncClient, path: str
) -> None:
    urls = referenced_urls((await client.get(path)).text)

    assert len(urls) >= 3  # the script, the favicon, the OpenAPI document; Swagger UI's css too
    for url in urls:
        response = await client.get(url)
        assert response.status_code == 200, url
        assert response.headers["content-type"].startswith(CONTENT_TYPES[Path(url).suffix]), url
        assert response.content, url


async def test_swagger_ui_loads_its_bundle_and_stylesheet(client: httpx.AsyncClient) -> None:
    urls = referenced_urls((await client.get("/docs")).text)

    assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in urls
    assert "/static/vendor/swagger-ui/swagger-ui.css" in urls


async def test_redoc_loads_its_standalone_bundle(client: httpx.AsyncClient) -> None:
    urls = referenced_urls((await client.get("/redoc")).text)

    assert "/static/vendor/redoc/redoc.standalone.js" in urls


async def test_swagger_ui_oauth2_redirect_page_is_served(client: httpx.AsyncClient) -> None:
    page = (await client.get("/docs")).text
    response = await client.get("/docs/oauth2-redirect")

    assert "window.location.origin + '/docs/oauth2-redirect'" in page
    assert response.status_code == 200
    assert "swaggerUIRedirectOauth2" in response.text


async def test_docs_page_under_a_root_path_loads_from_under_it(app: FastAPI) -> None:
    transport = httpx.ASGITransport(app=app, root_path="/queue")
    async with httpx.AsyncClient(transport=transport, base_url="http://jobqueue.test") as client:
        urls = referenced_urls((await client.get("/queue/docs")).text)
        home = await client.get("/queue/")
        for url in urls:
            assert (await client.get(url)).status_code == 200, url

    assert "/queue/static/vendor/swagger-ui/swagger-ui-bundle.js" in urls
    assert "/queue/openapi.json" in urls
    assert home.headers["location"] == "/queue/docs"


async def test_home_page_redirects_to_the_docs(client: httpx.AsyncClient) -> None:
    response = await client.get("/")

    assert response.status_code in (302, 307)
    assert response.headers["location"] == "/docs"


async def test_docs_pages_and_static_files_stay_out_of_the_schema(
    client: httpx.AsyncClient,
) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]

    assert [path for path in paths if path in ("/", "/docs", "/redoc")] == []
    assert [path for path in paths if path.startswith(("/docs/", "/static"))] == []


def test_every_vendored_file_is_in_the_package_data() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["package-data"]["jobqueue"]
    carried = {path for pattern in patterns for path in PACKAGE_DIR.glob(pattern)}
    vendored = {path for path in (STATIC_DIR / "vendor").rglob("*") if path.is_file()}

    assert vendored, "nothing vendored"
    assert sorted(vendored - carried) == []


def test_each_vendored_package_has_its_licence_beside_it() -> None:
    folders = [path for path in (STATIC_DIR / "vendor").iterdir() if path.is_dir()]

    assert sorted(folder.name for folder in folders) == ["redoc", "swagger-ui"]
    for folder in folders:
        assert (folder / "LICENSE").read_text().strip(), folder
