"""Digests: subscriptions and their schedules, planning what changed, the delivery outbox."""
