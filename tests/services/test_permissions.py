"""The permission matrix, written out in full: every role × every permission."""

import pytest

from app.data.models.staff import Role
from app.services.clinic.actor import Actor
from app.services.clinic.permissions import Permission, require, role_allows
from app.services.errors import PermissionDeniedError

ROLES = [Role.OWNER, Role.COORDINATOR, Role.RECEPTIONIST, Role.PROVIDER]

# Written by hand from the issue, not derived from the code's table: a change
# to who may do what must change this grid too.
# fmt: off
EXPECTED = {
    #                                   owner  coord  recep  provider
    Permission.VIEW_SCHEDULE:          (True,  True,  True,  True),
    Permission.MANAGE_APPOINTMENTS:    (True,  True,  True,  False),
    Permission.DOUBLE_BOOK:            (True,  True,  False, False),
    Permission.VIEW_PATIENTS:          (True,  True,  True,  True),
    Permission.EDIT_PATIENTS:          (True,  True,  True,  False),
    Permission.MERGE_PATIENTS:         (True,  True,  False, False),
    Permission.READ_NOTE_BODIES:       (True,  True,  False, True),
    Permission.WRITE_NOTES:            (True,  True,  False, True),
    Permission.SIGN_NOTES:             (True,  False, False, True),
    Permission.VIEW_PLANS:             (True,  True,  True,  True),
    Permission.MANAGE_PLANS:           (True,  True,  False, True),
    Permission.TAKE_PAYMENTS:          (True,  True,  True,  False),
    Permission.VOID_PAYMENTS:          (True,  False, False, False),
    Permission.MANAGE_REFERRALS:       (True,  True,  False, False),
    Permission.MANAGE_CONTACTS:        (True,  True,  True,  False),
    Permission.SEND_MESSAGES:          (True,  True,  True,  False),
    Permission.PRINT_DOCUMENTS:        (True,  True,  True,  True),
    Permission.VIEW_REPORTS:           (True,  False, False, False),
    Permission.VIEW_PRACTICE_REPORTS:  (True,  True,  False, False),
    Permission.CLOSE_MONTHS:           (True,  False, False, False),
    Permission.MANAGE_STAFF:           (True,  False, False, False),
    Permission.VIEW_AUDIT_LOG:         (True,  False, False, False),
    Permission.MANAGE_SETTINGS:        (True,  False, False, False),
    Permission.IMPORT_DATA:            (True,  False, False, False),
    Permission.EXPORT_RECORDS:         (True,  True,  True,  True),
    Permission.EXPORT_CLINIC:          (True,  False, False, False),
}
# fmt: on


def test_grid_covers_every_permission():
    assert set(EXPECTED) == set(Permission)


@pytest.mark.parametrize("permission", list(Permission))
@pytest.mark.parametrize("role_index,role", list(enumerate(ROLES)))
def test_role_permission(role_index, role, permission):
    assert role_allows(role, permission) is EXPECTED[permission][role_index]


@pytest.mark.parametrize("role", ROLES[1:])
def test_emergency_access_adds_reading_but_no_writing(role):
    assert role_allows(role, Permission.READ_NOTE_BODIES, emergency=True)
    assert role_allows(role, Permission.VIEW_PATIENTS, emergency=True)
    assert not role_allows(role, Permission.MANAGE_STAFF, emergency=True)
    assert not role_allows(role, Permission.VOID_PAYMENTS, emergency=True)
    assert not role_allows(role, Permission.VIEW_AUDIT_LOG, emergency=True)
    assert not role_allows(role, Permission.CLOSE_MONTHS, emergency=True)


def test_require_names_what_was_refused():
    receptionist = Actor(2, "rita", "Rita Reyes", Role.RECEPTIONIST)
    with pytest.raises(PermissionDeniedError, match="read consultation notes"):
        require(receptionist, Permission.READ_NOTE_BODIES)
    require(
        receptionist.with_emergency("patient collapsed in waiting room"),
        Permission.READ_NOTE_BODIES,
    )
