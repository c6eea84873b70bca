"""Delivery: the digest scheduler, the outbox worker, the send budget."""
