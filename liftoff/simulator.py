"""The embedded CRM: a deterministic simulator of a Brazilian retailer's sales activity.

Why it exists: the platform must run end to end with no accounts and no Docker, and tests need data
whose every property is known. Everything is a pure function of (seed, day): generating a day twice
gives identical rows, and a range generated day by day equals the same range generated at once.

Speed: rows are built with numpy arrays (one vectorised draw per column); Faker only fills the small
pools of names, so a million sales take seconds, not minutes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache

import numpy as np
import pyarrow as pa

# The five product categories of the original CRM, in its own words.
CATEGORIES: tuple[str, ...] = ("Eletrônico", "Eletrodoméstico", "Móveis", "Roupas", "Calçados")

# Product names per category, and the unit price range (R$) a store would ask for them.
_CATALOG: dict[str, tuple[tuple[str, ...], tuple[float, float]]] = {
    "Eletrônico": (
        (
            "Smartphone",
            "Notebook",
            "Tablet",
            "Fone Bluetooth",
            "Smart TV",
            "Caixa de Som",
            "Monitor",
            "Smartwatch",
            "Console de Videogame",
            "Câmera Digital",
        ),
        (150.0, 6500.0),
    ),
    "Eletrodoméstico": (
        (
            "Geladeira",
            "Micro-ondas",
            "Liquidificador",
            "Air Fryer",
            "Máquina de Lavar",
            "Aspirador de Pó",
            "Cafeteira",
            "Ventilador",
            "Fogão",
            "Ferro de Passar",
        ),
        (80.0, 4800.0),
    ),
    "Móveis": (
        (
            "Sofá",
            "Mesa de Jantar",
            "Cadeira de Escritório",
            "Guarda-Roupa",
            "Estante",
            "Cama Box",
            "Rack para TV",
            "Escrivaninha",
            "Poltrona",
            "Criado-Mudo",
        ),
        (120.0, 5200.0),
    ),
    "Roupas": (
        (
            "Camiseta",
            "Calça Jeans",
            "Jaqueta",
            "Vestido",
            "Camisa Social",
            "Moletom",
            "Bermuda",
            "Saia",
            "Blazer",
            "Pijama",
        ),
        (30.0, 600.0),
    ),
    "Calçados": (
        (
            "Tênis de Corrida",
            "Sapato Social",
            "Sandália",
            "Bota",
            "Chinelo",
            "Sapatilha",
            "Tênis Casual",
            "Mocassim",
            "Coturno",
            "Scarpin",
        ),
        (25.0, 900.0),
    ),
}
_BRANDS = ("Aurora", "Vértice", "Solaris", "Nativa", "Prisma", "Boreal", "Atlântica", "Ipê")

# Relative sales volume by weekday (Mon..Sun) and by month (Jan..Dec: Black Friday, Christmas).
_WEEKDAY_WEIGHT = np.array([0.95, 0.9, 0.95, 1.0, 1.15, 1.25, 0.8])
_MONTH_WEIGHT = np.array([0.85, 0.8, 0.9, 0.9, 1.0, 0.95, 1.0, 0.95, 0.95, 1.0, 1.3, 1.45])

SALES_SCHEMA = pa.schema(
    [
        ("sale_id", pa.int64()),
        ("customer_id", pa.int64()),
        ("product_id", pa.int64()),
        ("seller_id", pa.int64()),
        ("email_employee", pa.string()),
        ("email_customer", pa.string()),
        ("first_name", pa.string()),
        ("last_name", pa.string()),
        ("phone_number", pa.string()),
        ("name_product", pa.string()),
        ("unit_price", pa.float64()),
        ("quantity", pa.int32()),
        ("price", pa.float64()),
        ("date", pa.timestamp("us", tz="UTC")),
        ("created_at", pa.timestamp("us", tz="UTC")),
    ]
)


@dataclass(frozen=True)
class SimulatorConfig:
    """The knobs of the simulated CRM. `sales_per_day` is the mean on an average weekday."""

    seed: int = 42
    sales_per_day: float = 400.0
    customers: int = 5_000
    products: int = 150
    sellers: int = 40


def _rng(seed: int, *parts: object) -> np.random.Generator:
    """An independent random stream per (seed, purpose, day): reproducible and order-free."""
    digest = hashlib.blake2b(repr((seed, *parts)).encode(), digest_size=16).digest()
    return np.random.default_rng(np.frombuffer(digest, dtype=np.uint64))


@dataclass(frozen=True)
class World:
    """The slowly changing side of the CRM: catalog, customers and sellers (pools, as arrays)."""

    product_name: np.ndarray
    product_category: np.ndarray
    product_price: np.ndarray
    product_popularity: np.ndarray
    customer_first: np.ndarray
    customer_last: np.ndarray
    customer_email: np.ndarray
    customer_phone: np.ndarray
    customer_activity: np.ndarray
    seller_email: np.ndarray
    seller_performance: np.ndarray


def _pareto_weights(rng: np.random.Generator, n: int, shape: float = 1.2) -> np.ndarray:
    weights = rng.pareto(shape, n) + 1.0
    return weights / weights.sum()


def _ascii_slug(text: str) -> str:
    import unicodedata

    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in folded.lower() if ch.isalnum() or ch == ".")


@lru_cache(maxsize=8)
def build_world(config: SimulatorConfig) -> World:
    from faker import Faker

    rng = _rng(config.seed, "world")
    fake = Faker("pt_BR")
    fake.seed_instance(config.seed)

    categories = rng.choice(len(CATEGORIES), config.products)
    names, prices = [], []
    for index, category_index in enumerate(categories):
        category = CATEGORIES[category_index]
        items, (low, high) = _CATALOG[category]
        item = items[rng.integers(len(items))]
        names.append(f"{item} {_BRANDS[rng.integers(len(_BRANDS))]} {index + 1:03d}")
        # Log-uniform: many cheap items, a few expensive ones.
        prices.append(round(float(np.exp(rng.uniform(np.log(low), np.log(high)))), 2))

    first = [fake.first_name() for _ in range(config.customers)]
    last = [fake.last_name() for _ in range(config.customers)]
    emails = [
        f"{_ascii_slug(f)}.{_ascii_slug(lname)}{i}@{fake.free_email_domain()}"
        for i, (f, lname) in enumerate(zip(first, last, strict=True))
    ]
    phones = [f"+55{rng.integers(11, 99)}9{rng.integers(10_000_000, 99_999_999)}" for _ in first]
    sellers = [
        f"{_ascii_slug(fake.first_name())}.{_ascii_slug(fake.last_name())}{i}@liftoff.com.br"
        for i in range(config.sellers)
    ]
    return World(
        product_name=np.array(names, dtype=object),
        product_category=np.array([CATEGORIES[c] for c in categories], dtype=object),
        product_price=np.array(prices),
        product_popularity=_pareto_weights(rng, config.products),
        customer_first=np.array(first, dtype=object),
        customer_last=np.array(last, dtype=object),
        customer_email=np.array(emails, dtype=object),
        customer_phone=np.array(phones, dtype=object),
        customer_activity=_pareto_weights(rng, config.customers, shape=2.0),
        seller_email=np.array(sellers, dtype=object),
        seller_performance=_pareto_weights(rng, config.sellers, shape=1.5),
    )


def _epoch_day(day: date) -> int:
    return (day - date(2000, 1, 1)).days


def sales_for_day(day: date, config: SimulatorConfig = SimulatorConfig()) -> pa.Table:
    """All sales of `day`, a pure function of (config, day)."""
    world = build_world(config)
    rng = _rng(config.seed, "sales", day.isoformat())
    expected = config.sales_per_day * _WEEKDAY_WEIGHT[day.weekday()] * _MONTH_WEIGHT[day.month - 1]
    n = int(rng.poisson(expected))

    product = rng.choice(len(world.product_name), n, p=world.product_popularity)
    customer = rng.choice(len(world.customer_email), n, p=world.customer_activity)
    seller = rng.choice(len(world.seller_email), n, p=world.seller_performance)
    quantity = np.minimum(rng.geometric(0.6, n), 10).astype(np.int32)
    unit_price = world.product_price[product]
    total = np.round(unit_price * quantity, 2)
    # Opening hours 08:00-22:00, local time UTC-3.
    seconds = np.sort(rng.integers(11 * 3600, 25 * 3600, n))
    midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
    sold_at = np.datetime64(midnight.replace(tzinfo=None), "us") + seconds.astype("timedelta64[s]")
    created_at = sold_at + rng.integers(1, 120, n).astype("timedelta64[s]")
    sale_id = _epoch_day(day) * 10_000_000 + np.arange(n, dtype=np.int64)

    columns = {
        "sale_id": sale_id,
        "customer_id": customer.astype(np.int64) + 1,
        "product_id": product.astype(np.int64) + 1,
        "seller_id": seller.astype(np.int64) + 1,
        "email_employee": world.seller_email[seller],
        "email_customer": world.customer_email[customer],
        "first_name": world.customer_first[customer],
        "last_name": world.customer_last[customer],
        "phone_number": world.customer_phone[customer],
        "name_product": world.product_name[product],
        "unit_price": unit_price,
        "quantity": quantity,
        "price": total,
        "date": sold_at,
        "created_at": created_at,
    }
    return pa.Table.from_pydict(
        {name: pa.array(values, type=SALES_SCHEMA.field(name).type) for name, values in columns.items()},
        schema=SALES_SCHEMA,
    )


def days_between(first: date, last: date) -> list[date]:
    """Every day from `first` to `last`, both included."""
    return [first + timedelta(days=offset) for offset in range((last - first).days + 1)]
