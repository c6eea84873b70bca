"""The write side: curation, change requests, review, moderators, audit, history, import."""
