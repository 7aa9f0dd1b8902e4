"""An asyncio server listening on a free loopback port, served from its own thread."""

from __future__ import annotations

import asyncio
import ssl
import threading
from collections.abc import Callable

HOST = "127.0.0.1"
START_TIMEOUT = 10.0


class LoopThreadServer:
    """Runs ``loop.create_server(protocol_factory)`` on 127.0.0.1 in a daemon thread.

    ``protocol_factory`` receives the loop; every transport it opens is closed on ``stop()``.
    """

    def __init__(
        self,
        protocol_factory: Callable[[asyncio.AbstractEventLoop], asyncio.BaseProtocol],
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.host = HOST
        self.port = 0
        self._protocol_factory = protocol_factory
        self._ssl_context = ssl_context
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.Server | None = None
        self._thread = threading.Thread(target=self._run, name="test-smtp-server", daemon=True)
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None
        self._protocols: list[asyncio.BaseProtocol] = []

    def start(self) -> None:
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT):
            raise RuntimeError("test server did not start")
        if self._startup_error is not None:
            raise self._startup_error

    def stop(self) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(START_TIMEOUT)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._server = self._loop.run_until_complete(
                self._loop.create_server(
                    self._new_protocol,
                    host=self.host,
                    port=0,
                    ssl=self._ssl_context,
                )
            )
            self.port = self._server.sockets[0].getsockname()[1]
        except BaseException as error:  # reported to start() in the test thread
            self._startup_error = error
            self._ready.set()
            return
        self._ready.set()
        self._loop.run_forever()
        self._shut_down()

    def _new_protocol(self) -> asyncio.BaseProtocol:
        protocol = self._protocol_factory(self._loop)
        self._protocols.append(protocol)
        return protocol

    def _shut_down(self) -> None:
        assert self._server is not None
        self._server.close()
        for protocol in self._protocols:
            transport = getattr(protocol, "transport", None)
            if transport is not None:
                transport.close()
        # one turn of the loop lets the closed transports call connection_lost()
        self._loop.run_until_complete(asyncio.sleep(0))
        pending = asyncio.all_tasks(self._loop)
        for task in pending:
            task.cancel()
        self._loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        self._loop.run_until_complete(self._loop.shutdown_asyncgens())
        self._loop.close()
