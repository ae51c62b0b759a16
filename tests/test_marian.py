"""Real conversion and real CTranslate2 inference on tiny Marian models.

See tests/marian_factory.py: toy languages "xx" and "yy" are fixed word mappings of a toy
English grammar, so each sentence has one right translation. The exact-output tests use the
checkpoints shipped in tests/data/marian (training is not bit-reproducible across CPUs);
the training recipe itself is tested for properties any correctly trained toy model has.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from octavia.errors import InputError, ModelNotAvailable
from octavia.pipeline.marian import MarianTranslator, make_downloader
from octavia.pipeline.models import ModelResolver
from octavia.pipeline.translation import make_translator, translate_segments, translate_texts
from octavia.types import Segment
from tests import marian_factory as mf

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def toy() -> dict[str, tuple[Path, Path]]:
    return {"en-xx": mf.build("en", "xx"), "yy-en": mf.build("yy", "en")}


@pytest.fixture
def models_dir(tmp_path: Path, toy: dict[str, tuple[Path, Path]]) -> Path:
    root = tmp_path / "models"
    for pair, (_, ct2) in toy.items():
        mf.install(ct2, root, pair)
    return root


def test_the_training_recipe_makes_a_model_that_speaks_the_toy_language(tmp_path: Path) -> None:
    """Train and convert from scratch: the path Octavia's downloads take, on CPU float kernels
    whose rounding differs between machines, so no exact strings, only what a trained model
    satisfies: it answers in target words (and the numbers it was given), and gets most
    sentences exactly right."""
    # A quarter of the shipped models' steps: enough for these bounds, and CI time is shared.
    hf, ct2 = mf.train("en", "xx", tmp_path / "en-xx", steps=mf.STEPS // 4)
    assert (hf / "model.safetensors").exists() and (ct2 / "model.bin").exists()
    english = mf.sentences(40, seed=4242)
    out = MarianTranslator(ModelResolver(tmp_path, offline=True), model_dir=ct2).translate(
        english, source="en", target="xx"
    )
    pairs = list(zip(english, out, strict=True))
    allowed = set(mf.XX.values())

    def speaks_xx(src: str, got: str) -> bool:  # target words and the source's numbers only
        numbers = {w for w in src.rstrip(".").split() if w.isdigit()}
        return got.endswith(".") and set(got.rstrip(".").split()) <= allowed | numbers

    assert sum(speaks_xx(src, got) for src, got in pairs) >= 0.9 * len(pairs), pairs
    assert sum(got == mf.toy_translate(src, mf.XX) for src, got in pairs) >= 0.75 * len(pairs), pairs


def test_conversion_writes_a_ctranslate2_model_without_the_pad_token(
    toy: dict[str, tuple[Path, Path]],
) -> None:
    hf, ct2 = toy["en-xx"]
    assert {"model.bin", "source.spm", "target.spm", "config.json"} <= {p.name for p in ct2.iterdir()}
    vocab = json.loads((hf / "vocab.json").read_text())
    shared = json.loads((ct2 / "shared_vocabulary.json").read_text())
    assert list(vocab)[-1] == "<pad>" and shared == list(vocab)[:-1]


@pytest.mark.parametrize("compute_type", ["int8", "float32"])
def test_translates_exactly_in_batches(models_dir: Path, compute_type: str) -> None:
    tr = MarianTranslator(
        ModelResolver(models_dir, offline=True), compute_type=compute_type, max_batch_size=4
    )
    texts = mf.sentences(12, seed=2024)
    out = tr.translate(texts, source="en", target="xx")
    assert out == [mf.toy_translate(t, mf.XX) for t in texts]
    assert tr.translate(["", texts[0]], source="en", target="xx") == ["", out[0]]
    assert compute_type in tr.engine_id("en", "xx") and str(models_dir / "marian" / "en-xx") in tr.engine_id(
        "en", "xx"
    )


def test_pivots_through_english_when_no_direct_model(models_dir: Path) -> None:
    tr = MarianTranslator(ModelResolver(models_dir, offline=True))
    english = mf.sentences(6, seed=77)
    source = [mf.toy_translate(t, mf.YY) for t in english]
    assert tr.translate(source, source="yy", target="xx") == [mf.toy_translate(t, mf.XX) for t in english]
    assert [m.spec.name for m in tr.route("yy", "xx")] == ["yy-en", "en-xx"]
    assert "yy-en" in tr.engine_id("yy", "xx") and "en-xx" in tr.engine_id("yy", "xx")


def test_unknown_pair_lists_local_pairs_and_how_to_get_more(models_dir: Path) -> None:
    tr = MarianTranslator(ModelResolver(models_dir, offline=True))
    with pytest.raises(ModelNotAvailable) as err:
        tr.engine_id("de", "fr")
    assert "Local pairs: en-xx, yy-en" in err.value.message
    assert "octavia models pull marian de-fr" in (err.value.hint or "")
    with pytest.raises(InputError):
        make_translator("nope", object(), ModelResolver(models_dir, offline=True))


def test_missing_pair_is_downloaded_and_converted_once(
    tmp_path: Path, toy: dict[str, tuple[Path, Path]]
) -> None:
    """The download hook fetches a transformers checkpoint and converts it into the cache."""
    fetched: list[str] = []

    def fake_hub(repo_id: str, dest: Path) -> str:  # the Hub itself is unreachable from tests
        fetched.append(repo_id)
        shutil.copytree(toy["en-xx"][0], dest, dirs_exist_ok=True)
        return "0123abc"

    resolver = ModelResolver(tmp_path / "models")
    tr = MarianTranslator(resolver, download=make_downloader(fake_hub))
    assert tr.translate(["the cat sees.", "my dog."], source="en", target="xx") == [
        "lo gato ve.",
        "mi perro.",
    ]
    assert fetched == ["Helsinki-NLP/opus-mt-en-xx"]
    assert "@0123abc" in tr.engine_id("en", "xx")
    again = MarianTranslator(resolver, download=make_downloader(fake_hub))
    again.translate(["a car."], source="en", target="xx")
    assert fetched == ["Helsinki-NLP/opus-mt-en-xx"]  # the cache answered


def test_a_model_directory_is_accepted(toy: dict[str, tuple[Path, Path]]) -> None:
    tr = MarianTranslator(ModelResolver(Path("/nonexistent"), offline=True), model_dir=toy["en-xx"][1])
    assert tr.translate(["the red bird eats a fish."], source="en", target="xx") == [
        "lo rojo pajo come una pesco."
    ]


def test_keep_terms_survive_the_model(models_dir: Path) -> None:
    tr = MarianTranslator(ModelResolver(models_dir, offline=True))
    out = translate_texts(["my cat sees Octavia.", "the Octavia dog eats."], tr, source="en", target="xx",
                          keep_terms=["Octavia"])  # fmt: skip
    assert out == ["mi gato ve Octavia.", "lo Octavia perro come."]


def test_segments_are_translated_as_sentences_and_resplit(models_dir: Path) -> None:
    tr = MarianTranslator(ModelResolver(models_dir, offline=True))
    segs = [Segment(0.0, 1.2, "my small girl"), Segment(1.2, 2.0, "likes the"), Segment(2.3, 3.5, "green car."),
            Segment(4.0, 5.0, "a dog eats.")]  # fmt: skip
    out = translate_segments(segs, tr, source="en", target="xx")
    assert [s.text for s in out] == ["mi pico nina", "gusta lo", "verdo coche.", "una perro come."]
    assert [(s.start, s.end) for s in out] == [(s.start, s.end) for s in segs]


def test_inference_does_not_import_torch_or_transformers(models_dir: Path) -> None:
    code = (
        "import sys; from pathlib import Path; from octavia.pipeline.models import ModelResolver;"
        "from octavia.pipeline.marian import MarianTranslator;"
        f"t = MarianTranslator(ModelResolver(Path({str(models_dir)!r}), offline=True));"
        "print(t.translate(['a cat.'], source='en', target='xx')[0]);"
        "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == ["una gato.", "[]"]
