"""Raw data from where it lives: an `http(s)://` file (an Inside Airbnb link) streamed to disk.

`download(url, target)` writes the response body to `target` block by block (never whole in
memory) while it hashes and counts it, and turns every way a download goes wrong into one
sentence naming the URL:

- an answer that can never be right — a 4xx status, an HTML page (a portal's error or login
  page with status 200), a body over the size limit, a gzip file that ends before its end marker
  — is a `DataError` at once: a retry would get the same answer;
- a transient failure — no connection, a timeout, a connection dropped mid-body, 408, 429 or a
  5xx — is retried with back-off, up to `attempts` tries; a dropped body resumes where it stopped
  when the server honours `Range` for the same version of the file (`If-Range` with its ETag or
  Last-Modified), and starts over otherwise. After the last try it is a `LakeError` (exit 1:
  the orchestrator may retry the step later).

`target` is complete when `download` returns, and absent when it raises.
"""

from __future__ import annotations

import hashlib
import logging
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from occupancy.config import Settings
from occupancy.errors import DataError, LakeError

if TYPE_CHECKING:
    import requests

log = logging.getLogger(__name__)

_BLOCK = 1 << 20
_GZIP_MAGIC = b"\x1f\x8b"
_TRANSIENT_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
_HTML_STARTS = (b"<!doctype html", b"<html", b"<head", b"<body", b"<?xml")


def is_http(uri: str) -> bool:
    """Whether `uri` is fetched over HTTP(S) rather than opened in place."""
    return uri.lower().startswith(("http://", "https://"))


@dataclass(frozen=True)
class DownloadLimits:
    """How much, how long and how often (settings `OCCUPANCY_DOWNLOAD_*`)."""

    max_bytes: int = 2 << 30  # 2 GiB: the largest Inside Airbnb listings file is ~100 MB gzip
    timeout_seconds: float = 60.0  # connecting, and between two blocks of the body
    attempts: int = 4
    backoff_seconds: float = 2.0  # doubled after each failed try, at most 30 s


def limits_from(settings: Settings) -> DownloadLimits:
    """The limits `OCCUPANCY_DOWNLOAD_MAX_BYTES`, `_TIMEOUT_SECONDS` and `_ATTEMPTS` set."""
    return DownloadLimits(
        max_bytes=settings.download_max_bytes,
        timeout_seconds=settings.download_timeout_seconds,
        attempts=settings.download_attempts,
    )


@dataclass(frozen=True)
class Downloaded:
    path: Path
    digest: str  # as `occupancy.digest.file_digest` gives it
    bytes: int
    attempts: int


class _TransientError(Exception):
    """This try failed in a way the next may not."""


class _Body:
    """The file being written: its bytes so far, their hash, and the server's version of it."""

    def __init__(self, target: Path) -> None:
        self.target = target
        self.partial = target.with_name(target.name + ".partial")
        self.received = 0
        self.sha = hashlib.sha256()
        self.validator: str | None = None  # ETag or Last-Modified of what was received

    def restart(self) -> None:
        self.partial.unlink(missing_ok=True)
        self.received = 0
        self.sha = hashlib.sha256()
        self.validator = None


