"""Chat syntax: what a command's text means, parsed into requests for knowledge."""
