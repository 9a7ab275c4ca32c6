"""Every response carries the security headers; the docs pages a CSP that still runs their UI."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest
from api_fakes import post_over_the_body_limit

FIXED = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}
CDN = "https://cdn.jsdelivr.net"


def _directives(policy: str) -> dict[str, list[str]]:
    parts = (d.split() for d in policy.split(";") if d.strip())
    return {name: values for name, *values in parts}


@pytest.mark.parametrize("path", ["/health/live", "/model", "/metrics", "/docs", "/redoc"])
def test_every_response_carries_nosniff_deny_frames_and_no_referrer(client, path) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert {k: response.headers.get(k) for k in FIXED} == FIXED
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


def test_a_json_answer_may_load_nothing(client) -> None:
    policy = _directives(client.get("/health/live").headers["content-security-policy"])
    assert policy["default-src"] == ["'none'"]


def test_a_refused_body_carries_the_headers_too(client) -> None:
    response = post_over_the_body_limit(client)
    assert response.status_code == 413
    assert {k: response.headers.get(k) for k in FIXED} == FIXED


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_the_docs_csp_allows_the_cdn_and_exactly_the_pages_inline_scripts(client, path) -> None:
    response = client.get(path)
    policy = _directives(response.headers["content-security-policy"])
    sources = re.findall(r'<script src="([^"]+)"', response.text)
    assert sources and all(source.startswith(f"{CDN}/") for source in sources)
    inline = re.findall(r"<script>(.*?)</script>", response.text, re.S)
    hashes = [
        f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'" for s in inline
    ]
    assert sorted(policy["script-src"]) == sorted([CDN, *hashes])
    assert policy["default-src"] == ["'none'"]
    assert policy["connect-src"] == ["'self'"]  # the UI fetches /openapi.json and nothing else
    assert CDN in policy["style-src"]
    assert int(response.headers["content-length"]) == len(response.content)


def test_the_swagger_page_has_one_inline_script_and_its_hash(client) -> None:
    response = client.get("/docs")
    assert len(re.findall(r"<script>", response.text)) == 1
    assert "'sha256-" in response.headers["content-security-policy"]
