"""Contracts: what a valid CRM record is, shared by ingestion, the CRM API and the docs.

`entities` declares one Pydantic model per CRM entity; `engine` compiles those models into
vectorised checks over Arrow batches, and refuses (at import) a contract with a rule it cannot
compile. Other packages import from here or from `engine`'s public names, never from an underscore
name: what they read of a contract (each field's type and whether it may be empty, the rules in
words) is `field_shapes` and `rules_by_field`.
"""

from liftoff.contracts.engine import FieldShape, UncompilableContractError, field_shapes, rules_by_field
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
    "FieldShape",
    "OptOut",
    "Product",
    "Sale",
    "Supplier",
    "UncompilableContractError",
    "field_shapes",
    "normalise_email",
    "normalise_phone",
    "rules_by_field",
]
