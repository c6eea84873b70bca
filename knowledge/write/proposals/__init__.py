"""Entries proposed from a new briefing's text, kept as drafts until a moderator approves."""
