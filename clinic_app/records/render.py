"""Templates to PDF: the one place WeasyPrint is called.

Other features turn a template into a download with `pdf_response(template, filename,
**context)`. The template extends "records/_document.html": its blocks `title`, `running`
(the text in every page's top margin, e.g. the patient's name and MRN) and `content`; set
`draft=True` in the context to print DRAFT on every page. The view audits the download and
sets the page time zone (`g.page_timezone`) before calling it.

Rendering never touches the network: the URL fetcher (fetcher.py) serves the app's own static
files and refuses everything else. Fonts are the system's (fontconfig; DejaVu on the CI image).
Charts are the app's inline SVG: WeasyPrint does not apply the page's stylesheets inside an
<svg>, so `chart_css()` gives the chart rules of app.css, custom properties resolved, for a
<style> in each.
"""

import re
from functools import cache
from pathlib import Path
from typing import Any

from flask import Response, current_app, render_template

# A made-up origin: templates' url_for('static', ...) paths resolve under it, and only the
# fetcher (fetcher.py) answers for it.
BASE_URL = "https://records.invalid/"
STATIC_PREFIX = "/static/"
SAFE_FILENAME = re.compile(r"[\w.-]+\.pdf", re.ASCII)
# Rules of app.css that style the SVG charts and their legend swatches.
CHART_SELECTOR = re.compile(r"(^|[\s,])\.(chart-svg|legend-swatch|ln|mk|band|[slb]-[\w-]+)\b")


@cache
def _chart_css(app_css: str) -> str:
    variables = dict(re.findall(r"(--[\w-]+)\s*:\s*([^;]+);", app_css.split("}", 1)[0]))
    outside_media = re.sub(r"@media[^{]*\{(?:[^{}]*\{[^{}]*\})*[^{}]*\}", "", app_css)
    outside_media = re.sub(r"/\*.*?\*/", "", outside_media, flags=re.S)
    rules = [
        rule.strip() + "}"
        for rule in outside_media.split("}")
        if "{" in rule and CHART_SELECTOR.search(rule.split("{", 1)[0])
    ]
    return re.sub(
        r"var\((--[\w-]+)\)", lambda m: variables.get(m[1], "currentColor"), "\n".join(rules)
    )


def chart_css() -> str:
    """The rules of app.css that style the charts, with their colours written out."""
    static = current_app.static_folder
    assert static is not None
    return _chart_css((Path(static) / "css" / "app.css").read_text())


def html_to_pdf(html: str) -> bytes:
    """A PDF of `html`, its links to /static/ served from the app's static folder."""
    # Imported here, not at the top: the app starts and serves every page but the PDFs without
    # WeasyPrint's system libraries (Pango), which a missing one would make fail at import.
    from weasyprint import HTML

    from clinic_app.records.fetcher import StaticFilesOnly

    static = current_app.static_folder
    assert static is not None
    document = HTML(string=html, base_url=BASE_URL, url_fetcher=StaticFilesOnly(static))
    pdf = document.write_pdf()
    assert pdf is not None  # write_pdf returns the bytes when given no target
    return pdf


def pdf_response(template: str, filename: str, **context: Any) -> Response:
    """Render `template` with `context` (and `chart_css`) to a PDF download named `filename`.

    The filename carries no PHI (a record number or a date at most): browsers keep it in their
    download history. The response is never cached.
    """
    if not SAFE_FILENAME.fullmatch(filename):
        raise ValueError("a PDF's filename is letters, digits, dots, dashes and underscores")
    html = render_template(template, chart_css=chart_css(), **context)
    return Response(
        html_to_pdf(html),
        mimetype="application/pdf",
        headers={
            "Content-Disposition": f'inline; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )
