# One image for every Turbocat process: `serve` (the default), `worker` and `db migrate`.
# docs/deployment.md shows it in use (compose.yaml runs all three).

FROM python:3.11-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /dist .

# Node for CODE agents with `runtime: node` (one binary, taken from the official image).
FROM node:20-bookworm-slim AS node

FROM python:3.11-slim-bookworm
# bubblewrap: the CODE agents' sandbox (docs/agents.md); postgresql-client: pg_dump and
# pg_restore for `turbocat db backup|restore` (15, as compose.yaml's server). Debian's
# versions are left to the release's security updates rather than pinned.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends bubblewrap postgresql-client \
    && rm -rf /var/lib/apt/lists/*
COPY --from=node /usr/local/bin/node /usr/local/bin/node
COPY --from=build /dist /tmp/dist
# The wheel of this very build, so no version to pin.
# hadolint ignore=DL3013
RUN set -e; \
    for wheel in /tmp/dist/turbocat-*.whl; do \
        pip install --no-cache-dir "${wheel}[postgres,redis]"; \
    done; \
    rm -rf /tmp/dist
RUN useradd --system --uid 10001 --home-dir /var/lib/turbocat --create-home turbocat
USER 10001
WORKDIR /var/lib/turbocat
ENV PYTHONUNBUFFERED=1 \
    TURBOCAT_DATA_DIR=/var/lib/turbocat \
    TURBOCAT_HOST=0.0.0.0 \
    TURBOCAT_PORT=3001
EXPOSE 3001
# The server's liveness; compose.yaml gives workers and the migration their own check.
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('TURBOCAT_PORT', '3001') + '/health/live', timeout=4)"]
ENTRYPOINT ["turbocat"]
CMD ["serve"]
