from __future__ import annotations

import pytest

from cases.domain import Role
from tests.factories import CheckFactory, DccFactory, InstallationFactory, SupplierFactory, make_user


@pytest.fixture
def dcc(db):  # type: ignore[no-untyped-def]
    return DccFactory()


@pytest.fixture
def supplier(db):  # type: ignore[no-untyped-def]
    return SupplierFactory(code="supplier-a", name="Supplier A")


@pytest.fixture
def other_supplier(db):  # type: ignore[no-untyped-def]
    return SupplierFactory(code="supplier-b", name="Supplier B")


@pytest.fixture
def people(dcc, supplier):  # type: ignore[no-untyped-def]
    """One account per role; User roles belong to `supplier`. SYSTEM is None."""
    accounts = {
        role: make_user(role, dcc if role.startswith("DCC") else supplier, username=role.lower())
        for role in Role.values
        if role != Role.SYSTEM
    }
    accounts[Role.SYSTEM] = None
    return accounts


@pytest.fixture
def installation(supplier):  # type: ignore[no-untyped-def]
    return InstallationFactory(responsible_supplier=supplier)


@pytest.fixture
def check(db):  # type: ignore[no-untyped-def]
    return CheckFactory(code="CM001")
