"""Trainer commands: `signaal train`, `compare`, `models list`, `card show`, `card diff`,
plus the figures `signaal evaluate` adds for a model (bootstrap intervals, PR curves).

Registered on the main Typer app by ``register(app)`` (cli.py). Console output holds
figures, ids, file names and hashes; never text from the data.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import typer
from rich.console import Console
from rich.markdown import Markdown
from rich.table import Table

out = Console()
err = Console(stderr=True)

models_app = typer.Typer(add_completion=False, no_args_is_help=True, help="Getrainde modellen.")
card_app = typer.Typer(add_completion=False, no_args_is_help=True, help="Model cards.")


def register(app: typer.Typer) -> None:
    app.command("train")(train)
    app.command("compare")(compare)
    app.add_typer(models_app, name="models")
    app.add_typer(card_app, name="card")


def _fail(message: str, code: int = 2) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}")
    return typer.Exit(code)


def data_files(paths: list[Path]) -> list[Path]:
    """The *.jsonl files named by --data/--eval/--tune (a folder: its *.jsonl files), or a
    clear error and exit code 2."""
    from rich.markup import escape

    from signaal.signals.io import jsonl_files

    try:
        return jsonl_files(paths)
    except FileNotFoundError as exc:
        raise _fail(escape(str(exc))) from None


def _key(key_file: Path | None) -> bytes | None:
    from signaal.models.artifacts import ArtifactError, read_key

    try:
        return read_key(key_file)
    except (OSError, ArtifactError) as exc:
        raise _fail(f"cannot read key: {exc}") from exc


def _load(name: str, key: bytes | None = None):
    from signaal.models.artifacts import ArtifactError
    from signaal.models.registry import load_model

    if name in ("rules", "none"):
        return None
    try:
        return load_model(name, key)
    except (ArtifactError, OSError) as exc:
        raise _fail(f"cannot load model {name}: {exc}") from exc


# --- train ----------------------------------------------------------------------------------
def train(
    out_dir: Path = typer.Option(..., "--out", "-o", help="Map voor het model, bijv. models/NAAM."),
    data: list[Path] = typer.Option(
        [], "--data", "-d", help="Gelabelde JSONL of een map met *.jsonl (herhaalbaar); zonder: het synthetische corpus."
    ),
    seed: int = typer.Option(13, "--seed", help="Seed voor corpus, folds en modellen."),
    messages: int = typer.Option(
        20_000, "--messages", help="Aantal gegenereerde berichten (zonder --data)."
    ),
    conversations: int = typer.Option(
        2_000, "--conversations", help="Aantal gegenereerde gesprekken."
    ),
    name: str | None = typer.Option(None, "--name", help="Modelnaam (standaard: de mapnaam)."),
    eval_paths: list[Path] = typer.Option(
        [], "--eval", help="Gelabelde JSONL of map om alleen op te meten (in de card)."
    ),
    with_generated: bool = typer.Option(
        False, "--with-generated", help="Met --data: ook het synthetische corpus."
    ),
    data_repeat: int = typer.Option(
        1, "--repeat-data", min=1, help="Elk --data-record telt zo vaak (gewicht naast het corpus)."
    ),
    tune_paths: list[Path] = typer.Option(
        [], "--tune", help="Handgelabelde JSONL (herhaalbaar) om de fusiedrempels op te kiezen, "
        "niet om op te trainen.",
    ),
    reproducible: bool = typer.Option(
        False,
        "--reproducible",
        help="Vaste metadata (SOURCE_DATE_EPOCH of 0, geen git-commit): bit-voor-bit herhaalbaar.",
    ),
    key_file: Path | None = typer.Option(
        None, "--key-file", help="Onderteken het manifest (HMAC-SHA256)."
    ),
) -> None:
    """Train a model (3-fold CV, thresholds, fusion), write it with manifest and model card."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from signaal.models.artifacts import ArtifactError
    from signaal.models.train import TrainConfig
    from signaal.models.train import train as run
    data, eval_paths, tune_paths = data_files(data), data_files(eval_paths), data_files(tune_paths)
    config = TrainConfig(
        out=out_dir,
        data=list(data),
        seed=seed,
        n_messages=messages,
        n_conversations=conversations,
        name=name,
        reproducible=reproducible,
        eval_paths=list(eval_paths),
        tune_paths=list(tune_paths),
        with_generated=with_generated,
        data_repeat=data_repeat,
        key=_key(key_file),
    )
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as progress:
        task = progress.add_task("training", total=100)

        def say(stage: str, frac: float) -> None:
            progress.update(task, description=stage, completed=round(frac * 100))

        try:
            result = run(config, say)
        except (ArtifactError, ValueError, OSError) as exc:
            raise _fail(str(exc)) from exc
    _print_train_summary(result)


