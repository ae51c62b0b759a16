"""The LLM translator against a local server speaking the chat-completions API: the request it
sends, and every error path (retries, malformed and merged answers, fallback, auth, no server)."""

from __future__ import annotations

import json
import shutil
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from octavia.config import Settings
from octavia.errors import EngineError, InputError
from octavia.pipeline.apertium import ApertiumTranslator
from octavia.pipeline.engines import Translator
from octavia.pipeline.llm import ChatClient, LengthAwareTranslator, LLMTranslator, collect_fallbacks
from octavia.pipeline.translation import make_translator, translate_texts
from tests.llm_stub import Reply, Stub, sentences, serve

needs_apertium = pytest.mark.skipif(
    shutil.which("apertium") is None, reason="needs apt package apertium-eng-spa"
)
TEXTS = ["The cat is sleeping.", "My brother works in a hospital.", "Where is the station?"]


@pytest.fixture
def stub() -> Iterator[Stub]:
    yield from serve()


@pytest.fixture(scope="module")
def apertium() -> tuple[ApertiumTranslator, list[str]]:
    """The real fallback, and what it makes of TEXTS (one run: Apertium takes a second a call)."""
    engine = ApertiumTranslator()
    return engine, engine.translate(TEXTS, source="en", target="es")


def llm(
    stub: Stub, *, fallback: Translator | None = None, key: str | None = None, **kwargs: Any
) -> LLMTranslator:
    client = ChatClient(stub.url, "stub-model", token=key, retries=1, sleep=lambda s: None, timeout=10)
    return LLMTranslator(client, fallback=(lambda: fallback) if fallback else None, **kwargs)


