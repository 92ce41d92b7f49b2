"""Every band name fits the column that stores it."""

from clinic_app.clinical.scores import INSTRUMENTS
from clinic_app.models import Assessment


def test_every_band_name_fits_the_band_column():
    width = Assessment.__table__.c.band.type.length
    names = [name for instrument in INSTRUMENTS.values() for _, name in instrument.bands]
    assert names and all(len(name) <= width for name in names), names
