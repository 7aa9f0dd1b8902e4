"""Django settings for tests/django: no database, no apps; mail settings come per test."""

SECRET_KEY = "django-smtp-backend-tests"
INSTALLED_APPS: list[str] = []
DATABASES: dict[str, dict[str, str]] = {}
USE_TZ = True
DEFAULT_FROM_EMAIL = "webmaster@example.test"
SERVER_EMAIL = "server@example.test"
