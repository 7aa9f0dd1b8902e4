"""An ``EmailPolicy`` whose header objects share one class per kind of header.

The stdlib's ``HeaderRegistry`` builds a new class for every header it makes
(``type(...)`` on each ``msg[name] = value``): that is most of the cost of building
an ``EmailMessage``, and it defeats the interpreter's attribute caches. The classes it
builds are all alike, so making each once changes nothing else: the same bases, the
same parsing, folding and bytes.
"""

from __future__ import annotations

import functools
from email.headerregistry import HeaderRegistry
from email.policy import EmailPolicy

__all__ = ["shared_header_classes"]


class _SharedClassRegistry(HeaderRegistry):
    """``HeaderRegistry`` that builds each (kind, base) header class once."""

    def __init__(self, like: HeaderRegistry) -> None:
        super().__init__(like.base_class, like.default_class, use_default_map=False)
        self.registry.update(like.registry)
        self._built: dict[type, type] = {}

    def __getitem__(self, name: str) -> type:
        kind = self.registry.get(name.lower(), self.default_class)
        built = self._built.get(kind)
        if built is None:
            built = self._built[kind] = super().__getitem__(name)
        return built


@functools.lru_cache(maxsize=32)
def shared_header_classes(policy: EmailPolicy) -> EmailPolicy:
    """``policy`` with a header factory that makes one class per kind of header.

    A message built under it has the same headers and the same bytes as under
    ``policy`` (whose registry it copies as it is now). A policy whose header factory
    is not a plain ``HeaderRegistry`` (someone's own) is returned as it is.
    """
    if type(policy) is not EmailPolicy or type(policy.header_factory) is not HeaderRegistry:
        return policy
    return policy.clone(header_factory=_SharedClassRegistry(policy.header_factory))
