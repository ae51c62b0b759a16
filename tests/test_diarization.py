"""Speaker diarization with the real d-vector model on a clip of four real voices.

The clip (tests/diarization_clip.py) alternates a LibriVox reader, Piper's joe voice and two
espeak-ng voices; Whisper tiny.en transcribes it for real, so segments and word times are
what a job sees.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest

from octavia.pipeline.diarization.split import Span, label_segments
from octavia.types import Segment, Transcript, Word
from tests.diarization_clip import Turn, build_clip, speaker_accuracy


@pytest.fixture(scope="session")
def four_voices(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Turn]]:
    return build_clip(tmp_path_factory.mktemp("four-voices"))


@pytest.fixture(scope="session")
def diarizer(engines: Any) -> Any:
    return engines.diarizer("d-vector")


@pytest.fixture(scope="session")
def clip_transcript(engines: Any, four_voices: tuple[Path, list[Turn]]) -> Transcript:
    whisper = engines.whisper("tiny.en", "en")
    # Sequential decoding: batched tiny.en now and then drops a VAD chunk of this clip entirely.
    return whisper.transcribe(four_voices[0], language="en", batch_size=None)  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def samples(four_voices: tuple[Path, list[Turn]]) -> Any:
    from octavia.pipeline.diarization.stage import read_samples

    return read_samples(four_voices[0])


@pytest.mark.slow
def test_four_voices_each_get_their_own_label(
    diarizer: Any, samples: Any, clip_transcript: Transcript, four_voices: tuple[Path, list[Turn]]
) -> None:
    segments, info = diarizer.diarize(samples, clip_transcript.segments)
    accuracy, mapping = speaker_accuracy(four_voices[1], segments)
    assert info["speakers"] == 4 and info["count"] == "threshold"
    assert len(set(mapping.values())) == 4 and "" not in mapping.values()
    assert accuracy >= 0.9, (accuracy, mapping)
    assert segments[0].speaker == "Speaker 1"  # numbered in order of appearance


@pytest.mark.slow
@pytest.mark.parametrize("count", [2, 5])
def test_given_speaker_count_is_honoured(
    diarizer: Any, samples: Any, clip_transcript: Transcript, count: int
) -> None:
    segments, info = diarizer.diarize(samples, clip_transcript.segments, speakers=count)
    assert info["clusters"] == count and info["count"] == "given"
    assert len({s.speaker for s in segments}) == count


@pytest.mark.slow
def test_bounds_clamp_the_count_found(diarizer: Any, samples: Any, clip_transcript: Transcript) -> None:
    _, info = diarizer.diarize(samples, clip_transcript.segments, max_speakers=3)
    assert info["clusters"] == 3 and info["count"] == "bounded"
    _, info = diarizer.diarize(samples, clip_transcript.segments, min_speakers=4, max_speakers=6)
    assert info["clusters"] == 4 and info["count"] == "threshold"


@pytest.mark.slow
def test_one_voice_is_one_speaker(
    diarizer: Any, samples: Any, clip_transcript: Transcript, four_voices: tuple[Path, list[Turn]]
) -> None:
    reader = [t for t in four_voices[1] if t.speaker == "A"]
    only = [
        s for s in clip_transcript.segments if any(t.start <= (s.start + s.end) / 2 < t.end for t in reader)
    ]
    segments, info = diarizer.diarize(samples, only)
    assert info["speakers"] == 1, info
    assert {s.speaker for s in segments} == {"Speaker 1"}


@pytest.mark.slow
def test_a_segment_spanning_turns_is_split_at_the_changes(
    diarizer: Any, samples: Any, clip_transcript: Transcript, four_voices: tuple[Path, list[Turn]]
) -> None:
    """All speech as ONE segment: the words decide where each voice starts."""
    words = tuple(w for s in clip_transcript.segments for w in s.words)
    text = " ".join(s.text.strip() for s in clip_transcript.segments)
    whole = Segment(words[0].start, words[-1].end, text, words)
    segments, info = diarizer.diarize(samples, [whole])
    assert info["split_segments"] == 1
    assert len(segments) >= len(four_voices[1]) - 1  # about one part per turn
    assert " ".join(s.text for s in segments).split() == text.split()  # no word lost or doubled
    assert all(s.words and s.start == s.words[0].start for s in segments[1:])
    accuracy, _ = speaker_accuracy(four_voices[1], segments)
    assert accuracy >= 0.85, accuracy
    # each change of label lies near a true change of voice
    changes = [b.start for a, b in itertools.pairwise(segments) if a.speaker != b.speaker]
    true_changes = [t.start for t in four_voices[1][1:]]
    near = sum(any(abs(c - t) < 1.0 for t in true_changes) for c in changes)
    assert near >= 0.8 * len(changes)


def _w(start: float, text: str, dur: float = 0.3) -> Word:
    return Word(start, start + dur, text)


def test_words_take_the_label_covering_them_and_blips_are_smoothed() -> None:
    words = (_w(0.0, "Hello"), _w(0.4, "there."), _w(0.8, "Hi!"), _w(1.2, "How"), _w(1.6, "are"),
             _w(2.0, "you?"))  # fmt: skip
    seg = Segment(0.0, 2.3, "Hello there. Hi! How are you?", words)
    spans = [Span(0.0, 0.75, 0), Span(0.75, 0.95, 1), Span(0.95, 2.3, 1)]
    out, split = label_segments([seg], spans)
    assert split == 1
    assert [(s.text, s.speaker) for s in out] == [
        ("Hello there.", "Speaker 1"),
        ("Hi! How are you?", "Speaker 2"),
    ]
    assert out[0].start == 0.0 and out[0].end == pytest.approx(0.7) and out[1].start == 0.8
    # a 0.3 s blip of another voice inside one speaker's sentence is not a turn
    blip = [Span(0.0, 1.15, 0), Span(1.15, 1.5, 1), Span(1.5, 2.3, 0)]
    out, split = label_segments([seg], blip)
    assert split == 0 and [s.speaker for s in out] == ["Speaker 1"]


def test_segments_without_words_get_the_label_over_most_of_their_time() -> None:
    segs = [Segment(0.0, 2.0, "one"), Segment(2.5, 4.0, "two")]
    out, split = label_segments(segs, [Span(0.0, 1.8, 1), Span(1.8, 4.0, 0)])
    assert split == 0 and [s.speaker for s in out] == ["Speaker 1", "Speaker 2"]


def test_a_change_of_voice_never_cuts_a_written_word() -> None:
    # Whisper gives "ill-disposed." as two words; the voice seems to change at the second piece.
    words = (_w(0.0, "to"), _w(0.4, "be"), _w(0.8, "ill"), _w(1.1, "-disposed."), _w(1.6, "Our"),
             _w(2.0, "next"), _w(2.4, "train."))  # fmt: skip
    seg = Segment(0.0, 2.7, "to be ill-disposed. Our next train.", words)
    out, split = label_segments([seg], [Span(0.0, 1.05, 0), Span(1.05, 2.7, 1)])
    assert split == 1 and [(s.text, s.speaker) for s in out] == [
        ("to be ill-disposed.", "Speaker 1"),
        ("Our next train.", "Speaker 2"),
    ]
    # text without spaces between words (Chinese) can still be cut between any two words
    han = Segment(0.0, 2.7, "我们走吧你好", tuple(_w(0.45 * k, c) for k, c in enumerate("我们走吧你好")))
    out, split = label_segments([han], [Span(0.0, 1.3, 0), Span(1.3, 2.7, 1)])
    assert split == 1 and [s.text for s in out] == ["我们走", "吧你好"]


def test_clustering_finds_the_count_and_obeys_given_counts() -> None:
    import numpy as np

    from octavia.pipeline.diarization.clustering import cluster
    from octavia.pipeline.diarization.embedder import normalise

    rng = np.random.default_rng(7)
    centres = normalise(rng.standard_normal((3, 64)))
    labels = np.repeat([0, 1, 2, 0, 1, 2], 10)
    vectors = normalise(centres[labels] + 0.08 * rng.standard_normal((labels.size, 64)))
    found = cluster(vectors)
    assert found.count == 3 and found.how == "threshold"
    # the same partition as the truth, up to naming (numbered in order of first appearance)
    assert np.array_equal(found.labels, labels)
    assert cluster(vectors, speakers=2).count == 2
    assert cluster(vectors, max_speakers=2).how == "bounded"
    one = normalise(centres[0] + 0.08 * rng.standard_normal((30, 64)))
    assert cluster(one).count == 1


def test_windows_straddling_turn_changes_are_not_a_speaker_of_their_own() -> None:
    import numpy as np

    from octavia.pipeline.diarization import clustering
    from octavia.pipeline.diarization.embedder import normalise

    rng = np.random.default_rng(11)
    centres = normalise(rng.standard_normal((3, 64)))
    turns = np.repeat([0, 1, 2, 0, 1, 2], 8)
    noise = 0.06 * rng.standard_normal((turns.size, 64))
    vectors = list(normalise(centres[turns] + noise))
    # At each change of voice a window holds the end of one voice and the start of the next: its
    # d-vector is like neither, and such windows are more like one another (as measured on the
    # four-voice clip, where two or three of them formed a cluster of their own).
    mixed = normalise(rng.standard_normal(64))
    for at, (a, b) in zip((8, 17, 35), ((0, 1), (1, 2), (0, 1)), strict=True):
        blend = 0.4 * (centres[a] + centres[b]) + mixed + 0.06 * rng.standard_normal(64)
        vectors.insert(at, normalise(blend))
    found = clustering.cluster(np.stack(vectors))
    assert found.count == 3 and found.how == "threshold"
    assert np.bincount(found.labels).min() >= 16  # each mixed window joined a real voice
    # the same windows counted as voices without the rule: what the rule is there for
    merges = clustering.merge_tree(np.stack(vectors))
    assert len(vectors) - sum(1 for *_, d in merges if d <= clustering.THRESHOLD) > 3
    # a count given is honoured as it is
    assert clustering.cluster(np.stack(vectors), speakers=4).count == 4


def test_log_mel_matches_a_direct_computation() -> None:
    """Frame by frame with an explicit DFT sum and triangles built from their definition."""
    import numpy as np

    from octavia.pipeline.diarization import mel

    rng = np.random.default_rng(3)
    t = np.arange(4000) / 16000
    x = (0.3 * np.sin(2 * np.pi * 440 * t) + 0.05 * rng.standard_normal(t.size)).astype(np.float32)
    got = mel.log_mel(x)
    assert got.shape == (1 + (4000 - 512) // 160, 40) and got.dtype == np.float32

    n = np.arange(400)
    hamming = 0.54 - 0.46 * np.cos(2 * np.pi * n / 400)  # periodic
    k = np.arange(257)[:, None]
    dft = np.exp(-2j * np.pi * k * (np.arange(400) + 56) / 512)  # the window sits centred in 512
    edges_mel = np.linspace(0, mel.hz_to_mel(8000.0), 42)
    edges = np.array([mel.mel_to_hz(m) for m in edges_mel])
    freqs = np.arange(257) * 16000 / 512
    filters = np.zeros((40, 257))
    for b in range(40):
        lo, mid, hi = edges[b], edges[b + 1], edges[b + 2]
        for f, hz in enumerate(freqs):
            if lo < hz <= mid:
                filters[b, f] = (hz - lo) / (mid - lo)
            elif mid < hz < hi:
                filters[b, f] = (hi - hz) / (hi - mid)
        filters[b] *= 2 / (hi - lo)
    for frame in (0, 7, got.shape[0] - 1):
        at = frame * 160 + 56  # each 512-sample frame starts every 160 samples; its window 56 in
        chunk = x[at : at + 400].astype(np.float64) * hamming
        power = np.abs(dft @ chunk) ** 2
        direct = np.log10(filters @ power + 1e-10)
        assert np.allclose(got[frame], direct, atol=1e-3)
    # the 440 Hz tone is loudest in the band whose centre is nearest 440 Hz
    assert int(np.argmax(got.mean(axis=0))) == int(np.argmin(np.abs(edges[1:-1] - 440)))
    # Slaney scale: linear (200/3 Hz per mel) below 1 kHz, 1 kHz = 15 mel
    assert mel.hz_to_mel(1000.0) == pytest.approx(15.0) and mel.mel_to_hz(
        mel.hz_to_mel(3210.0)
    ) == pytest.approx(3210.0)


def test_filterbank_and_log_mel_match_librosa() -> None:
    """The model was trained on librosa's features: same filters, same log-mel."""
    import librosa
    import numpy as np

    from octavia.pipeline.diarization import mel

    assert np.allclose(mel.mel_filterbank(), librosa.filters.mel(sr=16000, n_fft=512, n_mels=40), atol=1e-8)
    x = np.random.default_rng(1).standard_normal(8000).astype(np.float32) * 0.1
    ref = librosa.feature.melspectrogram(y=x, sr=16000, n_fft=512, win_length=400, hop_length=160, n_mels=40,
                                         window="hamming", center=False, power=2.0)  # fmt: skip
    assert np.allclose(mel.log_mel(x), np.log10(ref + 1e-10).T, atol=1e-4)
