"""Mixed reads and writes from many simulated staff against gunicorn on PostgreSQL: no errors,
every acknowledged write in the database afterwards, no half-written rows."""

import asyncio

import pytest

from tests.load import harness as h
from tests.load import simulate

pytestmark = pytest.mark.load


def test_mixed_load_on_postgresql(pg_clinic, scale, summary):
    targets, marks = simulate.load_targets(pg_clinic)
    assert targets.in_progress, "the generated clinic day has no session in progress"

    with h.gunicorn(pg_clinic, workers=4) as server:
        run = asyncio.run(simulate.simulate(server.base_url, targets, scale.users, scale.seconds))
        log = server.log()

    result = simulate.classify(run)
    problems = simulate.verify(pg_clinic, run, marks)
    summary(
        {
            "users": scale.users,
            "seconds": scale.seconds,
            "requests": result["requests"],
            "req/s": round(result["requests"] / scale.seconds, 1),
            "statuses": result["statuses"],
            "acknowledged writes": dict(result["acknowledged"]),
            "refused by the rules": result["refusals"],
            "errors": len(result["errors"]),
            "lost or partial writes": len(problems),
        }
    )
    assert not result["errors"], result["errors"][:10]
    assert not problems, problems[:10]
    assert result["acknowledged"]["vitals"] > 0 and result["acknowledged"]["patient"] > 0
    assert "unhandled" not in log and "Traceback" not in log, log[-3000:]
