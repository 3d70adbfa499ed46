"""Realistic, deterministic made-up clinics: the demo clinic and large benchmark databases.

``create_seeded_clinic`` creates a clinic through :func:`app.services.clinic.clinics.create_clinic`
(fixed demo details, an owner and one account per role, all with :data:`DEMO_PASSWORD`)
and fills it with a clinic's history: providers with working hours and breaks, rooms,
a dental / med-spa services catalogue, patients, ``years`` of appointments with their
status history, consultation notes, treatment plans, payment plans, charges, payments,
insurance, referrals, tasks and the communication log.

Determinism: the same arguments give the same rows.  Everything random comes from
``random.Random`` and ``Faker`` instances seeded from ``seed``; nothing reads the clock.
The timeline is anchored at ``today`` (default :data:`SEED_TODAY`, a fixed date): the
history covers the ``years`` before it, and bookings reach :data:`FUTURE_DAYS` after it.
Within ``today`` the simulated clock reads 10:45 clinic time (earlier visits are done,
some are in treatment or waiting, later ones confirmed), whatever the real time.
The demo passes the real date so its calendar is live.  Only what the clinic set-up
itself writes differs between two runs: password hashes, the audit rows and the
creation time of the clinic settings and staff rows.

Speed: rows are written with Core ``executemany`` inserts in batches, with ids
assigned here (no per-row round trips).  Foreign keys are checked once at the end
(``PRAGMA foreign_key_check``) rather than per row, so rows can be written in the
order the simulation produces them; CHECK constraints apply to every row as usual.
100,000 patients with 10 years of history take about 40 seconds on a laptop-class CPU.
"""

from __future__ import annotations

import bisect
import contextlib
import heapq
import json
import random
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta
from faker import Faker
from sqlalchemy import Connection, Table, func, select, update

from app.data import keys
from app.data.database import remove_database_files
from app.data.keys import KeyringUnavailable
from app.data.models import (
    AccountAdjustment,
    Appointment,
    AppointmentStatusChange,
    Charge,
    ClinicSettings,
    CommunicationEntry,
    ConsultationNote,
    Contact,
    Installment,
    InsurancePolicy,
    InsuranceVerification,
    NoteAddendum,
    Patient,
    PatientSearchTerm,
    Payment,
    PaymentAllocation,
    PaymentPlan,
    PreAuthorization,
    Provider,
    ProviderBreak,
    Referral,
    ReferralEvent,
    Role,
    Room,
    Service,
    Staff,
    Task,
    TreatmentItem,
    TreatmentPhase,
    TreatmentPlan,
    WaitlistEntry,
    WorkingHours,
)
from app.data.models.base import Base
from app.data.models.payments import refresh_unapplied
from app.money import round_money
from app.services.clinic.audit import AuditAction, record
from app.services.clinic.clinics import ClinicDetails, OpenClinic, create_clinic
from app.services.clinic.staff import add_staff_row
from app.services.clinic.uow import unit_of_work
from app.services.patients.search import fold_for_search, patient_search_name, search_terms

#: The password of every demo account (README and screenshots cite it). Made-up data only.
DEMO_PASSWORD = "caredesk-demo-2026"


@dataclass(frozen=True)
class DemoAccount:
    username: str
    full_name: str
    role: Role


#: The accounts a seeded clinic has, all with :data:`DEMO_PASSWORD`.  The three provider
#: accounts are the logins of the three providers (in the order of :data:`_PROVIDERS`).
DEMO_ACCOUNTS: tuple[DemoAccount, ...] = (
    DemoAccount("owner", "Olivia Bennett", Role.OWNER),
    DemoAccount("coordinator", "Camila Reyes", Role.COORDINATOR),
    DemoAccount("receptionist", "Rachel Kim", Role.RECEPTIONIST),
    DemoAccount("provider", "Daniel Okafor", Role.PROVIDER),
    DemoAccount("hygienist", "Sofía Martínez", Role.PROVIDER),
    DemoAccount("aesthetics", "Hannah Whitfield", Role.PROVIDER),
)

DEMO_CLINIC = ClinicDetails(
    name="Riverside Dental & Aesthetics",
    timezone="America/Chicago",
    locale="en_US",
    currency="USD",
    address_line1="4100 Riverside Drive, Suite 200",
    city="Austin",
    region="TX",
    postal_code="78741",
    country="US",
    phone="(512) 555-0142",
    email="frontdesk@riverside-dental.example",
)

#: The "today" of a seeded clinic unless the caller gives one (benchmarks: a fixed date).
SEED_TODAY = date(2026, 6, 16)  # a Tuesday: all three providers work
#: Bookings reach this many days after ``today``, thinning out with distance.
FUTURE_DAYS = 90
#: Rows per executemany batch.
BATCH_ROWS = 5000

Progress = Callable[[str, int, int], None]

# --- the clinic's fixed set-up --------------------------------------------------------------

# Minutes after local midnight.
H = 60


@dataclass(frozen=True)
class _ServiceSpec:
    code: str
    name: str
    category: str
    minutes: int
    fee: str
    recall_days: int | None
    colour: str
    preauth: bool
    description: str


_SERVICES: tuple[_ServiceSpec, ...] = (
    _ServiceSpec("D0150", "Comprehensive exam (new patient)", "Exam", 60, "120.00", None,
                 "#5dade2", False, "Full exam, charting and x-rays for a new patient."),
    _ServiceSpec("D0120", "Periodic exam", "Exam", 30, "65.00", 180, "#85c1e9", False,
                 "Check-up exam by the dentist."),
    _ServiceSpec("D1110", "Adult cleaning", "Preventive", 60, "110.00", 180, "#58d68d", False,
                 "Prophylaxis by the hygienist."),
    _ServiceSpec("D4341", "Scaling and root planing (quadrant)", "Periodontics", 60, "260.00",
                 90, "#229954", True, "Deep cleaning below the gum line, one quadrant."),
    _ServiceSpec("D2391", "Composite filling", "Restorative", 45, "185.00", None, "#f5b041",
                 False, "Tooth-coloured filling."),
    _ServiceSpec("D2740", "Porcelain crown", "Restorative", 90, "1250.00", None, "#dc7633",
                 True, "All-ceramic crown."),
    _ServiceSpec("D3330", "Root canal (molar)", "Endodontics", 90, "1150.00", None, "#cb4335",
                 True, "Root canal treatment of a molar."),
    _ServiceSpec("D6010", "Implant placement", "Surgery", 120, "2400.00", None, "#7b241c", True,
                 "Surgical placement of an implant body."),
    _ServiceSpec("D9972", "Teeth whitening (in-office)", "Cosmetic", 60, "450.00", None,
                 "#f7dc6f", False, "In-office whitening session."),
    _ServiceSpec("DCONS", "Treatment consultation", "Consultation", 30, "95.00", None,
                 "#aab7b8", False, "Consultation to discuss treatment options and costs."),
    _ServiceSpec("MSCONS", "Aesthetic consultation", "Consultation", 30, "0.00", None,
                 "#d7bde2", False, "Free consultation for aesthetic treatments."),
    _ServiceSpec("MSBTX", "Botulinum toxin (per area)", "Injectables", 30, "350.00", 100,
                 "#a569bd", False, "Wrinkle-relaxing injections, priced per area."),
    _ServiceSpec("MSFIL", "Dermal filler (1 syringe)", "Injectables", 45, "650.00", 270,
                 "#8e44ad", False, "Hyaluronic acid filler."),
    _ServiceSpec("MSPEEL", "Chemical peel", "Skin", 45, "175.00", None, "#f1948a", False,
                 "Medium-depth chemical peel."),
    _ServiceSpec("MSLHR", "Laser hair removal session", "Laser", 30, "250.00", None, "#e74c3c",
                 False, "One session of a laser hair removal series."),
    _ServiceSpec("MSHYD", "HydraFacial", "Skin", 60, "199.00", None, "#48c9b0", False,
                 "Cleansing, exfoliation and hydration facial."),
)  # fmt: skip

_CONSULT_CODES = frozenset({"DCONS", "MSCONS", "D0150"})
_DENTAL_CODES = frozenset(s.code for s in _SERVICES if not s.code.startswith("MS"))


@dataclass(frozen=True)
class _ProviderSpec:
    username: str
    name: str
    title: str
    credentials: str
    licence: str
    colour: str
    room: str
    # (weekday, start minute, end minute)
    hours: tuple[tuple[int, int, int], ...]
    # weekly breaks: (weekday, start, end, label)
    breaks: tuple[tuple[int, int, int, str], ...]
    # service code → weight for bookings that are not part of a plan or a recall
    booking_weights: tuple[tuple[str, float], ...]


_PROVIDERS: tuple[_ProviderSpec, ...] = (
    _ProviderSpec(
        "provider", "Daniel Okafor", "Dr.", "DDS", "TX-DDS-31877", "#2e86de", "Operatory 1",
        (*((d, 8 * H, 17 * H) for d in range(4)), (4, 8 * H, 13 * H)),
        tuple((d, 12 * H, 13 * H, "Lunch") for d in range(4)),
        (("D0150", 3), ("D0120", 3), ("DCONS", 2.5), ("D2391", 4), ("D9972", 0.7),
         ("D2740", 0.6), ("D3330", 0.4)),
    ),
    _ProviderSpec(
        "hygienist", "Sofía Martínez", "", "RDH", "TX-RDH-77120", "#27ae60", "Hygiene room",
        tuple((d, 7 * H + 30, 16 * H) for d in range(5)),
        tuple((d, 11 * H + 30, 12 * H, "Lunch") for d in range(5)),
        (("D1110", 8), ("D4341", 1), ("D9972", 0.8)),
    ),
    _ProviderSpec(
        "aesthetics", "Hannah Whitfield", "Dr.", "MD", "TX-MD-Q4471", "#8e44ad",
        "Aesthetics suite",
        ((1, 10 * H, 18 * H), (2, 10 * H, 18 * H), (3, 10 * H, 18 * H), (4, 9 * H, 15 * H)),
        ((1, 13 * H + 30, 14 * H, "Lunch"), (2, 13 * H + 30, 14 * H, "Lunch"),
         (3, 13 * H + 30, 14 * H, "Lunch"), (4, 12 * H, 12 * H + 30, "Lunch")),
        (("MSCONS", 2.5), ("MSBTX", 4), ("MSFIL", 2), ("MSPEEL", 1.5), ("MSLHR", 1.2),
         ("MSHYD", 2)),
    ),
)  # fmt: skip

_ROOMS: tuple[tuple[str, str], ...] = (
    ("Operatory 1", "#5dade2"),
    ("Hygiene room", "#58d68d"),
    ("Aesthetics suite", "#bb8fce"),
    ("Consult room", "#aab7b8"),
)
_CONSULT_ROOM = "Consult room"

# Treatment plan templates: title, reason, phases of (phase title, description, items of
# (service code, area, quantity)).  "{tooth}" is filled in per patient.
_PlanPhase = tuple[str, str, tuple[tuple[str, str, int], ...]]
_PLAN_TEMPLATES: dict[str, tuple[tuple[str, str, tuple[_PlanPhase, ...]], ...]] = {
    "dental": (
        ("Implant to replace #{tooth}", "Missing tooth #{tooth}; wants a fixed replacement.", (
            ("Implant placement", "We place the implant and let it heal for about 3 months.",
             (("D6010", "#{tooth}", 1),)),
            ("Crown on the implant", "Once healed, a porcelain crown is fitted on the implant.",
             (("D2740", "#{tooth}", 1),)),
        )),
        ("Root canal and crown #{tooth}", "Pain on biting and sensitivity to cold on #{tooth}.", (
            ("Root canal", "We clean and seal the root canals of the tooth.",
             (("D3330", "#{tooth}", 1),)),
            ("Crown", "A crown protects the treated tooth from breaking.",
             (("D2740", "#{tooth}", 1),)),
        )),
        ("Periodontal therapy", "Bleeding gums and deep pockets found at the exam.", (
            ("Deep cleaning", "Scaling and root planing, two quadrants per visit.",
             (("D4341", "Upper right", 1), ("D4341", "Upper left", 1),
              ("D4341", "Lower left", 1), ("D4341", "Lower right", 1))),
            ("Maintenance", "A cleaning three months later to keep the gums healthy.",
             (("D1110", "", 1),)),
        )),
        ("Fillings", "Cavities found on x-rays.", (
            ("Fillings", "Tooth-coloured fillings.",
             (("D2391", "#{tooth}", 1), ("D2391", "#{tooth2}", 1))),
        )),
        ("Smile brightening", "Wants whiter teeth for an upcoming event.", (
            ("Whitening", "One in-office whitening session.", (("D9972", "", 1),)),
        )),
    ),
    "aesthetic": (
        ("Facial rejuvenation", "Forehead lines, frown lines and volume loss in the cheeks.", (
            ("Wrinkle relaxing", "Injections for forehead and frown lines.",
             (("MSBTX", "Forehead", 1), ("MSBTX", "Glabella", 1))),
            ("Volume", "Filler to restore cheek volume, two weeks later.",
             (("MSFIL", "Cheeks", 1),)),
        )),
        ("Laser hair removal package", "Unwanted hair; wants a lasting solution.", (
            ("Laser series", "Six sessions about six weeks apart.",
             tuple(("MSLHR", f"Session {i}", 1) for i in range(1, 7))),
        )),
        ("Skin renewal", "Uneven skin tone and sun damage.", (
            ("Peels", "Three chemical peels a month apart.",
             (("MSPEEL", "Face", 1), ("MSPEEL", "Face", 1), ("MSPEEL", "Face", 1))),
            ("Maintenance", "A HydraFacial to keep the results.", (("MSHYD", "Face", 1),)),
        )),
    ),
}  # fmt: skip

