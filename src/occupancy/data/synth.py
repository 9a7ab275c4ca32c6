"""Synthetic Inside Airbnb "detailed listings" CSV in the 79-column schema, streamed chunk by chunk.

The occupancy target comes from a noisy latent score of cold-start features only; the leak columns
(reviews, availability, revenue) are derived from the target the way Inside Airbnb derives them.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from occupancy.atomic import atomic_write
from occupancy.data.schema import RAW_COLUMN_NAMES

log = logging.getLogger(__name__)

# fmt: off
# Every marginal below was calibrated on the real Newark (2025-09-30) and Jersey City (2025-09-25)
# scrapes and is hard-coded, so the generator never reads those files at runtime.
_SCRAPE = np.datetime64("2025-09-30", "D")
_SCRAPE_ID = 20250930030606
_BLOCK_ROWS = 10_000  # rows per independent RNG stream, so the output does not depend on chunk_rows
_MAX_ROWS = 20_000_000  # keeps the listing-id ranges below disjoint and inside int64
# Listings per host in Newark (1872 listings, 661 hosts): (listings, number of hosts).
_HOST_SIZES = (
    (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 18, 19, 22, 24, 33, 38, 40, 70),
    (354, 120, 55, 40, 18, 11, 14, 10, 11, 7, 1, 3, 2, 1, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1),
)
_ROOMS = ("Entire home/apt", "Private room", "Shared room", "Hotel room")
_ROOM_EFFECT = np.array([0.25, -0.1, -0.3, 0.1])
_ROOM_PRICE = np.log([110.0, 55.0, 35.0, 130.0])  # median nightly price for two guests
_PROPERTIES = (  # (property_type, room index, share, occupancy effect)
    ("Entire rental unit", 0, 0.346, 0.0), ("Private room in home", 1, 0.275, 0.0),
    ("Private room in rental unit", 1, 0.181, 0.05), ("Entire home", 0, 0.108, 0.1),
    ("Shared room in rental unit", 2, 0.012, 0.0), ("Shared room in home", 2, 0.011, -0.1),
    ("Entire condo", 0, 0.02, 0.2), ("Private room in guesthouse", 1, 0.009, 0.0),
    ("Entire guest suite", 0, 0.009, 0.3), ("Entire townhouse", 0, 0.01, 0.1),
    ("Private room in bed and breakfast", 1, 0.006, -0.3), ("Entire loft", 0, 0.005, 0.2),
    ("Private room in townhouse", 1, 0.006, 0.0), ("Entire serviced apartment", 0, 0.015, 0.4),
    ("Room in hotel", 3, 0.008, 0.2), ("Entire guesthouse", 0, 0.003, 0.1),
    ("Tiny home", 0, 0.002, 0.2), ("Camper/RV", 0, 0.002, -0.4),
    ("Private room in condo", 1, 0.005, 0.0), ("Private room", 1, 0.004, -0.2),
)
_GUESTS = (  # accommodates per room type: (values, shares)
    ((1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 16), (3, 22, 7, 25, 8, 18, 5, 7, 3, 1, 1)),
    ((1, 2, 3, 4), (27, 63, 5, 5)), ((1, 2, 4, 6), (50, 30, 15, 5)), ((2, 3, 4), (75, 10, 15)),
)
_HOODS = (  # (ward, share, latitude, longitude, spread in degrees, occupancy effect)
    ("South", 0.307, 40.7141, -74.2073, 0.0085, -0.05),
    ("Central", 0.243, 40.7436, -74.1811, 0.0095, 0.1),
    ("West", 0.182, 40.7439, -74.2096, 0.011, -0.2),
    ("East", 0.164, 40.7275, -74.1599, 0.007, 0.35),
    ("North", 0.104, 40.7716, -74.1708, 0.008, -0.15),
)
_MIN_NIGHTS = ((1, 2, 3, 4, 5, 6, 7, 10, 14, 15, 20, 28, 29, 30, 31, 60, 90, 365),
               (425, 254, 116, 29, 26, 3, 13, 3, 19, 2, 3, 11, 28, 50, 5, 1, 2, 1))
_MAX_NIGHTS = ((365, 1125, 28, 30, 180, 360, 90, 21, 730, 120, 60, 14, 7),
               (497, 119, 76, 49, 44, 27, 25, 19, 12, 11, 10, 7, 5))
_AMENITIES = (  # (amenity, share of listings)
    ("Smoke alarm", 0.97), ("Wifi", 0.95), ("Carbon monoxide alarm", 0.92), ("Kitchen", 0.91),
    ("Fire extinguisher", 0.84), ("Hot water", 0.8), ("TV", 0.73), ("Iron", 0.72),
    ("Exterior security cameras on property", 0.72), ("Air conditioning", 0.72),
    ("Dishes and silverware", 0.71), ("Cooking basics", 0.71), ("Microwave", 0.7),
    ("Self check-in", 0.69), ("Hangers", 0.68), ("Dedicated workspace", 0.68), ("Bed linens", 0.67),
    ("Refrigerator", 0.65), ("First aid kit", 0.61), ("Hair dryer", 0.61), ("Essentials", 0.61),
    ("Free street parking", 0.54), ("Heating", 0.52), ("Shampoo", 0.5), ("Dining table", 0.49),
    ("Freezer", 0.48), ("Bathtub", 0.47), ("Cleaning products", 0.47),
    ("Long term stays allowed", 0.46), ("Extra pillows and blankets", 0.44), ("Shower gel", 0.43),
    ("Body soap", 0.42), ("Toaster", 0.41), ("Coffee", 0.41), ("Wine glasses", 0.4), ("Oven", 0.39),
    ("Lock on bedroom door", 0.39), ("Hot water kettle", 0.39), ("Conditioner", 0.37),
    ("Coffee maker", 0.36), ("Room-darkening shades", 0.36), ("Stove", 0.35), ("Dishwasher", 0.33),
    ("Laundromat nearby", 0.33), ("Free parking on premises", 0.31), ("Washer", 0.31),
    ("Private entrance", 0.31), ("Keypad", 0.29), ("Blender", 0.28), ("Central heating", 0.27),
    ("Smart lock", 0.26), ("Pets allowed", 0.22), ("Luggage dropoff allowed", 0.21),
    ("Baking sheet", 0.19), ("Dryer", 0.14), ("Lockbox", 0.13), ("Ethernet connection", 0.13),
    ("Free dryer – In unit", 0.12), ("Central air conditioning", 0.12), ("Backyard", 0.11),
    ("Board games", 0.11), ("Outdoor furniture", 0.1), ("Children’s dinnerware", 0.06),
    ("Patio or balcony", 0.05),
)
_AMENITY_EFFECT = {"Wifi": 0.3, "Self check-in": 0.25, "Dedicated workspace": 0.15,
                   "Air conditioning": 0.15, "Free parking on premises": 0.2, "Pets allowed": 0.1,
                   "Lock on bedroom door": -0.1}
_HOST_YEARS = (range(2009, 2026),
               (2, 1, 6, 6, 24, 52, 147, 151, 110, 144, 224, 146, 96, 223, 218, 223, 99))
_RESPONSE_TIMES = ("within an hour", "within a few hours", "within a day", "a few days or more")
_RESPONSE_SHARES = (0.731, 0.083, 0.083, 0.045, 0.058)  # the last one: no response time ("N/A")
_VERIFICATIONS = (("['email', 'phone']", "['phone']", "['email', 'phone', 'work_email']",
                   "['phone', 'work_email']"), (0.814, 0.136, 0.046, 0.004))
_LOCATIONS = (("Newark, NJ", "New York, NY", "Baltimore, MD", "New Jersey, United States",
               "Jersey City, NJ", "New York, United States", "East Orange, NJ", "Union, NJ",
               "Hackensack, NJ", "Miami, FL"), (50, 13, 6, 5, 3, 3, 1, 1, 1, 1))
_HOST_HOODS = ("Weequahic", "North Ironbound", "Fairmount", "West Side", "South Broad Street",
               "Central Ward", "Upper Clinton Hill", "University Heights", "Forest Hill", "Dayton",
               "Lower Roseville", "Mount Pleasant/Lower Broadway", "Lower Vailsburg",
               "South Ironbound")
_FIRST_NAMES = ("Freddy", "Kimberly", "Tendai", "Courtney", "Aj", "Kareem", "Maite", "Michelle",
                "Joe", "Alfred", "Oluwatosin", "Donell", "Ashley", "Karen", "Carlos", "Maria",
                "Jose", "Luis", "Ana", "David", "Sarah", "Michael", "Jennifer", "Chris", "Jessica",
                "Daniel", "Tiffany", "Kevin", "Priya", "Raj", "Wei", "Fatima", "Ahmed", "Chinedu",
                "Ngozi", "Marcus", "Keisha", "Andre", "Sofia", "Miguel", "Rosa", "Tyrone",
                "Latoya", "Olga", "Ivan", "Nadia", "Grace", "Samuel")
_BUSINESS_NAMES = ("Blueground", "Sonder", "CozySerenity", "Annwins Place", "Urban Nest Stays",
                   "Luxe Living NJ", "Brick City Homes", "Mushaindoro Hospitality",
                   "Ironbound Suites")
_NAME_ADJ = ("Cozy", "Modern", "Spacious", "Bright", "Charming", "Elegant", "Stylish", "Quiet",
             "Sunny", "Luxury", "Renovated", "Private", "Comfy", "Chic", "Lovely", "NEW",
             "Historic")
_NAME_UNITS = (("Studio", "1BR Apartment", "2BR Apartment", "3BR Home", "Loft", "Townhouse",
                "Condo", "Guest Suite", "Duplex", "Apt w/ Parking"),
               ("Private Room", "Bedroom", "Room w/ Private Bath", "Queen Room", "Master Bedroom"),
               ("Shared Room", "Bunk in Shared Room", "Shared Space"),
               ("Hotel Room", "King Room", "Double Queen Room"))
_NAME_HOOKS = ("Near NYC", "10 min to EWR", "Close to Penn Station", "Free Parking",
               "by NJIT & Rutgers", "Near Prudential Center", "in the Ironbound", "w/ Workspace",
               "Near Downtown", "Steps to Light Rail", "30 min to NYC", "with Backyard",
               "& Fast Wifi", "Near EWR/NYC/MetLife")
_DESC = (
    "Welcome to your home away from home!",
    "Enjoy a peaceful, clean, and quiet stay with quick access to city life.",
    "Perfect for families, groups, or business travelers.",
    "Just minutes from the Prudential Center, Branch Brook Park, and The Newark Museum of Art.",
    "Newark Airport is only 10 minutes away, and NYC Penn Station is 20 minutes by train.",
    'Known as one of the "best places to live in NJ", the area is safe, green and friendly.',
    "The kitchen is fully equipped with pots, pans, dishes, and a coffee maker.",
    "Fast WiFi and a dedicated workspace make it ideal for remote work.",
    "Free street parking is available right in front of the house.",
    'Guests love our "home-cooked breakfast" corner, with coffee, tea and snacks.',
    "The bedroom has a comfortable queen bed, fresh linens, and plenty of closet space.",
    "Walking distance to supermarkets, restaurants, cafes, and the light rail.",
    "Self check-in with a smart lock, so you can arrive at any time.",
    "Great for interns, medical students, and nurses on rotation.",
    "This is a non-smoking property; no parties or events, please.",
    "The living room has a large smart TV, a sofa bed, and a dining table for four.",
    "Washer and dryer are available in the building.",
    "Close to Seton Hall, Rutgers, NJIT, and University Hospital.",
)
_OVERVIEW = (
    "The neighborhood is quiet and residential, with friendly neighbors.",
    "Ironbound is famous for its Portuguese and Brazilian restaurants.",
    "Branch Brook Park, home of the largest cherry blossom collection in the US, is nearby.",
    "You are a short walk from grocery stores, pharmacies, laundromats, and coffee shops.",
    'Locals call it "the Brick City", and it has a great food and arts scene.',
    "Public transportation to NYC is just around the corner.",
)
_ABOUT = (
    "Hi there! We love traveling and meeting people from all over the world.",
    "I am a Newark native and happy to share tips about the city.",
    "Superhost-minded: clean, responsive, and always available.",
    "We are a small family business managing a few homes in Essex County, NJ.",
    "Architect, cook, and wine collector; I love design and travel.",
    'Our motto is "treat every guest like family".',
)
_SEPARATORS = ((" ", "<br /><br />", "<br />", "\n", "\n\n"), (0.8, 0.12, 0.05, 0.015, 0.015))
_SCORES = (("rating", 0.0), ("accuracy", 0.05), ("cleanliness", 0.0), ("checkin", 0.1),
           ("communication", 0.1), ("location", -0.2), ("value", -0.05))
_BATH_TEXT = tuple(  # indexed by kind (0 plain, 1 shared, 2 private) * 13 + number of half baths
    ("Half-bath", "Shared half-bath", "Private half-bath")[kind] if halves == 1
    else f"{halves / 2:g} {('', 'shared ', 'private ')[kind]}{'bath' if halves == 2 else 'baths'}"
    for kind in range(3) for halves in range(13)
)
# The latent score is mapped to wanted nights piecewise-linearly; these knots give Newark's classes.
_Z_KNOTS, _NIGHT_KNOTS = (-3.0, 0.36, 1.22, 2.02, 2.92, 8.0), (0.0, 3.0, 33.0, 123.0, 255.0, 400.0)
_FREE_TEXT = frozenset({"name", "description", "neighborhood_overview", "host_about"})
_INITIALS = tuple(f" {chr(c)}" for c in range(ord("A"), ord("Z") + 1))
_NULL = pa.scalar(None, pa.string())
_PICTURES = "https://a0.muscache.com/pictures/"
_UUID_POSITIONS = np.r_[0:8, 9:13, 14:18, 19:23, 24:36]
# fmt: on


def write_synthetic_file(out: Path, rows: int, seed: int) -> Path:
    """Write `rows` synthetic listings to `out` atomically, logging progress; returns `out`."""
    out.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()

    def progress(done: int) -> None:
        log.info("synth: %s of %s listings written", f"{done:,}", f"{rows:,}")

    write_synthetic_listings(out, rows, seed, on_progress=progress)
    log.info("synth: %s listings in %.1f s -> %s", f"{rows:,}", time.perf_counter() - started, out)
    return out


def write_synthetic_listings(
    out: str | os.PathLike[str] | BinaryIO,
    rows: int,
    seed: int = 42,
    *,
    chunk_rows: int = 50_000,
    on_progress: Callable[[int], None] | None = None,
) -> None:
    """Write `rows` synthetic listings as CSV (header + rows) to a path or binary stream.

    A path is written atomically, gzip-compressed when it ends in `.gz`.
    """
    if rows < 1:
        raise ValueError(f"rows must be at least 1, got {rows}.")
    if rows > _MAX_ROWS:
        raise ValueError(f"rows must be at most {_MAX_ROWS:,}, got {rows:,}.")
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be at least 1, got {chunk_rows}.")
    if seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed}.")
    if not isinstance(out, str | os.PathLike):
        _write_rows(out, rows, seed, chunk_rows, on_progress)
        return
    with atomic_write(Path(out)) as tmp, open(tmp, "wb") as raw:
        if not os.fspath(out).endswith(".gz"):
            _write_rows(raw, rows, seed, chunk_rows, on_progress)
            return
        # Level 6 as gzip(1); mtime=0 and no file name in the header keep the bytes reproducible.
        with gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6, filename="", mtime=0) as zipped:
            _write_rows(zipped, rows, seed, chunk_rows, on_progress)


def _write_rows(
    sink: BinaryIO | gzip.GzipFile,
    rows: int,
    seed: int,
    chunk_rows: int,
    on_progress: Callable[[int], None] | None,
) -> None:
    """Stream the header, then the rows chunk by chunk, holding at most one generated block."""
    sink.write((",".join(RAW_COLUMN_NAMES) + "\n").encode())
    cached: tuple[int, pa.Array] | None = None
    written = 0
    while written < rows:
        end = min(rows, written + chunk_rows)
        for block in range(written // _BLOCK_ROWS, (end - 1) // _BLOCK_ROWS + 1):
            first = block * _BLOCK_ROWS
            if cached is None or cached[0] != block:
                cached = (block, _block_lines(seed, block, min(_BLOCK_ROWS, rows - first)))
            lo, hi = max(written, first) - first, min(end, first + _BLOCK_ROWS) - first
            sink.write(_utf8(cached[1].slice(lo, hi - lo)))
        written = end
        if on_progress is not None:
            on_progress(written)


def _utf8(lines: pa.Array) -> memoryview:
    """The UTF-8 bytes of a (sliced) string array, without copying."""
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32)
    start, stop = offsets[lines.offset], offsets[lines.offset + len(lines)]
    return memoryview(lines.buffers()[2])[start:stop]


def _block_lines(seed: int, block: int, n: int) -> pa.Array:
    """One block of CSV lines, each ending in a newline, from its own RNG stream."""
    rng = np.random.default_rng([seed, block])
    d = _hosts(rng, n, block * _BLOCK_ROWS)
    _listings(rng, d)
    _target(rng, d)
    _history(rng, d)
    columns = _columns(rng, d, block * _BLOCK_ROWS)
    # Only free text can hold commas, quotes or newlines; other columns are built CSV-safe.
    cells = [_quoted(columns[c]) if c in _FREE_TEXT else columns[c] for c in RAW_COLUMN_NAMES]
    last = _join(pc.fill_null(cells[-1], ""), "\n")
    return pc.binary_join_element_wise(*cells[:-1], last, ",", null_handling="replace")


def _pick(rng: np.random.Generator, shares: Any, n: int) -> np.ndarray:
    """Indices drawn with the given (unnormalized) shares."""
    p = np.asarray(shares, dtype=float)
    return rng.choice(len(p), size=n, p=p / p.sum())


def _hosts(rng: np.random.Generator, n: int, g0: int) -> dict[str, Any]:
    """Hosts with Newark's listings-per-host spread, all inside this block, expanded to rows."""
    sizes = np.array(_HOST_SIZES[0])[_pick(rng, _HOST_SIZES[1], n)]
    ends = np.cumsum(sizes)
    m = int(np.searchsorted(ends, n)) + 1
    sizes = sizes[:m].copy()
    sizes[-1] -= ends[m - 1] - n
    year_start = (np.array(_HOST_YEARS[0])[_pick(rng, _HOST_YEARS[1], m)] - 1970).astype("M8[Y]")
    days_ago = (_SCRAPE - year_start.astype("M8[D]")).astype(int)
    response = _pick(rng, _RESPONSE_SHARES, m)
    pro = sizes >= 5
    h = {
        "host_row": g0 + np.concatenate(([0], np.cumsum(sizes)[:-1])),
        "since": days_ago - (rng.random(m) * np.minimum(365, days_ago - 7)).astype(int),
        "superhost": (rng.random(m) < 0.15 + 0.22 * (response == 0)).astype(int),
        "superhost_missing": rng.random(m) < 0.028,
        "response": response,
        "response_rate": np.where(
            rng.random(m) < 0.72, 100, 100 * rng.beta(np.array([6, 3, 2, 0.8, 1])[response], 1)
        ),
        "acceptance_rate": np.where(rng.random(m) < 0.3, 100, 100 * rng.beta(2.5, 0.7, m)),
        "acceptance_missing": rng.random(m) < 0.034,
        "listings_count": sizes + np.where(rng.random(m) < 0.3, rng.geometric(0.3, m), 0),
        "extra_total": np.where(rng.random(m) < 0.4, rng.geometric(0.2, m), 0),
        "pro": pro,
        "host_effect": rng.normal(0, 0.3, m),  # unobserved host quality, shared by its listings
        "name": np.where(
            rng.random(m) < 0.04 + 0.4 * pro,
            len(_FIRST_NAMES) + rng.integers(0, len(_BUSINESS_NAMES), m),
            rng.integers(0, len(_FIRST_NAMES), m),
        ),
        "initial": np.where(rng.random(m) < 0.15, rng.integers(0, 26, m), -1),
        "location": np.where(rng.random(m) < 0.38, -1, _pick(rng, _LOCATIONS[1], m)),
        "host_hood": np.where(rng.random(m) < 0.067, -1, rng.integers(0, len(_HOST_HOODS), m)),
        "verifications": _pick(rng, _VERIFICATIONS[1], m),
        "profile_pic": (rng.random(m) < 0.94).astype(int),
        "identity": (rng.random(m) < 0.856).astype(int),
    }
    host = np.repeat(np.arange(m), sizes)
    d: dict[str, Any] = {key: value[host] for key, value in h.items()}
    d["host"], d["calc"] = host, sizes[host]
    # Host text is drawn once per host so that every listing of a host repeats it verbatim.
    about = _text(rng, _ABOUT, _sentence_picks(rng, m, len(_ABOUT), 3, missing=0.56))
    d["about"], d["avatar"] = about.take(host), _uuids(rng, m).take(host)
    return d


