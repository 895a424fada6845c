"""``ProviderFactory``: provider name -> class.

Adding a provider: write a class with every method of ``ModelProvider`` (modelforge_core/providers/
__init__.py), built as ``MyProvider()``, in its own file, then register it with one line at the
bottom of this file (training runs in a worker process that imports this
file, so a registration made elsewhere must be in a module the worker imports too)::

    ProviderFactory.register("my_provider", MyProvider)

Configs then name it (``"provider": "my_provider"``).
"""

from __future__ import annotations

from ..exceptions import ProviderError
from ..registry import Registry
from . import ModelProvider
from .huggingface_provider import HuggingFaceProvider
from .unsloth_provider import UnslothProvider


class ProviderFactory(Registry[ModelProvider], kind="provider", plural="providers", error=ProviderError):
    """Creates providers by name (``create(name)``) and says which can run here."""

    @classmethod
    def available(cls) -> dict[str, str | None]:
        """``{name: None}`` when usable here, else ``{name: reason}``."""
        result: dict[str, str | None] = {}
        for name in cls.names():
            try:
                cls.create(name).check_available()
                result[name] = None
            except ProviderError as exc:
                result[name] = exc.message
        return result


ProviderFactory.register("huggingface", HuggingFaceProvider)
ProviderFactory.register("unsloth", UnslothProvider)
