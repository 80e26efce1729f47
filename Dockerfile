# Budbringer: one slim image; the role is chosen at run time (`budbringer run --role …`).
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
RUN pip install --no-cache-dir "$(ls /tmp/*.whl)[fast]" && rm /tmp/*.whl \
 && useradd --system --home /var/lib/budbringer --create-home budbringer
USER budbringer
WORKDIR /var/lib/budbringer
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4).status == 200 else 1)"
# Migrations run explicitly first (`docker run … budbringer db upgrade`) or here on start.
CMD ["sh", "-c", "budbringer db upgrade && exec budbringer run"]
