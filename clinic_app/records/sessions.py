"""The signed session record: the session with everything its PDF shows, where it happened,
and what the rules make of its readings (loaded in a fixed number of statements)."""

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from clinic_app.clinical.codes import Modality, SessionStatus
from clinic_app.clinical.rules import ClinicalRules
from clinic_app.clinical.series import SchedulingRules
from clinic_app.clock import utcnow
from clinic_app.models import Site, TreatmentSession
from clinic_app.review import charts
from clinic_app.review.session_review import bp_chart_for, session_date
from clinic_app.scheduling.site_days import session_site
from clinic_app.treatments.summary import SessionSummary, summarize

SIGNED = (SessionStatus.SIGNED, SessionStatus.COSIGNED)


@dataclass(frozen=True)
class Place:
    """Where a record was made, as its letterhead names it."""

    name: str
    address: str
    phone: str


@dataclass
class SessionRecord:
    treatment: TreatmentSession
    place: Place
    site: Site | None
    summary: SessionSummary
    bp_chart: charts.Chart
    age: int

    @property
    def draft(self) -> bool:
        """Not signed by the nurse yet: every page says DRAFT."""
        return self.treatment.status not in SIGNED

    @property
    def iv(self) -> bool:
        return self.treatment.modality == Modality.IV_KETAMINE


def place_of(site: Site | None, clinic: SchedulingRules) -> Place:
    """The site's letterhead, or the clinic's when the visit has no site."""
    if site is not None:
        return Place(site.name, site.address, site.phone)
    return Place(clinic.clinic_name, clinic.clinic_address, clinic.clinic_phone)


def session_record(
    treatment: TreatmentSession, rules: ClinicalRules, clinic: SchedulingRules, zone: ZoneInfo
) -> SessionRecord:
    """What the session PDF shows, its times in `zone` (the visit site's)."""
    site = session_site(treatment)
    age = treatment.patient.age_on(session_date(treatment))
    return SessionRecord(
        treatment=treatment,
        place=place_of(site, clinic),
        site=site,
        summary=summarize(treatment, age, utcnow(), rules),
        bp_chart=bp_chart_for(treatment, age, rules, "bp-chart", zone),
        age=age,
    )