_PAYERS = (
    ("Bluebonnet Dental Benefits", "Dental PPO"),
    ("Lone Star Mutual Insurance", "Dental Select"),
    ("Capitol Health Plans", "Family Dental"),
    ("Guadalupe Benefit Trust", "Employee Dental"),
    ("Pecan Valley Assurance", "Dental Plus"),
    ("Hill Country Health Alliance", "Dental HMO"),
    ("Riverbend Life & Health", "PPO 1500"),
    ("Prairie State Benefits", "Premier Dental"),
)
_SPECIALTIES = (
    ("Oral surgery", "dental"),
    ("Endodontics", "dental"),
    ("Periodontics", "dental"),
    ("Orthodontics", "dental"),
    ("Pediatric dentistry", "dental"),
    ("Dermatology", "aesthetic"),
    ("Plastic surgery", "aesthetic"),
    ("Primary care", "any"),
)
#: Services after which the clinic calls the patient: how many days after.
_FOLLOW_UP_CALL_DAYS = {"D3330": 1, "D6010": 2, "D4341": 2, "MSFIL": 3, "MSPEEL": 3}
#: The clinic's default days to a specialist's visit by urgency (ClinicSettings).
_VISIT_DAYS = {"routine": 30, "soon": 14, "urgent": 3}
_FINISHED_REFERRAL = ("closed", "declined", "cancelled")
_ENDED_REASON = {
    "cancelled": "The patient chose to wait.",
    "declined": "The specialist's office is not taking new patients.",
}
_LABS = (
    ("Lone Star Dental Lab", "Crowns, bridges and implant restorations"),
    ("Capital City Ceramics", "Porcelain and zirconia crowns"),
    ("Austin Pathology Services", "Biopsy pathology"),
    ("Barton Creek Orthodontic Lab", "Retainers and night guards"),
)
_CITIES = (
    ("Austin", ("78701", "78702", "78703", "78704", "78705", "78721", "78723", "78731",
                "78741", "78745", "78748", "78749", "78751", "78757", "78759"), 55),
    ("Round Rock", ("78664", "78665", "78681"), 8),
    ("Pflugerville", ("78660",), 6),
    ("Cedar Park", ("78613",), 6),
    ("Georgetown", ("78626", "78628"), 4),
    ("Leander", ("78641",), 4),
    ("Kyle", ("78640",), 4),
    ("Buda", ("78610",), 3),
    ("Manor", ("78653",), 2),
    ("Lakeway", ("78734",), 3),
    ("San Marcos", ("78666",), 3),
    ("Dripping Springs", ("78620",), 2),
)  # fmt: skip
_LEAD_SOURCES = (
    ("Google search", 24), ("Patient referral", 20), ("Instagram", 10), ("Facebook", 7),
    ("Insurance directory", 10), ("Specialist referral", 6), ("Walk-in", 4), ("Website", 9),
    ("Yelp", 5), ("Community event", 3), ("", 2),
)  # fmt: skip
_MEDICAL_ALERTS = (
    "Latex allergy",
    "Anticoagulant (warfarin): bleeding risk",
    "Pacemaker: no ultrasonic scaler",
    "Premedicate: prosthetic knee joint",
    "Type 2 diabetes",
    "Pregnant",
    "History of fainting during injections",
    "Bisphosphonate therapy: discuss before extractions",
)
_ALLERGIES = ("Penicillin", "Codeine", "Latex", "Sulfa drugs", "Amoxicillin", "Ibuprofen",
              "Lidocaine with epinephrine (palpitations)")  # fmt: skip
_MEDICATIONS = ("Lisinopril 10 mg", "Metformin 500 mg", "Atorvastatin 20 mg",
                "Levothyroxine 50 mcg", "Sertraline 50 mg", "Amlodipine 5 mg", "Omeprazole 20 mg",
                "Albuterol inhaler", "Warfarin 5 mg", "Alendronate 70 mg")  # fmt: skip
_NICKNAMES = {
    "William": "Bill", "Robert": "Bob", "Elizabeth": "Liz", "Katherine": "Kate",
    "Michael": "Mike", "Christopher": "Chris", "Jennifer": "Jen", "Margaret": "Peggy",
    "Richard": "Rick", "Jonathan": "Jon", "Alexander": "Alex", "Samantha": "Sam",
    "Francisco": "Paco", "José": "Pepe", "Guadalupe": "Lupe", "Alejandro": "Álex",
    "Ignacio": "Nacho", "Dolores": "Lola", "Rosario": "Charo", "Manuel": "Manolo",
    "Daniel": "Dan", "Patricia": "Patty", "Thomas": "Tom", "Joseph": "Joe",
}  # fmt: skip
_RELATIONS = ("Spouse", "Parent", "Sibling", "Partner", "Friend", "Son", "Daughter")
_CANCEL_REASONS = ("Feeling unwell", "Work conflict", "Childcare", "Car trouble",
                   "Rescheduling to a later date", "Out of town", "Family emergency",
                   "Forgot about another appointment")  # fmt: skip
_CLINIC_CANCEL_REASONS = ("Provider ill", "Equipment repair", "Weather closure")
_DECLINE_REASONS = ("Cost", "Wants a second opinion", "Not a priority right now",
                    "Worried about pain", "Insurance covers too little")  # fmt: skip
_QUESTIONS = ("Asked how long healing takes.", "Asked whether insurance covers it.",
              "Asked about payment plans.", "Worried about pain; discussed anaesthesia.",
              "Asked how long results last.", "Asked about time off work.")  # fmt: skip
_APPOINTMENT_NOTES = ("Prefers morning appointments", "Needs extra time: anxious patient",
                      "Bring previous x-rays", "Will come by bus; may be a few minutes late",
                      "Interpreter not needed: speaks Spanish with Sofía",
                      "Wants to discuss payment options at check-out")  # fmt: skip
#: The journey the simulation tracks, in the stages the front desk works with.
_STAGE_OF_OLD = {
    "consulted": "consultation",
    "plan_presented": "consultation",
    "in_treatment": "in_treatment",
    "completed": "follow_up",
    "recall": "follow_up",
    "inactive": "inactive",
}
_HOLIDAYS = {(1, 1), (7, 4), (12, 24), (12, 25), (12, 31)}

# --- small helpers --------------------------------------------------------------------------


def _money(text: str | Decimal) -> Decimal:
    return round_money(Decimal(text))


def _weighted(rng: random.Random, table) -> object:
    values = [v for v, _ in table]
    weights = [w for _, w in table]
    return rng.choices(values, weights)[0]


def _email_part(text: str) -> str:
    return "".join(ch for ch in fold_for_search(text) if ch.isalnum())


class _Ids:
    """Hands out ids per table, continuing after whatever the clinic set-up wrote."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._next: dict[str, int] = {}

    def next(self, model: type[Base]) -> int:
        table = model.__table__
        if table.name not in self._next:
            top = self._conn.execute(select(func.max(table.c.id))).scalar()
            self._next[table.name] = (top or 0) + 1
        value = self._next[table.name]
        self._next[table.name] = value + 1
        return value


class _Writer:
    """Buffers rows per table and writes them with executemany in committed batches."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._buffers: dict[Table, list[dict]] = defaultdict(list)
        self._templates: dict[Table, dict] = {}
        self._checked: set[Table] = set()
        self.counts: dict[str, int] = defaultdict(int)

    def _template(self, table: Table) -> dict:
        template = self._templates.get(table)
        if template is None:
            template = {}
            for column in table.columns:
                default = column.default
                if default is not None and getattr(default, "is_scalar", False):
                    template[column.name] = default.arg
                elif default is None and column.nullable and not column.primary_key:
                    template[column.name] = None
            self._templates[table] = template
        return template

    def add(self, model: type[Base], row: dict) -> dict:
        table = model.__table__
        if table not in self._checked:
            # A column left to a callable default (utc_now) would make two seeds differ.
            missing = [
                c.name
                for c in table.columns
                if c.default is not None and not c.default.is_scalar and c.name not in row
            ]
            if missing:
                raise ValueError(f"seed row for {table.name} lacks {missing}")
            self._checked.add(table)
        full = {**self._template(table), **row}
        buffer = self._buffers[table]
        buffer.append(full)
        if len(buffer) >= BATCH_ROWS:
            self._flush(table)
        return full

    def _flush(self, table: Table) -> None:
        rows = self._buffers.pop(table, [])
        if not rows:
            return
        self.conn.execute(table.insert(), rows)
        self.conn.commit()
        self.counts[table.name] += len(rows)

    def flush_all(self) -> None:
        for table in list(self._buffers):
            self._flush(table)


# --- the simulation -------------------------------------------------------------------------


@dataclass
class _PatientState:
    visits: int = 0
    last_visit: date | None = None
    first_visit: date | None = None
    future: int = 0
    provider_counts: list[int] = field(default_factory=lambda: [0, 0, 0])
    last_verified: date | None = None
    plans: list[int] = field(default_factory=list)


@dataclass(order=True)
class _Pending:
    """A visit waiting to be booked: a recall, a repeat treatment or a plan item."""

    due: date
    seq: int
    patient_id: int = field(compare=False)
    code: str = field(compare=False)
    booked_at: datetime = field(compare=False)
    item_id: int | None = field(default=None, compare=False)
    phase_id: int | None = field(default=None, compare=False)
    kind: str = field(default="recall", compare=False)


# Patient flags decided up front.
_NORMAL, _NEVER_BOOKS, _MERGED, _MOVES_AWAY = 0, 1, 2, 3