def test_window_request_and_one_to_one_answer(stub: Stub) -> None:
    texts = [f"Sentence number {i}." for i in range(11)]
    tr = llm(stub, window=4)
    out = tr.translate_within(texts, source="en", target="es", max_chars=[30] * 11)
    assert out == [f"[es] {t}" for t in texts]
    assert len(stub.requests) == 3  # windows of 4, 4, 3
    body = stub.requests[1]["body"]
    assert body["model"] == "stub-model" and body["temperature"] == 0.0
    fmt = body["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["strict"] is True
    schema = fmt["json_schema"]["schema"]
    assert schema["required"] == ["1", "2", "3", "4"] and schema["additionalProperties"] is False
    assert "at most 30 characters" in schema["properties"]["1"]["description"]
    assert sentences(body) == {"1": texts[4], "2": texts[5], "3": texts[6], "4": texts[7]}
    user = body["messages"][-1]["content"]
    assert "[at most 30 characters]" in user
    assert "Context before" in user and texts[2] in user and texts[3] in user  # two neighbours each side
    assert "Context after" in user and texts[8] in user and texts[9] in user and texts[10] not in user
    assert "English to Spanish" in body["messages"][0]["content"]


def test_engine_id_names_host_and_model_never_the_key(stub: Stub) -> None:
    stub.key = "sk-secret"
    tr = llm(stub, key="sk-secret")
    engine_id = tr.engine_id("en", "es")
    host = stub.url.split("//")[1].split("/")[0]
    assert host in engine_id and "stub-model" in engine_id and "sk-secret" not in engine_id
    assert tr.translate(["Hello."], source="en", target="es") == ["[es] Hello."]
    assert stub.requests[0]["auth"] == "Bearer sk-secret"


def test_empty_lines_and_same_language_pass_through(stub: Stub) -> None:
    tr = llm(stub)
    assert tr.translate(["", "Hi there.", "  "], source="en", target="es") == ["", "[es] Hi there.", ""]
    assert sentences(stub.requests[0]["body"]) == {"1": "Hi there."}
    assert tr.translate(["Hola."], source="es", target="es") == ["Hola."]
    assert len(stub.requests) == 1


def test_rate_limit_then_success(stub: Stub) -> None:
    slept: list[float] = []
    stub.script = [Reply(429, body={"error": {"message": "Rate limit"}}, headers={"Retry-After": "2"})]
    client = ChatClient(stub.url, "stub-model", retries=2, sleep=slept.append)
    out = LLMTranslator(client).translate(TEXTS, source="en", target="es")
    assert out == [f"[es] {t}" for t in TEXTS]
    assert slept == [2.0] and len(stub.requests) == 2


def test_malformed_json_is_retried_with_the_reason(stub: Stub) -> None:
    stub.script = [
        Reply(content='{"1": "[es] The cat is sleeping.", "2": '),
        Reply(content="Sure! Here you go."),
    ]
    out = llm(stub).translate(TEXTS, source="en", target="es")
    assert out == [f"[es] {t}" for t in TEXTS]
    assert len(stub.requests) == 3
    retry = stub.requests[1]["body"]
    assert "previous answer was rejected: the answer is not valid JSON" in retry["messages"][-1]["content"]
    assert retry["temperature"] > 0  # the same prompt at temperature 0 would give the same answer


def test_equal_short_answers_to_different_sentences_pass(stub: Stub) -> None:
    stub.script = [Reply(content='{"1": "Gracias.", "2": "Gracias.", "3": "Adiós."}')]
    out = llm(stub).translate(["Thanks.", "Thank you.", "Bye."], source="en", target="es")
    assert out == ["Gracias.", "Gracias.", "Adiós."] and len(stub.requests) == 1


def test_fenced_and_wrapped_answers_are_accepted(stub: Stub) -> None:
    stub.script = [Reply(content='```json\n{"1": "uno", "2": "dos", "3": "tres"}\n```')]
    assert llm(stub).translate(TEXTS, source="en", target="es") == ["uno", "dos", "tres"]
    stub.script = [
        Reply(
            content='{"translations": [{"id": 1, "text": "a"}, {"id": 2, "text": "b"}, {"id": 3, "text": "c"}]}'
        )
    ]
    assert llm(stub).translate(TEXTS, source="en", target="es") == ["a", "b", "c"]


@needs_apertium
@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (
            '{"1": "El gato duerme.", "2": "Mi hermano trabaja en un hospital."}',
            "2 translations for 3 sentences; missing 3",
        ),
        ('{"1": "a", "2": "b", "3": "c", "4": "d"}', "unexpected keys 4"),
        (
            '{"1": "El gato duerme. Mi hermano trabaja en un hospital.", "2": "", "3": "¿Dónde está la estación?"}',
            "translation 2 is empty",
        ),
        (
            '{"1": "El gato duerme.", "2": "¿Dónde está la estación?", "3": "¿Dónde está la estación?"}',
            "the same text",
        ),
        ('{"1": ["El gato"], "2": "b", "3": "c"}', "not a string"),
        (
            json.dumps({str(i + 1): t.rstrip(".?").upper() for i, t in enumerate(TEXTS)}),
            "repeats the sentences",
        ),
        (json.dumps({"1": "El gato duerme. " * 9, "2": "b", "3": "c"}), "translation 1 is 143 characters"),
        ('["uno", "dos"]', "2 translations for 3 sentences"),
    ],
)
def test_bad_answers_are_retried_then_the_window_falls_back(
    stub: Stub, apertium: tuple[ApertiumTranslator, list[str]], answer: str, reason: str
) -> None:
    stub.answer = lambda body: answer
    engine, expected = apertium
    tr = llm(stub, fallback=engine, attempts=3)
    with collect_fallbacks() as notes:
        out = tr.translate(TEXTS, source="en", target="es")
    assert len(stub.requests) == 3  # bounded retries
    assert out == expected  # the whole window, 1:1
    assert len(notes) == 1 and reason in notes[0] and "apertium:eng-spa" in notes[0]
    assert "sentences 1–3" in notes[0]


