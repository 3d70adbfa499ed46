"""Who a task can be given to: active staff, by name."""

from app.services.clinic import staff
from app.services.patients import tasks


def test_assignees_are_active_staff_by_name(clinic, owner, make_staff):
    rita = make_staff("rita", "receptionist", "Rita Reception")
    gone = make_staff("gary", "receptionist", "Gary Gone")
    staff.set_active(clinic.db, owner, gone.staff_id, False)
    names = [a.name for a in tasks.list_assignees(clinic.db, rita)]
    assert names == ["Olivia Owner", "Rita Reception"]
    ids = {a.name: a.id for a in tasks.list_assignees(clinic.db, rita)}
    line = tasks.add_task(clinic.db, rita, title="Call", assignee_id=ids["Rita Reception"])
    assert line.assignee == "Rita Reception"
