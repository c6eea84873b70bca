"""The send budget's figures (issues 12 and 19), from what the fake Bot API saw and the
readers' waits: one broadcast's, and several broadcasts' pooled."""

from __future__ import annotations

from collections import Counter
from typing import Any

from bench.fake_process import percentile


def figures(
    stats: dict[str, Any], limit: int, recipients: int, idle: list[float], during: list[float]
) -> dict[str, Any]:
    """The budget's figures from what the fake saw (`benchStats`) and the readers' waits."""
    digests = stats["digests"]
    first, last = min(t for t, _ in digests), max(t for t, _ in digests)
    accepted = sum(1 for t in stats["accepted"] if first <= t <= last)
    # Until the last recipient's first attempt, the sender had someone it was free to send
    # to; after it, only recipients Telegram told to wait (429, retry_after).
    refused = set(stats.get("refused_chats", ()))
    fresh_end = max((t for t, chat in digests if int(chat) not in refused), default=last)
    fresh = sum(1 for t in stats["accepted"] if first <= t <= fresh_end)
    per_chat = Counter(int(c) for _, c in digests)
    sent = len(stats["accepted"]) + stats["refused"] + stats["injected"]
    return {
        "limit": limit, "recipients": recipients,
        "rate": accepted / max(1e-9, last - first),
        "share": accepted / max(1e-9, last - first) / limit,
        "fresh_share": fresh / max(1e-9, fresh_end - first) / limit,
        "tail_seconds": last - fresh_end,
        "bot_429s": stats["refused"], "bot_429_share": stats["refused"] / max(1, sent),
        "injected": stats["injected"], "lost": recipients - len(per_chat),
        "duplicates": sum(n - 1 for n in per_chat.values() if n > 1),
        "idle_p50": percentile(idle, 0.5), "idle_p95": percentile(idle, 0.95),
        "p50": percentile(during, 0.5), "p95": percentile(during, 0.95), "probes": len(during),
        "idle_samples": idle, "during_samples": during, "runs": 1,
    }  # fmt: skip


def pool(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Several broadcasts of one kind as one: each rate at its worst run, what went wrong
    summed, the longest tail of retries, and `/who` over every probe of every run. A 10 s
    broadcast at 1,000 a second has some 22 probes, so its p95 is its third-worst answer and
    swings from one broadcast to the next; over several, the percentiles rest on enough
    answers to say something."""
    if not runs:
        raise ValueError("no broadcasts to pool")
    if len(runs) == 1:
        return runs[0]
    idle = [x for r in runs for x in r["idle_samples"]]
    during = [x for r in runs for x in r["during_samples"]]
    summed = ("bot_429s", "injected", "lost", "duplicates", "replies_failed", "total_seconds")
    worst = {key: min(r[key] for r in runs) for key in ("rate", "share", "fresh_share")}
    return runs[0] | worst | {key: sum(r[key] for r in runs) for key in summed} | {
        "tail_seconds": max(r["tail_seconds"] for r in runs),
        "share_max": max(r["share"] for r in runs),
        "fresh_share_max": max(r["fresh_share"] for r in runs),
        "bot_429_share": max(r["bot_429_share"] for r in runs),
        "idle_p50": percentile(idle, 0.5), "idle_p95": percentile(idle, 0.95),
        "p50": percentile(during, 0.5), "p95": percentile(during, 0.95), "probes": len(during),
        "idle_samples": idle, "during_samples": during, "runs": len(runs),
    }  # fmt: skip


def fmt_pooled(r: dict[str, Any]) -> str:
    """The pooled line: rates from the worst run to the best; `/who` over all probes."""
    return (
        f"over {r['runs']} broadcasts · all accepted {r['share'] * 100:.1f}–"
        f"{r['share_max'] * 100:.1f} % ({r['fresh_share'] * 100:.1f}–"
        f"{r['fresh_share_max'] * 100:.1f} % until the last first attempt) · bot-caused 429s "
        f"{r['bot_429s']} (at most {r['bot_429_share'] * 100:.2f} % of a run's) · lost "
        f"{r['lost']} · dup {r['duplicates']} · replies lost {r['replies_failed']:.0f} · /who "
        f"over {r['probes']} probes: {who_text(r)}"
    )


def who_text(r: dict[str, Any]) -> str:
    """`/who` p50 and p95, idle and during the broadcast, and their ratios."""
    return (
        f"p50 {r['idle_p50']:.1f} → {r['p50']:.1f} ms ({r['p50'] / r['idle_p50']:.2f}×), p95 "
        f"{r['idle_p95']:.1f} → {r['p95']:.1f} ms ({r['p95'] / r['idle_p95']:.2f}×)"
    )


def broadcast_goals(name: str, r: dict[str, Any]) -> list[tuple[str, bool]]:
    """The issues' goals for one kind of broadcast (or several pooled), each with its verdict.
    At 30 the rate counts over the whole broadcast (≥ 95 %); above it, until the last first
    attempt (≥ 90 %): the last refused chats' 1 s retry_after is a tenth of a 10 s broadcast
    at 1,000 a second, and no sender can fill it."""
    free = r["limit"] <= 30
    floor = 0.95 if free else 0.90
    rate = (
        (f"{name}: all accepted ≥ {floor:.0%} of the limit", r["share"] >= floor)
        if free
        else (
            f"{name}: all accepted ≥ {floor:.0%} of the limit until the last first attempt",
            r["fresh_share"] >= floor,
        )
    )
    return [
        rate,
        (f"{name}: bot-caused 429s ≤ 1 %", r["bot_429_share"] <= 0.01),
        (f"{name}: 0 lost, 0 duplicates, 0 replies lost",
         r["lost"] == r["duplicates"] == r["replies_failed"] == 0),
        (f"{name}: /who p50 ≤ 1.5× and p95 ≤ 3× idle",
         r["p50"] <= 1.5 * r["idle_p50"] and r["p95"] <= 3 * r["idle_p95"]),
    ]  # fmt: skip