@needs_apertium
def test_only_the_failing_window_falls_back(stub: Stub) -> None:
    texts = ["The cat is sleeping.", "The dog is eating.", "The house is big.", "The train is late."]

    def answer(body: dict[str, Any]) -> str:
        got = sentences(body)
        if "The house is big." in got.values():
            return json.dumps({"1": "x"})  # the second window always gets a short answer
        return json.dumps({k: f"[es] {v}" for k, v in got.items()})

    stub.answer = answer
    tr = llm(stub, fallback=ApertiumTranslator(), window=2, attempts=2)
    with collect_fallbacks() as notes:
        out = tr.translate(texts, source="en", target="es")
    assert out[:2] == ["[es] The cat is sleeping.", "[es] The dog is eating."]
    assert "casa" in out[2].lower() and "tren" in out[3].lower()
    assert len(notes) == 1 and "sentences 3–4" in notes[0]


@needs_apertium
def test_server_errors_after_retries_fall_back(stub: Stub) -> None:
    stub.answer = lambda body: "unused"
    stub.script = [Reply(503, body={"error": "overloaded"}) for _ in range(4)]
    tr = llm(stub, fallback=ApertiumTranslator(), attempts=2)  # client: 2 tries per attempt
    with collect_fallbacks() as notes:
        out = tr.translate(["The cat is sleeping."], source="en", target="es")
    assert len(stub.requests) == 4
    assert "gato" in out[0] and "HTTP 503" in notes[0]


def test_no_fallback_is_a_clear_error(stub: Stub) -> None:
    stub.answer = lambda body: "{}"
    with pytest.raises(EngineError) as err:
        llm(stub, attempts=2).translate(TEXTS, source="en", target="es")
    assert "rejected 2 times" in err.value.message and "0 translations for 3 sentences" in err.value.message
    assert "OCTAVIA_LLM_MODEL" in (err.value.hint or "")


def test_auth_error_is_clear_and_not_retried(stub: Stub) -> None:
    stub.key = "sk-right"
    with pytest.raises(EngineError) as err:
        llm(stub, key="sk-wrong").translate(TEXTS, source="en", target="es")
    assert "HTTP 401" in err.value.message and "rejected" in err.value.message
    assert "OCTAVIA_LLM_API_KEY" in (err.value.hint or "")
    assert len(stub.requests) == 1


def test_connection_refused_is_a_clear_error() -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = ChatClient(f"http://127.0.0.1:{port}/v1", "m", retries=1, sleep=lambda s: None)
    with pytest.raises(EngineError) as err:
        LLMTranslator(client, fallback=ApertiumTranslator).translate(TEXTS, source="en", target="es")
    assert "Could not connect" in err.value.message and f"127.0.0.1:{port}" in err.value.message
    assert "OCTAVIA_LLM_BASE_URL" in (err.value.hint or "")


def test_wrong_model_is_a_clear_error(stub: Stub) -> None:
    stub.script = [Reply(404, body={"error": {"message": "model 'nope' not found"}})]
    with pytest.raises(EngineError) as err:
        llm(stub).translate(TEXTS, source="en", target="es")
    assert "404" in err.value.message and "stub-model" in err.value.message
    assert "OCTAVIA_LLM_MODEL" in (err.value.hint or "")


def test_json_mode_when_the_server_lacks_schemas(stub: Stub) -> None:
    stub.reject_schema = True
    tr = llm(stub)
    assert tr.translate(TEXTS, source="en", target="es") == [f"[es] {t}" for t in TEXTS]
    assert [r["body"]["response_format"]["type"] for r in stub.requests] == ["json_schema", "json_object"]
    tr.translate(["Hello."], source="en", target="es")  # the mode found is kept
    assert stub.requests[-1]["body"]["response_format"]["type"] == "json_object"
    assert tr.client.mode == "json_object"


def test_prompt_only_when_json_mode_is_rejected_too(stub: Stub) -> None:
    stub.script = [Reply(400, body={"error": "Unknown response_format type"}) for _ in range(2)]
    out = llm(stub).translate(TEXTS[:1], source="en", target="es")
    assert out == [f"[es] {TEXTS[0]}"]
    assert "response_format" not in stub.requests[-1]["body"]


