"""Benchmarks that print figures: query latency at scale, end-to-end cost, memory."""
