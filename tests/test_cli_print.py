"""``caredesk print receipt|plan|agreement|referral``, run in-process through ``app.cli.main``."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from app.cli import main
from app.data.models import AuditEntry
from app.services.billing import treatment_plans as tp
from tests.data.factories import add_named_patient
from tests.documents.pdfread import pdf_pages_text
from tests.services.test_agreements import make_plan
from tests.services.test_plan_handouts import build
from tests.services.test_plan_handouts import ids as handout_ids  # noqa: F401 - a fixture
from tests.services.test_receipts import set_language, take
from tests.services.test_referral_letters import add_referral


@pytest.fixture(autouse=True)
def signed_in_as_the_owner(monkeypatch):
    """Commands that show patient data sign in as a member of staff (here: the owner)."""
    from tests.conftest import OWNER_PASSWORD

    monkeypatch.setenv("CAREDESK_USER", "owner")
    monkeypatch.setenv("CAREDESK_PASSWORD", OWNER_PASSWORD)


@pytest.fixture
def seeded(clinic, owner, handout_ids, tmp_path):  # noqa: F811
    """A clinic file with a payment, a treatment plan, a payment plan and a referral for
    one patient (Zoë Muñoz, Spanish-speaking), and a second patient (Ana Ruiz)."""
    patient = handout_ids["patient"]
    plan = build(clinic.db, owner, handout_ids)
    payment_plan = make_plan(clinic.db, owner, patient, count=60, total_amount=Decimal("6600.00"))
    ids = {
        "db": tmp_path / "clinic.caredesk",
        "patient": patient,
        "other": add_named_patient(clinic.db, "Ana", "Ruiz"),
        "payment": take(clinic.db, owner, patient, "250.00").payment_id,
        "plan": plan.id,
        "payment_plan": payment_plan.id,
        "referral": add_referral(clinic.db, patient),
    }
    assert ids["db"].exists()
    return ids


def run(seeded, *args: str) -> int:
    return main(["print", *args, "--db", str(seeded["db"])])


def text_of(path: Path) -> str:
    return " ".join(pdf_pages_text(path.read_bytes()))


def test_receipt_in_the_patients_language(seeded, tmp_path, capsys):
    out = tmp_path / "receipt.pdf"
    code = run(seeded, "receipt", "--patient", str(seeded["patient"]),
               "--payment", str(seeded["payment"]), "--out", str(out))  # fmt: skip
    assert code == 0, capsys.readouterr().err
    text = text_of(out)
    assert f"Recibo R-{seeded['payment']:06d}" in text and "Zoë Muñoz" in text
    assert capsys.readouterr().out.strip() == f"Wrote {out}"


def test_treatment_plan_handout_with_english_override(seeded, tmp_path, capsys):
    out = tmp_path / "handout.pdf"
    code = run(seeded, "plan", "--patient", str(seeded["patient"]), "--plan",
               str(seeded["plan"]), "--lang", "en", "--out", str(out))  # fmt: skip
    assert code == 0, capsys.readouterr().err
    text = text_of(out)
    assert "Replace #14" in text and "Implant crown" in text and "Zoë Muñoz" in text


def test_agreement_of_sixty_installments_in_spanish(seeded, tmp_path, capsys):
    out = tmp_path / "agreement.pdf"
    code = run(seeded, "agreement", "--patient", str(seeded["patient"]), "--plan",
               str(seeded["payment_plan"]), "--out", str(out))  # fmt: skip
    assert code == 0, capsys.readouterr().err
    pages = pdf_pages_text(out.read_bytes())
    assert len(pages) >= 2
    assert "Acuerdo de plan de pagos" in pages[0]
    assert all("Fecha de vencimiento Importe Capital" in page for page in pages[:-1])
    assert "Número de cuotas 60" in pages[0]


def test_referral_letter(seeded, tmp_path, capsys):
    out = tmp_path / "referral.pdf"
    code = run(seeded, "referral", "--patient", str(seeded["patient"]), "--referral",
               str(seeded["referral"]), "--out", str(out))  # fmt: skip
    assert code == 0, capsys.readouterr().err
    text = text_of(out)
    # The specialist reads it: the clinic's language, not the patient's.
    assert "Dear Dr. Łucja Peña," in text and "Zoë Muñoz" in text


def test_every_print_is_audited_as_the_staff_member_signed_in(seeded, clinic, owner, tmp_path):
    jobs = [
        ("receipt", "--payment", seeded["payment"], "payments"),
        ("plan", "--plan", seeded["plan"], "treatment_plans"),
        ("agreement", "--plan", seeded["payment_plan"], "payment_plans"),
        ("referral", "--referral", seeded["referral"], "referrals"),
    ]
    for document, option, row, _entity in jobs:
        out = tmp_path / f"{document}.pdf"
        assert run(seeded, document, "--patient", str(seeded["patient"]), option, str(row),
                   "--out", str(out)) == 0  # fmt: skip
    with clinic.db.uow() as session:
        entries = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "print").order_by(AuditEntry.id)
        ).all()
        assert [(e.entity, e.entity_id, e.patient_id, e.staff_id) for e in entries] == [
            (entity, row, seeded["patient"], owner.staff_id) for _d, _o, row, entity in jobs
        ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["receipt", "--patient", "9999", "--payment", "{payment}"], "No patient has id 9999."),
        (["receipt", "--patient", "{other}", "--payment", "{payment}"],
         "Payment #{payment} belongs to another patient."),
        (["receipt", "--patient", "{patient}", "--payment", "9999"], "No payment has id 9999."),
        (["agreement", "--patient", "{other}", "--plan", "{payment_plan}"],
         "Payment plan #{payment_plan} belongs to another patient."),
        (["plan", "--patient", "{other}", "--plan", "{plan}"],
         "Treatment plan #{plan} belongs to another patient."),
        (["referral", "--patient", "{other}", "--referral", "{referral}"],
         "Referral #{referral} belongs to another patient."),
        (["receipt", "--patient", "{patient}", "--payment", "{payment}", "--lang", "fr"],
         "--lang must be en or es, not “fr”"),
        (["receipt", "--patient", "{patient}"], "print receipt needs --payment ID"),
        (["agreement", "--patient", "{patient}", "--plan", "{payment_plan}", "--payment", "1"],
         "--payment does not apply to print agreement"),
    ],
)  # fmt: skip
def test_bad_arguments_are_one_line_on_stderr_exit_2_and_no_file(
    seeded, tmp_path, capsys, args, message
):
    out = tmp_path / "result.pdf"
    code = run(seeded, *[a.format(**seeded) for a in args], "--out", str(out))
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("caredesk: ") and len(err.strip().splitlines()) == 1
    assert message.format(**seeded) in err
    assert not out.exists() and list(tmp_path.glob(".caredesk-*")) == []


def test_an_existing_file_is_never_overwritten(seeded, tmp_path, capsys):
    out = tmp_path / "keep.pdf"
    out.write_bytes(b"the patient's signed copy")
    code = run(seeded, "receipt", "--patient", str(seeded["patient"]),
               "--payment", str(seeded["payment"]), "--out", str(out))  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and "already exists" in err
    assert out.read_bytes() == b"the patient's signed copy"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["receipt", "--patient", "1", "--payment", "1"], "arguments are required: --out"),
        (["letter", "--patient", "1", "--out", "x.pdf"], "invalid choice: 'letter'"),
        (["receipt", "--patient", "Zoë", "--out", "x.pdf"], "is not a whole number"),
    ],
)  # fmt: skip
def test_argparse_refuses_what_it_can_with_exit_2(tmp_path, capsys, args, message):
    with pytest.raises(SystemExit) as raised:
        main(["print", *args])
    assert raised.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "x.pdf").exists()


def test_an_unaccepted_plan_without_items_is_refused(clinic, owner, seeded, tmp_path, capsys):
    empty = tp.create_plan(clinic.db, owner, seeded["patient"], "Nothing yet")
    out = tmp_path / "empty.pdf"
    code = run(seeded, "plan", "--patient", str(seeded["patient"]), "--plan", str(empty.id),
               "--out", str(out))  # fmt: skip
    assert code == 2 and "Add at least one item" in capsys.readouterr().err
    assert not out.exists()


def test_language_override_spanish_for_an_english_patient(seeded, clinic, tmp_path, capsys):
    set_language(clinic.db, seeded["patient"], "en")
    out = tmp_path / "r.pdf"
    code = run(seeded, "referral", "--patient", str(seeded["patient"]), "--referral",
               str(seeded["referral"]), "--lang", "ES", "--out", str(out))  # fmt: skip
    assert code == 0, capsys.readouterr().err
    assert "Carta de derivación" in text_of(out)


def test_intake_form_pre_filled_or_blank(seeded, tmp_path, capsys):
    from pypdf import PdfReader

    filled, blank = tmp_path / "intake.pdf", tmp_path / "blank.pdf"
    patient = str(seeded["patient"])
    assert run(seeded, "intake", "--patient", patient, "--out", str(filled)) == 0
    assert "Zoë Muñoz" in text_of(filled)
    assert run(seeded, "intake", "--patient", patient, "--blank", "--out", str(blank)) == 0
    assert PdfReader(str(blank)).get_fields()  # fillable on a tablet


def test_consent_form_for_a_wet_signature(seeded, tmp_path, capsys):
    out = tmp_path / "consent.pdf"
    code = run(seeded, "consent", "--patient", str(seeded["patient"]), "--template", "laser",
               "--lang", "en", "--out", str(out))  # fmt: skip
    assert code == 0, capsys.readouterr().err
    assert "Zoë Muñoz" in text_of(out)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["consent"], "print consent needs --template NAME"),
        (["intake", "--template", "laser"], "--template does not apply to print intake"),
        (["receipt", "--payment", "1", "--blank"], "--blank does not apply to print receipt"),
        (["intake", "--payment", "1"], "--payment does not apply to print intake"),
        (["consent", "--template", "no_such_form"], "no_such_form"),
    ],
)
def test_intake_and_consent_refuse_what_does_not_apply(seeded, tmp_path, capsys, args, message):
    out = tmp_path / "x.pdf"
    code = run(seeded, *args, "--patient", str(seeded["patient"]), "--out", str(out))
    assert code == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_a_deactivated_account_prints_nothing_and_the_attempt_is_audited(
    seeded, clinic, owner, tmp_path, monkeypatch, capsys
):
    """Signed in on the command line as at the window: an account that may not sign in
    there prints nothing here, and the attempt is in the audit trail."""
    from app.services.clinic import staff
    from tests.conftest import STAFF_PASSWORD

    pat = staff.create_staff(clinic.db, owner, "pat", "Pat Provider", "provider", STAFF_PASSWORD)
    staff.set_active(clinic.db, owner, pat.id, False)
    monkeypatch.setenv("CAREDESK_USER", "pat")
    monkeypatch.setenv("CAREDESK_PASSWORD", STAFF_PASSWORD)
    out = tmp_path / "receipt.pdf"
    code = run(seeded, "receipt", "--patient", str(seeded["patient"]), "--payment",
               str(seeded["payment"]), "--out", str(out))  # fmt: skip
    assert code == 1 and not out.exists()
    assert "caredesk: " in capsys.readouterr().err
    with clinic.db.uow() as session:
        last = session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1)).one()
        assert (last.action, last.username) == ("login_failed", "pat")


def test_a_print_whose_file_cannot_be_written_leaves_no_printed_row(
    seeded, clinic, tmp_path, monkeypatch, capsys
):
    """The file is written inside the print's transaction: a full disk (here: a write that
    fails) rolls the "printed" audit row back with it."""
    import app.cli

    def disk_full(out, data):
        raise app.cli._UsageError(f"cannot write {out}: No space left on device")

    monkeypatch.setattr(app.cli, "_write_file", disk_full)
    out = tmp_path / "receipt.pdf"
    code = run(seeded, "receipt", "--patient", str(seeded["patient"]), "--payment",
               str(seeded["payment"]), "--out", str(out))  # fmt: skip
    assert code == 2 and "No space left on device" in capsys.readouterr().err
    assert not out.exists()
    with clinic.db.uow() as session:
        printed = session.scalars(select(AuditEntry).where(AuditEntry.action == "print")).all()
        assert printed == []
