"""Sites: the locations of a clinic group. Chairs belong to a site (chair names are unique per
site), staff work at one or more sites, a patient has a usual site.

An install that already has staff or chairs gets one site, "Main clinic" (code MAIN) in the
clinic's time zone setting; every chair, user and patient joins it. A new, empty install gets no
site: the admin creates them. Downgrade drops the sites (a chair name used at two sites gets the
site's code appended so names are unique again).

Revision ID: ca4329bc681b
Revises: c3d5e7f9a1b2
Create Date: 2026-12-06 05:50:00

"""
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from alembic import op

import clinic_app.database
from clinic_app.clock import utcnow
from clinic_app.database import search_key
from clinic_app.models.patient import SEARCH_COLUMNS

# revision identifiers, used by Alembic.
revision = 'ca4329bc681b'
down_revision = 'c3d5e7f9a1b2'
branch_labels = None
depends_on = None

MAIN_NAME, MAIN_CODE = "Main clinic", "MAIN"
# The clinic time zone's default as of this revision (clinic_app.settings.ClinicProfile).
DEFAULT_TIMEZONE = "America/Los_Angeles"

SITES = sa.table(
    "sites",
    sa.column("id", sa.Integer),
    sa.column("name", sa.String),
    sa.column("code", sa.String),
    sa.column("address_line1", sa.String),
    sa.column("address_line2", sa.String),
    sa.column("city", sa.String),
    sa.column("state", sa.String),
    sa.column("zip_code", sa.String),
    sa.column("phone", sa.String),
    sa.column("timezone", sa.String),
    sa.column("rems_certified", sa.Boolean),
    sa.column("rems_setting_id", sa.String),
    sa.column("dea_number", sa.String),
    sa.column("active", sa.Boolean),
    sa.column("created_at", clinic_app.database.UTCDateTime(timezone=True)),
    sa.column("updated_at", clinic_app.database.UTCDateTime(timezone=True)),
)
SETTINGS = sa.table("clinic_settings", sa.column("key", sa.String), sa.column("value", sa.JSON))


