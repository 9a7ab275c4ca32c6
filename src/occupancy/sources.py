"""The raw sources of one pipeline run: which files, and the name each one carries.

A run treats one or more raw files (`occupancy step sources`, data_treatment_dag's `raw_uris`).
Each becomes a *source* with a short name that travels with its rows (the processed table's
`source` column), names its lake folder and its per-source metrics. The name comes from the
file, so that the same scrape gets the same name wherever it is read from:

    https://data.insideairbnb.com/united-states/nj/newark/2025-09-30/data/listings.csv.gz
                                                   -> newark_2025-09-30
    s3://occupancy-lake/raw/jersey-city_2025-09-25_listings.csv.gz -> jersey-city_2025-09-25
    /data/listings_big.csv                                          -> listings_big

A URI that ends with `/` (s3:// or file://) is a folder: every `.csv` or `.csv.gz` file under
it is a source, in key order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from urllib.parse import unquote, urlparse

from occupancy.download import is_http
from occupancy.errors import ConfigError, DataError
from occupancy.lake import Lake, split_uri

# Names are folder names, MLflow metric-key parts and pod-label-safe map indexes.
SOURCE_NAME_PATTERN = r"[a-z0-9][a-z0-9_.-]{0,62}"
_NAME = re.compile(SOURCE_NAME_PATTERN)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_RAW_SUFFIXES = (".csv.gz", ".csv")
DEFAULT_SOURCE_NAME = "listings"
# The file name Inside Airbnb gives every city's detailed listings.
_INSIDE_AIRBNB_FILE = "listings"


@dataclass(frozen=True)
class Source:
    """One raw file of a run and its name."""

    name: str
    uri: str


def check_source_name(name: str) -> str:
    """A source name is lower-case letters, digits, '_', '.' or '-' (at most 63)."""
    if not _NAME.fullmatch(name):
        raise ConfigError(
            f"invalid source name {name!r}: use 1-63 lower-case letters, digits, '_', '.' or '-', "
            "starting with a letter or digit"
        )
    return name


def source_name(uri: str) -> str:
    """The name of the raw file at `uri`: `<city>_<scrape date>` when the path tells both."""
    parts = [unquote(p) for p in PurePosixPath(urlparse(uri).path or uri).parts if p != "/"]
    if not parts:
        raise ConfigError(f"cannot name a source after {uri!r}: it has no file name")
    stem = _stem(parts[-1])
    # Inside Airbnb: .../<city>/<YYYY-MM-DD>/data/listings.csv.gz
    if stem == _INSIDE_AIRBNB_FILE and len(parts) >= 4 and _DATE.fullmatch(parts[-3]):
        stem = f"{parts[-4]}_{parts[-3]}"
    elif stem.endswith(f"_{_INSIDE_AIRBNB_FILE}") and _DATE.search(stem):
        stem = stem.removesuffix(f"_{_INSIDE_AIRBNB_FILE}")
    name = re.sub(r"[^a-z0-9_.-]+", "-", stem.lower()).strip("-_.")[:63]
    if not name:
        raise ConfigError(f"cannot name a source after {uri!r}: its file name has no letters")
    return check_source_name(name)


def name_or_default(uri: str) -> str:
    """`source_name(uri)`, or `listings` for a file whose name gives none (a run of one file)."""
    try:
        return source_name(uri)
    except ConfigError:
        return DEFAULT_SOURCE_NAME


def _stem(file_name: str) -> str:
    lowered = file_name.lower()
    for suffix in _RAW_SUFFIXES:
        if lowered.endswith(suffix):
            return file_name[: -len(suffix)]
    return file_name


def resolve_sources(uris: list[str], *, endpoint_url: str | None = None) -> list[Source]:
    """The sources the URIs name, folders expanded; refuses none, duplicates and name clashes."""
    if not uris:
        raise ConfigError("no raw sources given: name at least one raw file (path, s3:// or URL)")
    expanded: list[str] = []
    for uri in uris:
        expanded.extend(_expand(uri, endpoint_url) if _is_folder(uri) else [uri])
    sources: dict[str, Source] = {}
    for uri in expanded:
        source = Source(source_name(uri), uri)
        if (other := sources.get(source.name)) is not None:
            what = "is given twice" if other.uri == uri else f"and {other.uri} are both named"
            raise ConfigError(
                f"{uri} {what} {source.name!r}: every source of a run needs its own name "
                "(rename one of the files, or treat them in two runs)"
            )
        sources[source.name] = source
    return list(sources.values())


def _is_folder(uri: str) -> bool:
    return uri.endswith("/") and not is_http(uri)


def _expand(folder: str, endpoint_url: str | None) -> list[str]:
    """Every raw listings file under a lake folder, in key order."""
    split_uri(folder)  # refuses an unsupported scheme with its own sentence
    lake = Lake(folder.rstrip("/"), endpoint_url=endpoint_url)
    found = [
        lake.uri(key)
        for key in lake.list("")
        # Dot files are a writer's temporary files (`Lake.upload`), not sources.
        if key.lower().endswith(_RAW_SUFFIXES) and not key.rpartition("/")[2].startswith(".")
    ]
    if not found:
        raise DataError(f"no .csv or .csv.gz file under {folder}: nothing to treat")
    return found
