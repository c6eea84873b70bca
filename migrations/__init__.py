"""Alembic migrations for the knowledge base and the bot's state."""
