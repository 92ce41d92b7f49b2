"""Form pieces shared by the feature packages."""

from collections.abc import Iterable
from typing import Any

from wtforms import HiddenField, SelectChoice, SelectMultipleField, widgets
from wtforms.validators import InputRequired


class CheckboxListField(SelectMultipleField):
    """Several checkboxes for one list value."""

    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


def version_field() -> HiddenField:
    """The row version the form was loaded with, for optimistic locking."""
    return HiddenField(validators=[InputRequired()])


def choices(pairs: Iterable[tuple[Any, str]]) -> list[SelectChoice]:
    """(value, label) pairs as WTForms select choices."""
    return [SelectChoice(value, label) for value, label in pairs]