def _print_train_summary(result) -> None:
    m = result.manifest
    cv = result.report["cv"]
    table = Table(title=f"{m['name']}: 3-fold CV op het trainingscorpus (n={cv['fused']['n']})")
    for col in (
        "label",
        "n",
        "F1 regels",
        "F1 model",
        "F1 samen",
        "drempel model",
        "drempel fusie",
    ):
        table.add_column(col, justify="left" if col == "label" else "right")
    for label, s in cv["fused"]["labels"].items():
        table.add_row(
            label,
            str(s["support"]),
            f"{cv['rules']['labels'][label]['f1']:.2f}",
            f"{cv['model']['labels'][label]['f1']:.2f}",
            f"{s['f1']:.2f}",
            f"{m['thresholds'][label]:.2f}",
            f"{m['fusion']['thresholds'][label]:.2f}",
        )
    table.add_row(
        "macro",
        "",
        f"{cv['rules']['macro']['f1']:.3f}",
        f"{cv['model']['macro']['f1']:.3f}",
        f"{cv['fused']['macro']['f1']:.3f}",
        "",
        "",
    )
    out.print(table)
    for file, entry in result.report["evaluation"].items():
        line = [f"{file} (n={entry['n']}):"]
        for mode in ("rules", "fused"):
            f = entry[mode]
            line.append(
                f"{mode} macro-F1 {f['macro']['f1']:.3f}, urgent->normal "
                f"{f['triage']['urgent_as_normal']}"
            )
        out.print("  ".join(line))
    s = result.seconds
    size = sum(f["bytes"] for f in m["files"].values())
    out.print(
        f"training {s['training']:.1f}s (rule features {s['rule_features']:.1f}s, fit "
        f"{s['fit']:.1f}s), total {s['total']:.1f}s; {size / 1e6:.2f} MB in {result.model.path}"
    )
    out.print(
        f"data sha256 {m['training_data']['sha256'][:16]}…  label set {m['label_set_version']}"
    )


# --- model probabilities and evaluation figures -------------------------------------------
def record_probabilities(model, records: list[dict]) -> np.ndarray:
    """(n, n_labels) model probability per record, the way the Analyzer scores it."""
    from signaal.signals.labels import LABEL_IDS

    rows = []
    for r in records:
        if "messages" in r:
            texts = [
                m.get("text", "") for m in r["messages"] if m.get("role", "client") == "client"
            ]
        else:
            texts = [r.get("text", "")]
        scores = model.score_conversation(texts)
        rows.append([scores.get(label, 0.0) for label in LABEL_IDS])
    return np.array(rows) if rows else np.zeros((0, len(LABEL_IDS)))


def add_intervals(
    figures: dict, gold: list[set[str]], predicted: list[set[str]], n_boot: int = 1000
) -> dict:
    """Add bootstrap 95% intervals (``*_ci``) to a signals.evaluate figures dict."""
    from signaal.models.metrics import scores_with_intervals, to_matrix

    s = scores_with_intervals(to_matrix(gold), to_matrix(predicted), n_boot=n_boot)
    for label, row in figures["labels"].items():
        for k in ("precision_ci", "recall_ci", "f1_ci"):
            row[k] = s["labels"][label][k]
    for avg in ("micro", "macro"):
        for k in ("precision_ci", "recall_ci", "f1_ci"):
            figures[avg][k] = s[avg][k]
    return figures


