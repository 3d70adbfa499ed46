"""Every model, imported so that ``Base.metadata`` knows the whole schema."""

from app.data.models.appointments import (
    Appointment,
    AppointmentSeries,
    AppointmentStatus,
    AppointmentStatusChange,
    WaitlistEntry,
)
from app.data.models.audit import AuditEntry
from app.data.models.backups import BackupRun, BackupSettings
from app.data.models.base import Base
from app.data.models.clinic import ClinicSettings
from app.data.models.communications import CommunicationEntry
from app.data.models.contacts import Contact
from app.data.models.documents import ConsentTemplate, ConsentVersion, StoredDocument
from app.data.models.imports import ImportBatch, ImportedRow, ImportKind, ImportMapping
from app.data.models.insurance import InsurancePolicy, InsuranceVerification, PreAuthorization
from app.data.models.messages import (
    Message,
    MessageReply,
    MessageRule,
    MessageTemplate,
    MessagingSettings,
    SenderLease,
)
from app.data.models.month_closes import MonthClose
from app.data.models.notes import ConsultationNote, NoteAddendum
from app.data.models.patients import JourneyStage, Patient, PatientSearchTerm, SearchTermKind
from app.data.models.payments import (
    AccountAdjustment,
    Charge,
    DayCloseOut,
    Installment,
    Payment,
    PaymentAllocation,
    PaymentPlan,
)
from app.data.models.plans import TreatmentItem, TreatmentPhase, TreatmentPlan
from app.data.models.providers import (
    Provider,
    ProviderBreak,
    Room,
    Service,
    ServiceRequiredConsent,
    WorkingHours,
)
from app.data.models.referrals import Referral, ReferralEvent, ReferralRecord
from app.data.models.staff import Role, Staff
from app.data.models.tasks import Task

__all__ = [
    "AccountAdjustment",
    "Appointment",
    "AppointmentSeries",
    "AppointmentStatus",
    "AppointmentStatusChange",
    "AuditEntry",
    "BackupRun",
    "BackupSettings",
    "Base",
    "Charge",
    "ClinicSettings",
    "CommunicationEntry",
    "ConsentTemplate",
    "ConsentVersion",
    "ConsultationNote",
    "Contact",
    "DayCloseOut",
    "ImportBatch",
    "ImportKind",
    "ImportMapping",
    "ImportedRow",
    "Installment",
    "InsurancePolicy",
    "InsuranceVerification",
    "JourneyStage",
    "Message",
    "MessageReply",
    "MessageRule",
    "MessageTemplate",
    "MessagingSettings",
    "MonthClose",
    "NoteAddendum",
    "Patient",
    "PatientSearchTerm",
    "Payment",
    "PaymentAllocation",
    "PaymentPlan",
    "PreAuthorization",
    "Provider",
    "ProviderBreak",
    "Referral",
    "ReferralEvent",
    "ReferralRecord",
    "Role",
    "Room",
    "SearchTermKind",
    "SenderLease",
    "Service",
    "ServiceRequiredConsent",
    "Staff",
    "StoredDocument",
    "Task",
    "TreatmentItem",
    "TreatmentPhase",
    "TreatmentPlan",
    "WaitlistEntry",
    "WorkingHours",
]
