"""``ProviderFactory``: provider name -> class. Adding a provider is one file and one line here."""

from __future__ import annotations

from ..exceptions import ProviderError
from .huggingface_provider import HuggingFaceProvider
from .unsloth_provider import UnslothProvider


class ProviderFactory:
    """Creates providers by name."""

    _providers = {
        "huggingface": HuggingFaceProvider,
        "unsloth": UnslothProvider,
    }

    @classmethod
    def names(cls) -> list[str]:
        return list(cls._providers)

    @classmethod
    def create(cls, name: str):
        """A new provider; ProviderError listing the valid names for an unknown one."""
        try:
            return cls._providers[name]()
        except KeyError:
            raise ProviderError(
                f"Unknown provider '{name}'. Valid providers: {', '.join(cls._providers)}.",
                "Set \"provider\" to one of the names listed.",
            ) from None

    @classmethod
    def available(cls) -> dict[str, str | None]:
        """``{name: None}`` when usable here, else ``{name: reason}``."""
        result: dict[str, str | None] = {}
        for name in cls._providers:
            try:
                cls.create(name).check_available()
                result[name] = None
            except ProviderError as exc:
                result[name] = exc.message
        return result
