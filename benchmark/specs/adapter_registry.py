"""The registries of modality and library adapters: which names a spec may use, and the adapter behind each.

As in lm-evaluation-harness's registry and timm's `register_model`, an adapter registers itself under its name
when its module is imported, and every lookup goes through the registry: a name nobody registered is refused with
the registered names and the nearest one, never answered with a default. The built-in adapters are listed here as
the modules that register them, imported on first lookup, so that validating a spec knows every name without
importing torch, timm or transformers. Adding a built-in modality or library is one module in `benchmark/adapters/`
plus its line below; any other module may register an adapter of its own by calling `register`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Generic, Protocol, TypeVar

from benchmark.utils.naming import suggest

if TYPE_CHECKING:  # types only: the adapters import specs, never the reverse
    from benchmark.adapters.base import LibraryAdapter, ModalityAdapter


class Named(Protocol):
    name: str


AdapterT = TypeVar("AdapterT", bound=Named)


class UnknownAdapterError(ValueError):
    """A spec or a caller names a modality or library that no adapter registered."""


class AdapterRegistry(Generic[AdapterT]):
    """Adapters of one kind by name; an entry is the adapter, or the module that registers it when imported."""

    def __init__(self, kind: str, builtins: dict[str, str]):
        self.kind = kind
        self.entries: dict[str, AdapterT | str] = dict(builtins)

    def register(self, adapter: AdapterT) -> AdapterT:
        """Add `adapter` under its name (replacing the module that promised it); a second adapter of one name is an
        error, since which one ran would depend on import order."""
        current = self.entries.get(adapter.name)
        if current is not None and not isinstance(current, str) and current is not adapter:
            raise ValueError(f"{self.kind} {adapter.name!r} is already registered ({type(current).__name__})")
        self.entries[adapter.name] = adapter
        return adapter

    def names(self) -> list[str]:
        """Every registered name, sorted."""
        return sorted(self.entries)

    def check(self, name: str) -> str:
        """`name` if registered, else `UnknownAdapterError` naming the registered ones (a pydantic validator)."""
        if name not in self.entries:
            raise UnknownAdapterError(
                f"unknown {self.kind} {name!r}; registered: {', '.join(self.names())}{suggest(name, self.names())}"
            )
        return name

    def get(self, name: str) -> AdapterT:
        """The adapter registered as `name`, importing its module on first use."""
        entry = self.entries[self.check(name)]
        if isinstance(entry, str):
            importlib.import_module(entry)
            entry = self.entries[name]
            if isinstance(entry, str):
                raise RuntimeError(f"module {entry} did not register the {self.kind} {name!r} it is listed for")
        return entry


MODALITIES: AdapterRegistry[ModalityAdapter] = AdapterRegistry(
    "modality",
    {
        "vision": "benchmark.adapters.vision",
        "text": "benchmark.adapters.text",
        "audio": "benchmark.adapters.audio",
    },
)
LIBRARIES: AdapterRegistry[LibraryAdapter] = AdapterRegistry(
    "library",
    {
        "timm": "benchmark.adapters.timm_library",
        "transformers": "benchmark.adapters.transformers_library",
    },
)


def modality_adapter(name: str) -> ModalityAdapter:
    """The adapter of a registered modality (`UnknownAdapterError` otherwise)."""
    return MODALITIES.get(name)


def library_adapter(name: str) -> LibraryAdapter:
    """The adapter of a registered model library (`UnknownAdapterError` otherwise)."""
    return LIBRARIES.get(name)
