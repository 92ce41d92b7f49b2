"""Inventory forms: receipts, waste, disposal, counts and discrepancies."""

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    DecimalField,
    FieldList,
    Form,
    FormField,
    IntegerField,
    PasswordField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)

from clinic_app.clinical.ledger import Classification
from clinic_app.forms import choices
from clinic_app.inventory.catalogue import PACKS


class ReceiptLineForm(FlaskForm):
    class Meta:
        csrf = False

    product_id = SelectField(
        "Product", coerce=lambda v: int(v) if v else None, validators=[Optional()]
    )
    lot = StringField("Lot", validators=[Optional(), Length(max=40)])
    expiry_date = DateField("Expiry", validators=[Optional()])
    containers = IntegerField("Containers", validators=[Optional(), NumberRange(min=1, max=200)])
    pack = SelectField(
        "Bought as",
        choices=choices([("", "Loose containers")] + [(p.ndc, p.label) for p in PACKS]),
        validators=[Optional()],
    )
    packs = IntegerField("Packs", validators=[Optional(), NumberRange(min=1, max=100)])


class ReceiptForm(FlaskForm):
    received_on = DateField("Date received", validators=[InputRequired()])
    supplier_name = StringField("Supplier", validators=[DataRequired(), Length(max=120)])
    supplier_address = StringField("Supplier address", validators=[DataRequired(), Length(max=240)])
    supplier_dea = StringField("Supplier DEA number", validators=[DataRequired(), Length(max=12)])
    invoice_number = StringField(
        "Invoice or packing-slip number", validators=[DataRequired(), Length(max=40)]
    )
    storage_location = StringField(
        "Stored in",
        validators=[DataRequired(), Length(max=80)],
        description="Locked cabinet, fridge…",
    )
    lines = FieldList(FormField(ReceiptLineForm), min_entries=3, max_entries=3)
    checker_username = StringField(
        "Checked by (username)",
        validators=[DataRequired(), Length(max=64)],
        description="A second nurse or psychiatrist checks the delivery against the invoice.",
    )
    checker_password = PasswordField("Checker's password", validators=[DataRequired()])


def _witness_fields(label: str = "Witness", required: bool = True):
    """A second person's username and their own password (checked by the service)."""
    needed = DataRequired if required else Optional
    return (
        StringField(f"{label} (username)", validators=[needed(), Length(max=64)]),
        PasswordField(f"{label}'s password", validators=[needed()]),
    )


class WasteForm(FlaskForm):
    quantity = DecimalField(
        "Quantity wasted", places=2, validators=[InputRequired(), NumberRange(min=0.01, max=1000)]
    )
    method = StringField(
        "Method", validators=[DataRequired(), Length(max=80)], default="Drug-waste container"
    )
    reason = StringField("Reason", validators=[Optional(), Length(max=200)])
    witness_username, witness_password = _witness_fields()


class DisposeForm(FlaskForm):
    to_reverse_distributor = BooleanField(
        "Transferred to a reverse distributor (not destroyed here)"
    )
    document_ref = StringField(
        "DEA Form 41 or transfer document number", validators=[DataRequired(), Length(max=80)]
    )
    method = StringField(
        "Method of destruction, or the reverse distributor's name and DEA number",
        validators=[DataRequired(), Length(max=80)],
    )
    # Destruction needs both; a transfer to a reverse distributor needs none.
    witness_username, witness_password = _witness_fields("First witness", required=False)
    second_witness_username, second_witness_password = _witness_fields(
        "Second witness", required=False
    )


class CountForm(FlaskForm):
    """The counted fields are added per container by the view (c<ID>)."""

    witness_username, witness_password = _witness_fields("Second counter")


class DiscrepancyForm(FlaskForm):
    classification = SelectField(
        "Classification",
        choices=choices([("", "Choose…")] + [(c.value, c.label) for c in Classification]),
        validators=[Optional()],
    )
    note = TextAreaField("What was found", validators=[Optional(), Length(max=2000)])
    notice_ref = StringField("DEA notice reference", validators=[Optional(), Length(max=80)])
    form106_ref = StringField("Form 106 reference", validators=[Optional(), Length(max=80)])
    closing = BooleanField("Close the discrepancy")


def count_field(label: str):
    return DecimalField(label, places=2, validators=[Optional(), NumberRange(min=0, max=1000)])


class InventoryForm(FlaskForm):
    kind = SelectField(
        "Inventory", choices=choices([("biennial", "Biennial"), ("initial", "Initial")])
    )
    opening_of_business = SelectField(
        "Taken at",
        choices=choices([("close", "Close of business"), ("opening", "Opening of business")]),
    )
    password = PasswordField("Your password (signs the inventory)", validators=[DataRequired()])


class ProductForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    ndc = StringField("NDC (package)", validators=[DataRequired(), Length(max=14)])
    modality = SelectField(
        "Used for",
        choices=choices([("iv_ketamine", "IV ketamine"), ("esketamine_nasal", "Esketamine nasal")]),
    )
    dosage_form = StringField("Dosage form", validators=[DataRequired(), Length(max=40)])
    base_unit = SelectField("Counted in", choices=choices([("mL", "mL"), ("device", "devices")]))
    mg_per_unit = DecimalField(
        "Strength (mg per mL or per device)",
        places=2,
        validators=[InputRequired(), NumberRange(min=0.01, max=1000)],
    )
    container_size = DecimalField(
        "Container holds (mL, or 1 device)",
        places=2,
        validators=[InputRequired(), NumberRange(min=0.01, max=1000)],
    )
    vial_use = SelectField(
        "Vial",
        choices=choices(
            [
                ("", "Choose…"),
                ("multiple", "Multiple-dose vial: kept until its beyond-use date once opened"),
                ("single", "Single-dose vial: not kept once opened"),
                ("device", "Not a vial (a single-use device)"),
            ]
        ),
        validators=[Optional()],
        description="As the label says (multiple-dose vials carry a preservative).",
    )
    witness_required = BooleanField("Waste needs a witness", default=True)


class ReverseForm(FlaskForm):
    """One movement's reversal, witnessed (prefixed per movement: `m<ID>-reason`)."""

    reason = StringField("Reason for the reversal", validators=[DataRequired(), Length(max=200)])
    witness_username, witness_password = _witness_fields()


LONGEST_LOG_DAYS = 400  # a page, a CSV or a PDF covers at most a year and a bit


class DispensingRangeForm(Form):
    """The dispensing log's dates (?start=&end=, site-local; a GET form: dates only)."""

    start = DateField("From", validators=[Optional()])
    end = DateField("To", validators=[Optional()])

    def validate_end(self, field: DateField) -> None:
        if field.data and self.start.data:
            if field.data < self.start.data:
                raise ValidationError("The end of the range comes before its start.")
            if (field.data - self.start.data).days > LONGEST_LOG_DAYS:
                raise ValidationError(f"Choose at most {LONGEST_LOG_DAYS} days at a time.")