def _listings(rng: np.random.Generator, d: dict[str, Any]) -> None:
    """What each listing is: place, type, size, amenities, price and booking rules."""
    n = len(d["host"])
    prop = _pick(rng, [p[2] for p in _PROPERTIES], n)
    room = np.array([p[1] for p in _PROPERTIES])[prop]
    guests = np.zeros(n, dtype=np.int64)
    for r, (values, shares) in enumerate(_GUESTS):
        guests[room == r] = np.array(values)[_pick(rng, shares, int((room == r).sum()))]
    entire = room == 0
    bedrooms = np.where(entire, np.clip(np.round(guests / 2 + rng.normal(0, 0.5, n)), 0, 10), 1)
    baths = np.clip(np.round(0.45 * bedrooms + 0.5 + rng.normal(0, 0.35, n)), 1, 6)
    baths = np.where(entire, baths + 0.5 * (rng.random(n) < 0.1), 1.0)
    odd = ~entire & (rng.random(n) < 0.15)
    baths[odd] = rng.choice([0.5, 1.5, 2.0, 2.5], int(odd.sum()), p=[0.1, 0.3, 0.45, 0.15])
    share = np.array([a[1] for a in _AMENITIES])
    richness = np.clip(rng.normal(-0.7, 1.0, n), -2.5, 2)  # some hosts list much more than others
    has = rng.random((n, len(share))) < 1 / (
        1 + np.exp(-(np.log(share / (1 - share)) + richness[:, None]))
    )
    # How over- or under-priced a listing is; about 1% ask far more than the market pays.
    price_resid = rng.normal(0, 0.42, n) + (rng.random(n) < 0.01) * rng.uniform(1.5, 3, n)
    expected = _ROOM_PRICE[room] + 0.11 * (np.minimum(guests, 10) - 2)
    d.update(
        hood=_pick(rng, [h[1] for h in _HOODS], n), prop=prop, room=room, guests=guests,
        bedrooms=bedrooms, beds=np.maximum(1, bedrooms + rng.poisson(0.3 * bedrooms)), baths=baths,
        bath_kind=np.where(entire, 0, np.where((room == 1) & (rng.random(n) < 0.2), 2, 1)),
        has=has, price_resid=price_resid, price_missing=rng.random(n) < 0.085,
        price=np.clip(np.round(np.exp(expected + price_resid)), 13, 25_000).astype(np.int64),
        min_nights=np.array(_MIN_NIGHTS[0])[_pick(rng, _MIN_NIGHTS[1], n)],
        instant=(rng.random(n) < 0.24 + 0.15 * d["pro"]).astype(int),
        listing_days=7 + (rng.random(n) ** 0.7 * (d["since"] - 7)).astype(int),
    )  # fmt: skip


