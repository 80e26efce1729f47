# Budbringer: one slim image; the role is chosen at run time (`budbringer run --role …`).
#
#   docker build -t budbringer .
#   docker run … budbringer                      (README.md, "Running it for real")
#
# Required at run time, each refused with one line when missing (the entrypoint):
#   BUDBRINGER_SERVICE__BASE_URL          the public address; every link in mail starts with it
#   BUDBRINGER_SERVICE__SECRET_KEY_FILE   a file with the secret key (or …__SECRET_KEY itself)
# The data (SQLite database, file outbox) lives in the volume /var/lib/budbringer.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY service ./service
COPY subscribers ./subscribers
COPY templates ./templates
RUN pip install --no-cache-dir build && python -m build --wheel --outdir /dist

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    BUDBRINGER_SERVICE__DATA_DIR=/var/lib/budbringer \
    BUDBRINGER_DATABASE__URL=sqlite+aiosqlite:////var/lib/budbringer/budbringer.db \
    BUDBRINGER_MAIL__OUTBOX_DIR=/var/lib/budbringer/outbox \
    BUDBRINGER_WEB__HOST=0.0.0.0 \
    BUDBRINGER_WEB__PORT=8080
COPY --from=build /dist/*.whl /tmp/
COPY scripts/docker-entrypoint.sh /usr/local/bin/budbringer-entrypoint
RUN pip install --no-cache-dir "$(ls /tmp/*.whl)[fast]" && rm /tmp/*.whl \
 && chmod 755 /usr/local/bin/budbringer-entrypoint \
 && useradd --system --uid 10001 --home /var/lib/budbringer --create-home budbringer
USER budbringer
WORKDIR /var/lib/budbringer
# Declared after the directory exists and belongs to budbringer: a new volume starts as a
# copy of it (owner included), and the database outlives the container.
VOLUME /var/lib/budbringer
EXPOSE 8080
# For the web role (the default runs every role). compose.yaml gives the other roles
# `budbringer status --check-host` instead.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4).status == 200 else 1)"
ENTRYPOINT ["budbringer-entrypoint"]
CMD ["budbringer", "run"]
