"""I/O helpers the drivers share: TLS contexts, and the asyncio stream of replies."""