def _target(rng: np.random.Generator, d: dict[str, Any]) -> None:
    """Occupancy from a latent score of cold-start features plus host-level and listing noise."""
    nights, years = d["min_nights"], d["since"] / 365
    z = (
        _ROOM_EFFECT[d["room"]]
        + np.array([p[3] for p in _PROPERTIES])[d["prop"]]
        + np.array([h[5] for h in _HOODS])[d["hood"]]
        - 1.0 * d["price_resid"]
        - 0.7 * d["price_missing"]  # a listing without a price is often inactive
        + np.select([nights <= 3, nights <= 7, nights < 28], [0.0, -0.25, -0.7], -0.45)
        + 0.4 * d["instant"]
        + np.where(d["superhost_missing"], -0.4, 0.8 * d["superhost"])
        + np.where(d["response"] < 4, 1.2 * (d["response_rate"] / 100 - 0.9), -0.6)
        + 0.025 * (d["has"].sum(axis=1) - 21)
        + d["has"] @ np.array([_AMENITY_EFFECT.get(a[0], 0.0) for a in _AMENITIES])
        + 0.15 * np.log(d["listings_count"])  # professional hosts fill their calendars
        + np.where(years < 1, -0.5, 0.04 * np.minimum(years, 8))
        + d["host_effect"]
        + rng.normal(0, 0.45, len(nights))
    )
    # Inside Airbnb's estimate: reviews in the last 12 months / 50% review rate * stay length.
    stay = np.maximum(3, nights)
    ltm = np.round(np.interp(z, _Z_KNOTS, _NIGHT_KNOTS) / (2 * stay)).astype(np.int64)
    ltm[d["listing_days"] < 30] = 0
    d.update(z=z, ltm=ltm, occupancy=np.minimum(255, 2 * ltm * stay))


