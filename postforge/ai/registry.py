"""Which generator answers: Claude when an API key is set, else the offline sample generator."""

from __future__ import annotations

from postforge.ai.base import PostGenerator
from postforge.settings import Settings, get_settings


def get_generator(settings: Settings | None = None) -> PostGenerator:
    settings = settings or get_settings()
    if settings.ai_provider == "anthropic":
        from postforge.ai.anthropic_provider import AnthropicGenerator

        return AnthropicGenerator(settings)
    from postforge.ai.offline import OfflineGenerator

    return OfflineGenerator()
