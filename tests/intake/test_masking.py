"""Confidentiality: phone and ID numbers masked for roles without can_unmask on Household."""
from __future__ import annotations

import pytest

from app.extensions import db
from app.models.intake import Customer, Household
from app.security import ROLE_PERMISSIONS, ROLES
from app.services.intake.events import mask_id, mask_phone

from .conftest import browser_login

PHONE, ID_NO = "13812345678", "110101198001011234"
UNMASKED = {"Admin", "Supervisor", "Manager"}


def test_mask_formats():
    assert mask_phone(PHONE) == "138****5678"
    assert mask_id(ID_NO) == "1101**********1234"
    assert mask_phone(None) is None and mask_id("") == ""
    assert mask_id("1234") == "****"


def test_unmask_is_granted_to_supervisor_and_manager_only():
    granted = {role for role, pairs in ROLE_PERMISSIONS.items() if ("Household", "unmask") in pairs}
    assert granted == {"Supervisor", "Manager"}


@pytest.fixture
def customer(project):
    household = db.session.query(Household).filter_by(building="1", room="101").one()
    customer = Customer(household=household, name="钱多多", role="owner", phone=PHONE, id_number=ID_NO)
    db.session.add(customer)
    db.session.commit()
    return customer


@pytest.mark.parametrize("role", ROLES)
def test_api_masks_per_role(client, auth, customer, role):
    headers = auth(role.lower())
    response = client.get(f"/api/v1/customers/?household_id={customer.household_id}", headers=headers)
    assert response.status_code == 200, response.json
    mine = next(c for c in response.json["result"] if c["name"] == "钱多多")
    household = client.get(f"/api/v1/households/{customer.household_id}", headers=headers).json["result"]
    in_household = next(c for c in household["customers"] if c["name"] == "钱多多")
    if role in UNMASKED:
        assert (mine["phone"], mine["id_number"]) == (PHONE, ID_NO)
        assert in_household["phone"] == PHONE
    else:
        assert (mine["phone"], mine["id_number"]) == ("138****5678", "1101**********1234")
        assert in_household["phone"] == "138****5678" and in_household["id_number"] == "1101**********1234"


@pytest.mark.parametrize("role", ["Agent", "Auditor", "Supervisor", "Admin"])
def test_ui_masks_per_role(app_ctx, customer, role):
    client = browser_login(app_ctx.test_client(), role.lower())
    for path in ("/customerview/list/", f"/customerview/show/{customer.id}"):
        html = client.get(path).get_data(as_text=True)
        assert "钱多多" in html, path
        if role in UNMASKED:
            assert PHONE in html and ID_NO in html
        else:
            assert PHONE not in html and ID_NO not in html
            assert "138****5678" in html and "1101**********1234" in html


def test_agent_edit_form_is_masked_and_keeps_the_number(app_ctx, customer):
    client = browser_login(app_ctx.test_client(), "agent")
    form = client.get(f"/customerview/edit/{customer.id}").get_data(as_text=True)
    assert PHONE not in form and "138****5678" in form
    response = client.post(f"/customerview/edit/{customer.id}", data={
        "household": str(customer.household_id), "name": "钱多多", "role": "owner", "phone": "138****5678",
        "id_number": "1101**********1234", "contact_notes": "晚上联系 evenings"})
    assert response.status_code == 302
    db.session.expire_all()
    stored = db.session.get(Customer, customer.id)
    assert (stored.phone, stored.id_number, stored.contact_notes) == (PHONE, ID_NO, "晚上联系 evenings")