def _history(rng: np.random.Generator, d: dict[str, Any]) -> None:
    """Reviews, scores and availability consistent with the occupancy that was drawn."""
    n, ltm, age = len(d["host"]), d["ltm"], d["listing_days"]
    # Some idle listings were booked in earlier years, so they still carry old reviews.
    yearly = ltm * rng.uniform(0.5, 1.3, n) + (rng.random(n) < 0.5) * rng.exponential(5, n)
    prior = rng.poisson(yearly * np.maximum(0, age - 365) / 365)
    total = ltm + prior
    recent = np.minimum(365, age) * (1 - rng.random(n) ** (1 / np.maximum(ltm, 1)))
    last = np.where(ltm > 0, recent, 365 + rng.random(n) * np.maximum(0, age - 365)).astype(int)
    first = np.where(total > 1, last + (age - last) * rng.uniform(0.6, 1, n), last).astype(int)
    reviewed_2024 = (first >= 273) & (last <= 638)  # 2024 runs from 638 to 274 days ago
    score = np.clip(5 - rng.gamma(0.7, 0.35, n) + 0.15 * np.clip(d["z"] - 1.5, -2, 1.5), 1, 5)
    busy = d["occupancy"] / 365 * rng.uniform(0.3, 0.8, n) + rng.beta(0.4, 2.5, n)
    free = np.where(rng.random(n) < 0.04, 0.0, np.clip(1 - busy, 0.0, 1.0))
    a30 = rng.binomial(30, free)
    a60 = a30 + rng.binomial(30, free)
    a90 = a60 + rng.binomial(30, free)
    d.update(
        total=total, last=last, first=first, a30=a30, a60=a60, a90=a90,
        l30d=np.where(last < 30, np.clip(rng.binomial(ltm, 0.09), 1, ltm), 0),
        ly=np.where(reviewed_2024, np.minimum(rng.poisson((ltm + yearly) / 2), prior + ltm), 0),
        score=np.where(total <= 2, rng.choice([5.0, 5.0, 5.0, 4.5, 4.0, 3.0], n), score),
        eoy=a90 + rng.binomial(2, free), a365=a90 + rng.binomial(275, free),
        per_month=np.round(total / np.maximum(first / 30.44, 1), 2),
    )  # fmt: skip


