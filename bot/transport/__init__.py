"""Transport: Bot API client, webhook server, update order and dedupe, health and metrics."""
