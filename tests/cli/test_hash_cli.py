"""``propusk hash secure|fast``: the argument, stdin (the key stays out of shell history),
and the installed console script."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.cli.support import PROPUSK, invoke, run

RIDE = "H6nsiifwYKYEx6YzYD7woP1XCn72RVvx6tC1zjjLXqsu"
SECURE_1 = "FX9aLVV4zJLjHAAuCXnTqdswEgEBSobnp2Tw7mHsDDcs"
FAST_1 = "At4g9WwxbM9kDbhzSpWy7YvshzPV9MX5FbatAt43amZ4"


@pytest.mark.parametrize(
    ("args", "expected"),
    [(("secure", "ridethewaves!"), RIDE), (("secure", "1"), SECURE_1), (("fast", "1"), FAST_1)],
)
def test_hash_of_an_argument(args: tuple[str, str], expected: str) -> None:
    result = invoke("hash", *args)
    assert result.exit_code == 0, result.output
    assert result.output == f"{expected}\n"


@pytest.mark.parametrize("dash", [(), ("-",)])
@pytest.mark.parametrize("stdin", ["ridethewaves!", "ridethewaves!\n", "ridethewaves!\r\n"])
def test_hash_of_stdin_drops_one_trailing_newline(dash: tuple[str, ...], stdin: str) -> None:
    result = invoke("hash", "secure", *dash, input=stdin)
    assert result.exit_code == 0, result.output
    assert result.output == f"{RIDE}\n"


def test_only_one_newline_is_dropped_and_spaces_are_kept() -> None:
    two = invoke("hash", "fast", input="1\n\n").output.strip()
    assert two not in (FAST_1, "")
    assert invoke("hash", "fast", input=" 1\n").output.strip() != FAST_1
    assert invoke("hash", "fast", input="1").output.strip() == FAST_1


def test_console_script_reads_stdin(tmp_path: Path) -> None:
    done = subprocess.run(
        [str(PROPUSK), "hash", "secure"],
        input="1\n",
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"{SECURE_1}\n"
    assert run("hash", "--help", cwd=tmp_path).stdout.count("secure") >= 1