def write_pr_curves(
    model, records: list[dict], gold: list[set[str]], plots_dir: Path, title: str
) -> list[Path]:
    """PR curve PNGs of the model's probabilities (threshold = fusion threshold marked)."""
    from signaal.models.metrics import plot_pr_curves, pr_curves, to_matrix

    proba = record_probabilities(model, records)
    curves = pr_curves(to_matrix(gold), proba)
    return plot_pr_curves(curves, plots_dir, title, getattr(model, "thresholds", None))


def _ci(ci) -> str:
    return f" [{ci[0]:.2f}-{ci[1]:.2f}]" if ci else ""


# --- compare --------------------------------------------------------------------------------
def compare(
    model_a: str = typer.Argument(..., help="Model A (naam, map of 'rules')."),
    model_b: str = typer.Argument(..., help="Model B (naam, map of 'rules')."),
    data: list[Path] = typer.Option(..., "--data", "-d", help="Gelabelde JSONL of een map met *.jsonl (herhaalbaar)."),
    json_out: Path | None = typer.Option(
        None, "--json", help="Schrijf de cijfers als JSON hierheen."
    ),
    key_file: Path | None = typer.Option(None, "--key-file"),
) -> None:
    """Side by side: per-label F1 of A and B, the difference with a paired bootstrap 95%
    interval and p-value, and McNemar's test on whole items."""
    from signaal.models.classifier import feature_analyzer
    from signaal.models.metrics import mcnemar, paired_bootstrap, scores_with_intervals, to_matrix
    from signaal.signals.io import LineError, read_jsonl
    from signaal.signals.labels import LABEL_IDS
    from signaal.signals.pipeline import Analyzer

    key = _key(key_file)
    models = {"A": _load(model_a, key), "B": _load(model_b, key)}
    base = feature_analyzer()
    analyzer = Analyzer(
        nlp=base.nlp,
        policy=base.policy,
        pipeline_info=base.pipeline_info,
    )
    report = {}
    data = data_files(data)
    for path in data:
        records = []
        for number, r in read_jsonl(path):
            if isinstance(r, LineError) or not isinstance(r.get("labels"), list):
                raise _fail(f"{path}:{number}: not a labelled record")
            records.append(r)
        gold = to_matrix([set(r["labels"]) for r in records])
        preds, prio = {}, {}
        for side, model in models.items():
            analyzer.model = model
            results = [analyzer.analyze_record(r) for r in records]
            preds[side] = to_matrix([set(x.labels) for x in results])
            prio[side] = [x.priority for x in results]
        fig = {side: scores_with_intervals(gold, preds[side]) for side in models}
        test = paired_bootstrap(gold, preds["A"], preds["B"])
        mc = mcnemar(gold, preds["A"], preds["B"])
        gold_prio = [
            analyzer.policy.triage({LABEL_IDS[j] for j in np.flatnonzero(g)}).priority for g in gold
        ]
        urgent_normal = {
            side: sum(
                g == "urgent" and p == "normal" for g, p in zip(gold_prio, prio[side], strict=True)
            )
            for side in models
        }
        table = Table(title=f"{path.name} (n={len(records)}): A={model_a}  B={model_b}")
        for col in ("label", "n", "F1 A", "F1 B", "B-A [95% CI]", "p"):
            table.add_column(col, justify="left" if col == "label" else "right")
        for label in LABEL_IDS:
            t = test["labels"][label]
            mark = " *" if t["p"] < 0.05 else ""
            table.add_row(
                label,
                str(fig["A"]["labels"][label]["support"]),
                f"{fig['A']['labels'][label]['f1']:.2f}",
                f"{fig['B']['labels'][label]['f1']:.2f}",
                f"{t['diff']:+.2f}{_ci(t['ci'])}",
                f"{t['p']:.3f}{mark}",
            )
        for name in ("macro_f1", "macro_f2"):
            t = test[name]
            table.add_row(
                name.replace("_f", "-F"),
                "",
                f"{t['a']:.3f}",
                f"{t['b']:.3f}",
                f"{t['diff']:+.3f}{_ci(t['ci'])}",
                f"{t['p']:.3f}{' *' if t['p'] < 0.05 else ''}",
            )
        out.print(table)
        out.print(
            f"McNemar (item fully right): only A {mc['only_a_right']}, only B "
            f"{mc['only_b_right']}, p={mc['p']:.3f}.  urgent->normal: A {urgent_normal['A']}, "
            f"B {urgent_normal['B']}.  (* = p < 0.05, paired bootstrap)"
        )
        report[path.name] = {
            "A": model_a,
            "B": model_b,
            "paired_bootstrap": test,
            "mcnemar": mc,
            "urgent_as_normal": urgent_normal,
            "macro_f1": {s: fig[s]["macro"]["f1"] for s in models},
        }
    analyzer.model = None
    if json_out:
        json_out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


