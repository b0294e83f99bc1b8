# The Python image: the API service and the precompute job (same code, same lock file as CI).
FROM python:3.11-slim-bookworm
WORKDIR /app
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
COPY requirements.lock ./
RUN pip install --no-cache-dir -r requirements.lock
COPY pyproject.toml README.md CITATION.cff ./
COPY qkatlas ./qkatlas
COPY precompute ./precompute
COPY backend ./backend
RUN pip install --no-cache-dir --no-deps -e .
EXPOSE 8000
CMD ["python", "-m", "backend", "--atlas-dir", "/atlases", "--host", "0.0.0.0", "--port", "8000"]
