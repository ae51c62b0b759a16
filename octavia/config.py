"""Settings for the core, declared as data.

Precedence: explicit arguments (CLI flags) > ``OCTAVIA_*`` environment variables > a TOML
config file (``OCTAVIA_CONFIG`` or ``<user config dir>/config.toml``) > defaults.
Settings are built at the edges (CLI callback, ``create_app``, worker start-up) and passed
down; nothing in the core reads the environment by itself.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import platformdirs
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

APP_NAME = "octavia"

Device = Literal["auto", "cpu", "cuda"]


def default_cache_dir() -> Path:
    return Path(platformdirs.user_cache_dir(APP_NAME))


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME))


def default_config_file() -> Path:
    return Path(
        os.environ.get("OCTAVIA_CONFIG") or Path(platformdirs.user_config_dir(APP_NAME)) / "config.toml"
    )


class Settings(BaseSettings):
    """Core settings shared by the CLI, the server and the workers."""

    model_config = SettingsConfigDict(env_prefix="OCTAVIA_", extra="ignore")

    cache_dir: Path = Field(default_factory=default_cache_dir, description="Models and downloads.")
    data_dir: Path = Field(default_factory=default_data_dir, description="Databases and server files.")
    ffmpeg: str | None = Field(
        None, description="Path to an ffmpeg binary (default: PATH, then the bundled one)."
    )
    offline: bool = Field(False, description="Never download models; use only local files and packs.")

    # Engines
    device: Device = "auto"
    compute_type: str = "default"
    transcriber: str = Field("whisper", description="whisper (local faster-whisper) | openai (hosted)")
    whisper_model: str = Field(
        "auto", description="Whisper size name (tiny, base, small, ...) or a directory."
    )
    translator: str = Field("auto", description="auto | marian | hf | apertium | llm | whisper")
    tts: str = Field("auto", description="auto | coqui | piper | tts-server")

    # Hosted engines
    hf_token: SecretStr | None = None
    # Inference Providers, hf-inference provider (the old api-inference host is being retired).
    hf_api_url: str = "https://router.huggingface.co/hf-inference/models"
    openai_api_key: SecretStr | None = None
    openai_base_url: str = "https://api.openai.com/v1"
    openai_transcribe_model: str = "whisper-1"
    tts_server_url: str | None = None
    # Any OpenAI-compatible chat-completions server, for --translator llm (OpenAI, Ollama,
    # llama.cpp's llama-server, vLLM). Unset: the LLM translator is off (the server refuses it).
    llm_base_url: str | None = Field(None, description="e.g. http://localhost:11434/v1 (Ollama).")
    llm_model: str | None = Field(None, description="The model name the server knows, e.g. llama3.1:8b.")
    llm_api_key: SecretStr | None = None
    llm_timeout: float = Field(120.0, gt=0, description="Seconds to wait for one answer.")

    @property
    def models_dir(self) -> Path:
        return self.cache_dir / "models"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        from pydantic_settings import TomlConfigSettingsSource

        toml = TomlConfigSettingsSource(settings_cls, toml_file=default_config_file())
        return (init_settings, env_settings, toml, file_secret_settings)


def load_settings(**overrides: Any) -> Settings:
    """Build settings; ``None`` overrides (unset CLI flags) are ignored so lower layers apply."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})
