"""Thin Telegram callbacks, one module per audience: parse -> knowledge -> render -> reply."""
