"""All models, imported here so the metadata (and Alembic) sees every table."""

from clinic_app.models.account import BackupCode, UserSession
from clinic_app.models.alert import ClinicalAlert
from clinic_app.models.assessment import Assessment
from clinic_app.models.audit import AuditChainHead, AuditEvent
from clinic_app.models.patient import CourseDecision, Patient, TreatmentCourse
from clinic_app.models.rems import (
    RemsDischargeAnswers,
    RemsMedicationReview,
    RemsMonitoringForm,
    RemsSubmission,
    SaeReport,
)
from clinic_app.models.review import SessionReview
from clinic_app.models.schedule import Appointment, Chair
from clinic_app.models.settings import ClinicSetting
from clinic_app.models.site import Site, user_sites
from clinic_app.models.stock import (
    StockContainer,
    StockCount,
    StockCountLine,
    StockDiscrepancy,
    StockInventory,
    StockInventoryLine,
    StockMovement,
    StockProduct,
    StockReceipt,
    StockReceiptLine,
)
from clinic_app.models.treatment import (
    Addendum,
    AdverseEvent,
    DeviceAdministration,
    InfusionPause,
    Override,
    TreatmentSession,
    VitalsReading,
)
from clinic_app.models.user import User

__all__ = [
    "Addendum",
    "AdverseEvent",
    "Appointment",
    "Assessment",
    "AuditChainHead",
    "AuditEvent",
    "BackupCode",
    "Chair",
    "ClinicalAlert",
    "ClinicSetting",
    "CourseDecision",
    "DeviceAdministration",
    "InfusionPause",
    "Override",
    "Patient",
    "RemsDischargeAnswers",
    "RemsMedicationReview",
    "RemsMonitoringForm",
    "RemsSubmission",
    "SaeReport",
    "SessionReview",
    "Site",
    "StockContainer",
    "StockCount",
    "StockCountLine",
    "StockDiscrepancy",
    "StockInventory",
    "StockInventoryLine",
    "StockMovement",
    "StockProduct",
    "StockReceipt",
    "StockReceiptLine",
    "TreatmentCourse",
    "TreatmentSession",
    "User",
    "UserSession",
    "VitalsReading",
    "user_sites",
]
