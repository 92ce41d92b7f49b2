"""Form pieces shared by the feature packages."""

from collections.abc import Iterable
from typing import Any

from wtforms import IntegerField, SelectChoice, SelectMultipleField, widgets
from wtforms.validators import InputRequired, Optional


class CheckboxListField(SelectMultipleField):
    """Several checkboxes for one list value."""

    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


def hidden_id(required: bool = True) -> IntegerField:
    """A hidden whole number (a row id); anything else fails validation with a 400."""
    return IntegerField(
        widget=widgets.HiddenInput(), validators=[InputRequired()] if required else [Optional()]
    )


def version_field() -> IntegerField:
    """The row version the form was loaded with, for optimistic locking."""
    return hidden_id()


def choices(pairs: Iterable[tuple[Any, str]]) -> list[SelectChoice]:
    """(value, label) pairs as WTForms select choices."""
    return [SelectChoice(value, label) for value, label in pairs]


def refresh_version(form, version_id: int) -> None:
    """Point a submitted form at the current row version (rendering reads raw_data)."""
    form.version_id.data = version_id
    form.version_id.raw_data = [str(version_id)]
