"""``Registry``: name -> class for one kind of plug-in (strategies, providers), the logic written once.

A subclass names its kind and the error for an unknown name::

    class StrategyFactory(Registry[TrainingStrategy], kind="strategy", plural="strategies", error=ConfigurationError):
        ...

    StrategyFactory.register("sft", SFTStrategy)
"""

from __future__ import annotations

from typing import Any, ClassVar, Generic, TypeVar

from .exceptions import ModelForgeException

T = TypeVar("T")


class Registry(Generic[T]):
    """Class-level registry: every subclass keeps its own table of registered classes, in order."""

    kind: ClassVar[str]
    plural: ClassVar[str]
    error: ClassVar[type[ModelForgeException]]
    _classes: ClassVar[dict[str, type]]

    def __init_subclass__(cls, *, kind: str, plural: str, error: type[ModelForgeException], **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.kind, cls.plural, cls.error = kind, plural, error
        cls._classes = {}

    @classmethod
    def register(cls, name: str, implementation: type[T]) -> None:
        """Make ``implementation`` the class that configs name ``name``; a name is registered once."""
        if name in cls._classes:
            raise ValueError(f"The {cls.kind} '{name}' is already registered.")
        cls._classes[name] = implementation

    @classmethod
    def unregister(cls, name: str) -> None:
        """Remove ``name`` (KeyError when it is not registered)."""
        del cls._classes[name]

    @classmethod
    def names(cls) -> list[str]:
        """The registered names, in registration order."""
        return list(cls._classes)

    @classmethod
    def get_class(cls, name: str) -> type[T]:
        """The class registered as ``name``; the kind's error listing the valid names otherwise."""
        try:
            return cls._classes[name]
        except KeyError:
            raise cls.error(
                f"Unknown {cls.kind} '{name}'. Valid {cls.plural}: {', '.join(cls._classes)}.",
                f"Set \"{cls.kind}\" to one of the names listed.",
            ) from None

    @classmethod
    def create(cls, name: str, **kwargs: Any) -> T:
        """A new instance of the class registered as ``name``, built with ``kwargs``."""
        return cls.get_class(name)(**kwargs)
