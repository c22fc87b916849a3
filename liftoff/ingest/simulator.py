"""The embedded CRM: a deterministic simulator of a Brazilian retailer's activity.

Why it exists: the platform must run end to end with no accounts and no Docker, and tests need
data whose every property is known. Everything is a pure function of (config, day): generating
a day twice gives identical rows, and a range generated day by day equals the range at once.

How it stays fast at a million sales: no per-row Python. An entity's attributes are a hash of
(seed, entity, id), vectorised with numpy, so any record can be rebuilt from its id alone; Faker
only fills small pools of names; strings are assembled with Arrow compute.

What a day holds (the CRM's changes that day, as Airbyte's incremental sync would deliver them):
suppliers, products, employees and customers created that day (the opening day brings the
initial base), employees terminated that day (their full record again, with `termination_date`),
and the day's sales. Sales are skewed as real ones are: product popularity and seller
performance are Pareto-like, most sales come from returning customers, volume follows the
weekday and the month (Black Friday, Christmas).

The dirty-data knob (`dirty_rate`) corrupts a share of each day's records the ways real CRMs do;
the defects injected are recorded in the table's metadata (`liftoff.defects`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from liftoff.contracts import CATEGORIES, CONTRACTS, GENDERS, STATES
from liftoff.contracts.engine import arrow_schema
from liftoff.ingest.dirty import DEFECTS_METADATA_KEY

OPENING_DAY = date(2024, 1, 1)

# Product kinds per category and the unit price range (R$) a store would ask for them.
_CATALOG: dict[str, tuple[tuple[str, ...], tuple[float, float]]] = {
    "Eletrônico": (
        ("Smartphone", "Notebook", "Tablet", "Fone Bluetooth", "Smart TV", "Caixa de Som",
         "Monitor", "Smartwatch", "Console de Videogame", "Câmera Digital"),
        (150.0, 6500.0),
    ),
    "Eletrodoméstico": (
        ("Geladeira", "Micro-ondas", "Liquidificador", "Air Fryer", "Máquina de Lavar",
         "Aspirador de Pó", "Cafeteira", "Ventilador", "Fogão", "Ferro de Passar"),
        (80.0, 4800.0),
    ),
    "Móveis": (
        ("Sofá", "Mesa de Jantar", "Cadeira de Escritório", "Guarda-Roupa", "Estante",
         "Cama Box", "Rack para TV", "Escrivaninha", "Poltrona", "Criado-Mudo"),
        (120.0, 5200.0),
    ),
    "Roupas": (
        ("Camiseta", "Calça Jeans", "Jaqueta", "Vestido", "Camisa Social", "Moletom",
         "Bermuda", "Saia", "Blazer", "Pijama"),
        (30.0, 600.0),
    ),
    "Calçados": (
        ("Tênis de Corrida", "Sapato Social", "Sandália", "Bota", "Chinelo", "Sapatilha",
         "Tênis Casual", "Mocassim", "Coturno", "Scarpin"),
        (25.0, 900.0),
    ),
}  # fmt: skip
# The grammatical gender of each kind ("f" feminine, "m" masculine): descriptions agree with it,
# and the campaign's copy tests check their agreement against it.
PRODUCT_GENDER: dict[str, str] = {
    kind: ("f" if kind in {
        "Smart TV", "Caixa de Som", "Câmera Digital", "Geladeira", "Air Fryer", "Máquina de Lavar",
        "Cafeteira", "Mesa de Jantar", "Cadeira de Escritório", "Estante", "Cama Box", "Escrivaninha",
        "Poltrona", "Camiseta", "Calça Jeans", "Jaqueta", "Camisa Social", "Bermuda", "Saia",
        "Sandália", "Bota", "Sapatilha",
    } else "m")
    for kinds, _ in _CATALOG.values()
    for kind in kinds
}  # fmt: skip
_BRANDS = ("Aurora", "Vértice", "Solaris", "Nativa", "Prisma", "Boreal", "Atlântica", "Ipê")
# (masculine, feminine) forms: a description's adjective agrees with its product's kind.
_ADJECTIVES = (
    ("resistente", "resistente"), ("elegante", "elegante"), ("compacto", "compacta"),
    ("moderno", "moderna"), ("confortável", "confortável"), ("econômico", "econômica"),
    ("versátil", "versátil"),
)  # fmt: skip
# Weighted by repetition: most of the staff sells.
_JOB_TITLES = (
    "Vendedor", "Vendedor", "Vendedor", "Vendedor", "Analista de Dados", "Assistente Administrativo",
    "Coordenador de Logística", "Analista Financeiro",
)  # fmt: skip
_SELLER_TITLES = ("Vendedor", "Gerente de Vendas")
_EMAIL_DOMAINS = ("gmail.com", "hotmail.com", "yahoo.com.br", "uol.com.br", "bol.com.br", "outlook.com")

# Relative sales volume by weekday (Mon..Sun) and month (Jan..Dec).
_WEEKDAY_WEIGHT = np.array([0.95, 0.9, 0.95, 1.0, 1.15, 1.25, 0.8])
_MONTH_WEIGHT = np.array([0.85, 0.8, 0.9, 0.9, 1.0, 0.95, 1.0, 0.95, 0.95, 1.0, 1.3, 1.45])
_UTC_OFFSET_HOURS = 3  # Brasília time is UTC-3: the store opens 08:00-22:00 local time


@dataclass(frozen=True)
class SimulatorConfig:
    """The knobs of the simulated CRM. Volumes scale with `sales_per_day` (an average weekday)."""

    seed: int = 42
    sales_per_day: float = 400.0
    # The day the CRM opened: its history (customers, staff, catalog) grows from here. Scale
    # benchmarks open it shortly before the days they simulate, so dimensions stay proportional.
    opening_day: date = OPENING_DAY
    returning_share: float = 0.7  # share of sales made by customers who bought before
    dirty_rate: float = 0.0  # share of each day's records corrupted the ways real CRMs are
    # Days whose sales are wrong as a whole though every record passes its contract, for testing
    # the quality gate: ((day, kind), ...) with kind one of ANOMALIES, e.g.
    # ((date(2026, 6, 3), "no_sales"), (date(2026, 6, 4), "category_price_x10:Eletrônico")).
    anomalies: tuple[tuple[date, str], ...] = ()

    @property
    def initial_customers(self) -> int:
        return max(200, int(self.sales_per_day))

    @property
    def initial_employees(self) -> int:
        return max(12, int(self.sales_per_day / 10) + 8)


# --- deterministic randomness ------------------------------------------------------------------


def _rng(config: SimulatorConfig, *parts: object) -> np.random.Generator:
    """An independent random stream per (seed, purpose, day): reproducible and order-free."""
    import hashlib

    digest = hashlib.blake2b(repr((config.seed, *parts)).encode(), digest_size=16).digest()
    return np.random.default_rng(np.frombuffer(digest, dtype=np.uint64))


_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def _mix(values: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: a well-spread 64-bit hash, vectorised."""
    z = values.astype(np.uint64)
    with np.errstate(over="ignore"):
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def _hash(config: SimulatorConfig, salt: str, ids: np.ndarray) -> np.ndarray:
    """A 64-bit hash per id, independent per (seed, salt)."""
    import zlib

    key = np.uint64((config.seed * 0x9E3779B97F4A7C15 + zlib.crc32(salt.encode())) & 0xFFFFFFFFFFFFFFFF)
    with np.errstate(over="ignore"):
        return _mix(ids.astype(np.uint64) * np.uint64(0xD6E8FEB86659FD93) + key)


