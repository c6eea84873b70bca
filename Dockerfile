# Briefing Bot: a small image that runs `python -m bot` as a non-root user.
#   docker build -t briefing-bot .
#   docker run -e TELEGRAM_BOT_TOKEN=... -v briefing-data:/app/data briefing-bot
# See docs/deploy.md for PostgreSQL, webhook replicas and health checks.

ARG PYTHON_IMAGE=python:3.11-slim

# ---------------------------------------------------------------------------- builder
FROM ${PYTHON_IMAGE} AS builder

# pip compiles the bytecode here, as root; at run time /opt/venv is read-only to the bot.
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Everything from the lock (requirements/*.txt, exported from uv.lock by `make lock`), each
# file checked against its hash. Every dependency ships manylinux wheels (psycopg[binary]
# included): no compiler needed. /opt/build holds pip and the locked setuptools that build
# the package's wheel; the bot's own venv, /opt/venv, is made without pip and gets only the
# runtime lock and that wheel (pip installing into it from outside, with --python).
WORKDIR /src
COPY requirements/runtime.txt requirements/build.txt ./requirements/
RUN python -m venv /opt/build \
    && /opt/build/bin/pip install --require-hashes -r requirements/build.txt \
    && python -m venv --without-pip /opt/venv \
    && /opt/build/bin/pip --python /opt/venv/bin/python install --require-hashes \
       -r requirements/runtime.txt

# Only what the package needs: no tests, no .env, no local database.
# (README.md* : pyproject names it as the long description; the glob keeps the build
# working if it is absent.)
COPY pyproject.toml README.md* ./
COPY bot ./bot
COPY knowledge ./knowledge
COPY migrations ./migrations
# The interface's catalogs (bot/locales/*.po) compiled into the wheel, with the runtime's Babel.
RUN /opt/venv/bin/pybabel compile -d bot/locales -D messages \
    && /opt/build/bin/pip wheel --no-deps --no-build-isolation --wheel-dir /dist . \
    && /opt/build/bin/pip --python /opt/venv/bin/python install --no-deps /dist/*.whl

# ---------------------------------------------------------------------------- runtime
FROM ${PYTHON_IMAGE}

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DATABASE_URL=sqlite:////app/data/briefing.db \
    SQLITE_TMPDIR=/app/data \
    WEBHOOK_LISTEN=0.0.0.0 \
    WEBHOOK_PORT=8443 \
    HEALTH_LISTEN=0.0.0.0 \
    HEALTH_PORT=9090

RUN groupadd --system --gid 10001 bot \
    && useradd --system --uid 10001 --gid bot --home-dir /app --no-create-home \
       --shell /usr/sbin/nologin bot \
    && mkdir -p /app/data \
    && chown -R bot:bot /app

COPY --from=builder /opt/venv /opt/venv

WORKDIR /app
# Numeric, so that a runtime (Kubernetes' runAsNonRoot) can tell it is not root.
USER 10001:10001

# The SQLite database (DATABASE_URL above) lives here, with SQLite's temporary files
# (SQLITE_TMPDIR), so the root filesystem can be read-only; unused with PostgreSQL.
VOLUME ["/app/data"]

# 8443: the webhook (WEBHOOK_URL set); 9090: /healthz and /metrics (HEALTH_PORT).
EXPOSE 8443 9090

# Healthy = /healthz answers 200 (database reachable, scheduler running). With HEALTH_PORT
# set to empty the server is off and the check always passes.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request; port = os.environ.get('HEALTH_PORT'); sys.exit(0) if not port else urllib.request.urlopen(f'http://127.0.0.1:{port}/healthz', timeout=4)"]

# Migrations run on every start (under an advisory lock on PostgreSQL).
# `docker run ... briefing-bot migrate` / `export` / `load FILE` run the other sub-commands.
ENTRYPOINT ["python", "-m", "bot"]
CMD ["run"]