# --- models list, card show/diff -----------------------------------------------------------
@models_app.command("list")
def models_list(
    path: list[Path] = typer.Option([], "--path", help="Extra map(pen) met modellen."),
) -> None:
    """Shipped models (and models under --path), verified without unpickling."""
    from signaal.models.registry import describe, list_model_dirs

    table = Table()
    for col in (
        "naam",
        "aangemaakt",
        "labelset",
        "n train",
        "data sha256",
        "MB",
        "ondertekend",
        "broncode",
        "status",
        "map",
    ):
        table.add_column(col)
    folders = list_model_dirs(list(path))
    for folder in folders:
        d = describe(folder)
        table.add_row(
            d["name"],
            str(d["created"]),
            str(d["labels"]),
            str(d["n_train"]),
            d["data_sha256"],
            f"{d['bytes'] / 1e6:.2f}",
            "ja" if d["signed"] else "nee",
            "actueel" if d["current_source"] else "[yellow]ouder[/yellow]",
            d["status"] if d["status"] == "ok" else f"[red]{d['status']}[/red]",
            d["path"],
        )
    out.print(table if folders else "Geen modellen gevonden.")


@models_app.command("sign")
def models_sign(
    name: str = typer.Argument(..., help="Modelnaam of map."),
    key_file: Path | None = typer.Option(None, "--key-file", help="Sleutel (anders SIGNAAL_MODEL_KEY)."),
) -> None:
    """Sign a model's manifest (HMAC-SHA256) with the operator key, after verifying its files."""
    from signaal.models.artifacts import ArtifactError, sign_artifact
    from signaal.models.registry import resolve

    key = _key(key_file)
    if not key:
        raise _fail("no key: give --key-file or set SIGNAAL_MODEL_KEY")
    try:
        folder = resolve(name)
        sign_artifact(folder, key)
    except ArtifactError as exc:
        raise _fail(str(exc)) from exc
    out.print(f"ondertekend: {folder / 'manifest.sig'}")


def _card_folder(name: str) -> Path:
    from signaal.models.artifacts import ArtifactError, verify_artifact
    from signaal.models.registry import resolve

    try:
        folder = resolve(name)
        verify_artifact(folder)
    except ArtifactError as exc:
        raise _fail(str(exc)) from exc
    return folder


@card_app.command("show")
def card_show(
    name: str = typer.Argument(..., help="Modelnaam of map."),
    as_json: bool = typer.Option(False, "--json", help="card.json in plaats van card.md."),
) -> None:
    """Show a model's card (verified first)."""
    from signaal.models.card import read_card

    md, js = read_card(_card_folder(name))
    if as_json:
        print(json.dumps(js, indent=2, ensure_ascii=False))
    elif out.is_terminal:
        out.print(Markdown(md))
    else:
        print(md)


@card_app.command("diff")
def card_diff(
    a: str = typer.Argument(..., help="Model A."),
    b: str = typer.Argument(..., help="Model B."),
) -> None:
    """What differs between two models' cards: data, thresholds, fusion, versions, figures."""
    from signaal.models.card import diff_cards, read_card

    _, ja = read_card(_card_folder(a))
    _, jb = read_card(_card_folder(b))
    rows = diff_cards(ja, jb)
    if not rows:
        out.print("De cards zijn gelijk.")
        return
    table = Table(title=f"card diff: A={a}  B={b} ({len(rows)} verschillen)")
    for col in ("veld", "A", "B"):
        table.add_column(col, overflow="fold")
    for key, va, vb in rows:
        table.add_row(key, _short(va), _short(vb))
    out.print(table)


def _short(v) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.3f}"
    s = json.dumps(v, ensure_ascii=False) if not isinstance(v, str) else v
    return s if len(s) <= 60 else s[:57] + "…"
