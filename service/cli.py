"""`signaal serve`: the body of the command; cli.py registers it on the Typer app."""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import sys
import tempfile
from pathlib import Path

import typer

log = logging.getLogger("signaal.service")


def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Adres om op te luisteren (standaard alleen deze machine)."),
    port: int = typer.Option(8000, "--port"),
    tokens: Path | None = typer.Option(None, "--tokens", help="Bestand met regels 'ROL TOKEN' (platform, counselor)."),
    key_file: Path | None = typer.Option(None, "--key-file", help="Pseudoniemsleutel (anders $SIGNAAL_PSEUDONYM_KEY)."),
    data_dir: Path | None = typer.Option(None, "--data-dir", help="Map voor de SQLite-database."),
    store: str = typer.Option("sqlite", "--store", help="sqlite of postgres."),
    dsn: str | None = typer.Option(None, "--dsn", envvar="SIGNAAL_DSN", show_envvar=True,
                                      help="PostgreSQL-DSN (liever via $SIGNAAL_DSN: geen wachtwoord op de opdrachtregel)."),
    retention_days_state: float = typer.Option(1.0, "--retention-days-state", help="Gespreksstatus vervalt na zoveel dagen zonder bericht."),
    audit_retention_days: float = typer.Option(183.0, "--audit-retention-days", help="Audittrail en oordelen: zoveel dagen bewaren."),
    sqlite_sync: str = typer.Option(
        "full", "--sqlite-sync",
        help="full: een bevestigd bericht overleeft ook stroomuitval; normal: overleeft een crash of SIGKILL van de dienst, niet van de machine."),
    model: str | None = typer.Option(None, "--model", help="Modelnaam; 'rules' voor alleen regels."),
    model_process: bool = typer.Option(
        True, "--model-process/--no-model-process",
        help="Het model in een tweede proces laten rekenen (benut een tweede kern)."),
    store_process: bool = typer.Option(
        True, "--store-process/--no-store-process",
        help="De opslag (groepscommits) in een eigen proces: geen strijd om de GIL met de dienst."),
    demo: bool = typer.Option(False, "--demo", help="Tijdelijke sleutel, tokens en database; print een eenmalige link."),
    log_level: str = typer.Option("info", "--log-level"),
    loop: str = typer.Option(
        "auto", "--loop",
        help="Event loop: auto (uvloop) is ~20% sneller; asyncio laat nieuwe verbindingen eerlijker toe bij overbelasting."),
) -> None:
    """Start the HTTP service (FastAPI + uvicorn, one worker) for the chat platform and the counselor page."""
    import uvicorn

    from signaal.service.app import create_app
    from signaal.service.settings import Settings, SettingsError, read_tokens
    from signaal.signals.pseudonym import MissingKeyError, load_key

    logging.basicConfig(level=getattr(logging, log_level.upper(), logging.INFO),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr,
                        force=True)  # the CLI set WARNING; the service logs its access lines
    temp_dir = None
    try:
        if loop not in ("auto", "uvloop", "asyncio"):
            raise SettingsError(f"--loop must be auto, uvloop or asyncio, not {loop!r}")
        if demo:
            token_map = {secrets.token_urlsafe(24): "platform", secrets.token_urlsafe(24): "counselor"}
            if tokens:
                token_map = read_tokens(tokens)
            key = load_key(key_file, demo=True)
            if data_dir is None and store == "sqlite":
                temp_dir = tempfile.mkdtemp(prefix="signaal-demo-")
                data_dir = Path(temp_dir)
        else:
            if tokens is None:
                raise SettingsError("--tokens FILE is required (lines 'platform TOKEN' and "
                                    "'counselor TOKEN'); or use --demo")
            token_map = read_tokens(tokens)
            key = load_key(key_file)
            if store == "sqlite" and data_dir is None:
                raise SettingsError("--data-dir DIR is required for the SQLite store; or use --demo")
    except (SettingsError, MissingKeyError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None

    settings = Settings(tokens=token_map, key=key, data_dir=data_dir, store=store, dsn=dsn,
                        retention_days_state=retention_days_state,
                        audit_retention_days=audit_retention_days, model=model, demo=demo,
                        sqlite_synchronous=sqlite_sync.upper(),
                        model_process=model_process and (os.cpu_count() or 1) > 1,
                        store_process=store_process and (os.cpu_count() or 1) > 1,
                        ephemeral_data_dir=temp_dir is not None)
    if demo:
        _print_demo(host, port, token_map, tokens is not None)
    config = uvicorn.Config(
        create_app(settings), host=host, port=port, workers=1, loop=loop,
        access_log=False,  # its lines carry the path (platform id) and query (token)
        log_config=None, server_header=False, proxy_headers=False,
        timeout_graceful_shutdown=3, log_level=log_level.lower())
    try:
        uvicorn.Server(config).run()
    finally:
        if temp_dir:
            shutil.rmtree(temp_dir, ignore_errors=True)


def _print_demo(host: str, port: int, token_map: dict[str, str], from_file: bool) -> None:
    """The one time the demo tokens are shown: on stdout, never in the log."""
    url = f"http://{host}:{port}"
    if from_file:
        typer.echo(f"Signaal demo on {url} (tokens from your file)")
        return
    by_role = {role: token for token, role in token_map.items()}
    typer.echo(f"Signaal demo on {url} — ephemeral key and data; tokens valid for this run only")
    typer.echo(f"  counselor page: {url}/console")
    typer.echo(f"  counselor token: {by_role['counselor']}")
    typer.echo(f"  platform token: {by_role['platform']}")
    typer.echo(f"  try: curl -s -H 'Authorization: Bearer {by_role['platform']}' "
               f"-H 'Content-Type: application/json' -d '{{\"role\":\"client\",\"text\":\"ik ben 15\"}}' "
               f"{url}/v1/conversations/demo-1/messages")
    typer.echo(f"  API docs: {url}/docs")
    sys.stdout.flush()