class _Seeder:
    def __init__(
        self,
        conn: Connection,
        *,
        patients: int,
        years: int,
        seed: int,
        today: date,
        progress: Progress,
    ) -> None:
        self.conn = conn
        self.n_patients = patients
        self.years = years
        self.seed = seed
        self.rng = random.Random(seed)
        self.today = today
        self.start = today - relativedelta(years=years)
        self.end = today + timedelta(days=FUTURE_DAYS)
        self.progress = progress
        self.ids = _Ids(conn)
        self.out = _Writer(conn)
        self.zone = ZoneInfo(DEMO_CLINIC.timezone)
        self._offsets: dict[date, timedelta] = {}
        # "Now" in the simulation: mid-morning of ``today``, clinic time, when every
        # provider who works that day is busy (the Today page shows visits in progress).
        self.now = self.at(today, 10 * H + 45)
        self.seq = 0

    # time ---------------------------------------------------------------------------------

    def at(self, day: date, minute: int) -> datetime:
        """UTC instant of ``minute`` after local midnight on ``day`` (clinic hours: no DST gap)."""
        offset = self._offsets.get(day)
        if offset is None:
            offset = self.zone.utcoffset(datetime(day.year, day.month, day.day, 12))
            self._offsets[day] = offset
        return (
            datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(minutes=minute) - offset
        )

    def local_day(self, moment: datetime) -> date:
        return moment.astimezone(self.zone).date()

    def between(self, a: datetime, b: datetime) -> datetime:
        if b <= a:
            return a
        span = int((b - a).total_seconds())
        return a + timedelta(seconds=self.rng.randint(0, span))

    def office_time(self, day: date) -> datetime:
        """A plausible front-desk moment on ``day``."""
        return self.at(day, self.rng.randint(8 * H, 17 * H))

    def stamp(self, moment: datetime) -> dict:
        return {"created_at": moment, "updated_at": moment}

    # set-up -------------------------------------------------------------------------------

    def run(self) -> None:
        self.progress("Setting up the clinic", 0, 1)
        self.load_staff()
        self.write_catalogue()
        self.write_contacts()
        self.progress("Setting up the clinic", 1, 1)
        self.plan_patients()
        self.write_policies()
        self.simulate()
        self.finish_plans()
        self.write_patients()
        self.write_referrals_in()
        self.write_waitlist()
        self.out.flush_all()

    def load_staff(self) -> None:
        rows = self.conn.execute(select(Staff.id, Staff.username)).all()
        by_name = {r.username: r.id for r in rows}
        self.staff = {a.username: by_name[a.username] for a in DEMO_ACCOUNTS}
        self.desk = (
            (self.staff["receptionist"], 6),
            (self.staff["coordinator"], 3),
            (self.staff["owner"], 1),
        )

    def desk_staff(self) -> int:
        return _weighted(self.rng, self.desk)

    def write_catalogue(self) -> None:
        conn = self.conn
        created = self.at(self.start - timedelta(days=30), 9 * H)
        conn.execute(
            update(ClinicSettings)
            .where(ClinicSettings.id == 1)
            .values(
                website="https://riverside-dental.example",
                charge_no_show_fee=True,
                no_show_fee=Decimal("50.00"),
                late_cancel_fee=Decimal("35.00"),
                late_cancel_hours=24,
                opens_at_minute=7 * H + 30,
                closes_at_minute=18 * H,
            )
        )
        conn.commit()
        self.rooms: dict[str, int] = {}
        for position, (name, colour) in enumerate(_ROOMS):
            room_id = self.ids.next(Room)
            self.rooms[name] = room_id
            self.out.add(
                Room,
                {"id": room_id, "name": name, "colour": colour, "position": position}
                | self.stamp(created),
            )
        self.services: dict[str, dict] = {}
        for spec in _SERVICES:
            service_id = self.ids.next(Service)
            row = {
                "id": service_id,
                "name": spec.name,
                "code": spec.code,
                "category": spec.category,
                "default_duration_minutes": spec.minutes,
                "fee": _money(spec.fee),
                "recall_interval_days": spec.recall_days,
                "follow_up_call_days": _FOLLOW_UP_CALL_DAYS.get(spec.code),
                "colour": spec.colour,
                "requires_preauth": spec.preauth,
                "description": spec.description,
            } | self.stamp(created)
            self.out.add(Service, row)
            self.services[spec.code] = row
        self.providers: list[dict] = []
        for position, spec in enumerate(_PROVIDERS):
            provider_id = self.ids.next(Provider)
            self.out.add(
                Provider,
                {
                    "id": provider_id,
                    "name": spec.name,
                    "title": spec.title,
                    "credentials": spec.credentials,
                    "licence_number": spec.licence,
                    "colour": spec.colour,
                    "position": position,
                    "staff_id": self.staff[spec.username],
                }
                | self.stamp(created),
            )
            for weekday, begin, end in spec.hours:
                self.out.add(
                    WorkingHours,
                    {
                        "id": self.ids.next(WorkingHours),
                        "provider_id": provider_id,
                        "weekday": weekday,
                        "start_minute": begin,
                        "end_minute": end,
                    },
                )
            for weekday, begin, end, label in spec.breaks:
                self.out.add(
                    ProviderBreak,
                    {
                        "id": self.ids.next(ProviderBreak),
                        "provider_id": provider_id,
                        "weekday": weekday,
                        "on_date": None,
                        "start_minute": begin,
                        "end_minute": end,
                        "label": label,
                    },
                )
            # Whole days away: a few a year, and two in the coming weeks the calendar shows.
            away: dict[date, str] = {}
            day = self.start + timedelta(days=self.rng.randint(20, 60))
            while day < self.end:
                away[day] = self.rng.choice(("Vacation", "Continuing education", "Conference"))
                day += timedelta(days=self.rng.randint(60, 150))
            for days_ahead in (self.rng.randint(10, 30), self.rng.randint(40, 80)):
                away[self.today + timedelta(days=days_ahead)] = "Continuing education"
            day_hours = {wd: (b, e) for wd, b, e in spec.hours}
            for day, label in sorted(away.items()):
                if day.weekday() not in day_hours:
                    continue
                begin, end = day_hours[day.weekday()]
                self.out.add(
                    ProviderBreak,
                    {
                        "id": self.ids.next(ProviderBreak),
                        "provider_id": provider_id,
                        "weekday": None,
                        "on_date": day,
                        "start_minute": begin,
                        "end_minute": end,
                        "label": label,
                    },
                )
            # Bookable intervals per weekday: working hours minus weekly breaks.
            intervals: dict[int, list[tuple[int, int]]] = {}
            for weekday, begin, end in spec.hours:
                cuts = sorted((b, e) for wd, b, e, _ in spec.breaks if wd == weekday)
                pieces, cursor = [], begin
                for b, e in cuts:
                    if b > cursor:
                        pieces.append((cursor, b))
                    cursor = max(cursor, e)
                if cursor < end:
                    pieces.append((cursor, end))
                intervals[weekday] = pieces
            self.providers.append(
                {
                    "index": position,
                    "id": provider_id,
                    "spec": spec,
                    "staff_id": self.staff[spec.username],
                    "room_id": self.rooms[spec.room],
                    "intervals": intervals,
                    "away": set(away),
                    "weights": spec.booking_weights,
                    "queue": [],
                }
            )
        self.provider_of_code = {}
        for provider in self.providers:
            for code, _ in provider["weights"]:
                self.provider_of_code.setdefault(code, provider["index"])
        # Plan-only services go to whoever does them.
        self.provider_of_code.update({"D6010": 0, "D2740": 0, "D3330": 0})
        self.out.flush_all()

    def write_contacts(self) -> None:
        fake = Faker("en_US")
        fake.seed_instance(self.seed + 11)
        created = self.at(self.start - timedelta(days=30), 10 * H)
        self.payers: list[int] = []
        self.specialists: dict[str, list[int]] = {"dental": [], "aesthetic": [], "any": []}
        self.labs: list[int] = []

        def add(kind: str, organisation: str, name: str, specialty: str, notes: str = "") -> int:
            contact_id = self.ids.next(Contact)
            city, zips, _ = _CITIES[self.rng.randrange(4)]
            self.out.add(
                Contact,
                {
                    "id": contact_id,
                    "kind": kind,
                    "organisation": organisation,
                    "name": name,
                    "specialty": specialty,
                    "phone": self.phone(),
                    "fax": self.phone() if kind != "payer" else "",
                    "email": f"{_email_part(organisation)[:20]}@example.org",
                    "address_line1": fake.street_address(),
                    "city": city,
                    "region": "TX",
                    "postal_code": zips[0],
                    "country": "US",
                    "notes": notes,
                }
                | self.stamp(created),
            )
            return contact_id

        for organisation, plan in _PAYERS:
            self.payers.append(add("payer", organisation, "Provider services", "", plan))
        for specialty, group in _SPECIALTIES:
            for _ in range(2 if group != "any" else 1):
                person = f"Dr. {fake.first_name()} {fake.last_name()}"
                organisation = f"{fake.last_name()} {specialty}"
                self.specialists[group].append(add("specialist", organisation, person, specialty))
        for organisation, notes in _LABS:
            self.labs.append(add("lab", organisation, fake.name(), "", notes))
        self.referrers = [
            add("referring_provider", f"{fake.last_name()} Family Medicine",
                f"Dr. {fake.first_name()} {fake.last_name()}", "Family medicine")
            for _ in range(4)
        ]  # fmt: skip
        self.out.flush_all()

    def phone(self, rng: random.Random | None = None) -> str:
        # 555 numbers: fictional, yet valid to phonenumbers, so searches behave as real ones.
        r = rng or self.rng
        area = "512" if r.random() < 0.7 else "737"
        return f"+1{area}555{r.randint(0, 9999):04d}"

    # patients -----------------------------------------------------------------------------

    def plan_patients(self) -> None:
        """Decide who registers when, and the few facts the simulation needs about each."""
        n, rng = self.n_patients, self.rng
        start_ord, today_ord = self.start.toordinal(), self.today.toordinal()
        existing = max(1, n // 5)  # on the books before the history starts
        reg = sorted(
            [rng.randint(start_ord - 3 * 365, start_ord - 1) for _ in range(existing)]
            + [rng.randint(start_ord, today_ord) for _ in range(n - existing)]
        )
        self.reg_days = [0, *reg]  # 1-based by patient id
        self.first_patient_id = self.ids.next(Patient)
        self.ids._next["patients"] = self.first_patient_id + n
        assert self.first_patient_id == 1, "seeding expects a clinic without patients"
        self.flags = [_NORMAL] * (n + 1)
        self.may_text = [False] * (n + 1)
        self.may_email = [False] * (n + 1)
        self.coverage = [0] * (n + 1)
        self.lead_source = [""] * (n + 1)
        self.minor = [False] * (n + 1)
        self.merged_into = {}
        for pid in range(1, n + 1):
            r = rng.random()
            if r < 0.08:
                self.flags[pid] = _NEVER_BOOKS
            elif r < 0.083 and pid > 10:
                self.flags[pid] = _MERGED
                self.merged_into[pid] = rng.randint(max(1, pid - 200), pid - 1)
            elif r < 0.11:
                self.flags[pid] = _MOVES_AWAY
            self.may_text[pid] = rng.random() < 0.75
            self.may_email[pid] = rng.random() < 0.7
            self.minor[pid] = rng.random() < 0.11
            if rng.random() < 0.42:
                self.coverage[pid] = rng.choice((50, 80, 80, 80, 100))
            self.lead_source[pid] = _weighted(rng, _LEAD_SOURCES)
            if self.flags[pid] == _MERGED:
                self.coverage[pid] = 0
        self.state = [_PatientState() for _ in range(n + 1)]
        fakers = {"en": Faker("en_US"), "es": Faker("es_ES")}
        fakers["en"].seed_instance(self.seed + 21)
        fakers["es"].seed_instance(self.seed + 22)
        # Pools drawn from Faker (weighted like real name frequencies), then picked from
        # with per-patient generators: fast at 100,000 patients, and order-independent.
        self.pools = {
            lang: {
                "female": sorted({f.first_name_female() for _ in range(900)}),
                "male": sorted({f.first_name_male() for _ in range(900)}),
                "last": sorted({f.last_name() for _ in range(1500)}),
            }
            for lang, f in fakers.items()
        }
        for pool in self.pools.values():
            pool["any"] = pool["female"] + pool["male"]
        self.streets = sorted({fakers["en"].street_address() for _ in range(4000)})
        self.units = sorted({fakers["en"].secondary_address() for _ in range(200)})

    def registered_at(self, pid: int) -> datetime:
        """When the patient's record was created (office hours of the registration day)."""
        day = date.fromordinal(self.reg_days[pid])
        moment = self.at(day, 8 * H + (pid * 37) % (9 * H))
        return min(moment, self.now - timedelta(hours=1))

    def identity(self, pid: int) -> dict:
        """Name, sex, language and birth date: a merged duplicate repeats its original's."""
        rng = random.Random(self.seed * 1_000_003 + self.merged_into.get(pid, pid))
        spanish = rng.random() < 0.36
        lang = "es" if spanish else "en"
        female = rng.random() < 0.56
        pool = self.pools[lang]
        first = rng.choice(pool["female" if female else "male"])
        last = rng.choice(pool["last"])
        if spanish and rng.random() < 0.55:
            last = f"{last} {rng.choice(pool['last'])}"
        middle = ""
        if not spanish and rng.random() < 0.3:
            middle = rng.choice(pool["female" if female else "male"])
        preferred = _NICKNAMES.get(first.split()[0], "") if rng.random() < 0.5 else ""
        ages = (((3, 12), 6), ((13, 17), 5), ((18, 34), 25), ((35, 54), 33), ((55, 74), 24),
                ((75, 92), 7))  # fmt: skip
        low, high = (4, 17) if self.minor[pid] else _weighted(rng, ages)
        born = self.today - timedelta(days=rng.randint(low * 365, high * 365 + 364))
        return {
            "first": first,
            "middle": middle,
            "last": last,
            "preferred": preferred,
            "female": female,
            "lang": lang,
            "born": born,
        }

    def write_policies(self) -> None:
        rng = self.rng
        self.policy_of: dict[int, int] = {}
        self.payer_of: dict[int, int] = {}
        for pid in range(1, self.n_patients + 1):
            if not self.coverage[pid]:
                continue
            policy_id = self.ids.next(InsurancePolicy)
            payer = rng.choice(self.payers)
            self.policy_of[pid] = policy_id
            self.payer_of[pid] = payer
            registered = date.fromordinal(self.reg_days[pid])
            relation = "child" if self.minor[pid] else ("spouse" if rng.random() < 0.2 else "self")
            who = self.identity(pid)
            holder = f"{who['first']} {who['last']}"
            if relation != "self":
                holder = f"{rng.choice(self.pools[who['lang']]['any'])} {who['last']}"
            effective = date(registered.year, 1, 1)
            ended = self.flags[pid] == _MOVES_AWAY and rng.random() < 0.5
            ended_on = max(self.today - timedelta(days=rng.randint(30, 400)), effective)
            self.out.add(
                InsurancePolicy,
                {
                    "id": policy_id,
                    "patient_id": pid,
                    "payer_id": payer,
                    "plan_name": _PAYERS[self.payers.index(payer)][1],
                    "member_id": f"{rng.choice('ABCDEFGHJKLMNPRSTUVWXYZ')}"
                    f"{rng.randint(10_000_000, 99_999_999)}",
                    "group_number": f"G{rng.randint(1000, 99999)}",
                    "priority": "primary",
                    "subscriber_name": holder,
                    "subscriber_relation": relation,
                    "coverage_percent": self.coverage[pid],
                    "copay": _money(rng.choice(("0.00", "0.00", "15.00", "25.00"))),
                    "deductible": _money(rng.choice(("50.00", "75.00", "100.00"))),
                    "deductible_met": _money("0.00"),
                    "annual_maximum": _money(rng.choice(("1000.00", "1500.00", "2000.00"))),
                    "effective_from": effective,
                    "effective_to": ended_on if ended else None,
                    "is_active": not ended,
                }
                | self.stamp(self.office_time(registered)),
            )
        self.out.flush_all()

    def registered_before(self, day: date) -> int:
        return bisect.bisect_left(self.reg_days, day.toordinal(), 1) - 1

    def pick_patient(self, day: date, busy: set[int]) -> int | None:
        count = self.registered_before(day)
        if count <= 0:
            return None
        rng = self.rng
        for _ in range(6):
            if rng.random() < 0.35:
                # New patients book soon after they first get in touch.
                low = max(1, self.registered_before(day - timedelta(days=60)) + 1)
                pid = rng.randint(low, count) if low <= count else rng.randint(1, count)
            else:
                pid = rng.randint(1, count)
            if self.flags[pid] in (_NEVER_BOOKS, _MERGED) or pid in busy:
                continue
            if self.flags[pid] == _MOVES_AWAY and self.state[pid].visits >= 3:
                continue  # they have moved away by now
            return pid
        return None

    # the appointment book -----------------------------------------------------------------

    def fill_probability(self, day: date) -> float:
        if day <= self.today:
            return 0.86
        ahead = (day - self.today).days
        return max(0.08, 0.82 * (1 - ahead / (FUTURE_DAYS + 15)))

    def simulate(self) -> None:
        total = (self.end - self.start).days + 1
        day = self.start
        done = 0
        self.future_appointments: list[tuple[int, int, int, datetime]] = []
        self.plans: dict[int, dict] = {}
        self.phases: dict[int, dict] = {}
        self.items: dict[int, dict] = {}
        self.preauth_of_item: dict[int, dict] = {}
        self.open_charges: list[tuple[dict, Decimal]] = []
        while day <= self.end:
            if day.weekday() < 5 and (day.month, day.day) not in _HOLIDAYS:
                self.simulate_day(day)
            done += 1
            if done % 30 == 0 or day == self.end:
                self.progress("Booking appointments", done, total)
            day += timedelta(days=1)
        self.collect_old_balances()

    def simulate_day(self, day: date) -> None:
        busy: set[int] = set()
        consult_room: list[tuple[int, int]] = []
        for provider in self.providers:
            if day in provider["away"]:
                continue
            for begin, end in provider["intervals"].get(day.weekday(), ()):
                cursor = begin
                while cursor < end:
                    cursor = self.book_slot(provider, day, cursor, end, busy, consult_room)

    def book_slot(self, provider, day, cursor, end, busy, consult_room) -> int:
        rng = self.rng
        queue = provider["queue"]
        # Lapsed recalls and abandoned plan visits fall out of the queue.
        while queue and (day - queue[0].due).days > 75:
            self.lapse(heapq.heappop(queue), day)
        pending = None
        if queue and queue[0].due <= day:
            candidate = queue[0]
            minutes = self.services[candidate.code]["default_duration_minutes"]
            if cursor + minutes <= end and candidate.patient_id not in busy:
                pending = heapq.heappop(queue)
        if pending is not None:
            pid, code = pending.patient_id, pending.code
            booked_at = max(pending.booked_at, self.at(day, cursor) - timedelta(days=120))
        else:
            if rng.random() > self.fill_probability(day):
                return cursor + rng.choice((15, 30, 30, 45))
            code = _weighted(rng, provider["weights"])
            minutes = self.services[code]["default_duration_minutes"]
            if cursor + minutes > end:
                return cursor + 15
            pid = self.pick_patient(day, busy)
            if pid is None:
                return cursor + 30
            if self.state[pid].visits == 0 and provider["index"] == 0:
                code = "D0150"  # a new patient's first visit with the dentist is the full exam
            elif code == "D0150" and self.state[pid].visits:
                code = "D0120"
            booked_at = None
        service = self.services[code]
        minutes = service["default_duration_minutes"]
        if cursor + minutes > end:
            if pending is not None:
                heapq.heappush(provider["queue"], pending)
            return cursor + 15
        room_id = provider["room_id"]
        consult_room_free = all(e <= cursor or b >= cursor + minutes for b, e in consult_room)
        if code in _CONSULT_CODES and code != "D0150" and consult_room_free:
            room_id = self.rooms[_CONSULT_ROOM]
            consult_room.append((cursor, cursor + minutes))
        busy.add(pid)
        starts = self.at(day, cursor)
        ends = starts + timedelta(minutes=minutes)
        if booked_at is None:
            lead = timedelta(hours=rng.choice((2, 20, 50, 100, 200, 400, 700, 1000)))
            registered = self.registered_at(pid)
            booked_at = max(starts - lead, min(registered, starts - timedelta(hours=1)))
        booked_at = min(booked_at, self.now - timedelta(minutes=5), starts - timedelta(minutes=30))
        appointment = self.add_appointment(
            provider, pid, service, room_id, starts, ends, booked_at, pending
        )
        if appointment["status"] == "cancelled" and rng.random() < 0.35:
            # Someone from the waiting list takes the freed slot.
            other = self.pick_patient(day, busy)
            if other is not None:
                busy.add(other)
                freed = appointment["cancelled_at"] + timedelta(minutes=rng.randint(5, 240))
                freed = min(freed, starts - timedelta(minutes=20), self.now - timedelta(minutes=1))
                self.add_appointment(
                    provider, other, service, room_id, starts, ends, freed, None, may_cancel=False
                )
        return cursor + minutes

    def outcome(self, starts: datetime, ends: datetime, may_cancel: bool) -> str:
        r = self.rng.random()
        if ends <= self.now:
            if may_cancel and r < 0.095:
                return "cancelled"
            if r > 0.955:
                return "no_show"
            return "completed"
        if starts <= self.now:
            return "in_treatment"
        if starts - self.now <= timedelta(minutes=20):
            return "arrived"  # in the waiting room
        if may_cancel and r < 0.04:
            return "cancelled"
        ahead = starts - self.now
        chance = 0.8 if ahead <= timedelta(days=2) else 0.45 if ahead <= timedelta(days=7) else 0
        return "confirmed" if self.rng.random() < chance else "scheduled"

    def add_appointment(
        self, provider, pid, service, room_id, starts, ends, booked_at, pending, may_cancel=True
    ) -> dict:
        rng = self.rng
        status = self.outcome(starts, ends, may_cancel)
        appointment_id = self.ids.next(Appointment)
        booked_by = self.desk_staff()
        row = {
            "id": appointment_id,
            "patient_id": pid,
            "provider_id": provider["id"],
            "room_id": room_id,
            "service_id": service["id"],
            "treatment_phase_id": pending.phase_id if pending else None,
            "starts_at": starts,
            "ends_at": ends,
            "status": status,
            "notes": rng.choice(_APPOINTMENT_NOTES) if rng.random() < 0.04 else "",
            "booked_by_id": booked_by,
            "confirmed_at": None,
            "arrived_at": None,
            "completed_at": None,
            "cancelled_at": None,
            "cancelled_by": None,
            "cancel_reason": "",
            "late_cancel": False,
        }
        history = [(None, "scheduled", booked_at, booked_by, "")]
        last = booked_at
        state = self.state[pid]
        confirmable = status != "scheduled" and (status != "cancelled" or rng.random() < 0.5)
        if confirmable and rng.random() < 0.85:
            window_start = max(booked_at + timedelta(minutes=10), starts - timedelta(days=3))
            moment = self.between(window_start, min(starts - timedelta(hours=2), self.now))
            if booked_at < moment < starts and moment <= self.now:
                row["confirmed_at"] = moment
                by = self.desk_staff()
                history.append(("scheduled", "confirmed", moment, by, ""))
                last = moment
                self.log_contact(
                    pid, moment, "confirmation", "confirmed", appointment_id, outbound=True
                )
        if status == "cancelled":
            upper = min(starts - timedelta(minutes=10), self.now)
            if upper <= last + timedelta(minutes=1):
                status = "scheduled"  # booked too late to have been cancelled by now
            elif starts > self.now:
                moment = self.between(last + timedelta(minutes=1), upper)
            else:
                hours = rng.choice((2, 5, 12, 20, 30, 48, 72, 120, 200))
                moment = min(
                    max(starts - timedelta(hours=hours), last + timedelta(minutes=1)), upper
                )
        if status == "confirmed" and row["confirmed_at"] is None:
            status = "scheduled"
        row["status"] = status
        if status == "cancelled":
            by_patient = rng.random() < 0.88
            row["cancelled_at"] = moment
            row["cancelled_by"] = "patient" if by_patient else "clinic"
            row["cancel_reason"] = rng.choice(
                _CANCEL_REASONS if by_patient else _CLINIC_CANCEL_REASONS
            )
            row["late_cancel"] = by_patient and starts - moment < timedelta(hours=24)
            history.append(
                (history[-1][1], "cancelled", moment, self.desk_staff(), row["cancel_reason"])
            )
        elif status == "no_show":
            moment = min(starts + timedelta(minutes=rng.randint(15, 45)), self.now)
            history.append((history[-1][1], "no_show", moment, self.desk_staff(), ""))
        elif status in ("completed", "in_treatment", "arrived"):
            arrived = min(starts - timedelta(minutes=rng.randint(0, 12)), self.now)
            arrived = max(arrived, last + timedelta(minutes=1))
            row["arrived_at"] = arrived
            history.append((history[-1][1], "arrived", arrived, self.desk_staff(), ""))
        if status in ("completed", "in_treatment"):
            seated = min(starts + timedelta(minutes=rng.randint(0, 8)), self.now)
            seated = max(seated, arrived)
            history.append(("arrived", "in_treatment", seated, provider["staff_id"], ""))
            if status == "completed":
                done = ends + timedelta(minutes=rng.randint(-5, 10))
                done = min(max(done, seated + timedelta(minutes=5)), self.now)
                row["completed_at"] = done
                history.append(("in_treatment", "completed", done, self.desk_staff(), ""))
        final_moment = history[-1][2]
        row |= {"created_at": booked_at, "updated_at": final_moment}
        appointment = self.out.add(Appointment, row)
        for from_status, to_status, moment, by, reason in history:
            self.out.add(
                AppointmentStatusChange,
                {
                    "id": self.ids.next(AppointmentStatusChange),
                    "appointment_id": appointment_id,
                    "from_status": from_status,
                    "to_status": to_status,
                    "changed_at": moment,
                    "changed_by_id": by,
                    "reason": reason,
                },
            )
        if starts > self.now:
            state.future += 1
            if status != "cancelled":
                self.future_appointments.append((appointment_id, pid, service["id"], starts))
        if rng.random() < 0.25 and pending is None:
            self.log_contact(pid, booked_at, "general", "reached", appointment_id, outbound=False)
        self.verify_insurance(pid, starts, service)
        self.after(appointment, provider, service, pending)
        return appointment

    def after(self, appointment: dict, provider: dict, service: dict, pending) -> None:
        """What follows a visit: charges, payments, notes, plans, recalls, rebooking."""
        status = appointment["status"]
        pid = appointment["patient_id"]
        code = service["code"]
        rng = self.rng
        state = self.state[pid]
        if status == "completed":
            day = self.local_day(appointment["starts_at"])
            state.visits += 1
            state.last_visit = day
            state.first_visit = state.first_visit or day
            state.provider_counts[provider["index"]] += 1
            item = self.items.get(pending.item_id) if pending and pending.item_id else None
            self.charge_visit(appointment, service, provider, item)
            if item is not None:
                self.complete_item(item, appointment)
            if code in _CONSULT_CODES:
                self.consult(appointment, provider, service)
            elif code in ("D1110", "D0120") and rng.random() < 0.72:
                self.enqueue(pid, code, day + timedelta(days=180 + rng.randint(-10, 20)),
                             appointment["completed_at"])  # fmt: skip
            elif code == "MSBTX" and rng.random() < 0.5 and item is None:
                self.enqueue(pid, code, day + timedelta(days=100 + rng.randint(0, 40)),
                             appointment["completed_at"])  # fmt: skip
            elif code == "MSFIL" and rng.random() < 0.3 and item is None:
                self.enqueue(pid, code, day + timedelta(days=270 + rng.randint(0, 60)),
                             appointment["completed_at"])  # fmt: skip
            if code in _CONSULT_CODES and rng.random() < 0.04:
                self.refer_out(appointment, provider, code)
        elif status in ("in_treatment", "arrived"):
            state.visits += 1
            state.last_visit = self.local_day(appointment["starts_at"])
            state.first_visit = state.first_visit or state.last_visit
            if pending and pending.item_id:
                self.items[pending.item_id]["status"] = "scheduled"
        elif status in ("no_show", "cancelled"):
            if status == "no_show":
                self.after_no_show(appointment)
            elif appointment["late_cancel"] and rng.random() < 0.5:
                self.fee_charge(appointment, "late_cancel_fee", "35.00", "Late cancellation fee")
            if pending is not None and rng.random() < 0.7:
                moment = appointment["cancelled_at"] or appointment["starts_at"]
                again = self.local_day(moment) + timedelta(days=rng.randint(5, 21))
                pending.due, pending.booked_at = again, moment + timedelta(minutes=30)
                self.seq += 1
                pending.seq = self.seq
                heapq.heappush(provider["queue"], pending)
        elif pending and pending.item_id:
            self.items[pending.item_id]["status"] = "scheduled"

    def enqueue(self, pid, code, due, booked_at, item_id=None, phase_id=None, kind="recall"):
        self.seq += 1
        provider = self.providers[self.provider_of_code[code]]
        heapq.heappush(
            provider["queue"],
            _Pending(due, self.seq, pid, code, booked_at, item_id, phase_id, kind),
        )

    def lapse(self, pending: _Pending, day: date) -> None:
        """A recall nobody booked: the desk calls, and a recall task is left."""
        if pending.kind != "recall" or self.rng.random() > 0.5:
            return
        when = self.office_time(pending.due + timedelta(days=self.rng.randint(10, 40)))
        if when > self.now:
            return
        self.log_contact(pending.patient_id, when, "recall", None, None, outbound=True)
        if self.rng.random() < 0.3:
            self.task(
                "recall",
                f"Recall overdue: {self.services[pending.code]['name'].lower()}",
                pending.patient_id,
                pending.due + timedelta(days=30),
                created=when,
                assignee=self.staff["receptionist"],
            )

    # money --------------------------------------------------------------------------------

    def charge_visit(self, appointment, service, provider, item) -> None:
        if item is not None:
            amount = item["fee"] * item["quantity"] - item["discount"]
            description = item["description"] + (f" ({item['area']})" if item["area"] else "")
        else:
            amount = service["fee"]
            description = service["name"]
        if amount <= 0:
            return
        posted = appointment["completed_at"]
        charge = self.out.add(
            Charge,
            {
                "id": self.ids.next(Charge),
                "patient_id": appointment["patient_id"],
                "kind": "treatment",
                "posted_at": posted,
                "service_date": self.local_day(appointment["starts_at"]),
                "description": description[:200],
                "amount": amount,
                "treatment_item_id": item["id"] if item else None,
                "appointment_id": appointment["id"],
                "provider_id": provider["id"],
                "created_by_id": self.desk_staff(),
            }
            | self.stamp(posted),
        )
        pid = appointment["patient_id"]
        insured_part = Decimal("0.00")
        if service["code"] in _DENTAL_CODES and pid in self.policy_of:
            insured_part = round_money(amount * self.coverage[pid] / 100)
            if item is not None:
                insured_part = item["insurance_estimate"]
            paid_on = posted + timedelta(days=self.rng.randint(18, 45))
            if insured_part > 0 and paid_on <= self.now:
                # The payer's money, as the desk records it: a payment from the payer with
                # the EOB's claim number, paying this visit's charge.
                payer = self.payer_of[pid]
                payment = self.out.add(
                    Payment,
                    {
                        "id": self.ids.next(Payment),
                        "patient_id": pid,
                        "kind": "payment",
                        "method": "insurance",
                        "amount": insured_part,
                        "received_at": paid_on,
                        "reference": f"EOB {self.rng.randint(100000, 999999)}",
                        "received_by_id": self.staff["coordinator"],
                        "payer_contact_id": payer,
                    }
                    | self.stamp(paid_on),
                )
                self.out.add(
                    PaymentAllocation,
                    {
                        "id": self.ids.next(PaymentAllocation),
                        "payment_id": payment["id"],
                        "installment_id": None,
                        "charge_id": charge["id"],
                        "amount": insured_part,
                    },
                )
        if item is not None and self.plans[item["plan_id"]].get("payment_plan"):
            return  # paid through the payment plan's installments
        due = amount - insured_part
        if due <= 0:
            return
        r = self.rng.random()
        if r < 0.86:
            self.pay(pid, due, posted + timedelta(minutes=self.rng.randint(1, 8)), charge)
        elif r < 0.95:
            later = posted + timedelta(days=self.rng.randint(5, 40))
            if later <= self.now:
                self.pay(pid, due, later, charge)
            else:
                self.open_charges.append((charge, due))
        else:
            self.open_charges.append((charge, due))

    def pay(self, pid, amount, when, charge=None, installment=None, method=None) -> dict:
        rng = self.rng
        when = min(when, self.now)
        method = method or _weighted(
            rng, (("card", 70), ("cash", 12), ("cheque", 5), ("financing", 7), ("bank_transfer", 6))
        )
        reference = {
            "card": f"Card ending {rng.randint(1000, 9999)}",
            "cheque": f"Cheque #{rng.randint(1001, 4999)}",
            "financing": f"Approval {rng.randint(100000, 999999)}",
            "bank_transfer": f"Transfer {rng.randint(10**7, 10**8 - 1)}",
        }.get(method, "")
        payment = self.out.add(
            Payment,
            {
                "id": self.ids.next(Payment),
                "patient_id": pid,
                "kind": "payment",
                "method": method,
                "amount": amount,
                "received_at": when,
                "reference": reference,
                "received_by_id": self.desk_staff(),
            }
            | self.stamp(when),
        )
        if charge is not None or installment is not None:
            self.out.add(
                PaymentAllocation,
                {
                    "id": self.ids.next(PaymentAllocation),
                    "payment_id": payment["id"],
                    "installment_id": installment["id"] if installment else None,
                    "charge_id": charge["id"] if charge else None,
                    "amount": amount,
                },
            )
        r = rng.random()
        if r < 0.003:
            # Keyed in twice at the desk, the copy voided the next day.
            voided = when + timedelta(days=1)
            if voided <= self.now:
                self.out.add(
                    Payment,
                    {
                        "id": self.ids.next(Payment),
                        "patient_id": pid,
                        "kind": "payment",
                        "method": method,
                        "amount": amount,
                        "received_at": when + timedelta(minutes=1),
                        "reference": reference,
                        "received_by_id": payment["received_by_id"],
                        "voided_at": voided,
                        "voided_by_id": self.staff["owner"],
                        "void_reason": "Entered twice",
                    }
                    | self.stamp(voided),
                )
        elif r < 0.007 and method in ("card", "cash"):
            refunded = when + timedelta(days=rng.randint(3, 20))
            if refunded <= self.now:
                self.out.add(
                    Payment,
                    {
                        "id": self.ids.next(Payment),
                        "patient_id": pid,
                        "kind": "refund",
                        "method": method,
                        "amount": round_money(amount / 2) if amount >= Decimal("0.02") else amount,
                        "received_at": refunded,
                        "notes": "Goodwill refund",
                        "received_by_id": self.staff["owner"],
                        "refund_of_id": payment["id"],
                    }
                    | self.stamp(refunded),
                )
        return payment

    def fee_charge(self, appointment, kind, amount, description) -> None:
        posted = (appointment["cancelled_at"] or appointment["starts_at"]) + timedelta(hours=2)
        if posted > self.now:
            return
        charge = self.out.add(
            Charge,
            {
                "id": self.ids.next(Charge),
                "patient_id": appointment["patient_id"],
                "kind": kind,
                "posted_at": posted,
                "service_date": self.local_day(appointment["starts_at"]),
                "description": description,
                "amount": _money(amount),
                "appointment_id": appointment["id"],
                "provider_id": appointment["provider_id"],
                "created_by_id": self.desk_staff(),
            }
            | self.stamp(posted),
        )
        if self.rng.random() < 0.45:
            paid = posted + timedelta(days=self.rng.randint(1, 40))
            if paid <= self.now:
                self.pay(appointment["patient_id"], charge["amount"], paid, charge)
                return
        self.open_charges.append((charge, charge["amount"]))

    def after_no_show(self, appointment) -> None:
        rng = self.rng
        pid = appointment["patient_id"]
        if rng.random() < 0.6:
            self.fee_charge(appointment, "no_show_fee", "50.00", "Missed appointment fee")
        when = appointment["starts_at"] + timedelta(hours=rng.randint(1, 5))
        if when <= self.now:
            outcome = rng.choice(("reached", "left_message", "left_message", "no_answer"))
            self.log_contact(pid, when, "follow_up", outcome, appointment["id"], outbound=True)
            self.task(
                "call",
                "Call to rebook a missed appointment",
                pid,
                self.local_day(when) + timedelta(days=1),
                created=when,
                assignee=self.staff["receptionist"],
                appointment_id=appointment["id"],
            )

    def collect_old_balances(self) -> None:
        """Old unpaid balances: a collections call and task; the oldest small ones written off."""
        rng = self.rng
        for charge, due in self.open_charges:
            pid = charge["patient_id"]
            age = (self.now - charge["posted_at"]).days
            if age > 60 and rng.random() < 0.4:
                when = charge["posted_at"] + timedelta(days=rng.randint(30, 60))
                self.log_contact(pid, when, "collections", None, None, outbound=True)
                self.task(
                    "collections",
                    "Unpaid balance: call the patient",
                    pid,
                    self.local_day(when) + timedelta(days=7),
                    created=when,
                    assignee=self.staff["coordinator"],
                )
            if age > 365 and due <= Decimal("200.00") and rng.random() < 0.6:
                posted = charge["posted_at"] + timedelta(days=rng.randint(300, 365))
                self.out.add(
                    AccountAdjustment,
                    {
                        "id": self.ids.next(AccountAdjustment),
                        "patient_id": pid,
                        "kind": "write_off",
                        "amount": due,
                        "reason": "Small balance write-off after collection attempts",
                        "posted_at": posted,
                        "charge_id": charge["id"],
                        "created_by_id": self.staff["owner"],
                    }
                    | self.stamp(posted),
                )

    # clinical ------------------------------------------------------------------------------

    def consult(self, appointment: dict, provider: dict, service: dict) -> None:
        rng = self.rng
        pid = appointment["patient_id"]
        aesthetic = service["code"] == "MSCONS"
        if service["code"] == "D0150" and rng.random() < 0.55:
            return  # a healthy mouth: the exam finds nothing to plan
        ended = appointment["completed_at"]
        template = rng.choice(_PLAN_TEMPLATES["aesthetic" if aesthetic else "dental"])
        tooth = rng.choice((3, 14, 19, 30, 2, 15, 18, 31, 12, 21))
        tooth2 = rng.choice((4, 5, 13, 20, 28, 29))
        title, reason, phases = template
        fill = {"tooth": tooth, "tooth2": tooth2}
        r = rng.random()
        decision = "accepted" if r < 0.5 else "thinking_it_over" if r < 0.75 else "declined"
        decided = ended
        draft = self.now - ended < timedelta(days=2) and rng.random() < 0.6
        if decision == "thinking_it_over":
            follow_up = self.local_day(ended) + timedelta(days=rng.randint(7, 14))
        else:
            follow_up = None
        # Some who think it over say yes at the follow-up call.
        later_yes = decision == "thinking_it_over" and rng.random() < 0.45
        if later_yes:
            decided = self.at(follow_up, rng.randint(9 * H, 16 * H))
        alt = not aesthetic and title.startswith("Implant") and rng.random() < 0.4
        option_group = f"case-{appointment['id']}" if alt else None
        plan_ids = []
        plan_id = self.add_plan(pid, provider, title.format(**fill), phases, fill, ended,
                                option_group, "Option A" if alt else "")  # fmt: skip
        plan_ids.append(plan_id)
        if alt:
            bridge = (
                ("Bridge", "A three-unit bridge anchored on the neighbouring teeth.",
                 (("D2740", "#{tooth}", 3),)),
            )  # fmt: skip
            plan_ids.append(self.add_plan(pid, provider, f"Bridge to replace #{tooth}", bridge,
                                          fill, ended, option_group, "Option B"))  # fmt: skip
        plan = self.plans[plan_id]
        costs = "; ".join(
            f"{self.plans[p]['alternative_label'] or self.plans[p]['title']}: "
            f"${self.plans[p]['total']:,.2f} (patient ${self.plans[p]['patient_total']:,.2f})"
            for p in plan_ids
        )
        note_id = self.ids.next(ConsultationNote)
        signed = not draft
        signed_at = ended + timedelta(hours=rng.randint(1, 30)) if signed else None
        if signed_at is not None and signed_at > self.now:
            signed_at = self.now - timedelta(minutes=1)
        final_decision = None if draft else decision
        note = {
            "id": note_id,
            "patient_id": pid,
            "provider_id": provider["id"],
            "appointment_id": appointment["id"],
            "author_id": provider["staff_id"],
            "consulted_at": appointment["starts_at"],
            "reason": reason.format(**fill),
            "treatments_discussed": ", ".join(
                ph[0] for p in plan_ids for ph in self.plans[p]["phase_titles"]
            ),
            "options_and_costs": costs,
            "patient_questions": rng.choice(_QUESTIONS),
            "decision": final_decision,
            "decline_reason": rng.choice(_DECLINE_REASONS) if final_decision == "declined" else "",
            "follow_up_on": follow_up if not draft else None,
            "body": (
                f"Reviewed history and concerns. Findings support: {plan['title']}. "
                f"Explained the steps, risks and alternatives in plain words; "
                f"handout given. {costs}."
            ),
            "status": "signed" if signed else "draft",
            "signed_by_id": provider["staff_id"] if signed else None,
            "signed_at": signed_at,
            "created_at": appointment["starts_at"],
            "updated_at": signed_at or ended,
        }
        self.out.add(ConsultationNote, note)
        if signed and rng.random() < 0.03:
            written = signed_at + timedelta(days=rng.randint(1, 10))
            if written <= self.now:
                self.out.add(
                    NoteAddendum,
                    {
                        "id": self.ids.next(NoteAddendum),
                        "note_id": note_id,
                        "author_id": provider["staff_id"],
                        "created_at": written,
                        "body": "Patient called with a question about aftercare; "
                        "instructions repeated and sent by email.",
                    },
                )
        state = self.state[pid]
        state.plans.append(plan_id)
        if draft:
            for p in plan_ids:
                self.plans[p]["status"] = "draft"
            return
        for p in plan_ids:
            self.plans[p]["presented_at"] = ended
            self.plans[p]["status"] = "presented"
        if follow_up is not None:
            when = self.at(follow_up, rng.randint(9 * H, 16 * H))
            done = when <= self.now
            self.task(
                "follow_up",
                "Follow up on the treatment plan",
                pid,
                follow_up,
                created=ended,
                assignee=self.staff["coordinator"],
                consultation_note_id=note_id,
                done_at=when if done else None,
            )
            if done:
                outcome = "reached" if later_yes else rng.choice(("reached", "left_message"))
                self.log_contact(pid, when, "follow_up", outcome, None, outbound=True)
        if decision == "declined":
            for p in plan_ids:
                self.decide(p, "declined", decided, note["decline_reason"])
            return
        if decision == "thinking_it_over" and not later_yes:
            return
        if decided > self.now:
            return
        partly = len(plan["phase_ids"]) > 1 and rng.random() < 0.12
        self.decide(plan_id, "partly_accepted" if partly else "accepted", decided, "")
        for p in plan_ids[1:]:
            self.decide(p, "declined", decided, "Chose Option A")
        self.schedule_phase(plan_id, 0, self.local_day(decided) + timedelta(days=7), decided)
        if plan["patient_total"] >= Decimal("1000.00") and rng.random() < 0.6:
            self.payment_plan(plan, decided)
        self.request_preauths(plan, decided)

    def add_plan(self, pid, provider, title, phases, fill, created, option_group, label) -> int:
        rng = self.rng
        plan_id = self.ids.next(TreatmentPlan)
        insured = pid in self.policy_of
        plan = {
            "id": plan_id,
            "patient_id": pid,
            "provider_id": provider["id"],
            "title": title,
            "option_group": option_group,
            "alternative_label": label,
            "status": "draft",
            "created_by_id": self.staff["coordinator"],
            "presented_by_id": self.staff["coordinator"],
            "presented_at": None,
            "decided_at": None,
            "decline_reason": "",
            "created_at": created,
            "phase_ids": [],
            "phase_titles": phases,
            "total": Decimal("0.00"),
            "patient_total": Decimal("0.00"),
        }
        discount_rate = Decimal("0.10") if rng.random() < 0.15 else Decimal("0")
        for position, (phase_title, description, items) in enumerate(phases):
            phase_id = self.ids.next(TreatmentPhase)
            plan["phase_ids"].append(phase_id)
            phase = {
                "id": phase_id,
                "plan_id": plan_id,
                "position": position,
                "title": phase_title,
                "description": description,
                "status": "draft",
                "item_ids": [],
                "created_at": created,
            }
            self.phases[phase_id] = phase
            for item_position, (code, area, quantity) in enumerate(items):
                service = self.services[code]
                line = service["fee"] * quantity
                discount = round_money(line * discount_rate)
                estimate = Decimal("0.00")
                if insured and code in _DENTAL_CODES:
                    estimate = round_money((line - discount) * self.coverage[pid] / 100)
                    estimate = min(estimate, line - discount)
                item_id = self.ids.next(TreatmentItem)
                item = {
                    "id": item_id,
                    "phase_id": phase_id,
                    "plan_id": plan_id,
                    "position": item_position,
                    "service_id": service["id"],
                    "code": code,
                    "description": service["name"]
                    if quantity == 1
                    else f"{service['name']} ({quantity} units)",
                    "area": area.format(**fill),
                    "quantity": quantity,
                    "fee": service["fee"],
                    "discount": discount,
                    "insurance_estimate": estimate,
                    "patient_portion": line - discount - estimate,
                    "status": "proposed",
                    "completed_appointment_id": None,
                    "completed_at": None,
                    "created_at": created,
                }
                self.items[item_id] = item
                phase["item_ids"].append(item_id)
                plan["total"] += line - discount
                plan["patient_total"] += item["patient_portion"]
        self.plans[plan_id] = plan
        return plan_id

    def decide(self, plan_id: int, status: str, when: datetime, reason: str) -> None:
        plan = self.plans[plan_id]
        plan["status"] = status
        plan["decided_at"] = when
        plan["decline_reason"] = reason
        for n, phase_id in enumerate(plan["phase_ids"]):
            phase = self.phases[phase_id]
            if status == "partly_accepted" and n > 0:
                phase["status"], phase["decline_reason"] = "declined", "Will decide later"
            else:
                phase["status"] = "declined" if status == "declined" else "accepted"
                phase["decline_reason"] = reason if status == "declined" else ""
            for item_id in phase["item_ids"]:
                self.items[item_id]["status"] = (
                    "declined" if phase["status"] == "declined" else "accepted"
                )
        if status in ("accepted", "partly_accepted"):
            plan["accepted_snapshot"] = json.dumps(
                {
                    "plan": plan["title"],
                    "accepted_at": when.isoformat(),
                    "items": [
                        {
                            "description": item["description"],
                            "area": item["area"],
                            "quantity": item["quantity"],
                            "fee": str(item["fee"]),
                            "discount": str(item["discount"]),
                            "insurance_estimate": str(item["insurance_estimate"]),
                            "patient_portion": str(item["patient_portion"]),
                        }
                        for phase_id in plan["phase_ids"]
                        if self.phases[phase_id]["status"] == "accepted"
                        for item in (self.items[i] for i in self.phases[phase_id]["item_ids"])
                    ],
                    "patient_total": str(plan["patient_total"]),
                },
                sort_keys=True,
            )

    def schedule_phase(self, plan_id: int, index: int, earliest: date, booked_at: datetime):
        plan = self.plans[plan_id]
        if index >= len(plan["phase_ids"]):
            return
        phase = self.phases[plan["phase_ids"][index]]
        if phase["status"] != "accepted":
            return
        due = earliest
        for item_id in phase["item_ids"]:
            item = self.items[item_id]
            self.enqueue(plan["patient_id"], item["code"], due, booked_at, item_id, phase["id"],
                         kind="plan")  # fmt: skip
            # Sessions of a series are spaced out; other items of a phase follow each other.
            gap = 42 if item["code"] == "MSLHR" else 28 if item["code"] == "MSPEEL" else 7
            due += timedelta(days=gap)

    def complete_item(self, item: dict, appointment: dict) -> None:
        item["status"] = "completed"
        item["completed_appointment_id"] = appointment["id"]
        item["completed_at"] = appointment["completed_at"]
        preauth = self.preauth_of_item.get(item["id"])
        if preauth is not None and preauth["status"] == "approved":
            preauth["used_units"] = min(preauth["approved_units"], preauth["used_units"] + 1)
        phase = self.phases[item["phase_id"]]
        if all(self.items[i]["status"] == "completed" for i in phase["item_ids"]):
            plan = self.plans[phase["plan_id"]]
            index = plan["phase_ids"].index(phase["id"])
            healing = 90 if item["code"] == "D6010" else 14 if item["code"] == "MSBTX" else 21
            day = self.local_day(appointment["completed_at"])
            self.schedule_phase(plan["id"], index + 1, day + timedelta(days=healing),
                                appointment["completed_at"])  # fmt: skip

    def payment_plan(self, plan: dict, decided: datetime) -> None:
        rng = self.rng
        pid = plan["patient_id"]
        total = plan["patient_total"]
        down = Decimal(int(total * Decimal(rng.choice(("0.10", "0.15", "0.20", "0.25")))))
        financed = total - down
        count = rng.choice((6, 10, 12, 12, 18))
        apr = rng.choice((0, 0, 0, 990, 1490))
        plan_day = self.local_day(decided)
        first_due = plan_day + relativedelta(months=1)
        plan_id = self.ids.next(PaymentPlan)
        plan["payment_plan"] = plan_id
        schedule = installment_schedule(financed, count, apr, first_due)
        cancelled = rng.random() < 0.05
        installments = []
        all_paid = True
        for sequence, due_on, amount, principal, interest, balance in schedule:
            installment = self.out.add(
                Installment,
                {
                    "id": self.ids.next(Installment),
                    "payment_plan_id": plan_id,
                    "sequence": sequence,
                    "due_on": due_on,
                    "amount": amount,
                    "principal": principal,
                    "interest": interest,
                    "balance_after": balance,
                },
            )
            installments.append(installment)
        if down > 0:
            self.pay(pid, down, decided + timedelta(minutes=10), method="card")
        self.plan_interest(pid, plan_id, schedule, decided, cancelled)
        for n, installment in enumerate(installments):
            due_at = self.at(installment["due_on"], 10 * H)
            if cancelled and n >= 2:
                all_paid = False
                break
            r = rng.random()
            if r < 0.86:
                paid = due_at + timedelta(days=rng.randint(-3, 2))
            elif r < 0.96:
                paid = due_at + timedelta(days=rng.randint(11, 35))
                fee_at = due_at + timedelta(days=11)
                if fee_at <= self.now:
                    self.out.add(
                        Charge,
                        {
                            "id": self.ids.next(Charge),
                            "patient_id": pid,
                            "kind": "late_payment_fee",
                            "posted_at": fee_at,
                            "service_date": self.local_day(fee_at),
                            "description": f"Late payment fee, installment {n + 1}",
                            "amount": _money("25.00"),
                            "installment_id": installment["id"],
                            "created_by_id": self.staff["coordinator"],
                        }
                        | self.stamp(fee_at),
                    )
            else:
                paid = None
                missed = due_at + timedelta(days=15)
                if missed <= self.now:
                    self.log_contact(pid, missed, "collections", "left_message", None, True)
                    self.task(
                        "collections",
                        f"Installment {n + 1} missed",
                        pid,
                        self.local_day(missed) + timedelta(days=3),
                        created=missed,
                        assignee=self.staff["coordinator"],
                        installment_id=installment["id"],
                    )
            if paid is None or paid > self.now:
                all_paid = False
                continue
            if installment["amount"] <= 0:
                continue
            self.pay(pid, installment["amount"], paid, installment=installment,
                     method=rng.choice(("card", "card", "bank_transfer")))  # fmt: skip
        status = "cancelled" if cancelled else "completed" if all_paid else "active"
        self.out.add(
            PaymentPlan,
            {
                "id": plan_id,
                "patient_id": pid,
                "treatment_plan_id": plan["id"],
                "terms_version": 1,
                "status": status,
                "plan_date": plan_day,
                "total_amount": total,
                "down_payment": down,
                "financed_amount": financed,
                "installment_count": count,
                "frequency": "monthly",
                "first_due_on": first_due,
                "apr_basis_points": apr,
                "late_fee_kind": "amount",
                "late_fee_amount": _money("25.00"),
                "grace_days": 10,
                "notes": "",
                "cancel_reason": "Patient stopped treatment" if cancelled else "",
                "created_by_id": self.staff["coordinator"],
                "signed_at": min(decided + timedelta(minutes=5), self.now),
            }
            | self.stamp(decided),
        )

    def plan_interest(self, pid, plan_id, schedule, signed: datetime, cancelled: bool) -> None:
        """Interest is owed from signing: one finance charge (the payment plans' rule); a plan
        cancelled after its second installment gives back the interest not yet due."""
        interest = sum((row[4] for row in schedule), Decimal("0.00"))
        if interest <= 0:
            return
        self.out.add(
            Charge,
            {
                "id": self.ids.next(Charge),
                "patient_id": pid,
                "kind": "other",
                "posted_at": signed,
                "service_date": self.local_day(signed),
                "description": f"Finance charge, payment plan #{plan_id}",
                "amount": interest,
                "created_by_id": self.staff["coordinator"],
            }
            | self.stamp(signed),
        )
        unearned = sum((row[4] for row in schedule[2:]), Decimal("0.00"))
        cancelled_at = self.at(schedule[1][1], 12 * H) if len(schedule) > 1 else None
        if cancelled and unearned > 0 and cancelled_at is not None and cancelled_at <= self.now:
            self.out.add(
                AccountAdjustment,
                {
                    "id": self.ids.next(AccountAdjustment),
                    "patient_id": pid,
                    "kind": "write_off",
                    "amount": unearned,
                    "reason": "Unearned plan interest",
                    "posted_at": cancelled_at,
                    "created_by_id": self.staff["coordinator"],
                }
                | self.stamp(cancelled_at),
            )

    def request_preauths(self, plan: dict, decided: datetime) -> None:
        pid = plan["patient_id"]
        if pid not in self.policy_of:
            return
        rng = self.rng
        for phase_id in plan["phase_ids"]:
            if self.phases[phase_id]["status"] != "accepted":
                continue
            for item_id in self.phases[phase_id]["item_ids"]:
                item = self.items[item_id]
                spec = self.services[item["code"]]
                if not spec["requires_preauth"]:
                    continue
                requested = self.local_day(decided) + timedelta(days=1)
                decided_on = requested + timedelta(days=rng.randint(5, 20))
                if decided_on > self.today:
                    status, decided_on = "requested", None
                else:
                    status = "approved" if rng.random() < 0.87 else "denied"
                approved = status == "approved"
                preauth = {
                    "id": self.ids.next(PreAuthorization),
                    "patient_id": pid,
                    "policy_id": self.policy_of[pid],
                    "service_id": spec["id"],
                    "procedure": f"{spec['code']} {spec['name']} {item['area']}".strip(),
                    "status": status,
                    "authorization_number": f"PA{rng.randint(10**6, 10**7 - 1)}"
                    if approved
                    else "",
                    "requested_on": requested,
                    "decided_on": decided_on,
                    "expires_on": decided_on + timedelta(days=180) if approved else None,
                    "approved_units": item["quantity"] if approved else None,
                    "used_units": 0,
                    "notes": "Denied: frequency limitation" if status == "denied" else "",
                    "created_at": self.at(requested, 11 * H),
                    "updated_at": self.at(decided_on or requested, 15 * H),
                }
                self.preauth_of_item[item_id] = preauth

    def refer_out(self, appointment: dict, provider: dict, code: str) -> None:
        rng = self.rng
        group = "aesthetic" if code == "MSCONS" else "dental"
        contact = rng.choice(self.specialists[group] + self.specialists["any"])
        day = self.local_day(appointment["completed_at"])
        referred = min(appointment["completed_at"] + timedelta(hours=1), self.now)
        age = (self.today - day).days
        if age > 60:
            # Most older referrals have run their course; a few are stuck (overdue).
            status = _weighted(rng, (("closed", 78), ("booked", 3), ("seen", 2), ("sent", 3),
                                     ("cancelled", 10), ("declined", 4)))  # fmt: skip
        else:
            status = _weighted(rng, (("draft", 15), ("sent", 40), ("booked", 25), ("seen", 10),
                                     ("report_received", 10)))  # fmt: skip
        urgency = _weighted(rng, (("routine", 80), ("soon", 12), ("urgent", 8)))
        # Each step's moment; a referral never stands at a step that lies in the future.
        sent = referred + timedelta(hours=rng.randint(1, 48))
        booked = sent + timedelta(days=rng.randint(2, 12), hours=rng.randint(0, 6))
        visit = self.local_day(booked) + timedelta(days=rng.randint(5, 25))
        report = self.at(visit + timedelta(days=rng.randint(3, 15)), 11 * H)
        moments = {
            "draft": referred,
            "sent": sent,
            "booked": booked,
            "seen": self.at(visit, 17 * H),
            "report_received": report,
            "closed": report + timedelta(days=rng.randint(1, 5), hours=2),
        }
        chain = ["draft"]
        ended = None
        if status in ("cancelled", "declined"):
            ended = (status, sent + timedelta(days=rng.randint(10, 40)))
            status = "sent"
        for step in ("sent", "booked", "seen", "report_received", "closed"):
            if chain[-1] == status or moments[step] > self.now:
                break
            chain.append(step)
        if ended is not None and ended[1] > self.now:
            ended = None
        final = ended[0] if ended else chain[-1]
        changed = ended[1] if ended else moments[chain[-1]]
        reached = set(chain)
        referral_id = self.ids.next(Referral)
        self.out.add(
            Referral,
            {
                "id": referral_id,
                "patient_id": appointment["patient_id"],
                "direction": "outgoing",
                "contact_id": contact,
                "provider_id": provider["id"],
                "status": final,
                "status_changed_at": changed,
                "urgency": urgency,
                "reason": "Second opinion and treatment beyond our scope.",
                "attached_records": "Panoramic x-ray\nConsultation note"
                if group == "dental"
                else "Clinical photos\nConsultation note",
                "referred_on": day,
                "sent_at": sent if "sent" in reached else None,
                "sent_via": rng.choice(("fax", "email", "portal")) if "sent" in reached else "",
                "visit_due_on": day + timedelta(days=_VISIT_DAYS[urgency]),
                "visit_on": visit if "booked" in reached else None,
                "seen_on": visit if "seen" in reached else None,
                "report_received_on": self.local_day(report)
                if "report_received" in reached
                else None,
                "report_acknowledged_at": moments["closed"] if "closed" in reached else None,
                "report_acknowledged_by_id": self.staff["owner"] if "closed" in reached else None,
                "follow_up_on": day + timedelta(days=14),
                "closed_on": self.local_day(changed) if final in _FINISHED_REFERRAL else None,
                "outcome_reason": _ENDED_REASON.get(final, ""),
                "created_by_id": self.staff["coordinator"],
            }
            | self.stamp(referred),
        )
        previous = None
        for step in chain:
            self.referral_event(referral_id, moments[step], previous, step)
            previous = step
        if ended is not None:
            self.referral_event(referral_id, ended[1], previous, ended[0],
                                note=_ENDED_REASON[ended[0]])  # fmt: skip
        if final in ("sent", "booked"):
            self.task(
                "referral",
                "Chase the referral: has the specialist seen the patient?",
                appointment["patient_id"],
                day + timedelta(days=14),
                created=referred,
                assignee=self.staff["coordinator"],
                referral_id=referral_id,
            )
        elif final == "report_received":
            self.task(
                "report_review",
                "Read and acknowledge the specialist's report",
                appointment["patient_id"],
                self.local_day(report) + timedelta(days=3),
                created=report,
                assignee=self.staff["owner"],
                referral_id=referral_id,
            )
        if "sent" in reached:
            self.log_contact(appointment["patient_id"], sent, "referral", "reached", None,
                             outbound=True, contact_id=contact)  # fmt: skip

    def referral_event(
        self, referral_id: int, at: datetime, from_status: str | None, to_status: str,
        note: str = "",
    ) -> None:  # fmt: skip
        self.out.add(
            ReferralEvent,
            {
                "id": self.ids.next(ReferralEvent),
                "referral_id": referral_id,
                "at": at,
                "by_id": self.staff["coordinator"],
                "kind": "status",
                "from_status": from_status,
                "to_status": to_status,
                "on_date": None,
                "note": note,
            },
        )

    def verify_insurance(self, pid: int, starts: datetime, service: dict) -> None:
        if pid not in self.policy_of or service["code"] not in _DENTAL_CODES:
            return
        state = self.state[pid]
        day = self.local_day(starts)
        if state.last_verified is not None and (day - state.last_verified).days < 30:
            return
        rng = self.rng
        when = starts - timedelta(days=rng.randint(1, 4), hours=rng.randint(0, 5))
        if when > self.now:
            if starts - self.now < timedelta(days=8):
                self.task(
                    "insurance_verification",
                    "Verify insurance before the visit",
                    pid,
                    day - timedelta(days=1),
                    created=self.now - timedelta(hours=rng.randint(1, 48)),
                    assignee=self.staff["receptionist"],
                )
            return
        state.last_verified = day
        method = _weighted(rng, (("portal", 60), ("phone", 30), ("fax", 5), ("email", 5)))
        result = _weighted(rng, (("active", 95), ("inactive", 3), ("unable_to_verify", 2)))
        self.out.add(
            InsuranceVerification,
            {
                "id": self.ids.next(InsuranceVerification),
                "policy_id": self.policy_of[pid],
                "verified_at": when,
                "verified_by_id": self.staff["receptionist"],
                "method": method,
                "result": result,
                "reference_number": f"REF{rng.randint(10**5, 10**6 - 1)}",
                "notes": "" if result == "active" else "Patient asked to bring the new card",
            },
        )
        if method == "phone":
            self.log_contact(pid, when, "insurance", "reached", None, outbound=True,
                             contact_id=self.payer_of[pid])  # fmt: skip

    # tasks and contacts --------------------------------------------------------------------

    def task(
        self,
        kind,
        title,
        pid,
        due,
        *,
        created,
        assignee,
        done_at=None,
        appointment_id=None,
        consultation_note_id=None,
        referral_id=None,
        installment_id=None,
    ) -> None:
        rng = self.rng
        status = "open"
        if done_at is None and due < self.today - timedelta(days=3):
            r = rng.random()
            if (self.today - due).days < 45 and r < 0.12:
                pass  # overdue: still on somebody's list
            elif r < 0.92:
                done_at = self.at(due, rng.randint(9 * H, 17 * H))
            else:
                status = "cancelled"
        if done_at is not None:
            done_at = max(done_at, created + timedelta(minutes=1))
            status = "done"
            if done_at > self.now:
                done_at, status = None, "open"
        self.out.add(
            Task,
            {
                "id": self.ids.next(Task),
                "kind": kind,
                "title": title,
                "details": "",
                "patient_id": pid,
                "assignee_id": assignee,
                "due_on": due,
                "status": status,
                "created_by_id": self.desk_staff(),
                "completed_at": done_at,
                "completed_by_id": assignee if done_at else None,
                "appointment_id": appointment_id,
                "consultation_note_id": consultation_note_id,
                "referral_id": referral_id,
                "installment_id": installment_id,
                "created_at": created,
                "updated_at": done_at or created,
            },
        )

    def log_contact(
        self, pid, when, purpose, outcome, appointment_id, outbound=True, contact_id=None
    ) -> None:
        rng = self.rng
        if when > self.now:
            return
        if not outbound:
            channel = "call" if rng.random() < 0.8 else "in_person"
        elif purpose in ("insurance", "referral"):
            channel = "call" if purpose == "insurance" else "letter"
        elif self.may_text[pid] and rng.random() < 0.7:
            channel = "text"
        elif self.may_email[pid] and rng.random() < 0.5:
            channel = "email"
        else:
            channel = "call"
        if outcome is None:
            outcome = (
                "reached"
                if channel != "call"
                else rng.choice(("reached", "left_message", "no_answer"))
            )
        if channel in ("text", "email", "letter") and outcome not in ("confirmed", "reached"):
            outcome = "reached"
        summary = {
            "confirmation": "Appointment confirmed",
            "recall": "Recall reminder: due for a visit",
            "collections": "Reminder about an unpaid balance",
            "follow_up": "Follow-up call",
            "referral": "Referral letter sent to the specialist",
            "insurance": "Eligibility and benefits checked with the payer",
            "general": "Called to book an appointment",
        }[purpose]
        self.out.add(
            CommunicationEntry,
            {
                "id": self.ids.next(CommunicationEntry),
                "patient_id": pid,
                "occurred_at": when,
                "channel": channel,
                "direction": "outbound" if outbound else "inbound",
                "purpose": purpose,
                "outcome": outcome,
                "staff_id": self.desk_staff(),
                "summary": summary,
                "follow_up_needed": False,
                "follow_up_on": None,
                "appointment_id": appointment_id,
                "contact_id": contact_id,
                "created_at": when,
            },
        )

    # what is written once the history is known --------------------------------------------

    def finish_plans(self) -> None:
        total = len(self.plans)
        for done, plan in enumerate(self.plans.values(), 1):
            phases = [self.phases[p] for p in plan["phase_ids"]]
            for phase in phases:
                items = [self.items[i] for i in phase["item_ids"]]
                if phase["status"] == "accepted":
                    completed = sum(i["status"] == "completed" for i in items)
                    if completed == len(items):
                        phase["status"] = "completed"
                    elif completed:
                        phase["status"] = "in_progress"
                elif phase["status"] == "draft" and plan["status"] == "presented":
                    phase["status"] = "presented"
            if plan["status"] in ("accepted", "partly_accepted"):
                live = [p for p in phases if p["status"] != "declined"]
                if live and all(p["status"] == "completed" for p in live):
                    plan["status"] = "completed"
                elif any(p["status"] in ("in_progress", "completed") for p in live):
                    plan["status"] = "in_progress"
            last_change = max(
                [plan["created_at"], plan["presented_at"] or plan["created_at"]]
                + [plan["decided_at"] or plan["created_at"]]
                + [
                    i["completed_at"]
                    for p in phases
                    for i in (self.items[x] for x in p["item_ids"])
                    if i["completed_at"]
                ]
            )
            plan["last_change"] = last_change
            self.out.add(
                TreatmentPlan,
                {
                    "id": plan["id"],
                    "patient_id": plan["patient_id"],
                    "provider_id": plan["provider_id"],
                    "title": plan["title"],
                    "option_group": plan["option_group"],
                    "alternative_label": plan["alternative_label"],
                    "status": plan["status"],
                    "notes": "",
                    "created_by_id": plan["created_by_id"],
                    "presented_by_id": plan["presented_by_id"] if plan["presented_at"] else None,
                    "presented_at": plan["presented_at"],
                    "decided_at": plan["decided_at"],
                    "decline_reason": plan["decline_reason"],
                    "accepted_snapshot": plan.get("accepted_snapshot"),
                    "created_at": plan["created_at"],
                    "updated_at": last_change,
                },
            )
            for phase in phases:
                self.out.add(
                    TreatmentPhase,
                    {
                        "id": phase["id"],
                        "plan_id": plan["id"],
                        "position": phase["position"],
                        "title": phase["title"],
                        "description": phase["description"],
                        "status": phase["status"],
                        "presented_at": plan["presented_at"],
                        "decided_at": plan["decided_at"],
                        "decline_reason": phase.get("decline_reason", ""),
                        "created_at": phase["created_at"],
                        "updated_at": last_change,
                    },
                )
                for item_id in phase["item_ids"]:
                    item = self.items[item_id]
                    self.out.add(
                        TreatmentItem,
                        {
                            "id": item["id"],
                            "phase_id": phase["id"],
                            "position": item["position"],
                            "service_id": item["service_id"],
                            "description": item["description"],
                            "area": item["area"],
                            "quantity": item["quantity"],
                            "fee": item["fee"],
                            "discount": item["discount"],
                            "insurance_estimate": item["insurance_estimate"],
                            "patient_portion": item["patient_portion"],
                            "status": item["status"],
                            "completed_appointment_id": item["completed_appointment_id"],
                            "completed_at": item["completed_at"],
                            "created_at": item["created_at"],
                            "updated_at": item["completed_at"] or last_change,
                        },
                    )
            if done % 2000 == 0 or done == total:
                self.progress("Writing treatment plans", done, total)
        for preauth in self.preauth_of_item.values():
            self.out.add(PreAuthorization, preauth)

    def journey(self, pid: int) -> tuple[str, datetime, str]:
        """The patient's journey stage, since when, and why inactive (if so)."""
        state = self.state[pid]
        registered = self.registered_at(pid)
        if self.flags[pid] == _MERGED:
            since = registered + timedelta(days=1 + pid % 20)
            return (
                "inactive",
                min(since, self.now),
                f"Merged into chart P{self.merged_into[pid]:06d}",
            )
        last_visit = self.at(state.last_visit, 12 * H) if state.last_visit else None
        if (
            self.flags[pid] == _MOVES_AWAY
            and state.last_visit
            and (self.today - state.last_visit).days > 200
            and not state.future
        ):
            return "inactive", last_visit + timedelta(days=180), "Moved away"
        if state.plans:
            plan = self.plans[state.plans[-1]]
            status = plan["status"]
            if status in ("accepted", "partly_accepted"):
                return "plan_accepted", plan["decided_at"], ""
            if status == "in_progress":
                return "in_treatment", plan["last_change"], ""
            if status == "presented":
                return "plan_presented", plan["presented_at"], ""
            if status in ("declined", "draft") and (self.now - plan["last_change"]).days < 150:
                return "consulted", plan["last_change"], ""
            if status == "completed" and (self.now - plan["last_change"]).days < 150:
                return "completed", plan["last_change"], ""
        if last_visit is not None:
            if (self.today - state.last_visit).days < 150:
                return "completed", last_visit, ""
            return "recall", last_visit + timedelta(days=150), ""
        if state.future:
            return "lead", registered, ""
        if (self.today - date.fromordinal(self.reg_days[pid])).days > 365 and pid % 2:
            return "inactive", registered + timedelta(days=120), "Did not book"
        return "lead", registered, ""

    def write_patients(self) -> None:
        total = self.n_patients
        for pid in range(1, total + 1):
            row = self.out.add(Patient, self.patient_row(pid))
            self.write_search_terms(row)
            if self.journey(pid)[0] == "recall":
                self.recall_outreach(pid)
            if pid % 5000 == 0 or pid == total:
                self.progress("Writing patients", pid, total)

    def write_search_terms(self, row: dict) -> None:
        terms = search_terms(
            first_name=row["first_name"],
            middle_name=row["middle_name"],
            last_name=row["last_name"],
            preferred_name=row["preferred_name"],
            phones=(row["mobile_phone"], row["home_phone"], row["work_phone"]),
            email=row["email"],
            chart_number=row["chart_number"],
        )
        for term, kind in sorted(terms):
            self.out.add(PatientSearchTerm, {"patient_id": row["id"], "term": term, "kind": kind})

    def stage(self, pid: int) -> tuple[str, datetime, str]:
        """The journey of :meth:`journey` in the front desk's stages (see JourneyStage)."""
        old, since, reason = self.journey(pid)
        if old == "inactive" and reason == "Did not book":
            return "lost", since, reason
        if old == "lead":
            return ("booked" if self.state[pid].future else "inquiry"), since, reason
        if old == "plan_accepted":
            return ("booked" if self.state[pid].future else "consultation"), since, reason
        return _STAGE_OF_OLD[old], since, reason

    def recall_outreach(self, pid: int) -> None:
        """Patients due back get a reminder about six months after their last visit."""
        rng = self.rng
        last_visit = self.state[pid].last_visit
        if last_visit is None or rng.random() > 0.75:
            return
        due = last_visit + timedelta(days=rng.randint(165, 200))
        when = self.office_time(due)
        if when > self.now:
            return
        self.log_contact(pid, when, "recall", None, None, outbound=True)
        if rng.random() < 0.25 or (self.today - due).days < 30:
            self.task(
                "recall",
                "Recall due: book a check-up and cleaning",
                pid,
                due + timedelta(days=14),
                created=when,
                assignee=self.staff["receptionist"],
            )

    def patient_row(self, pid: int) -> dict:
        who = self.identity(pid)
        first, middle, last, preferred = who["first"], who["middle"], who["last"], who["preferred"]
        female, spanish = who["female"], who["lang"] == "es"
        pool = self.pools[who["lang"]]
        # This record's own details (a merged duplicate may differ from its original here).
        rng = random.Random(self.seed * 1_000_003 + pid + 7_777_777)
        registered = self.registered_at(pid)
        state = self.state[pid]
        stage, since, reason = self.stage(pid)
        target = self.merged_into.get(pid)
        lead_without_dob = stage == "inquiry" and not state.future and rng.random() < 0.4
        city, zips, _ = _CITIES[_weighted(rng, [(i, c[2]) for i, c in enumerate(_CITIES)])]
        email = ""
        if rng.random() < 0.82:
            domain = rng.choice(("example.com", "example.net", "example.org"))
            email = f"{_email_part(first)}.{_email_part(last)}{rng.randint(1, 99)}@{domain}"
        emergency = rng.random() < 0.5
        primary = None
        if state.visits:
            primary = self.providers[max(range(3), key=lambda i: state.provider_counts[i])]["id"]
        last_change = max(since, registered)
        if state.last_visit:
            last_change = max(last_change, self.at(state.last_visit, 17 * H))
        last_change = min(last_change, self.now)
        since = min(since, self.now)
        return {
            "id": pid,
            "chart_number": f"P{pid:06d}",
            "first_name": first,
            "middle_name": middle,
            "last_name": last,
            "preferred_name": preferred,
            "search_name": patient_search_name(first, middle, last, preferred),
            "date_of_birth": None if lead_without_dob else who["born"],
            "sex": ("female" if female else "male") if rng.random() < 0.97 else None,
            "pronouns": ("she/her" if female else "he/him") if rng.random() < 0.25 else "",
            "mobile_phone": self.phone(rng) if rng.random() < 0.93 else "",
            "home_phone": self.phone(rng) if rng.random() < 0.22 else "",
            "work_phone": self.phone(rng) if rng.random() < 0.08 else "",
            "email": email,
            "address_line1": rng.choice(self.streets),
            "address_line2": rng.choice(self.units) if rng.random() < 0.15 else "",
            "city": city,
            "region": "TX",
            "postal_code": rng.choice(zips),
            "country": "US",
            "preferred_language": "es" if spanish and rng.random() < 0.5 else "en",
            "may_text": self.may_text[pid],
            "may_email": self.may_email[pid] and bool(email),
            "may_voicemail": rng.random() < 0.6,
            "emergency_contact_name": f"{rng.choice(pool['any'])} {last}" if emergency else "",
            "emergency_contact_phone": self.phone(rng) if emergency else "",
            "emergency_contact_relation": rng.choice(_RELATIONS) if emergency else "",
            "medical_alerts": rng.choice(_MEDICAL_ALERTS) if rng.random() < 0.04 else "",
            "allergies": rng.choice(_ALLERGIES) if rng.random() < 0.14 else "",
            "medications": ", ".join(rng.sample(_MEDICATIONS, rng.randint(1, 3)))
            if rng.random() < 0.2
            else "",
            "lead_source": self.lead_source[pid],
            "journey_stage": stage,
            "journey_stage_since": since,
            "journey_reason": reason,
            "primary_provider_id": primary,
            "merged_into_id": target,
            "merged_at": since if target else None,
            "is_active": stage != "inactive",
            "created_at": registered,
            "updated_at": last_change,
        }

    def write_referrals_in(self) -> None:
        rng = self.rng
        for pid in range(1, self.n_patients + 1):
            if self.lead_source[pid] != "Specialist referral" or self.flags[pid] == _MERGED:
                continue
            registered = date.fromordinal(self.reg_days[pid])
            state = self.state[pid]
            created = self.at(registered, 9 * H + 15)
            chain = ["received"]
            visit = None
            if state.first_visit:
                visit = state.first_visit
                chain += ["booked", "seen", "closed"]
            elif state.future:
                chain.append("booked")
            elif (self.today - registered).days >= 30:
                chain.append("cancelled")
            moments = {
                "received": created,
                "booked": created + timedelta(hours=2),
                "seen": self.at(visit, 17 * H) if visit else None,
                "closed": self.at(visit + timedelta(days=1), 10 * H) if visit else None,
                "cancelled": self.at(registered + timedelta(days=45), 10 * H),
            }
            final = chain[-1]
            contact = rng.choice(self.referrers)
            referral_id = self.ids.next(Referral)
            self.out.add(
                Referral,
                {
                    "id": referral_id,
                    "patient_id": pid,
                    "direction": "incoming",
                    "contact_id": contact,
                    "provider_id": self.providers[0]["id"],
                    "status": final,
                    "status_changed_at": moments[final],
                    "urgency": "routine",
                    "reason": "Referred for restorative and cosmetic care.",
                    "attached_records": "Referral letter",
                    "referred_on": registered,
                    "sent_at": None,
                    "visit_on": visit,
                    "seen_on": visit,
                    "follow_up_on": registered + timedelta(days=7),
                    "closed_on": self.local_day(moments[final])
                    if final in _FINISHED_REFERRAL
                    else None,
                    "outcome_reason": _ENDED_REASON.get(final, ""),
                    "created_by_id": self.staff["receptionist"],
                }
                | self.stamp(created),
            )
            previous = None
            for step in chain:
                self.referral_event(referral_id, moments[step], previous, step)
                previous = step

    def write_waitlist(self) -> None:
        rng = self.rng
        for appointment_id, pid, service_id, starts in self.future_appointments:
            if rng.random() > 0.04:
                continue
            morning = rng.random() < 0.5
            added = self.now - timedelta(days=rng.randint(0, 20), hours=rng.randint(0, 8))
            self.out.add(
                WaitlistEntry,
                {
                    "id": self.ids.next(WaitlistEntry),
                    "patient_id": pid,
                    "service_id": service_id,
                    "provider_id": None,
                    "preferred_weekdays": rng.randint(1, 0b11111),
                    "earliest_minute": 8 * H if morning else 12 * H,
                    "latest_minute": 12 * H if morning else 17 * H,
                    "wanted_before": starts,
                    "current_appointment_id": appointment_id,
                    "status": "waiting",
                    "notes": "Would take an earlier slot at short notice",
                    "added_by_id": self.staff["receptionist"],
                }
                | self.stamp(added),
            )


def installment_schedule(
    financed: Decimal, count: int, apr_basis_points: int, first_due: date
) -> list[tuple[int, date, Decimal, Decimal, Decimal, Decimal]]:
    """Monthly schedule: (sequence, due date, amount, principal, interest, balance after).

    Every amount is rounded to cents; the last installment takes the rounding remainder,
    so the principals add up to exactly the financed amount.
    """
    rows = []
    balance = financed
    if apr_basis_points == 0:
        base = (financed / count).quantize(Decimal("0.01"), rounding=ROUND_DOWN)
        payment = None
    else:
        rate = Decimal(apr_basis_points) / Decimal(120_000)
        payment = round_money(financed * rate / (1 - (1 + rate) ** -count))
    for n in range(1, count + 1):
        due = first_due + relativedelta(months=n - 1)
        if payment is None:
            interest = Decimal("0.00")
            principal = base if n < count else balance
        else:
            interest = round_money(balance * rate)
            principal = min(payment - interest, balance) if n < count else balance
        balance -= principal
        rows.append((n, due, principal + interest, principal, interest, balance))
    return rows


# --- the public entry points ----------------------------------------------------------------


def _no_progress(_stage: str, _done: int, _total: int) -> None:
    pass


def create_seeded_clinic(
    path: Path,
    *,
    patients: int,
    years: int,
    seed: int,
    passphrase: str | None = None,
    progress: Progress | None = None,
    today: date = SEED_TODAY,
) -> OpenClinic:
    """Create a new clinic at ``path`` filled with ``years`` of made-up history.

    Same arguments, same data.  The demo accounts (:data:`DEMO_ACCOUNTS`) sign in
    with :data:`DEMO_PASSWORD`.  On any failure the half-written file is removed.
    """
    if patients < 1 or years < 1:
        raise ValueError("a seeded clinic has at least one patient and one year of history")
    report = progress or _no_progress
    path = Path(path)
    owner = DEMO_ACCOUNTS[0]
    report("Creating the encrypted database", 0, 1)
    clinic = create_clinic(
        path, DEMO_CLINIC, owner.username, owner.full_name, DEMO_PASSWORD, passphrase=passphrase
    )
    try:
        with unit_of_work(clinic.db, None) as session:
            for account in DEMO_ACCOUNTS[1:]:
                add_staff_row(session, account.username, account.full_name, account.role,
                              DEMO_PASSWORD)  # fmt: skip
        report("Creating the encrypted database", 1, 1)
        _fill(clinic, patients=patients, years=years, seed=seed, today=today, progress=report)
        with unit_of_work(clinic.db, None) as session:
            record(
                session,
                AuditAction.CREATE,
                entity="clinic",
                detail=f"made-up demo data: {patients} patients, {years} years, seed {seed}",
            )
    except BaseException:
        clinic.db.close()
        remove_database_files(path)
        if clinic.key_in_keyring:
            with contextlib.suppress(KeyringUnavailable, ValueError, OSError):
                keys.forget_key(keys.database_id(path))
        raise
    return clinic


def _fill(
    clinic: OpenClinic, *, patients: int, years: int, seed: int, today: date, progress: Progress
) -> None:
    with clinic.db.engine.connect() as conn:
        driver = conn.connection.driver_connection
        # Checked once at the end instead of row by row; a seed that is being written
        # is thrown away on failure, so it need not survive a power cut either.
        driver.execute("PRAGMA foreign_keys = OFF")
        driver.execute("PRAGMA synchronous = OFF")
        try:
            _Seeder(
                conn, patients=patients, years=years, seed=seed, today=today, progress=progress
            ).run()
            # What each installment has been paid: its live allocations (the payments
            # service keeps this as it allocates; the seed writes allocations in bulk).
            conn.exec_driver_sql(
                "UPDATE installments SET paid_amount = ("
                " SELECT coalesce(sum(a.amount), 0) FROM payment_allocations a"
                " JOIN payments p ON p.id = a.payment_id AND p.voided_at IS NULL"
                " WHERE a.installment_id = installments.id)"
            )
            # And each payment's unapplied money (what is the patient's credit).
            conn.execute(refresh_unapplied())
            conn.commit()
            progress("Checking references", 0, 1)
            problems = driver.execute("PRAGMA foreign_key_check").fetchall()
            if problems:
                raise RuntimeError(f"seeding left {len(problems)} broken references")
            progress("Checking references", 1, 1)
        finally:
            driver.execute("PRAGMA foreign_keys = ON")
            driver.execute("PRAGMA synchronous = FULL")
        # Fold the write-ahead log into the file: a compact, self-contained database.
        driver.execute("PRAGMA wal_checkpoint(TRUNCATE)")