def _sentence_picks(
    rng: np.random.Generator, n: int, vocab: int, most: int, *, missing: float
) -> np.ndarray:
    """(n, most) distinct sentence indices; -1 marks no sentence, a missing text has none."""
    picks = np.argsort(rng.random((n, vocab)), axis=1)[:, :most]
    picks[np.arange(most)[None, :] > rng.binomial(most - 1, 0.35, n)[:, None]] = -1
    picks[rng.random(n) < missing] = -1
    return picks


def _text(rng: np.random.Generator, vocab: tuple[str, ...], picks: np.ndarray) -> pa.Array:
    """Sentences joined by spaces, <br /> tags or real newlines; no sentence at all -> null."""
    parts: list[pa.Array] = []
    for j in range(picks.shape[1]):
        absent = picks[:, j] < 0
        if j:
            parts.append(_cat(_SEPARATORS[0], _pick(rng, _SEPARATORS[1], len(picks)), absent))
        parts.append(_cat(vocab, picks[:, j]))
    joined = pc.binary_join_element_wise(*parts, "", null_handling="replace")
    return pc.if_else(pa.array(picks[:, 0] < 0), pa.nulls(len(picks), pa.string()), joined)


def _columns(rng: np.random.Generator, d: dict[str, Any], g0: int) -> dict[str, pa.Array]:
    """Every raw column as a string array in the exact Inside Airbnb formats (null = empty)."""
    n = len(d["host"])
    started = _SCRAPE - d["listing_days"].astype("m8[D]")
    era = np.searchsorted(
        np.array(["2019-06-01", "2023-06-01", "2025-01-01"], "M8[D]"), started, "right"
    )
    # Old listings have 7-8 digit ids, newer ones 18-19 digits; the row index keeps ids unique.
    base = np.array([2_000_000, 560 * 10**15, 1000 * 10**15, 1300 * 10**15])[era]
    stride = np.where(era == 0, 97, 10**10)
    ids = _s(base + (g0 + np.arange(n)) * stride + rng.integers(0, stride))
    host_ids = _s(100_000_000 + d["host_row"] * 37 + d["host_row"] * 7919 % 37)
    avatar = _join("https://a0.muscache.com/im/pictures/user/", d["avatar"], ".jpg?aki_policy=")
    rates_na = d["response"] == 4
    cols = {
        "id": ids,
        "listing_url": _join("https://www.airbnb.com/rooms/", ids),
        "scrape_id": _s(np.full(n, _SCRAPE_ID)),
        "last_scraped": _date(np.zeros(n, dtype=int)),
        "calendar_last_scraped": _date(np.zeros(n, dtype=int)),
        "source": _cat(("city scrape", "previous scrape"), (rng.random(n) < 0.081).astype(int)),
        "picture_url": pc.if_else(
            pa.array(era > 0),
            _join(_PICTURES, "hosting/Hosting-", ids, "/original/", _uuids(rng, n), ".jpeg"),
            _join(_PICTURES, _uuids(rng, n), ".jpg"),
        ),
        "host_id": host_ids,
        "host_url": _join("https://www.airbnb.com/users/show/", host_ids),
        "host_name": pc.binary_join_element_wise(
            _cat(_FIRST_NAMES + _BUSINESS_NAMES, d["name"]),
            _cat(_INITIALS, d["initial"], d["name"] >= len(_FIRST_NAMES)),
            "", null_handling="replace",
        ),
        "host_since": _date(d["since"]),
        "host_location": _cat(_LOCATIONS[0], d["location"], csv=True),
        "host_about": d["about"],
        "host_response_time": pc.fill_null(_cat(_RESPONSE_TIMES, d["response"], rates_na), "N/A"),
        "host_response_rate": _rate(d["response_rate"], rates_na),
        "host_acceptance_rate": _rate(d["acceptance_rate"], d["acceptance_missing"]),
        "host_is_superhost": _cat(("f", "t"), d["superhost"], d["superhost_missing"]),
        "host_thumbnail_url": _join(avatar, "profile_small"),
        "host_picture_url": _join(avatar, "profile_x_medium"),
        "host_neighbourhood": _cat(_HOST_HOODS, d["host_hood"]),
        "host_listings_count": _s(d["listings_count"]),
        "host_total_listings_count": _s(d["listings_count"] + d["extra_total"]),
        "host_verifications": _cat(_VERIFICATIONS[0], d["verifications"], csv=True),
        "host_has_profile_pic": _cat(("f", "t"), d["profile_pic"]),
        "host_identity_verified": _cat(("f", "t"), d["identity"]),
        "calculated_host_listings_count": _s(d["calc"]),
    }  # fmt: skip
    for r, kind in enumerate(("entire_homes", "private_rooms", "shared_rooms")):
        per_host = np.bincount(d["host"], weights=d["room"] == r).astype(np.int64)
        cols[f"calculated_host_listings_count_{kind}"] = _s(per_host[d["host"]])
    return cols | _place_columns(rng, d) | _history_columns(rng, d)


