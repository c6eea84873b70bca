"""What text means: names and their spellings, and dates as the briefing states them."""
