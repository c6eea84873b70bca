"""The host's pip configuration as one file, for a container build to install the same way.

Reads what pip reads (site-wide, then per-user files, then PIP_CONFIG_FILE, then PIP_*
variables; later wins), writes the merge to the file named on the command line, and prints
each local path the configuration names (CA bundle, constraints, find-links, file:// indexes)
so that scripts/image-check can mount them read-only at the same place.
"""

from __future__ import annotations

import configparser
import os
import sys
from pathlib import Path
from urllib.parse import unquote, urlsplit

XDG_CONFIG_DIRS = os.environ.get("XDG_CONFIG_DIRS", "/etc/xdg").split(":")
FILES = [
    *(Path(d) / "pip" / "pip.conf" for d in XDG_CONFIG_DIRS),
    Path("/etc/pip.conf"),
    Path.home() / ".pip" / "pip.conf",
    Path(os.environ.get("XDG_CONFIG_HOME", Path.home() / ".config")) / "pip" / "pip.conf",
]


def merged() -> configparser.RawConfigParser:
    config = configparser.RawConfigParser()
    named = os.environ.get("PIP_CONFIG_FILE")
    config.read([*FILES, *([named] if named and named != os.devnull else [])])
    for key, value in os.environ.items():
        if key.startswith("PIP_") and key != "PIP_CONFIG_FILE":
            if not config.has_section("global"):
                config.add_section("global")
            config.set("global", key[4:].lower().replace("_", "-"), value)
    return config


def local_paths(value: str) -> list[str]:
    paths = []
    for word in value.split():
        if word.startswith("file://"):
            path = Path(unquote(urlsplit(word).path))
            # A local "simple" index links to its files beside it (../../files/...).
            paths.append(str(path.parent if path.name == "simple" else path))
        elif word.startswith("/"):
            paths.append(word)
    return paths


def main(out: str) -> int:
    config = merged()
    with open(out, "w", encoding="utf-8") as file:
        config.write(file)
    for section in config.sections():
        for _, value in config.items(section):
            for path in local_paths(value):
                print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