def _place_columns(rng: np.random.Generator, d: dict[str, Any]) -> dict[str, pa.Array]:
    """Name, texts, location, size, amenities, price and booking rules."""
    n, room, nights = len(d["host"]), d["room"], d["min_nights"]
    unit_count = np.array([len(u) for u in _NAME_UNITS])[room]
    unit = np.cumsum([0, *(len(u) for u in _NAME_UNITS)])[room] + (
        rng.random(n) * unit_count
    ).astype(int)
    hook = np.where(rng.random(n) < 0.2, -1, rng.integers(0, len(_NAME_HOOKS), n))
    overview = _text(rng, _OVERVIEW, _sentence_picks(rng, n, len(_OVERVIEW), 3, missing=0.69))
    hood = np.array([h[2:5] for h in _HOODS])[d["hood"]]
    coords = hood[:, :2] + rng.normal(0, 1, (n, 2)) * hood[:, 2:3]
    coords = np.where(rng.random((n, 1)) < 0.6, np.round(coords, 5), coords)  # older: 5 decimals
    max_nights = np.maximum(np.array(_MAX_NIGHTS[0])[_pick(rng, _MAX_NIGHTS[1], n)], nights)
    min_lo = np.where(rng.random(n) < 0.15, np.maximum(1, nights - rng.integers(0, 3, n)), nights)
    min_hi = np.where(rng.random(n) < 0.15, nights + rng.integers(0, 3, n), nights)
    no_calendar = rng.random(n) < 0.001
    bath_text = d["bath_kind"] * 13 + (2 * d["baths"]).astype(int)
    license_ = pc.if_else(
        pa.array(rng.random(n) < 0.3),
        pa.scalar("Exempt"),
        _join("NWK", pc.utf8_lpad(_s(rng.integers(0, 100_000, n)), 6, "0")),
    )
    return {
        "name": pc.binary_join_element_wise(
            _cat(_NAME_ADJ, rng.integers(0, len(_NAME_ADJ), n)), " ",
            _cat([u for units in _NAME_UNITS for u in units], unit),
            _cat((" ", " - ", " | ", ", ", " • "), _pick(rng, (5, 2, 2, 1, 1), n), hook < 0),
            _cat(_NAME_HOOKS, hook), "", null_handling="replace",
        ),
        "description": _text(rng, _DESC, _sentence_picks(rng, n, len(_DESC), 6, missing=0.009)),
        "neighborhood_overview": overview,
        "neighbourhood": pc.if_else(pc.is_null(overview), _NULL, "Neighborhood highlights"),
        "neighbourhood_cleansed": _cat([h[0] for h in _HOODS], d["hood"]),
        "neighbourhood_group_cleansed": pa.nulls(n, pa.string()),
        "latitude": _f(coords[:, 0], digits=15, point=False),
        "longitude": _f(coords[:, 1], digits=15, point=False),
        "property_type": _cat([p[0] for p in _PROPERTIES], d["prop"]),
        "room_type": _cat(_ROOMS, room),
        "accommodates": _s(d["guests"]),
        "bathrooms": _f(d["baths"], rng.random(n) < 0.082, digits=1),
        "bathrooms_text": _cat(_BATH_TEXT, bath_text, rng.random(n) < 0.001),
        "bedrooms": _s(d["bedrooms"].astype(np.int64), rng.random(n) < 0.035),
        "beds": _s(d["beds"].astype(np.int64), rng.random(n) < 0.081),
        "amenities": _amenities(rng, d["has"]),
        "price": _price(d["price"], d["price_missing"]),
        "minimum_nights": _s(nights),
        "maximum_nights": _s(max_nights),
        "minimum_minimum_nights": _s(min_lo, no_calendar),
        "maximum_minimum_nights": _s(min_hi, no_calendar),
        "minimum_maximum_nights": _s(max_nights, no_calendar),
        "maximum_maximum_nights": _s(max_nights, no_calendar),
        "minimum_nights_avg_ntm": _f((min_lo + min_hi) / 2, digits=1),
        "maximum_nights_avg_ntm": _f(max_nights.astype(float), digits=1),
        "calendar_updated": pa.nulls(n, pa.string()),
        "license": pc.if_else(pa.array(rng.random(n) < 0.91), _NULL, license_),
        "instant_bookable": _cat(("f", "t"), d["instant"]),
    }  # fmt: skip


