"""Presenters: plain values in, HTML text and buttons out; every value escaped, within limits."""