def test_other_bad_requests_are_not_downgrades(stub: Stub) -> None:
    stub.script = [Reply(400, body={"error": {"message": "context length exceeded"}})]
    with pytest.raises(EngineError, match="context length exceeded"):
        llm(stub).translate(TEXTS, source="en", target="es")
    assert len(stub.requests) == 1


def test_over_budget_is_asked_to_shorten_and_the_shorter_wins(stub: Stub) -> None:
    long = "Mi querido hermano trabaja todos los días en un hospital."
    stub.script = [
        Reply(content=json.dumps({"1": "El gato duerme.", "2": long})),
        Reply(content=json.dumps({"1": "Mi hermano trabaja en un hospital."})),
    ]
    tr = llm(stub)
    assert isinstance(tr, LengthAwareTranslator)
    out = tr.translate_within(TEXTS[:2], source="en", target="es", max_chars=[40, 36])
    assert out == ["El gato duerme.", "Mi hermano trabaja en un hospital."]
    second = stub.requests[1]["body"]
    assert sentences(second) == {"1": TEXTS[1]}
    assert f"was {len(long)} characters, over its limit of 36" in second["messages"][-1]["content"]
    with pytest.raises(InputError):
        tr.translate_within(TEXTS, source="en", target="es", max_chars=[None])


def test_keep_terms_and_glossary_go_into_the_prompt_as_words(stub: Stub) -> None:
    stub.answer = lambda body: json.dumps({k: v.replace("Widget", "Artilugio").replace("I use", "Uso")
                                           for k, v in sentences(body).items()})  # fmt: skip
    out = translate_texts(["I use Octavia and the Widget daily."], llm(stub), source="en", target="es",
                          keep_terms=["Octavia"], glossary={"Widget": "Artilugio"})  # fmt: skip
    assert out == ["Uso Octavia and the Artilugio daily."]
    system = stub.requests[0]["body"]["messages"][0]["content"]
    assert "Keep these terms exactly as written, untranslated: Octavia." in system
    assert "- Widget → Artilugio" in system
    assert sentences(stub.requests[0]["body"]) == {
        "1": "I use Octavia and the Widget daily."
    }  # no placeholders


def test_a_lost_glossary_term_is_rejected(stub: Stub) -> None:
    stub.script = [Reply(content='{"1": "Uso el aparato."}'), Reply(content='{"1": "Uso el Artilugio."}')]
    tr = llm(stub).with_terms((), {"Widget": "Artilugio"})
    assert tr.translate(["I use the Widget."], source="en", target="es") == ["Uso el Artilugio."]
    assert "lacks 'Artilugio' (for 'Widget')" in stub.requests[1]["body"]["messages"][-1]["content"]


@needs_apertium
def test_glossary_with_a_translator_that_does_not_read_it() -> None:
    out = translate_texts(["I bought an Apple computer.", "The apple is red."], ApertiumTranslator(),
                          source="en", target="es", glossary={"Apple": "Apple Inc."})  # fmt: skip
    assert "Apple Inc." in out[0] and "anzana" not in out[0] and "manzana" in out[1].lower()


def test_make_translator_needs_the_settings(stub: Stub, tmp_path: Any) -> None:
    from octavia.pipeline.models import ModelResolver

    bare = Settings(cache_dir=tmp_path, offline=True)
    with pytest.raises(InputError) as err:
        make_translator("llm", bare, ModelResolver.from_settings(bare))
    assert "OCTAVIA_LLM_BASE_URL" in (err.value.hint or "")
    settings = Settings(cache_dir=tmp_path, offline=True, llm_base_url=stub.url, llm_model="stub-model",
                        llm_api_key="sk-1")  # type: ignore[arg-type]  # fmt: skip
    tr = make_translator("llm", settings, ModelResolver.from_settings(settings))
    assert isinstance(tr, LLMTranslator) and tr.engine_id("en", "es").startswith("llm:127.0.0.1:")
    assert tr.translate(["Hi."], source="en", target="es") == ["[es] Hi."]
    assert stub.requests[0]["auth"] == "Bearer sk-1"
