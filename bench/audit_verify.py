"""How long `flask audit verify` takes over a long chain (default: 1,000,000 entries).

python -m bench.audit_verify [--entries N] [--database-url postgresql+psycopg://…]
"""

import tracemalloc

from bench.common import parser, scratch_app, timed
from tracker.audit import services as audit
from tracker.extensions import db

BATCH = 20_000


def fill(entries: int) -> None:
    written = 0
    while written < entries:
        size = min(BATCH, entries - written)
        audit.record_many(
            {
                "action": "login_failed",
                "category": "security",
                "details": {"email": f"user{written + n}@example.org", "reason": "bad"},
            }
            for n in range(size)
        )
        db.session.commit()
        written += size


def main() -> None:
    args = parser(__doc__)
    args.add_argument("--entries", type=int, default=1_000_000)
    args.add_argument(
        "--measure-memory",
        action="store_true",
        help="trace peak Python memory (slows the walk down several times)",
    )
    arguments = args.parse_args()
    results = {}
    with scratch_app(arguments.database_url) as app:
        del app
        with timed(f"append {arguments.entries:,} entries", results):
            fill(arguments.entries)
        tracemalloc.start() if arguments.measure_memory else None
        with timed(f"verify {arguments.entries:,} entries", results):
            result = audit.verify_chain()
        peak = tracemalloc.get_traced_memory()[1] if arguments.measure_memory else 0
        tracemalloc.stop()
        print(result.message)
        if arguments.measure_memory:
            print(f"peak Python memory during verify: {peak / 2**20:.1f} MiB")
        rate = arguments.entries / results[f"verify {arguments.entries:,} entries"]
        print(f"verify rate: {rate:,.0f} entries/s")


if __name__ == "__main__":
    main()
