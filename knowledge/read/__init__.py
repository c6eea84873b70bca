"""The read side: timeline, entries, actors, sources and search, as plain frozen views."""
