"""`flask --app wsgi fhir export DIR [--since DATE] [--site CODE]`."""

from datetime import datetime
from pathlib import Path

import click
from flask.cli import AppGroup
from sqlalchemy import func, select

from clinic_app.extensions import db
from clinic_app.models import Site

fhir_group = AppGroup("fhir", help="FHIR R4 export (README, Getting records out).")


def _site(code: str | None) -> Site | None:
    from clinic_app.admin.sites import site_by_code
    from clinic_app.clinical.sites import normalise_code

    if code is None:
        return None
    site = site_by_code(normalise_code(code))
    if site is None:
        raise click.ClickException(f"No site has the code {normalise_code(code)}.")
    return site


@fhir_group.command("export")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--since",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    metavar="DATE",
    help="Only sessions and scales from this clinic-local day on (YYYY-MM-DD), the courses "
    "they belong to, and the patients they concern or changed since.",
)
@click.option(
    "--site",
    "site_code",
    default=None,
    metavar="CODE",
    help="Only patients with a session at this site (their whole chart is exported).",
)
def export_command(directory: Path, since: datetime | None, site_code: str | None) -> None:
    """Write every patient's chart to DIRECTORY as FHIR R4 NDJSON, one file per resource type
    (Bulk Data style), readable by the owner only."""
    from clinic_app.fhir.bulk import export, patients_query
    from clinic_app.settings import day_bounds_utc

    site = _site(site_code)
    start = day_bounds_utc(since.date())[0] if since is not None else None
    total = db.session.scalar(
        select(func.count()).select_from(patients_query(start, site).subquery())
    )
    with click.progressbar(range(total or 0), label="Exporting patients") as bar:
        result = export(directory, start, site, bar.update)
    db.session.commit()
    for name, count in sorted(result.counts.items()):
        click.echo(f"  {name + '.ndjson':<32} {count:>9,} resources")
    click.echo(
        f"Wrote {result.resources:,} resources of {result.patients:,} patients to {directory}."
    )
