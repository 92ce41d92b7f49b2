"""The benchmark is a program (`make bench`), not a test suite: pytest collects nothing here."""

collect_ignore_glob = ["*.py"]
