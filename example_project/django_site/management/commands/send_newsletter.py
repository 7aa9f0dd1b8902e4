"""``send_newsletter``: the newsletter to every subscriber, in one batch over one connection."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.core.management.base import BaseCommand, CommandError

from example_project.newsletter import (
    NEWSLETTER_SUBJECT,
    load_subscribers,
    newsletter_text,
    result_line,
    results_summary,
)


class Command(BaseCommand):
    help = "Send the newsletter to every subscriber in NEWSLETTER_SUBSCRIBERS in one batch."

    def handle(self, *args: Any, **options: Any) -> None:
        messages = [
            EmailMessage(
                NEWSLETTER_SUBJECT, newsletter_text(subscriber.name), to=[subscriber.email]
            )
            for subscriber in load_subscribers(settings.NEWSLETTER_SUBSCRIBERS)
        ]
        failure: OSError | None = None
        with get_connection() as connection:
            try:
                connection.send_messages(messages)
            except OSError as error:  # raised after the whole batch was tried
                failure = error
            results = connection.last_results
        for result in results:
            self.stdout.write(result_line(result))
        if results:
            self.stdout.write(results_summary(results))
        if failure is not None:
            raise CommandError(f"not every message was sent: {failure}")
