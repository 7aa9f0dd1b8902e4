"""Flask-Mail 0.10.0's own output for ``mail_cases``, as JSON on stdout.

Run in a subprocess by ``test_flask_mail_bytes.py`` (importing flask_mail changes the
``email`` package's ``utf-8`` charset for the whole process). Exits 3 when Flask-Mail
0.10.0 is not installed.
"""

from __future__ import annotations

import base64
import json
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

REFERENCE_VERSION = "0.10.0"


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

    app = Flask("flask_mail_reference")
    app.config.update(TESTING=True, MAIL_DEFAULT_SENDER="default@example.test")
    mail = flask_mail.Mail(app)
    messages = {}
    with app.app_context():
        for name in [*mail_cases.CASES, *mail_cases.DIFFERENT]:
            mail.state.ascii_attachments = mail_cases.ascii_attachments(name)
            message = mail_cases.build(flask_mail.Message, name)
            messages[name] = _outcome(message.as_bytes)
    sanitized = {
        encoding: {
            "addresses": [
                _outcome(lambda a=a, e=encoding: flask_mail.sanitize_address(a, e).encode())
                for a in mail_cases.ADDRESSES
            ],
            "subjects": [
                _outcome(lambda s=s, e=encoding: flask_mail.sanitize_subject(s, e).encode())
                for s in mail_cases.SUBJECTS
            ],
        }
        for encoding in mail_cases.ENCODINGS
    }
    json.dump({"messages": messages, "sanitized": sanitized}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
