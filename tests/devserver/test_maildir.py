"""The maildir: one .eml per message beside its envelope, reloaded on start."""

from __future__ import annotations

from pathlib import Path

from smtp_backend import SMTP
from tests.devserver.conftest import DevServerFactory
from tests.devserver.samples import rich_message, simple_message


def test_each_message_is_written_as_an_eml_file(
    tmp_path: Path, devserver_factory: DevServerFactory
) -> None:
    server = devserver_factory(maildir=tmp_path / "mail", web_port=None)
    with SMTP(server.host, server.port) as client:
        client.send_many([simple_message("one"), rich_message("two")])

    files = sorted((tmp_path / "mail").glob("*.eml"))
    assert [path.stem for path in files] == [m.id for m in server.messages]
    assert [path.read_bytes() for path in files] == [m.data for m in server.messages]
    assert not list((tmp_path / "mail").glob(".*"))  # no partial files left behind


def test_a_restarted_server_shows_the_same_inbox(
    tmp_path: Path, devserver_factory: DevServerFactory
) -> None:
    first = devserver_factory(maildir=tmp_path, web_port=None)
    with SMTP(first.host, first.port) as client:
        client.sendmail(
            "a@example.test", ["b@example.test", "c@example.test"], b"Subject: 1\r\n\r\n"
        )
        client.send_message(rich_message("two"))
    first.stop()

    second = devserver_factory(maildir=tmp_path, web_port=None)
    assert [
        (m.id, m.sender, m.recipients, m.data, m.received_at, m.peer, m.tls)
        for m in second.messages
    ] == [
        (m.id, m.sender, m.recipients, m.data, m.received_at, m.peer, m.tls) for m in first.messages
    ]
    with SMTP(second.host, second.port) as client:
        client.send_message(simple_message("three"))
    assert [m.subject for m in second.messages] == ["1", "two", "three"]


def test_an_eml_dropped_in_by_hand_is_shown(
    tmp_path: Path, devserver_factory: DevServerFactory
) -> None:
    (tmp_path / "handmade.eml").write_bytes(
        b"From: Ann <ann@example.test>\r\nTo: bob@example.test, Cy <cy@example.test>\r\n"
        b"Subject: by hand\r\n\r\nbody\r\n"
    )
    (tmp_path / "notes.txt").write_text("not a message")
    server = devserver_factory(maildir=tmp_path, web_port=None)
    (message,) = server.messages
    assert message.id == "handmade"
    assert message.sender == "ann@example.test"
    assert message.recipients == ("bob@example.test", "cy@example.test")
    assert message.subject == "by hand"


def test_clear_deletes_the_files(tmp_path: Path, devserver_factory: DevServerFactory) -> None:
    server = devserver_factory(maildir=tmp_path, web_port=None)
    with SMTP(server.host, server.port) as client:
        client.send_message(simple_message())
    server.clear()
    assert list(tmp_path.iterdir()) == []
    server.stop()
    assert devserver_factory(maildir=tmp_path, web_port=None).messages == []


def test_a_missing_maildir_is_created(tmp_path: Path, devserver_factory: DevServerFactory) -> None:
    server = devserver_factory(maildir=tmp_path / "a" / "b", web_port=None)
    with SMTP(server.host, server.port) as client:
        client.send_message(simple_message())
    assert len(list((tmp_path / "a" / "b").glob("*.eml"))) == 1
