"""Briefing Bot: the Telegram adapter over the `knowledge` core."""
