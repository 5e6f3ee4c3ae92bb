FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 CERTIFAI_LOCAL_DIR=/tmp/certifai
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
RUN CERTIFAI_SECRET_KEY=build CERTIFAI_ENCRYPTION_KEY=MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY= \
    python manage.py collectstatic --noinput \
    && useradd --system --uid 10001 certifai
USER certifai
EXPOSE 8000
CMD ["gunicorn", "certifai.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3"]
