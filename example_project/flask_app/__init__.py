"""A minimal Flask app sending through smtp_backend: ``MAIL_SETTINGS`` is its one mail block.

flask --app example_project.flask_app newsletter
flask --app example_project.flask_app run
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import click
from flask import Flask, current_app, render_template, request
from flask.cli import with_appcontext

from example_project.newsletter import (
    NEWSLETTER_SUBJECT,
    SUBSCRIBERS_FILE,
    WELCOME_SUBJECT,
    load_subscribers,
    newsletter_text,
    result_line,
    results_summary,
    welcome_text,
)
from flask_smtp_backend import Mail, Message

# Mail: everything the app needs to send through smtp_backend. The defaults match
# `python -m smtp_backend.devserver`; FLASK_MAIL_SERVER, FLASK_MAIL_PORT... in the
# environment override them (Flask's from_prefixed_env).
MAIL_SETTINGS = {
    "MAIL_SERVER": "127.0.0.1",
    "MAIL_PORT": 1025,
    "MAIL_DEFAULT_SENDER": "Example App <hello@flask-app.example>",
    "NEWSLETTER_SUBSCRIBERS": str(SUBSCRIBERS_FILE),
}

mail = Mail()


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    app = Flask(__name__)
    app.config.from_mapping(MAIL_SETTINGS)
    app.config.from_prefixed_env()
    app.config.from_mapping(config or {})
    mail.init_app(app)
    app.add_url_rule("/", view_func=signup, methods=["GET", "POST"])
    app.cli.add_command(newsletter)
    return app


def signup() -> str:
    """The sign-up page: a name and an address send the welcome mail."""
    name, email = request.form.get("name", "").strip(), request.form.get("email", "").strip()
    if request.method == "POST" and name and "@" in email:
        mail.send(Message(WELCOME_SUBJECT, recipients=[email], body=welcome_text(name)))
        return render_template("signup.html", welcomed=email)
    return render_template("signup.html", invalid=request.method == "POST")


@click.command("newsletter")
@with_appcontext
def newsletter() -> None:
    """Send the newsletter to every subscriber in NEWSLETTER_SUBSCRIBERS in one batch."""
    messages = [
        Message(
            NEWSLETTER_SUBJECT, recipients=[subscriber.email], body=newsletter_text(subscriber.name)
        )
        for subscriber in load_subscribers(current_app.config["NEWSLETTER_SUBSCRIBERS"])
    ]
    try:
        results = mail.send_many(messages)
    except OSError as error:  # no connection could be opened
        raise click.ClickException(f"could not send: {error}") from error
    for result in results:
        click.echo(result_line(result))
    click.echo(results_summary(results))
    if not all(result.ok for result in results):
        raise click.ClickException(f"{sum(not r.ok for r in results)} messages not sent")
