"""Signaal command line: a thin Typer door onto the Python API (signals.pipeline)."""

from __future__ import annotations

import json
import logging
import sys
import warnings
from contextlib import contextmanager
from enum import Enum
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

# pretty_exceptions_show_locals=False: a crash must never print local variables (chat text)
app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_show_locals=False,
                  help="Signaal: risico-signalen in chatteksten van een hulplijn (suggesties; de hulpverlener beslist).")
out = Console()
err = Console(stderr=True)
PRIORITY_STYLE = {"urgent": "bold white on red", "high": "bold black on yellow", "normal": "green"}
RAISED_BY = {"rules": "regels", "model": "model", "both": "regels + model"}


class Format(str, Enum):
    table = "table"
    json = "json"
    jsonl = "jsonl"


def _analyzer(model: str | None, policy: Path | None):
    """Build the analyzer; the fallback warning is shown once, on stderr."""
    from signaal.signals.language import FallbackWarning
    from signaal.signals.pipeline import Analyzer
    from signaal.signals.policy import Policy, PolicyError

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", FallbackWarning)
        try:
            pol = Policy.load(policy)
        except PolicyError as exc:
            err.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(2) from exc
        analyzer = Analyzer(policy=pol, model=_load_model(model))
    for w in caught:
        if issubclass(w.category, FallbackWarning):
            err.print(f"[yellow]warning:[/yellow] {w.message}")
    return analyzer


def _load_model(model: str | None):
    """None: the shipped default model (rules only when none is installed); "rules"/"none":
    rules only; else a model name or folder. A refused artifact is a clear error, never a
    traceback and never a silent fallback."""
    from signaal.models.registry import load_default_model, load_model

    if model in ("none", "rules"):
        return None
    try:
        return load_default_model() if model is None else load_model(model)
    except Exception as exc:  # refused artifact, unknown name: a clear message, no trace
        name = model or "default"
        err.print(f"[red]error:[/red] cannot load model {name}: {exc}\n"
                  "Use --model rules to run the rule layer alone.")
        raise typer.Exit(2) from exc


def _print_result(result: dict) -> None:
    prio = result["priority"]
    out.print(f"Prioriteit: [{PRIORITY_STYLE[prio]}] {prio.upper()} [/] — {result['reason']}")
    if not result["flags"]:
        out.print("Geen signalen gevonden.")
        return
    table = Table(show_lines=False)
    table.add_column("Signaal")
    table.add_column("Score", justify="right")
    table.add_column("Door")
    table.add_column("Woorden (geredigeerd)")
    table.add_column("Regel", overflow="fold")
    for flag in result["flags"]:
        evidence = flag["evidence"]
        words = " | ".join(e["text"] for e in evidence[:3]) or "—"
        rules = ", ".join(sorted({e["source"] for e in evidence[:3]})) or "—"
        table.add_row(flag["name"], f"{flag['score']:.2f}", RAISED_BY[flag["raised_by"]], Text(words), Text(rules))
    out.print(table)
    out.print("[dim]Signaal doet een suggestie; de hulpverlener beslist.[/dim]")


