# Production image: validates and loads the packages at build time (`opendata load` does
# both), serves read-only.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    OPENDATA_DATABASE_URL=sqlite:////app/var/opendata.sqlite \
    OPENDATA_DATASETS_DIR=/app/datasets

WORKDIR /app
COPY pyproject.toml README.md ./
COPY api ./api
RUN pip install --no-cache-dir .
COPY datasets ./datasets
COPY datapackage.json ./

# For PostgreSQL, set OPENDATA_DATABASE_URL at run time and run `opendata load` once.
RUN opendata load --quiet

RUN useradd --system --uid 10001 opendata && chown -R opendata /app/var
USER opendata
EXPOSE 8000
HEALTHCHECK CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/readyz')"
CMD ["opendata", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
