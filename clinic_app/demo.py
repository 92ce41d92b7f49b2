"""Demo clinic data for development (placeholder replaced below)."""

import click


@click.command("demo-data")
def demo_data_command() -> None:
    """Load a realistic demo clinic when the database is empty (development only)."""
    raise click.ClickException("demo data is not written yet")
