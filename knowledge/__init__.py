"""The domain core of Briefing Bot: entries, revisions, queries, curation, digests.

It never imports `telegram`; the bot package adapts it to Telegram.
"""
