"""What the review rules made of a session when it was signed, stored so the co-signature queue
and the timeline read columns instead of recomputing them. A signed session never changes
(corrections are addenda), so neither does this row."""

from sqlalchemy import JSON, CheckConstraint, ForeignKey, SmallInteger
from sqlalchemy.orm import Mapped, mapped_column

from clinic_app.clinical.review import Severity
from clinic_app.database import created_at
from clinic_app.extensions import db


class SessionReview(db.Model):
    """A signed session's review flags and per-session peaks and lows (see
    review/summary.py). `flag_rank` is the most severe flag's `Severity.rank`, or the number of
    severities when the session has no flag; `same_day` is set when a flag is one of the
    same-day alert codes."""

    __tablename__ = "session_reviews"
    __table_args__ = (
        CheckConstraint(f"flag_rank BETWEEN 0 AND {len(Severity)}", name="flag_rank_range"),
    )

    session_id: Mapped[int] = mapped_column(ForeignKey("treatment_sessions.id"), primary_key=True)
    pre_systolic: Mapped[int | None]
    pre_diastolic: Mapped[int | None]
    peak_systolic: Mapped[int | None]
    peak_diastolic: Mapped[int | None]
    lowest_spo2: Mapped[int | None]
    lowest_moaas: Mapped[int | None]
    max_cadss: Mapped[int | None]
    flag_rank: Mapped[int] = mapped_column(SmallInteger)
    same_day: Mapped[bool]
    # [[code, severity, reason], ...], most severe first.
    flags: Mapped[list] = mapped_column(JSON)
    stored_at: Mapped[created_at]
