"""Every benchmark in turn, on SQLite and (with --database-url) PostgreSQL.

    python -m bench.run_all [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres]

The load test (bench.load_test) is run on its own: it needs PostgreSQL and a minute.
"""

import subprocess
import sys

BENCHMARKS = (
    ["bench.import_petitions"],
    ["bench.bulk_decisions"],
    ["bench.audit_verify"],
)


def main() -> int:
    extra = sys.argv[1:]
    failures = 0
    for benchmark in BENCHMARKS:
        print(f"== python -m {' '.join(benchmark + extra)}", flush=True)
        failures += subprocess.call([sys.executable, "-m", *benchmark, *extra]) != 0
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
