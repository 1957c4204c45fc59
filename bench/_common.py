"""What every benchmark does at the end: write its Markdown table under bench/results/ and print it."""

from pathlib import Path


def write_result(md: str, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(md)
    print(md)
