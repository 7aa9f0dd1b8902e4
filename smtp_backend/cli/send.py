"""``smtp-backend send``: compose a message from flags, or send .eml/mbox files or stdin."""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ..mailer import Mailer, MailItem
from ..results import MessageState
from .compose import Composition, parse_header
from .console import console
from .delivery import BatchOutcome, deliver, reason
from .options import resolve_target, server_options
from .sources import is_batch, read_messages

EXIT_SENT, EXIT_NOT_ALL_SENT, EXIT_ERROR = 0, 1, 2
#: Flags that only make sense when composing: flag name -> parameter name.
COMPOSE_ONLY = {
    "--cc": "cc",
    "--bcc": "bcc",
    "--subject": "subject",
    "--body": "body",
    "--body-file": "body_file",
    "--html-file": "html_file",
    "--attach": "attach",
    "--header": "headers",
}


@click.command()
@click.argument("sources", nargs=-1, type=click.Path(exists=True, allow_dash=True))
@click.option("--from", "sender", help="Sender (for files: the envelope sender).")
@click.option("--to", multiple=True, help="Recipient (repeatable; for files: the envelope).")
@click.option("--cc", multiple=True, help="Cc recipient (repeatable).")
@click.option("--bcc", multiple=True, help="Bcc recipient (repeatable; never in the headers).")
@click.option("--subject")
@click.option("--body", help="Plain-text body.")
@click.option(
    "--body-file", type=click.File("r", encoding="utf-8"), help="Text body file (- for stdin)."
)
@click.option("--html-file", type=click.File("r", encoding="utf-8"), help="HTML alternative.")
@click.option(
    "--attach",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="File to attach (repeatable).",
)
@click.option("--header", "headers", multiple=True, help='Extra header "Name: value" (repeatable).')
@click.option("--dry-run", is_flag=True, help="Show what would be sent; connect to nothing.")
@server_options
@click.pass_context
def send(ctx: click.Context, /, sources: tuple[str, ...], dry_run: bool, **flags: Any) -> None:
    """Send SOURCES (.eml or mbox files, directories of .eml files, - for stdin), or a
    message composed from the flags.

    Exit status: 0 all sent, 1 some refused or failed, 2 usage or connection error.
    """
    items = _items(sources, flags)
    batch = is_batch(sources)
    out = console()
    if dry_run:
        _dry_run(items, out)
        return
    target = resolve_target(
        flags["url"],
        flags["host"],
        flags["port"],
        flags["security"],
        flags["user"],
        flags["password"],
        flags["ca_file"],
        flags["timeout"],
    )
    try:
        mailer = Mailer(**target.mailer_arguments)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    with mailer, _progress(batch) as progress:
        task = progress.add_task(f"sending to {target.shown}", total=None)
        outcome = deliver(mailer, items, lambda count: progress.advance(task, count))
    if batch or outcome.total > 1:
        _print_summary(outcome, out)
    else:
        _print_single(outcome, out)
    if outcome.error is not None:
        click.echo(
            f"error: could not send through {target.shown}: {_describe(outcome.error)}", err=True
        )
        ctx.exit(EXIT_ERROR)
    ctx.exit(EXIT_SENT if outcome.all_delivered else EXIT_NOT_ALL_SENT)


def _items(sources: Sequence[str], flags: dict[str, Any]) -> Iterator[tuple[str, MailItem]]:
    """The labelled items to send; ``click.UsageError`` for flags that do not fit together."""
    if sources:
        given = [flag for flag, name in COMPOSE_ONLY.items() if flags[name]]
        if given:
            names = ", ".join(given)
            raise click.UsageError(f"{names}: only for a composed message, not with message files")
        return _read(sources, flags["sender"], flags["to"])
    if not flags["sender"]:
        raise click.UsageError(
            "give message files (- for stdin), or compose one with --from and --to"
        )
    if flags["body"] is not None and flags["body_file"] is not None:
        raise click.UsageError("--body and --body-file: give one")
    text = flags["body"] if flags["body_file"] is None else _read_text(flags["body_file"])
    try:
        composed = Composition(
            flags["sender"],
            flags["to"],
            flags["cc"],
            flags["bcc"],
            flags["subject"],
            text,
            _read_text(flags["html_file"]),
            flags["attach"],
            [parse_header(header) for header in flags["headers"]],
        ).build()
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    return iter([("message", composed)])


def _read(
    sources: Sequence[str], sender: str | None, recipients: Sequence[str]
) -> Iterator[tuple[str, MailItem]]:
    try:
        for source in read_messages(sources, sys.stdin.buffer):
            yield source.label, source.as_item(sender, recipients)
    except (OSError, ValueError) as exc:
        raise click.UsageError(f"cannot read messages: {exc}") from None


def _progress(batch: bool) -> Progress:
    err = console(stderr=True)
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        disable=not (batch and err.is_terminal),
        transient=True,
    )


def _dry_run(items: Iterator[tuple[str, MailItem]], out: Console) -> None:
    """Run the items through a capturing Mailer: same checks and bytes as a real send."""
    with Mailer("localhost", capture=True) as mailer:
        labelled = list(items)
        results = mailer.send([item for _, item in labelled])
        captured = iter(mailer.outbox or [])
    out.print(f"dry run: nothing sent; {len(labelled)} message(s)", markup=False)
    for (label, _), result in zip(labelled, results, strict=True):
        if result.state is not MessageState.SENT:
            out.print(f"{label}: would fail: {reason(result)}", markup=False)
            continue
        record = next(captured)
        recipients = ", ".join(record.recipients)
        out.print(
            f"{label}: from <{record.sender}> to {recipients} ({len(record.data)} bytes)",
            markup=False,
        )
        if len(labelled) == 1:
            out.print(record.data.decode("utf-8", "replace").replace("\r\n", "\n"), markup=False)


def _print_single(outcome: BatchOutcome, out: Console) -> None:
    if outcome.total and not outcome.problems:
        out.print("sent", markup=False)
    for label, result in outcome.problems:
        state = "sent, but" if result.state is MessageState.SENT else result.state.value + ":"
        out.print(f"{label}: {state} {reason(result)}", markup=False)


def _print_summary(outcome: BatchOutcome, out: Console) -> None:
    table = Table(title="send summary")
    for column in (
        "messages",
        "sent",
        "refused",
        "failed",
        "recipients refused",
        "seconds",
        "messages/s",
    ):
        table.add_column(column, justify="right")
    table.add_row(
        str(outcome.total),
        str(outcome.sent),
        str(outcome.refused),
        str(outcome.failed),
        str(outcome.recipients_refused),
        f"{outcome.seconds:.2f}",
        f"{outcome.rate:.1f}",
    )
    out.print(table)
    if outcome.problems:
        problems = Table(title="not delivered")
        problems.add_column("message")
        problems.add_column("state")
        problems.add_column("why")
        for label, result in outcome.problems:
            problems.add_row(escape(label), result.state.value, escape(reason(result)))
        out.print(problems)


def _describe(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    return f"{type(error).__name__}: {text}"


def _read_text(stream: TextIO | None) -> str | None:
    return None if stream is None else stream.read()
