"""Providers, rooms and services: validation, versions, who may edit."""

from dataclasses import replace
from decimal import Decimal

import pytest

from app.services.clinic import catalog
from app.services.clinic.catalog import Interval, ProviderData, RoomData, ServiceData
from app.services.errors import ConcurrentEditError, PermissionDeniedError, ValidationError

NINE, FIVE, NOON, ONE = 9 * 60, 17 * 60, 12 * 60, 13 * 60
WEEKDAY_HOURS = tuple(Interval(d, NINE, FIVE) for d in range(5))


def test_provider_with_hours_and_lunch_round_trips(clinic, owner):
    saved = catalog.save_provider(
        clinic.db,
        owner,
        ProviderData(
            name="  Ana   Torres ",
            title="Dr.",
            credentials="DDS",
            colour="#AA3366",
            hours=WEEKDAY_HOURS,
            breaks=(Interval(2, NOON, ONE, "Lunch"),),
        ),
    )
    assert saved.name == "Ana Torres" and saved.colour == "#aa3366"
    assert saved.display_name == "Dr. Ana Torres, DDS"
    loaded = catalog.load_catalog(clinic.db, owner).providers
    assert loaded == [saved]
    assert loaded[0].breaks == (Interval(2, NOON, ONE, "Lunch"),)


@pytest.mark.parametrize(
    "change,field,message",
    [
        ({"name": " "}, "name", "Type the provider's name"),
        ({"colour": "red"}, "colour", "#rrggbb"),
        ({"hours": (Interval(0, FIVE, NINE),)}, "hours", "must end after it starts"),
        ({"hours": (Interval(0, NINE, NOON), Interval(0, 11 * 60, FIVE))}, "hours", "overlap"),
        ({"breaks": (Interval(5, NOON, ONE),)}, "breaks", "outside the working hours"),
        ({"hours": (Interval(7, NINE, FIVE),)}, "hours", "unknown weekday"),
    ],
)
def test_bad_provider_input_is_refused(clinic, owner, change, field, message):
    data = replace(ProviderData(name="Ana", hours=WEEKDAY_HOURS), **change)
    with pytest.raises(ValidationError, match=message) as raised:
        catalog.save_provider(clinic.db, owner, data)
    assert raised.value.field == field
    assert catalog.load_catalog(clinic.db, owner).providers == []


def test_a_stale_copy_is_refused(clinic, owner):
    first = catalog.save_room(clinic.db, owner, RoomData("Op 1"))
    catalog.save_room(clinic.db, owner, replace(first, name="Operatory 1"))
    with pytest.raises(
        ConcurrentEditError, match=r"room was changed by owner at \d{1,2}:\d\d\W(AM|PM) while"
    ):
        catalog.save_room(clinic.db, owner, replace(first, colour="#000000"))


def test_room_names_are_unique_ignoring_case(clinic, owner):
    catalog.save_room(clinic.db, owner, RoomData("Op 1"))
    with pytest.raises(ValidationError, match="already a room"):
        catalog.save_room(clinic.db, owner, RoomData("OP 1"))


@pytest.mark.parametrize(
    "change,field",
    [
        ({"default_duration_minutes": 0}, "default_duration_minutes"),
        ({"default_duration_minutes": 32}, "default_duration_minutes"),
        ({"default_duration_minutes": 600}, "default_duration_minutes"),
        ({"fee": "-5"}, "fee"),
        ({"fee": "twelve"}, "fee"),
        ({"fee": "NaN"}, "fee"),
        ({"recall_interval_days": 0}, "recall"),
        ({"name": ""}, "name"),
    ],
)
def test_bad_service_input_is_refused(clinic, owner, change, field):
    with pytest.raises(ValidationError) as raised:
        catalog.save_service(clinic.db, owner, replace(ServiceData("Cleaning"), **change))
    assert raised.value.field == field


def test_service_fee_is_exact_money(clinic, owner):
    saved = catalog.save_service(
        clinic.db, owner, ServiceData("Implant crown", 60, "1,250.005", code="D6065")
    )
    assert saved.fee == Decimal("1250.01")
    with pytest.raises(ValidationError, match="used by “Implant crown”"):
        catalog.save_service(clinic.db, owner, ServiceData("Other", code="D6065"))


def test_only_the_owner_edits_the_catalogue(clinic, owner, make_staff):
    rita = make_staff("rita", "receptionist")
    with pytest.raises(PermissionDeniedError, match="change the clinic's settings"):
        catalog.save_room(clinic.db, rita, RoomData("Op 9"))
    catalog.save_room(clinic.db, owner, RoomData("Op 1"))
    assert [r.name for r in catalog.load_catalog(clinic.db, rita).rooms] == ["Op 1"]
