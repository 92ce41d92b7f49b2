"""Faults under load: PostgreSQL restarted (clean 503 pages meanwhile, recovery without a worker
restart), gunicorn workers SIGKILLed in the middle of writes (no half-written rows), and SQLite
with several gunicorn workers writing at once (no "database is locked" reaching anyone)."""

import asyncio
import os
import random
import signal
import subprocess  # nosec B404: fixed argument lists
import time
from pathlib import Path

import pytest

from tests.load import harness as h
from tests.load import simulate

pytestmark = pytest.mark.load


def _restart_command() -> list[str] | None:
    """LOAD_PG_RESTART (a command line) or the local cluster's pg_ctlcluster restart."""
    if os.environ.get("LOAD_PG_RESTART"):
        return os.environ["LOAD_PG_RESTART"].split()
    versions = (
        sorted(Path("/etc/postgresql").glob("*/main")) if Path("/etc/postgresql").exists() else []
    )
    if not versions:
        return None
    version = versions[-1].parent.name
    return ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"]


def _ensure_postgres_up() -> None:
    """Whatever happened, leave the shared server running."""
    if h.wait_for_postgres(20):
        return
    command = _restart_command()
    if command:
        subprocess.run([*command[:-1], "start"], check=False, timeout=60)  # nosec B603
    assert h.wait_for_postgres(60), "PostgreSQL did not come back"


def test_postgres_restart_gives_503_then_recovers(pg_clinic, scale, summary):
    command = _restart_command()
    if command is None:
        pytest.skip("no local PostgreSQL cluster to restart (set LOAD_PG_RESTART)")
    targets, marks = simulate.load_targets(pg_clinic)
    state = {}

    async def restart(run):
        await asyncio.sleep(3)
        started = time.monotonic()
        try:
            result = await asyncio.to_thread(
                subprocess.run,
                command,
                capture_output=True,
                text=True,
                timeout=120,  # nosec B603
            )
            state["restart"] = (result.returncode, result.stderr.strip()[-300:])
        finally:
            await asyncio.to_thread(_ensure_postgres_up)
        state["outage"] = time.monotonic() - started
        run.faults.append(("pg_restart", started, time.monotonic()))

    try:
        with h.gunicorn(pg_clinic, workers=4) as server:
            workers_before = sorted(server.worker_pids())
            # Load before, during and for at least 10 s after the restart (which takes ~7 s).
            run = asyncio.run(
                simulate.simulate(
                    server.base_url,
                    targets,
                    scale.fault_users,
                    max(scale.fault_seconds, 22),
                    fault=restart,
                )
            )
            workers_after = sorted(server.worker_pids())
            log = server.log()
    finally:
        _ensure_postgres_up()

    result = simulate.classify(run)
    problems = simulate.verify(pg_clinic, run, marks)
    unhandled = [line for line in log.splitlines() if "unhandled" in line]
    _, _, ended = run.faults[0]
    after = [o for o in run.outcomes if o.at > ended]
    recovered = [o for o in after if o.status in (200, 302)]
    first_ok = min(
        (o.at for o in run.outcomes if o.at > ended and o.status in (200, 302)), default=None
    )
    summary(
        {
            "users": scale.fault_users,
            "seconds": max(scale.fault_seconds, 22),
            "restart": state.get("restart"),
            "restart took s": round(state.get("outage", 0), 1),
            "first success after restart s": round(first_ok - ended, 2) if first_ok else None,
            "requests": result["requests"],
            "statuses": result["statuses"],
            "expected during the outage": result["expected"],
            "acknowledged writes": dict(result["acknowledged"]),
            "errors": len(result["errors"]),
            "lost or partial writes": len(problems),
            "workers replaced": workers_before != workers_after,
            "unhandled in the server log": unhandled[:5],
        }
    )
    assert state["restart"][0] == 0, state["restart"]
    assert not result["errors"], (result["errors"][:10], unhandled[:10])
    assert not problems, problems[:10]
    assert recovered, "no successful request after PostgreSQL came back"
    assert run.outcomes[-1].at > ended + 5, "the load did not run long enough after the restart"
    assert workers_before == workers_after, "workers were restarted"
    assert "unhandled" not in log, log[-3000:]


def test_worker_killed_mid_write_leaves_no_partial_rows(pg_clinic, scale, summary):
    targets, marks = simulate.load_targets(pg_clinic)
    killed = []

    async def kill_workers(run):
        rng = random.Random(3)
        for _ in range(scale.kills):
            await asyncio.sleep(scale.fault_seconds / (scale.kills + 1))
            pids = server.worker_pids()
            if pids:
                pid = rng.choice(pids)
                now = time.monotonic()
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
                run.faults.append(("sigkill", now, now))

    with h.gunicorn(pg_clinic, workers=4) as server:
        run = asyncio.run(
            simulate.simulate(
                server.base_url,
                targets,
                scale.fault_users,
                scale.fault_seconds,
                think=(0.0, 0.1),
                roles=("nurse", "frontdesk"),
                fault=kill_workers,
            )
        )
        server.wait_for_workers()
        workers = len(server.worker_pids())

    result = simulate.classify(run)
    problems = simulate.verify(pg_clinic, run, marks)
    summary(
        {
            "users": scale.fault_users,
            "seconds": scale.fault_seconds,
            "workers killed": len(killed),
            "requests": result["requests"],
            "statuses": result["statuses"],
            "expected (killed mid-request)": result["expected"],
            "acknowledged writes": dict(result["acknowledged"]),
            "errors": len(result["errors"]),
            "lost or partial writes": len(problems),
            "workers afterwards": workers,
        }
    )
    assert len(killed) == scale.kills
    assert not result["errors"], result["errors"][:10]
    assert not problems, problems[:10]
    assert workers == 4


def test_sqlite_concurrent_writers_never_see_locked(sqlite_clinic, scale, summary):
    targets, marks = simulate.load_targets(sqlite_clinic)
    with h.gunicorn(sqlite_clinic, workers=4) as server:
        run = asyncio.run(
            simulate.simulate(
                server.base_url,
                targets,
                scale.writers,
                scale.writer_seconds,
                think=(0.0, 0.05),
                roles=("nurse", "frontdesk"),
            )
        )
        log = server.log()

    result = simulate.classify(run)
    problems = simulate.verify(sqlite_clinic, run, marks)
    writes = sum(result["acknowledged"].values())
    summary(
        {
            "writers": scale.writers,
            "seconds": scale.writer_seconds,
            "requests": result["requests"],
            "statuses": result["statuses"],
            "acknowledged writes": dict(result["acknowledged"]),
            "writes/s": round(writes / scale.writer_seconds, 1),
            "errors": len(result["errors"]),
            "lost or partial writes": len(problems),
        }
    )
    assert not result["errors"], result["errors"][:10]
    assert 503 not in result["statuses"]
    assert "database is locked" not in log and "database unavailable" not in log, log[-3000:]
    assert not problems, problems[:10]
    assert writes > 0