def _history_columns(rng: np.random.Generator, d: dict[str, Any]) -> dict[str, pa.Array]:
    """The leak columns: availability, reviews, scores, occupancy and revenue."""
    n, unreviewed, closed = len(d["host"]), d["total"] == 0, d["a365"] == 0
    cols = {
        "has_availability": _cat(("t",), np.zeros(n, dtype=int), closed & (rng.random(n) < 0.2)),
        "availability_30": _s(d["a30"]), "availability_60": _s(d["a60"]),
        "availability_90": _s(d["a90"]), "availability_365": _s(d["a365"]),
        "availability_eoy": _s(d["eoy"]), "number_of_reviews": _s(d["total"]),
        "number_of_reviews_ltm": _s(d["ltm"]), "number_of_reviews_l30d": _s(d["l30d"]),
        "number_of_reviews_ly": _s(d["ly"]),
        "estimated_occupancy_l365d": _s(d["occupancy"]),
        "estimated_revenue_l365d": _s(d["occupancy"] * d["price"], d["price_missing"]),
        "first_review": _date(d["first"], unreviewed), "last_review": _date(d["last"], unreviewed),
        "reviews_per_month": _f(d["per_month"], unreviewed),
    }  # fmt: skip
    # Sub-scores scatter around the overall rating; location is rated a little lower, as in reality.
    for name, shift in _SCORES:
        value = np.clip(d["score"] + shift + rng.normal(0, 0.12, n) * (d["total"] > 2), 1, 5)
        cols[f"review_scores_{name}"] = _f(value, unreviewed)
    return cols


