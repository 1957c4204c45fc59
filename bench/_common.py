"""What every benchmark does at the end: write its Markdown table under bench/results/ and print it (and, for the
dev harnesses of the suspect-set studies, run their seeds two at a time into one CSV)."""

from pathlib import Path


def write_result(md: str, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(md)
    print(md)


def run_seeds_to_csv(run_seed, tasks, out: str):
    """``run_seed(task)`` for each task in two processes (each returns a list of row dicts), the rows as one frame
    written to ``out`` as CSV; returns the frame."""
    from concurrent.futures import ProcessPoolExecutor

    import pandas as pd

    with ProcessPoolExecutor(2) as pool:
        rows = [r for rs in pool.map(run_seed, tasks) for r in rs]
    df = pd.DataFrame(rows)
    df.to_csv(out, index=False)
    return df
