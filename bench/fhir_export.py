"""FHIR bulk export cost on generated histories: `make bench-fhir` (python -m bench.fhir_export).

Not part of `make test` or of `make bench`. For each history size (default 100 and 2,000
patients, SQLite) it builds a throwaway database with `flask demo-data --patients N` (or takes
one given with --database N=URL), then runs the export of `flask fhir export` in a child
process and reports the child's peak resident memory (and how much the export raised it above
the loaded app), seconds in total and loading rows, and per resource type the count and the
microseconds per resource spent mapping and writing. The export streams patients in batches, so
the 2,000-patient peak must stay within 2x the 100-patient peak. Results go to bench/REPORT.md
between this step's generated-section markers.
"""

import argparse
import json
import os
import resource
import subprocess  # nosec B404: this module's own child, fixed argument list
import sys
import tempfile
import time
from pathlib import Path

from tests.load import harness as h

HERE = Path(__file__).resolve().parent
REPORT = HERE / "REPORT.md"
BEGIN, END = "<!-- BEGIN GENERATED: bench/fhir_export.py -->", "<!-- END GENERATED -->"
PEAK_RATIO_LIMIT = 2.0


def child(url: str, directory: str) -> None:
    """Run the export on `url` into `directory`; print what it measured as JSON."""
    from clinic_app.extensions import db
    from clinic_app.fhir.bulk import export

    app = h.app_for(url)
    with app.app_context():
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        started = time.perf_counter()
        result = export(Path(directory))
        seconds = time.perf_counter() - started
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        db.session.rollback()  # a measurement, not an export: no audit row kept
    print(
        json.dumps(
            {
                "patients": result.patients,
                "resources": result.resources,
                "seconds": seconds,
                "load_seconds": result.load_seconds,
                "counts": dict(result.counts),
                "type_seconds": dict(result.seconds),
                "rss_before_kib": before,
                "rss_peak_kib": peak,
            }
        )
    )


def measure(url: str) -> dict:
    with tempfile.TemporaryDirectory(prefix="fhir_bench_") as directory:
        output = subprocess.run(  # nosec B603
            [sys.executable, "-m", "bench.fhir_export", "--child", url, directory],
            cwd=h.ROOT,
            env={**os.environ, "PYTHONPATH": str(h.ROOT)},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    return json.loads(output.strip().splitlines()[-1])


def markdown(results: dict[int, dict], backend: str) -> str:
    sizes = sorted(results)
    small, large = results[sizes[0]], results[sizes[-1]]
    ratio = large["rss_peak_kib"] / small["rss_peak_kib"]
    lines = [
        BEGIN,
        f"## FHIR bulk export (`flask fhir export`, {backend}, "
        f"run of {time.strftime('%Y-%m-%d %H:%M')} UTC)",
        "",
        "| Patients | Resources | Seconds (loading rows) | Peak RSS MiB (export's own rise) |",
        "|---|---|---|---|",
    ]
    for size in sizes:
        r = results[size]
        rise = (r["rss_peak_kib"] - r["rss_before_kib"]) / 1024
        lines.append(
            f"| {r['patients']:,} | {r['resources']:,} | {r['seconds']:.1f} "
            f"({r['load_seconds']:.1f}) | {r['rss_peak_kib'] / 1024:.0f} ({rise:.0f}) |"
        )
    verdict = "within" if ratio <= PEAK_RATIO_LIMIT else "OVER"
    lines += [
        "",
        f"Peak memory at {sizes[-1]:,} patients is {ratio:.2f}x the peak at {sizes[0]:,}: "
        f"{verdict} the {PEAK_RATIO_LIMIT:.0f}x limit.",
        "",
        "| Resource type | "
        + " | ".join(f"count at {s:,}" for s in sizes)
        + " | µs per resource |",
        "|---|" + "---|" * len(sizes) + "---|",
    ]
    for kind in sorted(large["counts"]):
        counts = " | ".join(f"{results[s]['counts'].get(kind, 0):,}" for s in sizes)
        if kind in large["type_seconds"]:
            per = large["type_seconds"][kind] / large["counts"][kind] * 1e6
            lines.append(f"| {kind} | {counts} | {per:.0f} |")
        else:
            lines.append(f"| {kind} (written once at the end) | {counts} | — |")
    lines += [
        "",
        "µs per resource: mapping and writing only; loading the rows is the seconds in brackets "
        "above. Practitioner and Location are written once after the patients.",
        END,
    ]
    return "\n".join(lines)


def write_report(text: str) -> None:
    current = REPORT.read_text() if REPORT.exists() else "# Benchmark report\n"
    if BEGIN in current and END in current.split(BEGIN, 1)[1]:
        head, rest = current.split(BEGIN, 1)
        REPORT.write_text(head + text + rest.split(END, 1)[1])
    else:
        REPORT.write_text(current.rstrip("\n") + "\n\n" + text + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,2000")
    parser.add_argument("--backend", default="sqlite", choices=("sqlite", "postgresql"))
    parser.add_argument(
        "--database",
        action="append",
        default=[],
        metavar="N=URL",
        help="reuse an existing database holding the N-patient history",
    )
    parser.add_argument("--no-report", action="store_true", help="print, do not write the report")
    parser.add_argument("--child", nargs=2, metavar=("URL", "DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(*args.child)
        return 0
    given = dict(item.split("=", 1) for item in args.database)
    results = {}
    for size in (int(s) for s in args.sizes.split(",")):
        if str(size) in given:
            results[size] = measure(given[str(size)])
        else:
            with h.database(args.backend, "fhir_bench") as url:
                h.migrate_and_generate(url, size)
                results[size] = measure(url)
        print(f"{size} patients: {json.dumps(results[size])}", flush=True)
    text = markdown(results, args.backend)
    print(text)
    if not args.no_report:
        write_report(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
