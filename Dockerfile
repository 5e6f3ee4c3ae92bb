# Certifai: one image for every process of docker-compose.yml (web, worker, beat and the migrate job).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    CERTIFAI_LOCAL_DIR=/tmp/certifai \
    PORT=8000

WORKDIR /app
RUN groupadd --system --gid 10001 certifai \
    && useradd --system --uid 10001 --gid certifai --no-create-home --shell /usr/sbin/nologin certifai

COPY requirements.txt .
RUN pip install -r requirements.txt

# The code stays owned by root: the app can't rewrite itself. .dockerignore keeps .env, .certifai/ (generated
# development keys), the database file, .git and the virtualenv out of the image.
COPY . .

# Static files are collected at build time. Settings need a secret key and an encryption key to load: throw-away
# values here (nothing is encrypted at build time), so no secret is needed to build and none is generated into
# the image; CERTIFAI_ENSURE_BROKER_DIR=0 leaves the embedded broker's folder uncreated.
RUN CERTIFAI_SECRET_KEY=build-only-not-a-secret \
    CERTIFAI_ENCRYPTION_KEY=MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY= \
    CERTIFAI_ENSURE_BROKER_DIR=0 \
    python manage.py collectstatic --noinput -v 0

USER 10001:10001
EXPOSE 8000

# Liveness of the web process (the default command); docker-compose.yml gives worker and beat their own checks.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '8000'), timeout=4)"]

CMD ["sh", "-c", "exec gunicorn certifai.wsgi --bind 0.0.0.0:${PORT:-8000} --workers ${WEB_CONCURRENCY:-3} --threads 4 --timeout 600 --worker-tmp-dir /dev/shm"]
