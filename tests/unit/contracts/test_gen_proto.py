from __future__ import annotations

import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cortex_contracts import ChangeRecorded

REPO = Path(__file__).resolve().parents[3]
SCRIPT = REPO / "scripts" / "gen_proto.py"
PROTO = REPO / "proto"
GENERATED = REPO / "libs" / "cortex_contracts" / "_pb"
DELIVERY_PB2 = Path("cortex/delivery/v1/delivery_pb2.py")


def gen_proto(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def files(root: Path) -> dict[Path, bytes]:
    return {
        p.relative_to(root): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


@pytest.fixture
def generated_copy(tmp_path: Path) -> Path:
    out = tmp_path / "_pb"
    shutil.copytree(GENERATED, out, ignore=shutil.ignore_patterns("__pycache__"))
    return out


def test_committed_generated_code_is_fresh() -> None:
    result = gen_proto("--check")

    assert result.returncode == 0, result.stderr


def test_check_reports_a_stale_file(generated_copy: Path) -> None:
    with (generated_copy / DELIVERY_PB2).open("a") as stale:
        stale.write("# edited by hand\n")

    result = gen_proto("--check", "--out", generated_copy)

    assert result.returncode == 1
    assert f"stale: {DELIVERY_PB2}" in result.stderr


def test_check_reports_missing_and_unexpected_files(generated_copy: Path) -> None:
    (generated_copy / DELIVERY_PB2).unlink()
    (generated_copy / "cortex" / "old_pb2.py").write_text("")

    result = gen_proto("--check", "--out", generated_copy)

    assert result.returncode == 1
    assert f"missing: {DELIVERY_PB2}" in result.stderr
    assert "unexpected: cortex/old_pb2.py" in result.stderr


def test_check_detects_a_proto_change(tmp_path: Path) -> None:
    proto = tmp_path / "proto"
    shutil.copytree(PROTO, proto)
    source = proto / "cortex" / "delivery" / "v1" / "delivery.proto"
    source.write_text(
        source.read_text() + "\nmessage ChangeReverted {\n  string commit_sha = 1;\n}\n"
    )

    result = gen_proto("--check", "--proto", proto)

    assert result.returncode == 1
    assert f"stale: {DELIVERY_PB2}" in result.stderr


def test_generation_is_deterministic(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"

    assert gen_proto("--out", first).returncode == 0
    assert gen_proto("--out", second).returncode == 0

    assert files(first) == files(second)
    assert files(first) == files(GENERATED)


def test_generation_repairs_the_output_dir(generated_copy: Path) -> None:
    (generated_copy / DELIVERY_PB2).write_text("broken")
    (generated_copy / "cortex" / "gone" / "v1").mkdir(parents=True)
    (generated_copy / "cortex" / "gone" / "v1" / "gone_pb2.py").write_text("")

    assert gen_proto("--out", generated_copy).returncode == 0

    assert files(generated_copy) == files(GENERATED)
    assert not (generated_copy / "cortex" / "gone").exists()


def test_generation_refuses_to_overwrite_a_hand_written_dir(tmp_path: Path) -> None:
    precious = tmp_path / "envelope.py"
    precious.write_text("hand-written")

    result = gen_proto("--out", tmp_path)

    assert result.returncode != 0
    assert "refusing to overwrite" in result.stderr
    assert precious.read_text() == "hand-written"


def test_generated_code_needs_no_top_level_cortex_package() -> None:
    imports = [
        line
        for path in GENERATED.rglob("*_pb2.py*")
        for line in path.read_text().splitlines()
        if line.startswith(("from cortex.", "from cortex ", "import cortex"))
    ]

    assert imports == []


def test_generated_messages_pickle_under_their_importable_module() -> None:
    change = ChangeRecorded(commit_sha="abc")

    assert pickle.loads(pickle.dumps(change)) == change  # noqa: S301 - our own bytes
