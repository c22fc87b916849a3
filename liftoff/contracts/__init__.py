"""Contracts: what a valid CRM record is, shared by ingestion, the CRM API and the docs.

`entities` declares one Pydantic model per CRM entity; `engine` compiles those models into
vectorised checks over Arrow batches. Other packages import from here or from `engine`'s public
names, never from an underscore name.
"""

from liftoff.contracts.entities import (
    CATEGORIES,
    CONTRACTS,
    CRM_CONTRACTS,
    ENTITIES,
    GENDERS,
    STATES,
    Customer,
    Employee,
    OptOut,
    Product,
    Sale,
    Supplier,
    normalise_email,
    normalise_phone,
)

__all__ = [
    "CATEGORIES",
    "CONTRACTS",
    "CRM_CONTRACTS",
    "ENTITIES",
    "GENDERS",
    "STATES",
    "Customer",
    "Employee",
    "OptOut",
    "Product",
    "Sale",
    "Supplier",
    "normalise_email",
    "normalise_phone",
]
