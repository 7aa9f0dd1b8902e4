"""The example site's settings: no database, one app, one mail block."""

import os
from pathlib import Path

from example_project.newsletter import SUBSCRIBERS_FILE

SECRET_KEY = "example-site-not-secret"
DEBUG = True
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = ["example_project.django_site"]  # for its template and management command
MIDDLEWARE = ["django.middleware.csrf.CsrfViewMiddleware"]
ROOT_URLCONF = "example_project.django_site.urls"
TEMPLATES = [{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True}]
DATABASES: dict[str, dict[str, str]] = {}  # subscribers come from a JSON file
USE_TZ = True

# Mail: everything the site needs to send through smtp_backend. The defaults match
# `python -m smtp_backend.devserver`; EMAIL_HOST/EMAIL_PORT in the environment override them.
EMAIL_BACKEND = "django_smtp_backend.EmailBackend"
EMAIL_HOST = os.environ.get("EMAIL_HOST", "127.0.0.1")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "1025"))
DEFAULT_FROM_EMAIL = "Example Site <hello@django-site.example>"
NEWSLETTER_SUBSCRIBERS = Path(os.environ.get("NEWSLETTER_SUBSCRIBERS", SUBSCRIBERS_FILE))
