"""Demo data, apart from the running app: `flask --app wsgi demo-data [--patients N]`.

`command` is the CLI command; `clinic` builds the small hand-written demo clinic (one account per
role, a dozen patients, a live Today board); `bulk` adds a large generated history for benchmarks
and load tests.
"""
