# The service image: one image, the command picks the role (worker, scheduler, relay, up).
FROM python:3.11-slim
RUN pip install --no-cache-dir uv
WORKDIR /app
COPY pyproject.toml uv.lock README.md ./
COPY likvid likvid
COPY messages messages
COPY models models
COPY workers workers
COPY templates templates
RUN uv sync --locked --no-dev
ENV PATH="/app/.venv/bin:$PATH" LIKVID_HOME=/var/lib/likvid
ENTRYPOINT ["likvid"]
