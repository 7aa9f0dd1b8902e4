"""Messages kept on disk: a real Maildir (``maildir=``), or .eml + .json files (``eml_dir=``)."""

from __future__ import annotations

import mailbox
from pathlib import Path

import pytest

from smtp_backend import SMTP
from smtp_backend.devserver import DevServer
from tests.devserver.conftest import DevServerFactory
from tests.devserver.samples import rich_message, simple_message


def test_maildir_is_a_maildir_that_mail_programs_read(
    tmp_path: Path, devserver_factory: DevServerFactory
) -> None:
    server = devserver_factory(maildir=tmp_path / "mail", web_port=None)
    with SMTP(server.host, server.port) as client:
        client.sendmail(
            "a@example.test", ["b@example.test", "c@example.test"], b"Subject: 1\r\n\r\nx\r\n"
        )
        client.send_message(rich_message("two"))

    assert sorted(p.name for p in (tmp_path / "mail").iterdir()) == ["cur", "new", "tmp"]
    assert len(list((tmp_path / "mail" / "new").iterdir())) == 2  # one file per message
    assert list((tmp_path / "mail" / "tmp").iterdir()) == []  # delivered, not left half-written
    box = mailbox.Maildir(tmp_path / "mail", factory=None, create=False)
    read = sorted(box, key=lambda message: message["Subject"])
    assert [message["Subject"] for message in read] == ["1", "two"]
    assert read[0]["Return-Path"] == "<a@example.test>"
    assert read[0].get_all("X-Original-To") == ["b@example.test", "c@example.test"]
    assert read[1].get_payload()[1].get_filename() == "résumé.pdf"


def test_a_restarted_server_shows_the_same_inbox(
    tmp_path: Path, devserver_factory: DevServerFactory
) -> None:
    for keep in ({"maildir": tmp_path / "maildir"}, {"eml_dir": tmp_path / "eml"}):
        first = devserver_factory(web_port=None, **keep)
        with SMTP(first.host, first.port) as client:
            client.sendmail(
                "a@example.test", ["b@example.test", "c@example.test"], b"Subject: 1\r\n\r\n"
            )
            client.send_message(rich_message("two"))
        first.stop()

        second = devserver_factory(web_port=None, **keep)
        assert [(m.id, m.sender, m.recipients, m.data) for m in second.messages] == [
            (m.id, m.sender, m.recipients, m.data) for m in first.messages
        ], keep
        with SMTP(second.host, second.port) as client:
            client.send_message(simple_message("three"))
        assert [m.subject for m in second.messages] == ["1", "two", "three"]


def test_a_message_another_program_put_in_the_maildir_is_shown(
    tmp_path: Path, devserver_factory: DevServerFactory
) -> None:
    box = mailbox.Maildir(tmp_path / "mail", create=True)
    box.add(b"From: Ann <ann@example.test>\nTo: bob@example.test\nSubject: by hand\n\nbody\n")
    server = devserver_factory(maildir=tmp_path / "mail", web_port=None)
    (message,) = server.messages
    assert message.sender == "ann@example.test"
    assert message.recipients == ("bob@example.test",)
    assert message.subject == "by hand"
    assert message.data.endswith(b"\r\n\r\nbody\r\n")


def test_eml_dir_keeps_the_exact_bytes_beside_the_envelope(
    tmp_path: Path, devserver_factory: DevServerFactory
) -> None:
    server = devserver_factory(eml_dir=tmp_path / "eml", web_port=None)
    with SMTP(server.host, server.port) as client:
        client.send_many([simple_message("one"), rich_message("two")])
    files = sorted((tmp_path / "eml").glob("*.eml"))
    assert [path.stem for path in files] == [m.id for m in server.messages]
    assert [path.read_bytes() for path in files] == [m.data for m in server.messages]
    assert len(list((tmp_path / "eml").glob("*.json"))) == 2
    assert not list((tmp_path / "eml").glob(".*"))  # no partial files left behind


def test_an_eml_dropped_in_by_hand_is_shown(
    tmp_path: Path, devserver_factory: DevServerFactory
) -> None:
    (tmp_path / "handmade.eml").write_bytes(
        b"From: Ann <ann@example.test>\r\nTo: bob@example.test, Cy <cy@example.test>\r\n"
        b"Subject: by hand\r\n\r\nbody\r\n"
    )
    (tmp_path / "notes.txt").write_text("not a message")
    server = devserver_factory(eml_dir=tmp_path, web_port=None)
    (message,) = server.messages
    assert message.id == "handmade"
    assert message.sender == "ann@example.test"
    assert message.recipients == ("bob@example.test", "cy@example.test")


@pytest.mark.parametrize("option", ["maildir", "eml_dir"])
def test_clear_deletes_the_files(
    option: str, tmp_path: Path, devserver_factory: DevServerFactory
) -> None:
    server = devserver_factory(web_port=None, **{option: tmp_path / "kept"})
    with SMTP(server.host, server.port) as client:
        client.send_many([simple_message("one"), simple_message("two")])
    server.clear()
    assert [p for p in (tmp_path / "kept").rglob("*") if p.is_file()] == []
    server.stop()
    assert devserver_factory(web_port=None, **{option: tmp_path / "kept"}).messages == []


def test_maildir_and_eml_dir_together_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="give one place"):
        DevServer(maildir=tmp_path / "a", eml_dir=tmp_path / "b")
