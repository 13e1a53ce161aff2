# Production image. The build stage installs the project at the versions of constraints.txt and
# runs `opendata load`, which validates every release: an invalid package fails the build. The
# runtime stage holds the virtual environment, the releases and the loaded SQLite file, and
# serves them read-only as an unprivileged user. For PostgreSQL, set OPENDATA_DATABASE_URL at run
# time and run `opendata load` once against it (compose.yaml does).
# tests/test_deploy_image.py runs this file's build-stage RUN commands in a fresh venv.

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1 \
    VENV=/opt/venv
WORKDIR /src
COPY pyproject.toml constraints.txt README.md ./
COPY api ./api
RUN python -m venv "$VENV" \
    && "$VENV/bin/pip" install --constraint constraints.txt .
COPY datasets ./datasets
COPY datapackage.json ./
RUN mkdir -p var \
    && OPENDATA_DATASETS_DIR=datasets "$VENV/bin/opendata" load --quiet \
        --database-url sqlite:///var/opendata.sqlite \
    && "$VENV/bin/opendata" catalog --check --datasets datasets

FROM python:3.11-slim AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH \
    OPENDATA_DATABASE_URL=sqlite:////app/var/opendata.sqlite \
    OPENDATA_DATASETS_DIR=/app/datasets \
    OPENDATA_WORKERS=2 \
    OPENDATA_GRACEFUL_SHUTDOWN_SECONDS=30
# The user, and the fonts the PNG charts are drawn with (resvg reads the system's fonts). The font
# package is not pinned: Debian's point releases replace its version, and a pin would break builds.
# hadolint ignore=DL3008
RUN groupadd --system --gid 10001 opendata \
    && useradd --system --uid 10001 --gid opendata --no-create-home --home-dir /app opendata \
    && apt-get update -qq \
    && apt-get install -y -qq --no-install-recommends fonts-dejavu-core >/dev/null \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /opt/venv /opt/venv
COPY --from=build /src/datasets ./datasets
COPY --from=build /src/datapackage.json ./
# SQLite in WAL mode writes its -shm file beside the database, even for a read-only reader.
COPY --from=build --chown=10001:10001 /src/var ./var
USER 10001:10001
EXPOSE 8000
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=4)"]
CMD ["opendata", "serve", "--host", "0.0.0.0", "--port", "8000"]
