"""A tiny, randomly initialised Coqui VITS, built offline and saved like a downloaded model.

No Coqui voice can be downloaded on the machines that test Octavia, so the tests build one:
the real VITS model class, tokenizer and inference path, with small layer sizes and random
weights (it babbles, but it speaks: a WAV of plausible length at the config's sample rate).
It is written as ``config.json`` + ``model_file.pth`` (+ ``speakers.pth`` for the
multi-speaker variant) — the layout Coqui's model manager leaves after a download — and is
loaded through :class:`octavia.pipeline.coqui.CoquiSynthesizer`, the same code that loads a
downloaded model.
"""

from __future__ import annotations

from pathlib import Path

SAMPLE_RATE = 16_000
SPEAKERS = ("ana", "luis")


def build_vits(dest: Path, *, speakers: tuple[str, ...] = (), full_size: bool = False, seed: int = 0) -> Path:
    """Write a random VITS into ``dest`` (once; an existing model is reused) and return ``dest``."""
    if (dest / "config.json").exists():
        return dest
    import torch
    from TTS.tts.configs.shared_configs import CharactersConfig
    from TTS.tts.configs.vits_config import VitsConfig
    from TTS.tts.models.vits import Vits, VitsArgs

    torch.manual_seed(seed)
    dest.mkdir(parents=True, exist_ok=True)
    small = {} if full_size else {
        "hidden_channels": 32, "hidden_channels_ffn_text_encoder": 64, "num_heads_text_encoder": 2,
        "num_layers_text_encoder": 1, "num_layers_flow": 1, "num_layers_posterior_encoder": 1,
        "resblock_kernel_sizes_decoder": [3], "resblock_dilation_sizes_decoder": [[1, 3, 5]],
        "upsample_rates_decoder": [8, 8, 4], "upsample_initial_channel_decoder": 32,
        "upsample_kernel_sizes_decoder": [16, 16, 8], "use_sdp": False,
    }  # fmt: skip
    speaker_args = {"use_speaker_embedding": True} if speakers else {}
    args = VitsArgs(init_discriminator=False, **small, **speaker_args)
    config = VitsConfig(
        model_args=args,
        use_phonemes=False,  # characters, so no phonemizer (espeak) is needed
        text_cleaner="multilingual_cleaners",
        characters=CharactersConfig(
            characters_class="TTS.tts.models.vits.VitsCharacters",
            pad="<PAD>", eos="<EOS>", bos="<BOS>", blank="<BLNK>",
            characters="abcdefghijklmnopqrstuvwxyzáéíóúñüàèìòùçâêîôûäöß",
            punctuations="!¡'(),-.:;¿? ", phonemes=None, is_unique=True, is_sorted=True,
        ),
    )  # fmt: skip
    config.audio.sample_rate = SAMPLE_RATE
    if speakers:
        # Coqui saves speaker ids beside the model and points the config at them (absolute path,
        # rewritten at load time: the file is found beside config.json wherever it moved).
        ids = {name: i for i, name in enumerate(speakers)}
        torch.save(ids, dest / "speakers.pth")
        config.num_speakers = len(speakers)
        config.use_speaker_embedding = True
        config.model_args.speakers_file = str(dest / "speakers.pth")
        config.speakers_file = str(dest / "speakers.pth")
    model = Vits.init_from_config(config)
    torch.save({"model": model.state_dict()}, dest / "model_file.pth")
    config.save_json(str(dest / "config.json"))
    return dest


def install_in_cache(cache_dir: Path, name: str, **kwargs: object) -> Path:
    """Build the model where a download of ``name`` would land: ``<cache>/models/coqui/<name>``."""
    return build_vits(cache_dir / "models" / "coqui" / name.replace("/", "--"), **kwargs)  # type: ignore[arg-type]
