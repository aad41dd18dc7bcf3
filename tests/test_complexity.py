"""No function of the application is more complex than radon's grade C (issue 9: a function
a newcomer cannot read at once is where rules get written twice)."""

from pathlib import Path

from radon.complexity import cc_rank, cc_visit

TRACKER = Path(__file__).resolve().parent.parent / "tracker"


def _functions(blocks):
    """Every function and method, closures included (radon nests them in their owner)."""
    for block in blocks:
        yield block
        yield from _functions(getattr(block, "methods", ()))
        yield from _functions(getattr(block, "closures", ()))


def blocks_over_grade_c() -> list[str]:
    found = []
    for path in sorted(TRACKER.rglob("*.py")):
        for block in _functions(cc_visit(path.read_text())):
            if cc_rank(block.complexity) > "C":
                name = f"{path.relative_to(TRACKER.parent)}:{block.name}"
                found.append(f"{name} ({cc_rank(block.complexity)}{block.complexity})")
    return found


def test_no_function_is_more_complex_than_grade_c():
    over = blocks_over_grade_c()
    assert not over, "\n".join(over)
