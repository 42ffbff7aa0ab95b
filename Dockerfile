FROM python:3.11-slim
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends make gcc && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml README.md Makefile babel.cfg ./
COPY core core
COPY flows flows
COPY bot bot
COPY webhooks webhooks
COPY locales locales
COPY scripts scripts
COPY requirements.lock ./
ENV DEEPFACE_HOME=/app/var/deepface
RUN python -m venv .venv && .venv/bin/pip install --no-cache-dir -c requirements.lock -e . && \
    .venv/bin/python scripts/install_face_weights.py && \
    for po in locales/*/LC_MESSAGES/*.po; do .venv/bin/pybabel compile -D ketpaar -i "$po" -o "${po%.po}.mo"; done
ENV PATH="/app/.venv/bin:$PATH"
EXPOSE 8000
CMD ["sh", "-c", "ketpaar migrate && ketpaar serve --host 0.0.0.0 --port 8000"]
