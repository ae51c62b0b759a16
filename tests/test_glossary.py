"""Glossary files (CSV, TSV, JSON) and the glossary job option."""

from __future__ import annotations

from pathlib import Path

import pytest

from octavia.errors import InputError
from octavia.pipeline.glossary import load_glossary
from octavia.pipeline.options import parse_options, parse_server_options


def test_csv_with_header_comments_and_quotes(tmp_path: Path) -> None:
    path = tmp_path / "g.csv"
    path.write_text(
        'source,target\n# brand names\nOctavia,Octavia\n"Smith, Inc.",Smith S.A.\n\n  GPU , GPU \n'
    )
    assert load_glossary(path) == {"Octavia": "Octavia", "Smith, Inc.": "Smith S.A.", "GPU": "GPU"}


def test_tsv_and_json(tmp_path: Path) -> None:
    tsv = tmp_path / "g.tsv"
    tsv.write_text("hard drive\tdisco duro\nmouse\tratón\n", encoding="utf-8")
    assert load_glossary(tsv) == {"hard drive": "disco duro", "mouse": "ratón"}
    js = tmp_path / "g.json"
    js.write_text('\ufeff{"keyboard": "teclado"}', encoding="utf-8")  # a BOM is fine
    assert load_glossary(js) == {"keyboard": "teclado"}


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("g.csv", "a,b\nonly one column\n", "line 2: expected two columns"),
        ("g.tsv", "a,b\n", "separated by a tab"),
        ("g.json", "[1, 2]", "must hold a JSON object"),
        ("g.json", "{bad", "not valid JSON"),
        ("g.json", '{"a": 3}', "maps text to text"),
        ("g.json", '{"a": "  "}', "empty term or rendering"),
    ],
)
def test_malformed_files_name_the_problem(tmp_path: Path, name: str, content: str, message: str) -> None:
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(InputError, match=message):
        load_glossary(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        load_glossary(tmp_path / "nope.csv")


def test_option_is_checked_and_servers_accept_it() -> None:
    assert parse_options("subtitle", {"glossary": {" GPU ": "GPU"}}).glossary == {"GPU": "GPU"}
    with pytest.raises(InputError, match="glossary"):
        parse_options("dub", {"glossary": {"": "x"}})
    assert parse_server_options("subtitle", {"glossary": {"mouse": "ratón"}}) == {
        "glossary": {"mouse": "ratón"}
    }
    assert parse_options("subtitle", {"translator": "llm"}).translator == "llm"
