"""`first_in_order`: the rows a table shows are those a full natural sort would put first."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from opsbot.core.kubeobjects import natural_key
from opsbot.core.rows import Labels, PodRow, first_in_order

names = st.text(alphabet="ab-019", min_size=1, max_size=6)


def row(namespace: str, name: str, healthy: bool) -> PodRow:
    return PodRow(namespace, name, Labels(), "node-1", "Running", healthy, "1/1", "Running", 0, None, None)


@given(
    rows=st.lists(st.tuples(names, names, st.booleans()), max_size=60, unique_by=lambda t: (t[0], t[1])),
    count=st.integers(min_value=0, max_value=70),
)
def test_the_first_rows_are_those_a_full_natural_sort_puts_first(
    rows: list[tuple[str, str, bool]], count: int
) -> None:
    pods = [row(*values) for values in rows]
    expected = sorted(pods, key=lambda p: (p.healthy, natural_key(p.namespace), natural_key(p.name)))[:count]
    assert first_in_order(pods, count, ahead=lambda p: not p.healthy) == expected
    by_name = sorted(pods, key=lambda p: (natural_key(p.namespace), natural_key(p.name)))[:count]
    assert first_in_order(pods, count) == by_name


def test_numbers_in_names_order_by_value() -> None:
    pods = [row("web", name, True) for name in ("api-10", "api-2", "api-1")] + [row("web", "db-0", False)]
    shown = first_in_order(pods, 3, ahead=lambda p: not p.healthy)
    assert [p.name for p in shown] == ["db-0", "api-1", "api-2"]