def upgrade():
    op.create_table('sites',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('code', sa.String(length=12), nullable=False),
    sa.Column('address_line1', sa.String(length=120), nullable=False),
    sa.Column('address_line2', sa.String(length=120), nullable=False),
    sa.Column('city', sa.String(length=80), nullable=False),
    sa.Column('state', sa.String(length=2), nullable=False),
    sa.Column('zip_code', sa.String(length=10), nullable=False),
    sa.Column('phone', sa.String(length=32), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('rems_certified', sa.Boolean(), nullable=False),
    sa.Column('rems_setting_id', sa.String(length=40), nullable=False),
    sa.Column('rems_certified_on', sa.Date(), nullable=True),
    sa.Column('dea_number', sa.String(length=9), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', clinic_app.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', clinic_app.database.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("NOT rems_certified OR (rems_setting_id <> '' AND rems_certified_on IS NOT NULL)", name=op.f('ck_sites_rems_certified_has_id_and_date')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sites')),
    sa.UniqueConstraint('code', name=op.f('uq_sites_code')),
    sa.UniqueConstraint('name', name=op.f('uq_sites_name'))
    )
    op.create_table('user_sites',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_user_sites_site_id_sites')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_user_sites_user_id_users')),
    sa.PrimaryKeyConstraint('user_id', 'site_id', name=op.f('pk_user_sites'))
    )
    with op.batch_alter_table('user_sites', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_user_sites_site_id'), ['site_id'], unique=False)

    main_id = _create_main_site()

    with op.batch_alter_table('chairs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('site_id', sa.Integer(), nullable=True))
    if main_id is not None:
        op.execute(sa.text("UPDATE chairs SET site_id = :site").bindparams(site=main_id))
    with op.batch_alter_table('chairs', schema=None) as batch_op:
        batch_op.alter_column('site_id', existing_type=sa.Integer(), nullable=False)
        batch_op.drop_constraint(batch_op.f('uq_chairs_name'), type_='unique')
        batch_op.create_index(batch_op.f('ix_chairs_site_id'), ['site_id'], unique=False)
        batch_op.create_unique_constraint('uq_chairs_site_name', ['site_id', 'name'])
        batch_op.create_foreign_key(batch_op.f('fk_chairs_site_id_sites'), 'sites', ['site_id'], ['id'])

    _drop_search_indexes()  # SQLite rebuilds the table and would lose them
    with op.batch_alter_table('patients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('usual_site_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_patients_usual_site_id'), ['usual_site_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_patients_usual_site_id_sites'), 'sites', ['usual_site_id'], ['id'])
    _create_search_indexes()
    if main_id is not None:
        op.execute(sa.text("UPDATE patients SET usual_site_id = :site").bindparams(site=main_id))


def downgrade():
    _drop_search_indexes()
    with op.batch_alter_table('patients', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_patients_usual_site_id_sites'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_patients_usual_site_id'))
        batch_op.drop_column('usual_site_id')
    _create_search_indexes()

    _rename_chairs_shared_between_sites()
    with op.batch_alter_table('chairs', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_chairs_site_id_sites'), type_='foreignkey')
        batch_op.drop_constraint('uq_chairs_site_name', type_='unique')
        batch_op.drop_index(batch_op.f('ix_chairs_site_id'))
        batch_op.create_unique_constraint(batch_op.f('uq_chairs_name'), ['name'])
        batch_op.drop_column('site_id')

    with op.batch_alter_table('user_sites', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_user_sites_site_id'))
    op.drop_table('user_sites')
    op.drop_table('sites')


def _create_main_site() -> int | None:
    """The one site of an install that has staff or chairs (every user joins it); its id."""
    bind = op.get_bind()
    in_use = bind.scalar(sa.text(
        "SELECT EXISTS (SELECT 1 FROM users) OR EXISTS (SELECT 1 FROM chairs)"
    ))
    if not in_use:
        return None
    now = utcnow()
    bind.execute(SITES.insert().values(
        name=MAIN_NAME, code=MAIN_CODE, address_line1="", address_line2="", city="", state="",
        zip_code="", phone="", timezone=_clinic_timezone(), rems_certified=False,
        rems_setting_id="", dea_number="", active=True, created_at=now, updated_at=now,
    ))
    main_id = bind.scalar(sa.select(SITES.c.id).where(SITES.c.code == MAIN_CODE))
    op.execute(
        sa.text("INSERT INTO user_sites (user_id, site_id) SELECT id, :site FROM users")
        .bindparams(site=main_id)
    )
    return main_id


def _clinic_timezone() -> str:
    """The clinic's time zone setting when it names a known zone, else the default."""
    stored = op.get_bind().scalar(sa.select(SETTINGS.c.value).where(SETTINGS.c.key == "timezone"))
    if isinstance(stored, str):
        try:
            ZoneInfo(stored)
        except (ZoneInfoNotFoundError, ValueError):
            return DEFAULT_TIMEZONE
        return stored
    return DEFAULT_TIMEZONE


def _rename_chairs_shared_between_sites() -> None:
    """Chair names are unique per site here and clinic-wide before: a name used at several
    sites keeps it at the first and gets " (CODE)" appended at the others."""
    bind = op.get_bind()
    rows = bind.execute(sa.text(
        "SELECT chairs.id, chairs.name, sites.code FROM chairs JOIN sites ON sites.id = chairs.site_id "
        "ORDER BY lower(chairs.name), chairs.site_id, chairs.id"
    )).all()
    taken = {name.lower() for _, name, _ in rows}
    seen: set[str] = set()
    for chair_id, name, code in rows:
        if name.lower() not in seen:
            seen.add(name.lower())
            continue
        n, new = 1, name
        while new.lower() in taken:
            suffix = f" ({code})" if n == 1 else f" ({code} {n})"
            n, new = n + 1, f"{name[:40 - len(suffix)]}{suffix}"
        taken.add(new.lower())
        bind.execute(
            sa.text("UPDATE chairs SET name = :name WHERE id = :id").bindparams(name=new, id=chair_id)
        )


def _drop_search_indexes() -> None:
    for column in SEARCH_COLUMNS:
        op.drop_index(f"ix_patients_search_{column.key}", table_name="patients")


def _create_search_indexes() -> None:
    for column in SEARCH_COLUMNS:
        op.create_index(f"ix_patients_search_{column.key}", "patients", [search_key(column)])
