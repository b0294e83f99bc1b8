"""Deployment files (Dockerfiles, the nginx config) and the helper that runs them natively."""
