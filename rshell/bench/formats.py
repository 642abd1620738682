"""Other ways to show a bench result: markdown, CSV, JSON, JSON lines and Go's benchstat text.

``benchstat`` follows the lines ollama's own cmd/bench prints (cmd/bench/bench.go OutputMetrics:
``BenchmarkModel/name=M/step=S COUNT NS ns/token RATE token/sec``), one per run, with a
``/test=T`` part added to the name so a sweep's sizes stay apart; ``benchstat a.txt b.txt``
compares two benches. Counts are the tokens the rate is over: evaluated prompt
tokens for ``prefill``, decode steps (``eval_count - 1``) for ``generate``, so the numbers are the
corrected ones this bench reports. Every format is computed from the stored JSON document.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from rshell.events import JSONValue

FORMATS = ("table", "md", "csv", "json", "jsonl", "benchstat")
CSV_COLUMNS = (
    "model",
    "test",
    "run",
    "prompt_tokens",
    "evaluated_prompt_tokens",
    "prompt_tps",
    "generated_tokens",
    "gen_tps",
    "ttft_s",
    "e2e_s",
    "done_reason",
    "setup",
)


def formatted_lines(document: Mapping[str, Any], rows: list[JSONValue], form: str) -> list[str]:
    """The lines of ``document`` in ``form`` (any of FORMATS but ``table``)."""
    if form == "json":
        return [json.dumps(document, indent=2, sort_keys=True)]
    if form == "jsonl":
        return [json.dumps(record, sort_keys=True) for record in _records(document)]
    if form == "csv":
        return [
            ",".join(CSV_COLUMNS),
            *(",".join(_csv_cell(record.get(key)) for key in CSV_COLUMNS) for record in _records(document)),
        ]
    if form == "benchstat":
        return list(_benchstat(document))
    return _markdown(rows)


def _records(document: Mapping[str, Any]) -> Iterator[dict[str, JSONValue]]:
    """One flat record per timed run that counted."""
    for model in document.get("models") or []:
        for test in model.get("tests") or []:
            for index, sample in enumerate(test.get("samples") or [], start=1):
                setup = model.get("setup_label") or ""
                yield {"model": model.get("name"), "setup": setup, "test": test.get("test"), "run": index, **sample}


def _benchstat(document: Mapping[str, Any]) -> Iterator[str]:
    for record in _records(document):
        prefill = str(record.get("test", "")).startswith("pp")
        rate = record.get("prompt_tps" if prefill else "gen_tps")
        count = record.get("evaluated_prompt_tokens" if prefill else "generated_tokens")
        if not isinstance(rate, (int, float)) or not isinstance(count, int) or rate <= 0:
            continue
        steps = count if prefill else count - 1
        # a matrix row's options as more name=value parts, as benchstat reads them
        setup = "".join(f"/{part}" for part in str(record.get("setup") or "").split())
        step = "prefill" if prefill else "generate"
        name = f"BenchmarkModel/name={record['model']}{setup}/test={record['test']}/step={step}"
        yield f"{name} {steps} {1e9 / rate:.2f} ns/token {rate:.2f} token/sec"


def _markdown(rows: list[JSONValue]) -> list[str]:
    """llama-bench's ``-o md`` shape: a pipe table of the summary rows."""
    columns: tuple[tuple[str, str], ...] = (("model", "model"), ("test", "test"), ("runs", "runs"), ("rate", "t/s"))
    columns += (("tokens", "tokens"),)
    if any(isinstance(row, dict) and row.get("setup") not in (None, "-") for row in rows):
        columns = (columns[0], ("setup", "setup"), *columns[1:])
    lines = ["| " + " | ".join(title for _, title in columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    for row in rows:
        if isinstance(row, dict):
            lines.append("| " + " | ".join(str(row.get(key, "")).replace("|", "\\|") for key, _ in columns) + " |")
    return lines


def _csv_cell(value: object) -> str:
    text = "" if value is None else f"{value:.6g}" if isinstance(value, float) else str(value)
    return f'"{text.replace(chr(34), chr(34) * 2)}"' if any(char in text for char in ',"\n') else text


HISTORY_COLUMNS = (
    "run_id",
    "started_at",
    "target",
    "status",
    "ollama_version",
    "seed",
    "num_ctx",
    "model",
    "test",
    "metric",
    "n",
    "mean",
    "stdev",
    "setup",
)


def history_lines(documents: list[Mapping[str, Any]], form: str) -> list[str]:
    """``bench history --format``: one summary row per run, model and test (benchstat: every run)."""
    if form == "benchstat":
        return [line for document in documents for line in _benchstat(document)]
    rows = [row for document in documents for row in _summary_rows(document)]
    if form == "json":
        return [json.dumps(rows, indent=2, sort_keys=True)]
    if form == "jsonl":
        return [json.dumps(row, sort_keys=True) for row in rows]
    if form == "md":
        lines = ["| " + " | ".join(HISTORY_COLUMNS) + " |", "|" + "|".join("---" for _ in HISTORY_COLUMNS) + "|"]
        return lines + [
            "| " + " | ".join(_csv_cell(row.get(key)).replace("|", "\\|") for key in HISTORY_COLUMNS) + " |"
            for row in rows
        ]
    return [",".join(HISTORY_COLUMNS), *(",".join(_csv_cell(row.get(key)) for key in HISTORY_COLUMNS) for row in rows)]


def _summary_rows(document: Mapping[str, Any]) -> Iterator[dict[str, JSONValue]]:
    method = _mapping(document.get("method"))
    run = {
        "run_id": document.get("run_id"),
        "started_at": document.get("started_at"),
        "target": document.get("target"),
        "status": "partial" if document.get("partial") else "complete",
        "ollama_version": document.get("ollama_version"),
        "seed": method.get("seed"),
        "num_ctx": method.get("num_ctx"),
    }
    for model in document.get("models") or []:
        for test in model.get("tests") or []:
            metric = "prompt_tps" if str(test.get("test", "")).startswith("pp") else "gen_tps"
            stats = _mapping(test.get(metric))
            setup = _mapping(model.get("setup"))
            yield {
                **run,
                "num_ctx": setup.get("num_ctx") or run["num_ctx"],
                "setup": model.get("setup_label") or "",
                "model": model.get("name"),
                "test": test.get("test"),
                "metric": metric,
                **{key: stats.get(key) for key in ("n", "mean", "stdev")},
            }


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