def _uuids(rng: np.random.Generator, n: int) -> pa.Array:
    """Random lower-case UUID strings, built as one byte matrix instead of n Python objects."""
    hexed = np.frombuffer(rng.bytes(16 * n).hex().encode(), dtype=np.uint8).reshape(n, 32)
    chars = np.full((n, 36), ord("-"), dtype=np.uint8)
    chars[:, _UUID_POSITIONS] = hexed
    return pc.cast(pa.array(chars.view("S36").ravel()), pa.string())


def _amenities(rng: np.random.Generator, has: np.ndarray) -> pa.Array:
    """JSON lists of amenity names in a random order per listing, already CSV-quoted."""
    # Sorting random keys shuffles each row; row-major masking then keeps the rows in order.
    order = np.argsort(rng.random(has.shape), axis=1)
    picked = order[np.take_along_axis(has, order, axis=1)]
    offsets = pa.array(np.concatenate(([0], np.cumsum(has.sum(axis=1)))).astype(np.int32))
    names = pa.array([_csv_cell(json.dumps(a[0], ensure_ascii=False))[1:-1] for a in _AMENITIES])
    lists = pa.ListArray.from_arrays(offsets, names.take(pa.array(picked)))
    return _join('"[', pc.binary_join(lists, ", "), ']"')


def _price(dollars: np.ndarray, missing: np.ndarray) -> pa.Array:
    """'$1,234.00', CSV-quoted when it holds the thousands comma (prices stay below $1M)."""
    big = _join('"$', _s(dollars // 1000), ",", pc.utf8_lpad(_s(dollars % 1000), 3, "0"), '.00"')
    text = pc.if_else(pa.array(dollars >= 1000), big, _join("$", _s(dollars), ".00"))
    return pc.if_else(pa.array(missing), _NULL, text)


def _rate(percent: np.ndarray, missing: np.ndarray) -> pa.Array:
    """'95%', or 'N/A' when the host has no rate, as Inside Airbnb writes it."""
    return pc.fill_null(_join(_s(np.round(percent).astype(np.int64), missing), "%"), "N/A")


def _cat(
    vocab: Any, idx: np.ndarray, missing: np.ndarray | None = None, *, csv: bool = False
) -> pa.Array:
    """Labels by index (a negative index or `missing` gives null); `csv` quotes labels up front."""
    mask = idx < 0 if missing is None else (idx < 0) | missing
    labels = [_csv_cell(v) for v in vocab] if csv else list(vocab)
    return pa.array(labels, pa.string()).take(pa.array(np.maximum(idx, 0), mask=mask))


def _csv_cell(text: str) -> str:
    """One value with CSV minimal quoting."""
    return '"' + text.replace('"', '""') + '"' if any(c in text for c in ',"\r\n') else text


def _s(values: np.ndarray, missing: np.ndarray | None = None) -> pa.Array:
    """Integers as plain digits."""
    return pc.cast(pa.array(values, mask=missing), pa.string())


def _f(
    values: np.ndarray, missing: np.ndarray | None = None, *, digits: int = 2, point: bool = True
) -> pa.Array:
    """Floats in shortest form; `point` keeps the trailing '.0' pandas writes for whole floats."""
    text = pc.cast(pa.array(np.round(values, digits), mask=missing), pa.string())
    return pc.if_else(pc.match_substring(text, "."), text, _join(text, ".0")) if point else text


def _date(days_ago: np.ndarray, missing: np.ndarray | None = None) -> pa.Array:
    """ISO dates counted back from the scrape date."""
    return pc.cast(pa.array(_SCRAPE - days_ago.astype("m8[D]"), mask=missing), pa.string())


def _join(*parts: pa.Array | str) -> pa.Array:
    """Element-wise concatenation; any null part makes the result null."""
    return pc.binary_join_element_wise(*parts, "")


def _quoted(column: pa.Array) -> pa.Array:
    """CSV minimal quoting: wrap cells holding a comma, quote or line break, doubling quotes."""
    needs = pc.match_substring_regex(column, '[",\\r\\n]')
    return pc.if_else(needs, _join('"', pc.replace_substring(column, '"', '""'), '"'), column)
