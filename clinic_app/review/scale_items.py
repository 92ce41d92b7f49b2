"""The items of a scale form (PHQ-9, GAD-7) as the form macro renders them.

A blank form's items come out the same on every page, and rendering 16 selects through WTForms
was a tenth of the patient timeline's time, so they are rendered once per process. A form
coming back with data or errors is rendered afresh."""

from typing import Any

from flask import current_app
from flask_wtf import FlaskForm
from markupsafe import Markup

_BLANK: dict[tuple, Markup] = {}


def scale_items(form: FlaskForm, count: int, css: str = "") -> Markup:
    """`field(form.itemN, css)` for items 1 to `count`."""
    fields = [form[f"item{n}"] for n in range(1, count + 1)]
    blank = all(
        f.data is None and not f.errors and not getattr(f, "raw_data", None) for f in fields
    )
    key = (type(form), form._prefix, count, css)
    if blank and key in _BLANK:
        return _BLANK[key]
    macros: Any = current_app.jinja_env.get_template("_macros/forms.html").module
    # Each macro call returns Markup the template engine already escaped; Markup.join escapes
    # anything that is not Markup, so nothing unescaped gets through.
    html = Markup("").join(macros.field(f, css) for f in fields)
    if blank and not current_app.debug:  # templates may change under the debug reloader
        _BLANK[key] = html
    return html