@app.command()
def analyze(
    text: str | None = typer.Argument(None, help="Eén bericht om te analyseren; '-' leest het van stdin (komt niet in de shell-geschiedenis)."),
    input: Path | None = typer.Option(None, "--input", "-i", help="JSONL met berichten/gesprekken."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Schrijf resultaten (JSONL) hierheen."),
    format: Format = typer.Option(None, "--format", "-f", help="table, json of jsonl."),
    model: str | None = typer.Option(None, "--model", help="Modelnaam of map; 'rules' voor alleen regels."),
    policy: Path | None = typer.Option(None, "--policy", help="Triagebeleid (TOML)."),
) -> None:
    """Analyse a message (argument) or a JSONL file of messages/conversations."""
    if (text is None) == (input is None):
        err.print("[red]error:[/red] give either a TEXT argument or --input FILE")
        raise typer.Exit(2)
    analyzer = _analyzer(model, policy)
    if text is not None:
        if text == "-":
            text = sys.stdin.read()
        result = analyzer.analyze(text).to_dict()
        fmt = format or Format.table
        if fmt is Format.table:
            _print_result(result)
        else:
            out.print_json(json.dumps(result, ensure_ascii=False)) if fmt is Format.json else print(
                json.dumps(result, ensure_ascii=False))
        return
    raise typer.Exit(_analyze_file(analyzer, input, output, format or Format.jsonl))


@contextmanager
def _sink(output: Path | None, input_path: Path):
    """Standard output, or the output file written atomically (never over the input)."""
    from signaal.signals.io import output_file

    if output is None:
        yield sys.stdout
        return
    with output_file(output, input_path) as handle:
        yield handle


def _analyze_file(analyzer, path: Path, output: Path | None, fmt: Format) -> int:
    from rich.progress import Progress

    from signaal.signals.io import LineError, read_jsonl

    if not path.is_file():
        err.print(f"[red]error:[/red] no such file: {escape(str(path))}")
        return 2
    errors = 0
    results = []
    total = sum(1 for _ in path.open("rb"))
    try:
        with _sink(output, path) as sink, Progress(console=err, transient=True,
                                                   disable=not err.is_terminal) as progress:
            task = progress.add_task("analyseren", total=total)
            for number, record in read_jsonl(path):
                if isinstance(record, LineError):
                    errors += 1
                    err.print(f"[red]error:[/red] {escape(str(record))}")
                    result = {"id": None, "line": number, "error": record.problem,
                              "labels": [], "priority": None, "flags": []}
                else:
                    result = analyzer.analyze_record(record).to_dict()
                if fmt is Format.table and not output:
                    results.append(result)
                else:
                    sink.write(json.dumps(result, ensure_ascii=False) + "\n")
                progress.advance(task)
    except ValueError as exc:  # output is the input, or its folder is missing
        err.print(f"[red]error:[/red] {escape(str(exc))}")
        return 2
    for result in results:
        out.rule(str(result.get("id")))
        _print_result(result) if result.get("priority") else out.print(f"fout: {result['error']}")
    if errors:
        err.print(f"{errors} regel(s) konden niet worden gelezen; zie de error-objecten in de uitvoer.")
    return 1 if errors else 0


@app.command()
def evaluate(
    data: list[Path] = typer.Option(..., "--data", "-d", help="Gelabelde JSONL (berichten of gesprekken) of een map met *.jsonl."),
    model: str | None = typer.Option(None, "--model", help="Modelnaam of map; 'rules' voor alleen regels."),
    policy: Path | None = typer.Option(None, "--policy"),
    json_out: Path | None = typer.Option(None, "--json", help="Schrijf alle cijfers als JSON hierheen ('-' = stdout)."),
    plots: Path | None = typer.Option(None, "--plots", help="Schrijf PR-curves (PNG) van het model in deze map."),
) -> None:
    """Precision, recall and F1 per label (bootstrap 95% intervals), micro/macro averages,
    the triage matrix; with --plots the model's precision-recall curves as PNG."""
    from signaal.models.cli import add_intervals, data_files, write_pr_curves
    from signaal.signals.evaluate import evaluate as run_evaluation
    from signaal.signals.io import LineError, read_jsonl
    from signaal.signals.labels import validate_labels

    analyzer = _analyzer(model, policy)
    report = {}
    data = data_files(data)
    for path in data:
        gold, predicted, priorities, records = [], [], [], []
        for number, record in read_jsonl(path):
            if isinstance(record, LineError) or not isinstance(record.get("labels"), list):
                problem = record if isinstance(record, LineError) else f"{path}:{number}: no 'labels' list"
                err.print(f"[red]error:[/red] {escape(str(problem))}")
                raise typer.Exit(2)
            unknown = validate_labels(record["labels"])
            if unknown:
                err.print(f"[red]error:[/red] {escape(f'{path}:{number}')}: {len(unknown)} unknown label(s)")
                raise typer.Exit(2)
            result = analyzer.analyze_record(record)
            gold.append(set(record["labels"]))
            predicted.append(set(result.labels))
            priorities.append(result.priority)
            records.append(record)
        figures = add_intervals(run_evaluation(gold, predicted, analyzer.policy, priorities), gold, predicted)
        if plots and analyzer.model is not None:
            write_pr_curves(analyzer.model, records, gold, plots / path.stem, f"{path.name}: {analyzer.model.name}")
        figures["model"] = getattr(analyzer.model, "name", None) or "rules"
        report[str(path)] = figures
        if json_out != Path("-"):
            _print_evaluation(path, figures)
    if json_out:
        text = json.dumps(report, indent=2, ensure_ascii=False)
        print(text) if json_out == Path("-") else json_out.write_text(text + "\n", encoding="utf-8")


def _print_evaluation(path: Path, figures: dict) -> None:
    from signaal.signals.labels import display_name

    table = Table(title=f"{path.name} (n={figures['n']}, model: {figures['model']})")
    for col in ("label", "naam", "P", "R", "F1", "F1 95%-BI", "n"):
        table.add_column(col, justify="left" if col in ("label", "naam") else "right")
    for label, s in figures["labels"].items():
        ci = s.get("f1_ci")
        table.add_row(label, display_name(label), f"{s['precision']:.2f}", f"{s['recall']:.2f}",
                      f"{s['f1']:.2f}", f"{ci[0]:.2f}-{ci[1]:.2f}" if ci else "—", str(s["support"]))
    out.print(table)
    for avg in ("micro", "macro"):
        s = figures[avg]
        ci = s.get("f1_ci")
        out.print(f"{avg}  P {s['precision']:.3f}  R {s['recall']:.3f}  F1 {s['f1']:.3f}"
                  + (f" (95%-BI {ci[0]:.3f}-{ci[1]:.3f})" if ci else ""))
    matrix = Table(title="Triage (rij = gouden prioriteit, kolom = voorgesteld)")
    matrix.add_column("goud \\ voorgesteld")
    for p in ("urgent", "high", "normal"):
        matrix.add_column(p, justify="right")
    for g, row in figures["triage"]["matrix"].items():
        matrix.add_row(g, *(str(row[p]) for p in ("urgent", "high", "normal")))
    out.print(matrix)
    out.print(f"urgent als normal voorgesteld: {figures['triage']['urgent_as_normal']}")


@app.command()
def redact(
    text: str | None = typer.Argument(None, help="Tekst om te anonimiseren; '-' leest van stdin."),
    input: Path | None = typer.Option(None, "--input", "-i", help="JSONL met berichten/gesprekken."),
    output: Path | None = typer.Option(None, "--output", "-o", help="JSONL met {id, text} geanonimiseerd."),
) -> None:
    """Replace identifiers by placeholders ([NAAM], [TELEFOON], ...); bad lines become error records."""
    from signaal.signals.io import clean_text
    from signaal.signals.redact import redact_records, redact_text

    if (text is None) == (input is None):
        err.print("[red]error:[/red] give a text or --input FILE (not both)")
        raise typer.Exit(2)
    if text is not None:
        print(redact_text(clean_text(sys.stdin.read() if text == "-" else text)))
        return
    if not input.is_file():
        err.print(f"[red]error:[/red] no such file: {escape(str(input))}")
        raise typer.Exit(2)
    try:
        with _sink(output, input) as sink:
            _, errors = redact_records(
                input, lambda obj: sink.write(json.dumps(obj, ensure_ascii=False) + "\n"),
                on_error=lambda e: err.print(f"[red]error:[/red] {escape(str(e))}"))
    except ValueError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(2) from exc
    if errors:
        err.print(f"{errors} regel(s) konden niet worden gelezen; zie de error-objecten in de uitvoer.")
        raise typer.Exit(1)


@app.command()
def labels() -> None:
    """List the indicators with their definitions and rule ids."""
    from signaal.signals.detectors import DETECTORS
    from signaal.signals.labels import all_labels

    rules: dict[str, list[str]] = {}
    for factory in DETECTORS.values():
        for rule_id, _ in factory().rule_ids():
            rules.setdefault(rule_id.split(".")[0], []).append(rule_id)
    table = Table(show_lines=True)
    table.add_column("id")
    table.add_column("naam")
    table.add_column("definitie")
    for label in all_labels():
        table.add_row(label.id, label.name, label.definition)
    out.print(table)


@app.command()
def doctor() -> None:
    """Which language pipeline, model and policy are in use, and why."""
    import signaal
    from signaal.signals.labels import label_set_version

    analyzer = _analyzer(None, None)
    info = analyzer.pipeline_info
    out.print(f"Signaal {signaal.__version__}, spaCy {info.spacy_version}")
    out.print(f"Taalpijplijn: {info.name} ({info.mode}): {info.reason}")
    out.print(f"Componenten: {', '.join(analyzer.nlp.pipe_names)}")
    model = analyzer.model
    out.print(f"Model: {getattr(model, 'name', None) or 'geen (alleen regels)'}"
              + (f" — {getattr(model, 'path', '')}" if model is not None else ""))
    p = analyzer.policy
    out.print(f"Beleid: {p.version} ({p.path}, sha256 {p.sha256[:12]}…)")
    out.print(f"Labelset: {label_set_version()}")
    out.print(f"Redactor: {type(analyzer.redactor).__module__}.{type(analyzer.redactor).__name__}")


from signaal.models.cli import register as _register_trainer_commands  # noqa: E402

_register_trainer_commands(app)  # train, compare, models list, card show/diff (models/cli.py)


# `signaal serve`: the HTTP service (its options and body live in service/cli.py)
from signaal.service.cli import serve as _serve  # noqa: E402

app.command("serve")(_serve)


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    app()


if __name__ == "__main__":
    main()
