"""What every benchmark does at the end: write its Markdown table under bench/results/ and print it (and, for the
dev harnesses of the suspect-set studies, run their seeds two at a time into one CSV, and load a variant of
tasks/posterior.py from a file to score beside the checked-out one)."""

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


def load_posterior(tag: str, path: str):
    """A variant of ``tasks/posterior.py`` (a file) as module ``labelguard.tasks.posterior_<tag>``: its ``flip_posterior``
    scores beside the checked-out one on the same runs."""
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location(f"labelguard.tasks.posterior_{tag}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module
