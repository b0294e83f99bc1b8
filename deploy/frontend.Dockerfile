# The dashboard: built with the same npm lock file as CI, served by nginx, which proxies /api.
FROM node:20-bookworm-slim AS build
WORKDIR /frontend
COPY frontend/package.json frontend/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY frontend ./
COPY backend/openapi.json /backend/openapi.json
RUN npm run build

FROM nginx:1.27-alpine
# The image's entrypoint renders /etc/nginx/templates/*.template into /etc/nginx/conf.d/ with envsubst.
ENV BACKEND_UPSTREAM=backend:8000
COPY deploy/nginx.conf /etc/nginx/templates/default.conf.template
COPY --from=build /frontend/dist /usr/share/nginx/html
