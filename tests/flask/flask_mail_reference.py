"""Flask-Mail 0.10.0's own output for ``mail_cases``, as JSON on stdout.

Run in a subprocess by ``test_flask_mail_bytes.py`` (importing flask_mail changes the
``email`` package's ``utf-8`` charset for the whole process). Exits 3 when Flask-Mail
0.10.0 is not installed. With ``--ours`` it prints flask_smtp_backend's bytes instead,
made in this process after flask_mail was imported (as in the benchmark).

Flask-Mail joins the To and Cc addresses from a ``set``: their order changes with the
process's hash seed, and with it where the stdlib folds a long list. Here its ``set``
keeps insertion order, one of the orders it can give, and the one flask_smtp_backend
keeps, so the bytes compare exactly.
"""

from __future__ import annotations

import base64
import json
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

REFERENCE_VERSION = "0.10.0"


class _InsertionOrderSet(dict[Any, None]):
    """``set`` as Flask-Mail's module uses it (build, ``update``, iterate), in given order."""

    def __init__(self, items: Any = ()) -> None:
        super().__init__((item, None) for item in items)

    def update(self, items: Any) -> None:  # type: ignore[override]
        super().update((item, None) for item in items)


def _outcome(make: Any) -> dict[str, str]:
    try:
        return {"bytes": base64.b64encode(make()).decode("ascii")}
    except Exception as exc:
        return {"error": type(exc).__name__}


def main() -> int:
    try:
        if version("flask-mail") != REFERENCE_VERSION:
            return 3
    except PackageNotFoundError:
        return 3
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import flask_mail
    import mail_cases
    from flask import Flask

    flask_mail.set = _InsertionOrderSet  # type: ignore[attr-defined]
    package: Any = flask_mail
    if "--ours" in sys.argv:
        import flask_smtp_backend

        package = flask_smtp_backend

    app = Flask("flask_mail_reference")
    app.config.update(TESTING=True, MAIL_DEFAULT_SENDER="default@example.test")
    mail = package.Mail(app)
    messages = {}
    with app.app_context():
        for name in [*mail_cases.CASES, *mail_cases.GENERATED, *mail_cases.DIFFERENT]:
            mail.state.ascii_attachments = mail_cases.ascii_attachments(name)
            message = mail_cases.build(package.Message, name)
            messages[name] = _outcome(message.as_bytes)
            as_string = _outcome(lambda m=message: m.as_string().encode("utf-8", "surrogateescape"))
            if "bytes" in messages[name] and "bytes" in as_string:
                messages[name]["string"] = as_string["bytes"]
    sanitized = {
        encoding: {
            "addresses": [
                _outcome(lambda a=a, e=encoding: package.sanitize_address(a, e).encode())
                for a in mail_cases.ADDRESSES
            ],
            "subjects": [
                _outcome(lambda s=s, e=encoding: package.sanitize_subject(s, e).encode())
                for s in mail_cases.SUBJECTS
            ],
        }
        for encoding in mail_cases.ENCODINGS
    }
    json.dump({"messages": messages, "sanitized": sanitized}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