def _uniform(config: SimulatorConfig, salt: str, ids: np.ndarray) -> np.ndarray:
    return (_hash(config, salt, ids) >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def _pick(config: SimulatorConfig, salt: str, ids: np.ndarray, choices: int) -> np.ndarray:
    return (_hash(config, salt, ids) % np.uint64(choices)).astype(np.int64)


def _pareto_weight(config: SimulatorConfig, salt: str, ids: np.ndarray, shape: float) -> np.ndarray:
    return (1.0 - _uniform(config, salt, ids)) ** (-1.0 / shape)


# --- name pools --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Pools:
    first_male: pa.Array
    first_female: pa.Array
    last: pa.Array
    cities: pa.Array
    streets: pa.Array
    companies: pa.Array


@lru_cache(maxsize=4)
def _pools(seed: int) -> _Pools:
    from faker import Faker

    fake = Faker("pt_BR")
    fake.seed_instance(seed)

    def unique(make, n: int) -> pa.Array:
        return pa.array(sorted({make() for _ in range(n)}))

    return _Pools(
        first_male=unique(fake.first_name_male, 400),
        first_female=unique(fake.first_name_female, 400),
        last=unique(fake.last_name, 400),
        cities=unique(fake.city, 300),
        streets=unique(fake.street_name, 300),
        companies=unique(fake.last_name, 200),
    )


def _ascii_lower(values: pa.Array) -> pa.Array:
    """Names as e-mail local parts: no accents, no spaces, lower case."""
    import unicodedata

    unique = pc.unique(values)
    folded = [
        "".join(c for c in unicodedata.normalize("NFKD", s).lower() if c.isascii() and c.isalnum())
        for s in unique.to_pylist()
    ]
    return pc.take(pa.array(folded), pc.index_in(values, value_set=unique))


def _join(*parts: pa.Array | str) -> pa.Array:
    return pc.binary_join_element_wise(*parts, "")


# --- history: who exists on a day ---------------------------------------------------------------


def _day_index(config: SimulatorConfig, day: date) -> int:
    if day < config.opening_day:
        raise ValueError(f"the simulated CRM opened on {config.opening_day}; there is no activity on {day}")
    return (day - config.opening_day).days


def expected_sales(config: SimulatorConfig, day: date) -> float:
    return config.sales_per_day * _WEEKDAY_WEIGHT[day.weekday()] * _MONTH_WEIGHT[day.month - 1]


def _daily_new(config: SimulatorConfig, kind: str, day: date) -> int:
    """How many records of `kind` the CRM creates on `day` (the opening day brings the base)."""
    if day == config.opening_day:
        return {
            "suppliers": 12,
            "products": 120,
            "employees": config.initial_employees,
            "customers": config.initial_customers,
        }[kind]
    rate = {
        "suppliers": 0.02,
        "products": 0.3,
        "employees": max(0.05, config.sales_per_day / 4000),
        "customers": 0.0,  # new customers appear with their first sale (see _sales_plan)
    }[kind]
    return int(_rng(config, "new", kind, day.isoformat()).poisson(rate)) if rate else 0


@dataclass(frozen=True)
class _History:
    """Cumulative counts per day since the opening day, and the employees terminated so far."""

    first_day: date
    counts: dict[str, np.ndarray]  # kind -> number created up to and including each day
    terminated_on: dict[int, date]  # employee id -> termination day

    @property
    def last_day(self) -> date:
        return self.first_day + timedelta(days=len(self.counts["suppliers"]) - 1)

    def created_up_to(self, kind: str, day: date) -> int:
        return int(self.counts[kind][(day - self.first_day).days])

    def created_on(self, kind: str, day: date) -> tuple[int, int]:
        """The id range [first, last] of `kind` created on `day` (empty when first > last)."""
        index = (day - self.first_day).days
        before = int(self.counts[kind][index - 1]) if index else 0
        return before + 1, int(self.counts[kind][index])


def _is_seller(config: SimulatorConfig, employee_ids: np.ndarray) -> np.ndarray:
    return np.isin(_job_titles(config, employee_ids), _SELLER_TITLES)


def _job_titles(config: SimulatorConfig, employee_ids: np.ndarray) -> np.ndarray:
    titles = np.array(_JOB_TITLES, dtype=object)[_pick(config, "job", employee_ids, len(_JOB_TITLES))]
    titles[employee_ids <= 3] = "Gerente de Vendas"
    titles[employee_ids == 1] = "Diretor Comercial"
    return titles


_LONGEST_HISTORY: dict[SimulatorConfig, _History] = {}


def _history(config: SimulatorConfig, last_day: date) -> _History:
    """The history up to `last_day`. Each day depends only on the days before it, so a history
    computed up to a later day holds every earlier one: it is built once and sliced."""
    longest = _LONGEST_HISTORY.get(config)
    if longest is None or longest.last_day < last_day:
        longest = _LONGEST_HISTORY[config] = _build_history(config, last_day)
    if longest.last_day == last_day:
        return longest
    end = _day_index(config, last_day) + 1
    return _History(
        first_day=config.opening_day,
        counts={kind: counts[:end] for kind, counts in longest.counts.items()},
        terminated_on={e: d for e, d in longest.terminated_on.items() if d <= last_day},
    )


def clear_caches() -> None:
    """Forget every cached history and name pool (tests use it to prove nothing depends on them)."""
    _LONGEST_HISTORY.clear()
    _pools.cache_clear()


def _build_history(config: SimulatorConfig, last_day: date) -> _History:
    days = _day_index(config, last_day) + 1
    counts: dict[str, np.ndarray] = {}
    for kind in ("suppliers", "products", "employees"):
        daily = [_daily_new(config, kind, config.opening_day + timedelta(days=i)) for i in range(days)]
        counts[kind] = np.cumsum(daily)
    new_customers = [
        config.initial_customers if i == 0 else _sales_plan(config, config.opening_day + timedelta(days=i))[1]
        for i in range(days)
    ]
    counts["customers"] = np.cumsum(new_customers)
    terminated: dict[int, date] = {}
    for i in range(1, days):
        day = config.opening_day + timedelta(days=i)
        rng = _rng(config, "terminations", day.isoformat())
        hired_before = int(counts["employees"][i - 1])
        if rng.random() < 0.04 and hired_before > 3:  # about one departure a month
            # The first three (the managers) stay; a pick already gone means nobody leaves today.
            leaving = int(rng.integers(4, hired_before + 1))
            terminated.setdefault(leaving, day)
    return _History(config.opening_day, counts, terminated)


def _sales_plan(config: SimulatorConfig, day: date) -> tuple[int, int]:
    """(number of sales, number of them by new customers) on `day`."""
    rng = _rng(config, "sales-plan", day.isoformat())
    n = int(rng.poisson(expected_sales(config, day)))
    new = 0 if day == config.opening_day else int(rng.binomial(n, 1.0 - config.returning_share))
    return n, new


# --- entity tables -----------------------------------------------------------------------------


def _timestamps_on(config: SimulatorConfig, salt: str, ids: np.ndarray, days: date | np.ndarray) -> pa.Array:
    """A time during opening hours (08:00-22:00 Brasília) on the given day(s), per id, as UTC."""
    seconds = (8 + _UTC_OFFSET_HOURS) * 3600 + _pick(config, salt, ids, 14 * 3600)
    midnight = (
        np.datetime64(days.isoformat(), "D") if isinstance(days, date) else days.astype("datetime64[D]")
    )
    return pa.array(
        midnight.astype("datetime64[us]") + seconds.astype("timedelta64[s]"), pa.timestamp("us", tz="UTC")
    )


def _creation_days(history: _History, kind: str, ids: np.ndarray) -> np.ndarray:
    """The day each id was created, as datetime64[D]."""
    index = np.searchsorted(history.counts[kind], ids, side="left")
    return np.datetime64(history.first_day.isoformat(), "D") + index.astype("timedelta64[D]")


def _phones(config: SimulatorConfig, salt: str, ids: np.ndarray) -> pa.Array:
    """Phone numbers as people type them: three formats of the same Brazilian mobile number."""
    area = 11 + _pick(config, salt + "-ddd", ids, 88)
    number = 10_000_000 + _pick(config, salt + "-num", ids, 89_999_999)
    area_s, number_s = pa.array(area.astype(str)), pa.array(number.astype(str))
    first, rest = pc.utf8_slice_codeunits(number_s, 0, 4), pc.utf8_slice_codeunits(number_s, 4, 8)
    style = _pick(config, salt + "-style", ids, 3)
    formats = [
        _join("(", area_s, ") 9", first, "-", rest),
        _join("+55 ", area_s, " 9", first, "-", rest),
        _join(area_s, "9", number_s),
    ]
    return pc.choose(pa.array(style.astype(np.int8)), *formats)


def _people_names(
    config: SimulatorConfig, salt: str, ids: np.ndarray
) -> tuple[pa.Array, pa.Array, np.ndarray]:
    pools = _pools(config.seed)
    female = _uniform(config, salt + "-gender", ids) < 0.5
    male_first = pc.take(pools.first_male, _pick(config, salt + "-first", ids, len(pools.first_male)))
    female_first = pc.take(pools.first_female, _pick(config, salt + "-first", ids, len(pools.first_female)))
    first = pc.if_else(pa.array(female), female_first, male_first)
    last = pc.take(pools.last, _pick(config, salt + "-last", ids, len(pools.last)))
    return first, last, female


def _personal_email(first: pa.Array, last: pa.Array, ids: np.ndarray, domains: pa.Array) -> pa.Array:
    return _join(_ascii_lower(first), ".", _ascii_lower(last), pa.array(ids.astype(str)), "@", domains)


def customers_by_id(config: SimulatorConfig, ids: np.ndarray, created_on: date | np.ndarray) -> pa.Table:
    ids = np.asarray(ids, dtype=np.int64)
    pools = _pools(config.seed)
    first, last, _ = _people_names(config, "customer", ids)
    domains = pc.take(pa.array(_EMAIL_DOMAINS), _pick(config, "customer-domain", ids, len(_EMAIL_DOMAINS)))
    created = _timestamps_on(config, "customer-created", ids, created_on)
    linked = _uniform(config, "customer-telegram", ids) < 0.3
    chat_ids = np.where(linked, 100_000_000 + _pick(config, "customer-chat", ids, 899_999_999), 0)
    return pa.table(
        {
            "customer_id": ids,
            "first_name": first,
            "last_name": last,
            "email": _personal_email(first, last, ids, domains),
            "phone_number": _phones(config, "customer-phone", ids),
            "city": pc.take(pools.cities, _pick(config, "customer-city", ids, len(pools.cities))),
            "state": pc.take(pa.array(STATES), _pick(config, "customer-state", ids, len(STATES))),
            "telegram_chat_id": pa.array(chat_ids, mask=~linked),
            "created_at": created,
            "updated_at": created,
        }
    )


def _suppliers_by_id(config: SimulatorConfig, ids: np.ndarray, day: date | np.ndarray) -> pa.Table:
    pools = _pools(config.seed)
    company = pc.take(pools.companies, _pick(config, "supplier-company", ids, len(pools.companies)))
    suffix = pc.take(pa.array(["Comércio", "Indústria", "Distribuidora", "Importadora"]),
                     _pick(config, "supplier-suffix", ids, 4))  # fmt: skip
    name = _join(company, " ", suffix, " Ltda")
    slug = _join(_ascii_lower(company), pa.array(ids.astype(str)))
    first, last, _ = _people_names(config, "supplier-contact", ids)
    primary = _pick(config, "supplier-category", ids, len(CATEGORIES))
    secondary = (primary + 1 + _pick(config, "supplier-category2", ids, len(CATEGORIES) - 1)) % len(
        CATEGORIES
    )
    has_two = _uniform(config, "supplier-two", ids) < 0.4
    categories = pa.array(CATEGORIES)
    primary_name, secondary_name = pc.take(categories, primary), pc.take(categories, secondary)
    created = _timestamps_on(config, "supplier-created", ids, day)
    return pa.table(
        {
            "supplier_id": ids,
            "company_name": name,
            "contact_name": _join(first, " ", last),
            "email": _join("contato@", slug, ".com.br"),
            "phone_number": _phones(config, "supplier-phone", ids),
            "website": _join("https://www.", slug, ".com.br"),
            "address": _join(
                pc.take(pools.streets, _pick(config, "supplier-street", ids, len(pools.streets))),
                ", ",
                pa.array((1 + _pick(config, "supplier-number", ids, 2000)).astype(str)),
                " - ",
                pc.take(pools.cities, _pick(config, "supplier-city", ids, len(pools.cities))),
            ),
            "product_categories": pc.if_else(
                pa.array(has_two), _join(primary_name, ", ", secondary_name), primary_name
            ),
            "primary_product": pc.take(
                pa.array([kinds[0] for kinds, _ in _CATALOG.values()]), pa.array(primary)
            ),
            "created_at": created,
            "updated_at": created,
        }
    )


@dataclass(frozen=True)
class _Products:
    ids: np.ndarray
    category: np.ndarray  # index into CATEGORIES
    price: np.ndarray
    name: pa.Array
    popularity: np.ndarray
    kind: np.ndarray  # the kind's name (object array), a key of PRODUCT_GENDER
    brand: pa.Array


def _products(config: SimulatorConfig, ids: np.ndarray) -> _Products:
    category = _pick(config, "product-category", ids, len(CATEGORIES))
    kinds = np.empty(len(ids), dtype=object)
    low, high = np.empty(len(ids)), np.empty(len(ids))
    kind_pick = _pick(config, "product-kind", ids, 10)
    for index, name in enumerate(CATEGORIES):
        in_category = category == index
        options, (lo, hi) = _CATALOG[name]
        kinds[in_category] = np.array(options, dtype=object)[kind_pick[in_category]]
        low[in_category], high[in_category] = lo, hi
    # Log-uniform prices: many cheap items, a few expensive ones; rounded to the cent.
    price = np.round(
        np.exp(np.log(low) + _uniform(config, "product-price", ids) * (np.log(high) - np.log(low))), 2
    )
    brand = pc.take(pa.array(_BRANDS), _pick(config, "product-brand", ids, len(_BRANDS)))
    name = _join(pa.array(kinds.astype(str)), " ", brand, " ", pa.array([f"{i:04d}" for i in ids]))
    return _Products(
        ids, category, price, name, _pareto_weight(config, "product-pop", ids, 1.1), kinds, brand
    )


def _products_table(config: SimulatorConfig, ids: np.ndarray, history: _History) -> pa.Table:
    products = _products(config, ids)
    day = _creation_days(history, "products", ids)
    # A product comes from a supplier the CRM already had on the day the product was created.
    day_index = (day - np.datetime64(history.first_day.isoformat(), "D")).astype(np.int64)
    suppliers_then = history.counts["suppliers"][day_index].astype(np.uint64)
    supplier_ids = 1 + (_hash(config, "product-supplier", ids) % suppliers_then).astype(np.int64)
    supplier_slug = _join(_ascii_lower(pc.take(_pools(config.seed).companies, pa.array(
        _pick(config, "supplier-company", supplier_ids, len(_pools(config.seed).companies))))),
        pa.array(supplier_ids.astype(str)))  # fmt: skip
    feminine = np.array([PRODUCT_GENDER[kind] == "f" for kind in products.kind], dtype=bool)
    forms = np.array(_ADJECTIVES, dtype=object)[_pick(config, "product-adj", ids, len(_ADJECTIVES))]
    adjective = pa.array(np.where(feminine, forms[:, 1], forms[:, 0]).astype(str))
    category = pc.take(pa.array(CATEGORIES), pa.array(products.category))
    created = _timestamps_on(config, "product-created", ids, day)
    return pa.table(
        {
            "product_id": ids,
            "supplier_id": supplier_ids,
            "name": products.name,
            "description": _join(
                products.name, ": ", adjective, ", da marca ", products.brand, " (categoria ", category, ")."
            ),
            "categoria": category,
            "price": products.price,
            "email_fornecedor": _join("contato@", supplier_slug, ".com.br"),
            "created_at": created,
            "updated_at": created,
        }
    )


def _employees_table(config: SimulatorConfig, ids: np.ndarray, history: _History, day: date) -> pa.Table:
    pools = _pools(config.seed)
    hire_index = np.searchsorted(history.counts["employees"], ids, side="left")
    hire_dates = np.datetime64(history.first_day.isoformat(), "D") + hire_index.astype("timedelta64[D]")
    age_days = (18 * 365 + 30 + _pick(config, "employee-age", ids, 40 * 365)).astype("timedelta64[D]")
    birth = hire_dates - age_days
    start = hire_dates + _pick(config, "employee-start", ids, 15).astype("timedelta64[D]")
    first, last, female = _people_names(config, "employee", ids)
    gender_pick = np.where(female, 1, 0)
    gender_pick[_uniform(config, "employee-undisclosed", ids) < 0.05] = 2
    titles = _job_titles(config, ids)
    managers = np.where(ids <= 3, 1, 1 + _pick(config, "employee-manager", ids, 3))
    salary = np.round(2_500 + 9_000 * _uniform(config, "employee-salary", ids) ** 2, 2)
    salary[titles == "Gerente de Vendas"] += 6_000
    salary[titles == "Diretor Comercial"] += 18_000
    termination = np.array([history.terminated_on.get(int(i)) for i in ids], dtype=object)
    terminated = np.array([t is not None and t <= day for t in termination])
    created = pa.array(
        hire_dates.astype("datetime64[us]") + np.timedelta64(11, "h"), pa.timestamp("us", tz="UTC")
    )
    updated = pc.if_else(pa.array(terminated), _timestamps_on(config, "employee-left", ids, day), created)
    return pa.table(
        {
            "employee_id": ids,
            "manager_id": pa.array(managers, mask=ids == 1),
            "first_name": first,
            "last_name": last,
            "email": _join(
                _ascii_lower(first), ".", _ascii_lower(last), pa.array(ids.astype(str)), "@liftoff.com.br"
            ),
            "phone_number": _phones(config, "employee-phone", ids),
            "hire_date": pa.array(hire_dates, pa.date32()),
            "department_id": np.where(
                np.isin(titles, (*_SELLER_TITLES, "Diretor Comercial")),
                1,
                2 + _pick(config, "employee-dept", ids, 19),
            ),
            "job_title": pa.array(titles.astype(str)),
            "location": _join(
                pc.take(pools.cities, _pick(config, "employee-city", ids, len(pools.cities))),
                ", ",
                pc.take(pa.array(STATES), _pick(config, "employee-state", ids, len(STATES))),
                ", Brasil",
            ),
            "gender": pc.take(pa.array(GENDERS), pa.array(gender_pick)),
            "nationality": pa.array(
                np.where(_uniform(config, "employee-nat", ids) < 0.95, "Brasileira", "Portuguesa")
            ),
            "birth_date": pa.array(birth, pa.date32()),
            "start_date": pa.array(start, pa.date32()),
            "termination_date": pa.array(
                [t if done else None for t, done in zip(termination, terminated, strict=True)], pa.date32()
            ),
            "salary": salary,
            "created_at": created,
            "updated_at": updated,
        }
    )


def _sales_table(config: SimulatorConfig, day: date, history: _History) -> pa.Table:
    n, new = _sales_plan(config, day)
    rng = _rng(config, "sales", day.isoformat())
    customers_before = (
        history.created_up_to("customers", day - timedelta(days=1))
        if day > config.opening_day
        else (config.initial_customers)
    )
    # Returning customers: loyalty is skewed (a few buy often, most rarely). Drawn by inverse CDF
    # (older customers are the loyal ones), so the cost follows the day's sales, not the customer base.
    returning = 1 + (customers_before * rng.random(n - new) ** 2.5).astype(np.int64)
    first_new = customers_before + 1
    customer = np.concatenate([returning, np.arange(first_new, first_new + new)])
    rng.shuffle(customer)

    product_ids = np.arange(1, history.created_up_to("products", day) + 1)
    products = _products(config, product_ids)
    product_index = rng.choice(len(product_ids), n, p=products.popularity / products.popularity.sum())

    employees = np.arange(1, history.created_up_to("employees", day) + 1)
    active = _is_seller(config, employees) & np.array(
        [history.terminated_on.get(int(e), date.max) > day for e in employees]
    )
    sellers = employees[active]
    performance = _pareto_weight(config, "seller-performance", sellers, 1.8)
    seller = rng.choice(sellers, n, p=performance / performance.sum())
    seller_table = _employees_table(config, sellers, history, day)
    seller_email = pc.take(seller_table.column("email"), pa.array(np.searchsorted(sellers, seller)))

    # The customer's details as the CRM denormalises them into the sale.
    unique_customers, inverse = np.unique(customer, return_inverse=True)
    people = customers_by_id(config, unique_customers, day).take(pa.array(inverse))

    quantity = np.minimum(rng.geometric(0.6, n), 10).astype(np.int64)
    unit_price = products.price[product_index]
    total = np.round(unit_price * quantity, 2)
    seconds = np.sort(rng.integers((8 + _UTC_OFFSET_HOURS) * 3600, (22 + _UTC_OFFSET_HOURS) * 3600, n))
    sold_at = np.datetime64(day.isoformat(), "us") + seconds.astype("timedelta64[s]")
    created = sold_at + rng.integers(1, 120, n).astype("timedelta64[s]")
    # Ids unique across days (up to 10 million sales a day), whatever the opening day.
    sale_ids = (day - date(2000, 1, 1)).days * 10_000_000 + np.arange(n, dtype=np.int64) + 1
    table = pa.table(
        {
            "sale_id": sale_ids,
            "customer_id": customer,
            "product_id": product_ids[product_index],
            "seller_id": seller,
            "email_employee": seller_email,
            "email_customer": people.column("email"),
            "first_name": people.column("first_name"),
            "last_name": people.column("last_name"),
            "phone_number": people.column("phone_number"),
            "name_product": pc.take(products.name, pa.array(product_index)),
            "unit_price": unit_price,
            "quantity": quantity,
            "price": total,
            "date": pa.array(sold_at, pa.timestamp("us", tz="UTC")),
            "created_at": pa.array(created, pa.timestamp("us", tz="UTC")),
        }
    )
    anomaly = dict(config.anomalies).get(day)
    return _with_anomaly(table, anomaly, products.category[product_index]) if anomaly else table


ANOMALIES = ("no_sales", "duplicated_day", "category_price_x10:<category>")


def _with_anomaly(table: pa.Table, kind: str, category_index: np.ndarray) -> pa.Table:
    """The day's sales as a faulty source would deliver them (see SimulatorConfig.anomalies)."""
    if kind == "no_sales":  # the export ran but came back empty
        return table.slice(0, 0)
    if kind == "duplicated_day":  # the day exported twice, the copy under fresh ids
        copy = table.set_column(0, "sale_id", pc.add(table.column("sale_id"), table.num_rows))
        return pa.concat_tables([table, copy])
    if kind.startswith("category_price_x10:"):  # a unit mix-up (reais for cents) in one category
        category = kind.split(":", 1)[1]
        if category not in CATEGORIES:
            raise ValueError(f"anomaly {kind!r}: no category {category!r}; categories are {CATEGORIES}")
        factor = np.where(category_index == CATEGORIES.index(category), 10.0, 1.0)
        for name in ("unit_price", "price"):
            column = table.schema.get_field_index(name)
            scaled = np.round(table.column(name).to_numpy() * factor, 2)
            table = table.set_column(column, name, pa.array(scaled))
        return table
    raise ValueError(f"unknown anomaly {kind!r}; the simulator knows {', '.join(ANOMALIES)}")


def activity(entity: str, day: date, config: SimulatorConfig | None = None) -> pa.Table:
    """The CRM's records of `entity` created or changed on `day`, in the contract's columns."""
    config = config or SimulatorConfig()
    history = _history(config, day)
    schema = arrow_schema(CONTRACTS[entity])
    if entity == "sales":
        table = _sales_table(config, day, history)
    elif entity == "employees":
        first, last = history.created_on("employees", day)
        leaving = [e for e, left in history.terminated_on.items() if left == day]
        ids = np.unique(np.concatenate([np.arange(first, last + 1), np.array(leaving, dtype=np.int64)]))
        table = _employees_table(config, ids, history, day) if len(ids) else schema.empty_table()
    elif entity in ("customers", "suppliers", "products"):
        first, last = history.created_on(entity, day)
        ids = np.arange(first, last + 1)
        build = {
            "customers": lambda: customers_by_id(config, ids, day),
            "suppliers": lambda: _suppliers_by_id(config, ids, day),
            "products": lambda: _products_table(config, ids, history),
        }[entity]
        table = build() if len(ids) else schema.empty_table()
    else:
        raise ValueError(f"the simulator has no entity {entity!r}; it has {', '.join(CONTRACTS)}")
    return _finish(entity, table, config, _rng(config, "dirty", entity, day.isoformat()))


def activity_between(entity: str, first: date, last: date, config: SimulatorConfig | None = None) -> pa.Table:
    """The activity of every day from `first` to `last`, in one table (the history is built once)."""
    config = config or SimulatorConfig()
    _history(config, last)  # one pass over the history serves every day of the range
    return pa.concat_tables([activity(entity, day, config) for day in days_between(first, last)])


def snapshot(entity: str, day: date, config: SimulatorConfig | None = None) -> pa.Table:
    """Every record of a dimension entity as it stands at the end of `day`: what a first sync (a
    full refresh) of a CRM delivers. Sales are a fact stream: their snapshot is not offered."""
    config = config or SimulatorConfig()
    history = _history(config, day)
    if entity not in ("suppliers", "products", "employees", "customers"):
        raise ValueError(
            f"no snapshot of {entity!r}: only suppliers, products, employees and customers have one"
        )
    ids = np.arange(1, history.created_up_to(entity, day) + 1)
    if entity == "suppliers":
        table = _suppliers_by_id(config, ids, _creation_days(history, "suppliers", ids))
    elif entity == "products":
        table = _products_table(config, ids, history)
    elif entity == "employees":
        table = _employees_table(config, ids, history, day)
    else:
        table = customers_by_id(config, ids, _creation_days(history, "customers", ids))
    return _finish(entity, table, config, _rng(config, "dirty-snapshot", entity, day.isoformat()))


def _finish(entity: str, table: pa.Table, config: SimulatorConfig, dirty: np.random.Generator) -> pa.Table:
    """The contract's columns and types, then the dirty-data knob."""
    schema = arrow_schema(CONTRACTS[entity])
    table = table.select(schema.names).cast(schema)
    if config.dirty_rate > 0:
        from liftoff.ingest.dirty import corrupt

        table = corrupt(entity, table, config.dirty_rate, dirty)
    return table


def defects_of(table: pa.Table) -> dict[str, int]:
    """The defects the dirty-data knob injected into `table`, by kind."""
    raw = (table.schema.metadata or {}).get(DEFECTS_METADATA_KEY)
    return json.loads(raw) if raw else {}


def days_between(first: date, last: date) -> list[date]:
    """Every day from `first` to `last`, both included."""
    return [first + timedelta(days=offset) for offset in range((last - first).days + 1)]
