"""What a newcomer installs: the wheel's metadata, the README's install lines, and the lock.

The wheel is really built (hatchling, the project's build backend, without network); its
metadata is what pip and PyPI would see.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
import zipfile
from email.message import Message
from email.parser import Parser
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
DIST = "octavia-media"  # `octavia` on PyPI is OpenStack's load balancer
# The lock's one target (scripts/lock): CPython 3.11 on linux x86_64.
TARGET = {"python_version": "3.11", "python_full_version": "3.11.7", "sys_platform": "linux",
          "platform_system": "Linux", "platform_machine": "x86_64", "os_name": "posix",
          "implementation_name": "cpython", "platform_python_implementation": "CPython"}  # fmt: skip


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out), str(ROOT)],
        check=True, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    (path,) = out.glob("*.whl")
    return zipfile.ZipFile(path)


def _dist_info(wheel: zipfile.ZipFile, name: str) -> str:
    (member,) = [n for n in wheel.namelist() if re.fullmatch(rf"[^/]+\.dist-info/{name}", n)]
    return wheel.read(member).decode()


def _metadata(wheel: zipfile.ZipFile) -> Message:
    return Parser().parsestr(_dist_info(wheel, "METADATA"))


def _readme_installs() -> list[str]:
    """Every `pip install …` target in the README's code blocks."""
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```sh\n(.*?)```", text, flags=re.S)
    lines = [line.split("#")[0].strip() for block in blocks for line in block.splitlines()]
    return [t.strip("'\"") for line in lines if line.startswith("pip install ") for t in line.split()[2:]]


def test_the_wheel_is_octavia_media_with_the_octavia_command_and_package(wheel: zipfile.ZipFile) -> None:
    meta = _metadata(wheel)
    assert meta["Name"] == DIST
    entry_points = _dist_info(wheel, "entry_points.txt")
    assert re.search(r"^\[console_scripts\]\s*\noctavia = octavia\.cli\.app:main$", entry_points, re.M)
    names = set(wheel.namelist())
    assert {"octavia/__init__.py", "octavia/py.typed", "octavia/cli/app.py"} <= names
    assert not [n for n in names if n.startswith("tests/")]
    from octavia import __version__

    assert meta["Version"] == __version__


def test_every_readme_install_line_names_this_project_and_extras_it_has(wheel: zipfile.ZipFile) -> None:
    extras = set(_metadata(wheel).get_all("Provides-Extra") or [])
    targets = _readme_installs()
    assert "." in targets and "octavia" not in targets  # plain `pip install octavia` is OpenStack's
    named = [t for t in targets if t.startswith((".", DIST))]
    assert named == [t for t in targets if not t.startswith("nvidia-")]  # no other project's name
    wanted = {e for t in named if (m := re.search(r"\[(.*)\]", t)) for e in m.group(1).split(",")}
    assert {"offline", "coqui", "convert", "server", "s3", "all"} <= wanted <= extras
    assert any(t.startswith(f"{DIST}[") for t in named)  # the published name is shown too


def test_error_hints_name_the_distribution_not_openstacks() -> None:
    sources = [p.read_text() for p in (ROOT / "octavia").rglob("*.py")]
    hints = [m for s in sources for m in re.findall(r"pip install '([^']+)'", s)]
    assert hints and all(h.startswith(f"{DIST}[") for h in hints), hints


def _lock() -> dict[str, Version]:
    pins = re.findall(r"^([A-Za-z0-9._-]+)==([^\s;\\]+)", (ROOT / "requirements.lock").read_text(), re.M)
    return {canonicalize_name(n): Version(v) for n, v in pins}


def _declared(extras: set[str]) -> list[Requirement]:
    """pyproject's core dependencies plus the given extras, self-references expanded."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    optional: dict[str, list[str]] = project["optional-dependencies"]
    reqs, todo, seen = [Requirement(r) for r in project["dependencies"]], list(extras), set()
    while todo:
        extra = todo.pop()
        if extra in seen:
            continue
        seen.add(extra)
        for r in map(Requirement, optional[extra]):
            if canonicalize_name(r.name) == DIST:
                todo.extend(r.extras)
            else:
                reqs.append(r)
    return reqs


def test_the_lock_pins_every_declared_dependency_within_its_range() -> None:
    """Fails when pyproject.toml gained or changed a dependency and `scripts/lock` was not run."""
    lock = _lock()
    for req in _declared({"all", "dev"}):
        if req.marker is not None and not req.marker.evaluate(TARGET):
            continue
        name = canonicalize_name(req.name)
        assert name in lock, f"{req} is not in requirements.lock: run scripts/lock"
        assert req.specifier.contains(lock[name], prereleases=True), (
            f"{req} vs {lock[name]}: run scripts/lock"
        )
    assert lock[canonicalize_name("torch")] == Version("2.9.1")  # the coqui extra's stack
    assert Marker("python_version == '3.11'").evaluate(TARGET)


def test_the_lock_has_hashes_and_names_its_refresh_command() -> None:
    text = (ROOT / "requirements.lock").read_text()
    assert "scripts/lock" in text.splitlines()[1]
    entries = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 2)[2])
    assert entries and all("--hash=sha256:" in e for e in entries if "==" in e)
