"""Form pieces shared by the feature packages."""

from wtforms import HiddenField, SelectMultipleField, widgets
from wtforms.validators import InputRequired


class CheckboxListField(SelectMultipleField):
    """Several checkboxes for one list value."""

    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


def version_field() -> HiddenField:
    """The row version the form was loaded with, for optimistic locking."""
    return HiddenField(validators=[InputRequired()])