def download(
    url: str,
    target: Path,
    limits: DownloadLimits = DownloadLimits(),
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> Downloaded:
    """Fetch `url` into `target` (see the module's docstring); `sleep` waits between tries."""
    import requests

    body = _Body(target)
    delay = limits.backoff_seconds
    try:
        with requests.Session() as session:
            for attempt in range(1, limits.attempts + 1):
                try:
                    _try(session, url, body, limits)
                except (_TransientError, requests.ConnectionError, requests.Timeout) as exc:
                    reason = _reason(exc)
                    if attempt == limits.attempts:
                        raise LakeError(
                            f"{url} could not be downloaded in {limits.attempts} tries "
                            f"(last: {reason}); {body.received:,} bytes received"
                        ) from None
                    log.warning(
                        "download: try %d of %d of %s failed (%s); again in %.0f s%s",
                        attempt,
                        limits.attempts,
                        url,
                        reason,
                        delay,
                        f", resuming at byte {body.received:,}" if body.validator else "",
                    )
                    sleep(delay)
                    delay = min(delay * 2, 30.0)
                    continue
                _check_content(url, body.partial)
                body.partial.replace(target)
                return Downloaded(target, body.sha.hexdigest()[:16], body.received, attempt)
    except BaseException:
        body.partial.unlink(missing_ok=True)
        raise
    raise AssertionError("unreachable: the last try returns or raises")  # pragma: no cover


def _try(session: requests.Session, url: str, body: _Body, limits: DownloadLimits) -> None:
    """One request: resume `body` if it can, else start it over; raise _TransientError to retry."""
    import requests
    from urllib3.exceptions import HTTPError as TransportError

    headers = {"Accept-Encoding": "identity", "User-Agent": "occupancy (listings download)"}
    resuming = body.received > 0 and body.validator is not None
    if resuming:
        headers["Range"] = f"bytes={body.received}-"
        headers["If-Range"] = str(body.validator)
    elif body.received:
        body.restart()  # a dropped body the server cannot resume: from the start
    timeout = (min(limits.timeout_seconds, 30.0), limits.timeout_seconds)
    with session.get(url, headers=headers, stream=True, timeout=timeout) as response:
        status = response.status_code
        if status in _TRANSIENT_STATUSES:
            raise _TransientError(f"HTTP {status} {response.reason}")
        if status >= 400 or status not in (200, 206):
            raise DataError(
                f"{url} answered HTTP {status} {response.reason}: not a listings file "
                "(check the link; Inside Airbnb's change with every scrape)"
            )
        if status == 200 and body.received:
            body.restart()  # Range ignored, or the file changed since: its whole body again
        if status == 206 and not response.headers.get("Content-Range", "").startswith(
            f"bytes {body.received}-"
        ):
            body.restart()  # a range other than the one asked for: nothing to append it to
            raise _TransientError(
                f"asked for bytes {body.received:,}- and got {response.headers.get('Content-Range')}"
            )
        content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if content_type in ("text/html", "application/xhtml+xml"):
            raise DataError(
                f"{url} answered an HTML page (Content-Type {content_type}), not a listings "
                "CSV: the link may point to a web page or need a login"
            )
        length = response.headers.get("Content-Length")
        expected = body.received + int(length) if length and length.isdigit() else None
        if expected is not None and expected > limits.max_bytes:
            raise DataError(_too_big(url, expected, limits))
        body.validator = response.headers.get("ETag") or response.headers.get("Last-Modified")
        if body.validator and body.validator.startswith("W/"):
            body.validator = None  # a weak ETag cannot guard a byte range (RFC 9110 13.1.5)
        with body.partial.open("ab") as out:
            try:
                for block in response.raw.stream(_BLOCK, decode_content=False):
                    body.received += len(block)
                    if body.received > limits.max_bytes:
                        raise DataError(_too_big(url, body.received, limits))
                    out.write(block)
                    body.sha.update(block)
            except (requests.ConnectionError, requests.Timeout, TransportError) as exc:
                # urllib3's own, mid-body: a cut connection (IncompleteRead), a read timeout.
                raise _TransientError(_reason(exc)) from None
        if expected is not None and body.received < expected:
            raise _TransientError(
                f"the connection closed after {body.received:,} of {expected:,} bytes"
            )


def _check_content(url: str, path: Path) -> None:
    """Refuse what no retry fixes: an empty body, an HTML page, a gzip file cut short."""
    with path.open("rb") as handle:
        head = handle.read(512)
    if not head:
        raise DataError(f"{url} answered an empty body, not a listings CSV")
    if head[:2] != _GZIP_MAGIC:
        if head.lstrip().lower().startswith(_HTML_STARTS):
            raise DataError(f"{url} answered an HTML page, not a listings CSV")
        return
    # Decompressed block by block and thrown away: only whether every member is whole matters.
    decompressor = zlib.decompressobj(wbits=31)
    in_member = False
    with path.open("rb") as handle:
        try:
            for block in iter(lambda: handle.read(_BLOCK), b""):
                data = block
                while data:
                    if not in_member:
                        data = data.lstrip(b"\0")  # zero padding after the last member
                        if not data:
                            break
                    in_member = True
                    decompressor.decompress(data, _BLOCK)
                    data = decompressor.unconsumed_tail
                    if decompressor.eof:  # RFC 1952 allows several members, one after another
                        data = decompressor.unused_data
                        decompressor = zlib.decompressobj(wbits=31)
                        in_member = False
        except zlib.error as exc:
            raise DataError(f"{url} is a corrupt gzip file ({exc})") from None
    if in_member:
        raise DataError(
            f"{url} is a truncated gzip file: it ends before its end-of-stream marker "
            "(the server sent part of the file)"
        )


def _too_big(url: str, size: int, limits: DownloadLimits) -> str:
    return (
        f"{url} is over the download limit: {size:,} bytes, more than "
        f"OCCUPANCY_DOWNLOAD_MAX_BYTES={limits.max_bytes:,}"
    )


def _reason(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) < 200 else text[:200] + "…"
