# syntax=docker/dockerfile:1
# jobqueue in a container: `docker build -t jobqueue .`, then `docker run jobqueue api` (or
# worker, up, db upgrade, ...). compose.yaml runs the whole stack from this image.

# The builder turns jobqueue and every dependency into wheels; the final image installs only
# those, with no compiler, no build tools and no index. The [postgres] extra (asyncpg) is in:
# the image serves the SQLite default and a PostgreSQL store alike.
FROM python:3.12-slim-trixie AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml README.md MANIFEST.in ./
COPY proto ./proto
COPY src ./src
RUN pip wheel --wheel-dir /wheels ".[postgres]"

FROM python:3.12-slim-trixie
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/jobqueue/bin:$PATH \
    JOBQUEUE_HTTP_ADDR=0.0.0.0:8080 \
    JOBQUEUE_GRPC_ADDR=0.0.0.0:50051
# A venv owned by root, so the user the processes run as cannot change the code it runs.
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    python -m venv /opt/jobqueue \
    && /opt/jobqueue/bin/pip install --no-index --find-links /wheels "jobqueue[postgres]" \
    && useradd --system --uid 10001 --user-group --home-dir /var/lib/jobqueue --create-home \
       --shell /usr/sbin/nologin jobqueue
USER 10001:10001
# The embedded broker's files (jobqueue.db, jobqueue-state.db) land here: mount a volume.
WORKDIR /var/lib/jobqueue
EXPOSE 8080 50051
# /healthz is always open, without a token; the port is JOBQUEUE_HTTP_ADDR's. A worker's
# container has no HTTP API: compose.yaml gives workers a healthcheck of their own.
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; port = os.environ.get('JOBQUEUE_HTTP_ADDR', ':8080').rpartition(':')[2]; urllib.request.urlopen(f'http://127.0.0.1:{port}/healthz', timeout=4)"]
ENTRYPOINT ["jobqueue"]
CMD ["api"]
