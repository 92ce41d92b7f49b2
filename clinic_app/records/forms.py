"""The treatment summary's date range (a GET form: dates only in the URL, no PHI)."""

from wtforms import DateField, Form
from wtforms.validators import Optional, ValidationError

from clinic_app.records.summary import DateRange


class SummaryRangeForm(Form):
    """?from=YYYY-MM-DD&to=YYYY-MM-DD, either end optional."""

    first = DateField(
        "From", name="from", validators=[Optional()], description="Leave empty for the start."
    )
    last = DateField("To", name="to", validators=[Optional()], description="Leave empty for now.")

    def validate_last(self, field: DateField) -> None:
        if field.data and self.first.data and field.data < self.first.data:
            raise ValidationError("The end of the range comes before its start.")

    @property
    def period(self) -> DateRange:
        return DateRange(self.first.data, self.last.data)
