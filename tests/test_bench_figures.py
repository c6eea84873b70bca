"""The send-budget benchmarks judge several broadcasts together (bench/budget_figures.py)."""

from __future__ import annotations

from bench.budget_figures import broadcast_goals, figures, fmt_pooled, pool


def broadcast(rate: int, *, during: list[float], recipients: int = 10) -> dict[str, object]:
    """A broadcast that sent one digest to each recipient, `rate` a second."""
    digests = [(i / rate, 1_000 + i) for i in range(recipients)]
    stats = {"digests": digests, "accepted": [t for t, _ in digests], "refused_chats": [],
             "refused": 0, "injected": 0}  # fmt: skip
    return figures(stats, 10, recipients, [0.004] * 20, during) | {
        "total_seconds": 1.0, "replies_failed": 0,
    }  # fmt: skip


def test_pooled_broadcasts_take_each_rate_at_its_worst_and_every_answer() -> None:
    slow = broadcast(9, during=[0.005] * 19 + [1.0] * 3)  # three replies met a 1 s retry_after
    fast = broadcast(10, during=[0.005] * 22)
    assert slow["p95"] == 1000.0  # 22 answers: the p95 is the third-worst
    pooled = pool([slow, fast, broadcast(10, during=[0.005] * 22)])
    assert pooled["runs"] == 3 and pooled["probes"] == 66
    assert pooled["p95"] == 5.0  # three slow answers in 66 are under 5 %
    assert pooled["share"] == slow["share"] < fast["share"] == pooled["share_max"]
    assert pooled["lost"] == pooled["duplicates"] == 0
    assert pool([fast]) is fast
    assert "over 3 broadcasts" in fmt_pooled(pooled)
    assert "/who over 66 probes" in fmt_pooled(pooled)


def test_the_rate_goal_counts_the_whole_broadcast_at_30_and_to_the_last_first_attempt() -> None:
    at_30 = broadcast(10, during=[0.005] * 22) | {"limit": 30, "share": 0.94, "fresh_share": 0.99}
    assert [met for _, met in broadcast_goals("30", at_30)] == [False, True, True, True]
    paid = at_30 | {"limit": 1000}
    assert [met for _, met in broadcast_goals("1,000", paid)] == [True, True, True, True]
    late = paid | {"p95": 3.1 * paid["idle_p95"]}
    assert not broadcast_goals("1,000", late)[-1][1]
