"""Load run against the live service on loopback (not a test; bounded in count and time).

    python benchmarks/load_service.py                 # starts `signaal serve` on 127.0.0.1
    python benchmarks/load_service.py --url http://127.0.0.1:8000 \
        --platform-token T --counselor-token T [--db DATA_DIR/signaal.db]

Scenario A: 200 conversations post back to back (throughput, p50/p99, errors; bar >= 300
msg/s, 0 errors). Scenario B: 200 live conversations post about one message a second each,
with a counselor verdict now and then (p99 < 50 ms). Afterwards every acknowledged message
and verdict is looked up in the audit trail (SQLite file) or, for a remote service without
--db, in the conversation state (message counts): 0 lost.

The client is aiohttp (near 2,000 requests/s on this machine; httpx's async client tops out
near 200 and would measure itself). Synthetic, non-graphic texts only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

TEXTS = [
    "hoi", "mag ik iets vragen?", "ik weet niet goed hoe ik moet beginnen",
    "ik ben 15 en zit in de derde klas",
    "mijn moeder regelt mannen voor mij",
    "hij zegt dat hij mijn foto's verspreidt als ik niet betaal",
    "ik moet voor zijn vrienden drugs verkopen op school",
    "het gebeurt nog steeds, al twee jaar",
    "ik heb dit nog nooit aan iemand verteld",
    "ik durf niet te stoppen want dan doen ze mijn broertje iets",
    "we leerden elkaar kennen via snapchat en hij deed eerst heel lief",
    "sorry ik moet zo weg",
]
COUNSELOR = ["dank je dat je dit vertelt", "hoe oud ben je?", "weet je moeder hiervan?",
             "ben je nu veilig?"]


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    acked: dict[str, set[int]] = field(default_factory=dict)  # pseudonym -> message indexes
    verdicts: set[int] = field(default_factory=set)
    platform_ids: dict[str, str] = field(default_factory=dict)  # pseudonym -> platform id

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q / 100 * (len(s) - 1))))]


async def post_message(session, url, cid, role, text, tally: Tally, headers) -> None:
    start = time.perf_counter()
    try:
        async with session.post(f"{url}/v1/conversations/{cid}/messages",
                                json={"role": role, "text": text}, headers=headers) as r:
            body = await r.read()
            elapsed = time.perf_counter() - start
            if r.status != 200:
                tally.error(f"http {r.status}")
                return
            data = json.loads(body)
            tally.latencies.append(elapsed)
            tally.acked.setdefault(data["conversation"], set()).add(data["message_index"])
            tally.platform_ids[data["conversation"]] = cid
    except (TimeoutError, aiohttp.ClientError) as exc:
        tally.error(type(exc).__name__)


async def post_verdict(session, url, cid, tally: Tally, headers) -> None:
    try:
        async with session.post(f"{url}/v1/conversations/{cid}/feedback",
                                json={"label": "minor", "verdict": random.choice(["confirm", "reject"])},
                                headers=headers) as r:
            body = await r.read()
            if r.status == 200:
                tally.verdicts.add(json.loads(body)["feedback_id"])
            elif r.status != 404:  # 404: no message stored yet for this conversation
                tally.error(f"feedback http {r.status}")
    except (TimeoutError, aiohttp.ClientError) as exc:
        tally.error(type(exc).__name__)


def message(i: int, rng: random.Random) -> tuple[str, str]:
    if i % 4 == 3:
        return "counselor", rng.choice(COUNSELOR)
    return "client", rng.choice(TEXTS)


async def scenario_a(session, url, tokens, n_conv: int, per_conv: int, max_seconds: float, tag: str):
    """n_conv conversations, each posting its messages back to back."""
    tally = Tally()
    deadline = time.perf_counter() + max_seconds

    async def conversation(k: int) -> None:
        rng = random.Random(k)
        cid = f"load-{tag}-a-{k}"
        for i in range(per_conv):
            if time.perf_counter() > deadline:
                return
            role, text = message(i, rng)
            await post_message(session, url, cid, role, text, tally, tokens["platform"])

    start = time.perf_counter()
    await asyncio.gather(*(conversation(k) for k in range(n_conv)))
    return tally, time.perf_counter() - start


async def scenario_b(session, url, tokens, n_conv: int, seconds: float, rate: float, tag: str):
    """n_conv live conversations, each posting about `rate` messages a second (jittered),
    a counselor verdict every tenth message."""
    tally = Tally()
    start = time.perf_counter()
    end = start + seconds

    async def conversation(k: int) -> None:
        rng = random.Random(1000 + k)
        cid = f"load-{tag}-b-{k}"
        await asyncio.sleep(rng.random() / rate)
        i = 0
        while time.perf_counter() < end:
            role, text = message(i, rng)
            await post_message(session, url, cid, role, text, tally, tokens["platform"])
            if i % 10 == 9:
                await post_verdict(session, url, cid, tally, tokens["counselor"])
            i += 1
            await asyncio.sleep(rng.uniform(0.5, 1.5) / rate)

    await asyncio.gather(*(conversation(k) for k in range(n_conv)))
    return tally, time.perf_counter() - start


def audit_check(db: Path, tallies: list[Tally]) -> dict:
    """Acknowledged messages and verdicts missing from the audit trail (read-only open)."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    stored: dict[str, set[int]] = {}
    for pseudonym, index in con.execute("SELECT pseudonym, message_index FROM audit WHERE kind='message'"):
        stored.setdefault(pseudonym, set()).add(index)
    feedback = {row[0] for row in con.execute("SELECT id FROM feedback")}
    rows = sum(len(v) for v in stored.values())
    con.close()
    acked = lost = verdicts = lost_verdicts = 0
    for t in tallies:
        for pseudonym, indexes in t.acked.items():
            acked += len(indexes)
            lost += len(indexes - stored.get(pseudonym, set()))
        verdicts += len(t.verdicts)
        lost_verdicts += len(t.verdicts - feedback)
    return {"acknowledged": acked, "audit_rows": rows, "lost": lost,
            "verdicts": verdicts, "lost_verdicts": lost_verdicts, "checked_in": "audit trail"}


async def state_check(session, url, tokens, tallies: list[Tally]) -> dict:
    """Without the database: each conversation's stored message count covers what was acked."""
    acked = lost = 0
    for t in tallies:
        for pseudonym, indexes in t.acked.items():
            acked += len(indexes)
            async with session.get(f"{url}/v1/conversations/{t.platform_ids[pseudonym]}",
                                   headers=tokens["counselor"]) as r:
                n = (await r.json())["messages"] if r.status == 200 else 0
            lost += len([i for i in indexes if i >= n])
    return {"acknowledged": acked, "lost": lost, "verdicts": sum(len(t.verdicts) for t in tallies),
            "lost_verdicts": "n/a (no --db)", "checked_in": "conversation state"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_service(model: str | None, sqlite_sync: str | None,
                  extra: list[str]) -> tuple[subprocess.Popen, str, dict, Path, Path]:
    work = Path(tempfile.mkdtemp(prefix="signaal-load-"))
    tokens = {"platform": secrets.token_urlsafe(24), "counselor": secrets.token_urlsafe(24)}
    (work / "tokens").write_text("".join(f"{r} {t}\n" for r, t in tokens.items()))
    (work / "key").write_text(secrets.token_hex(32))
    port = free_port()
    cmd = [sys.executable, "-m", "signaal.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
           "--tokens", str(work / "tokens"), "--key-file", str(work / "key"),
           "--data-dir", str(work / "data"), "--log-level", "warning"]
    if model:
        cmd += ["--model", model]
    if sqlite_sync:
        cmd += ["--sqlite-sync", sqlite_sync]
    cmd += extra
    log = (work / "service.log").open("wb")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while time.time() < deadline:
        if proc.poll() is not None:
            log_tail = (work / "service.log").read_text()[-1500:]
            shutil.rmtree(work, ignore_errors=True)
            sys.exit(f"service exited: {log_tail}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            time.sleep(0.3)
    else:
        proc.kill()
        shutil.rmtree(work, ignore_errors=True)
        sys.exit("service did not start within 120 s")
    return proc, url, tokens, work / "data" / "signaal.db", work


def cpu_seconds(pid: int | None) -> float | None:
    """User+system CPU of a process (Linux /proc), to tell service cost from machine contention."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def report(name: str, tally: Tally, seconds: float, server_cpu: float | None = None,
           client_cpu: float | None = None) -> dict:
    n = len(tally.latencies)
    figures = {
        "scenario": name, "acknowledged": n, "seconds": round(seconds, 2),
        "throughput_per_s": round(n / seconds, 1) if seconds else 0.0,
        "p50_ms": round(pct(tally.latencies, 50) * 1000, 2),
        "p99_ms": round(pct(tally.latencies, 99) * 1000, 2),
        "max_ms": round(max(tally.latencies, default=float("nan")) * 1000, 2),
        "errors": sum(tally.errors.values()), "error_kinds": tally.errors,
        "verdicts": len(tally.verdicts),
        "server_cpu_ms_per_msg": round(server_cpu / n * 1000, 2) if server_cpu and n else None,
        "client_cpu_ms_per_msg": round(client_cpu / n * 1000, 2) if client_cpu and n else None,
    }
    print(f"{name}: {n} messages in {seconds:.1f} s = {figures['throughput_per_s']} msg/s; "
          f"p50 {figures['p50_ms']} ms, p99 {figures['p99_ms']} ms, max {figures['max_ms']} ms; "
          f"errors {figures['errors']} {tally.errors or ''}; verdicts {len(tally.verdicts)}")
    if figures["server_cpu_ms_per_msg"] is not None:
        print(f"   CPU per message: service {figures['server_cpu_ms_per_msg']} ms, "
              f"load client {figures['client_cpu_ms_per_msg']} ms")
    return figures


async def main_async(args) -> int:
    proc = work = None
    if args.url:
        if not (args.platform_token and args.counselor_token):
            sys.exit("--url needs --platform-token and --counselor-token")
        url, db = args.url.rstrip("/"), Path(args.db) if args.db else None
        tokens = {"platform": args.platform_token, "counselor": args.counselor_token}
    else:
        proc, url, tokens, db, work = start_service(args.model, args.sqlite_sync, args.serve_arg)
    headers = {role: {"Authorization": f"Bearer {t}"} for role, t in tokens.items()}
    tag = secrets.token_hex(3)
    load1 = os.getloadavg()[0]
    results = {"machine": {"cpus": os.cpu_count(), "load_average_1min_at_start": round(load1, 2)}}
    print(f"{os.cpu_count()} CPUs, load average {load1:.2f} at start"
          + ("  (other work is running: figures are lower than on a quiet machine)"
             if load1 > 1.0 else ""))
    try:
        connector = aiohttp.TCPConnector(limit=args.conversations + 20, force_close=False)
        timeout = aiohttp.ClientTimeout(total=30)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            async with session.post(f"{url}/v1/conversations/load-{tag}-probe/messages",
                                    json={"role": "client", "text": "hoi"},
                                    headers=headers["platform"]) as r:
                probe = await r.json()
            if r.status != 200:
                sys.exit(f"the service refused the first message: {r.status} {probe}")
            results["model_version"] = probe.get("model_version")
            print(f"model: {probe.get('model_version') or 'none (rules only)'}, "
                  f"policy: {probe.get('policy_version')}")
            # warm up (imports, caches) outside the measurement, and open one connection per
            # conversation first, as a chat platform keeps its connections open: a storm of
            # new connections into a saturated service waits seconds for its first answers
            # (uvloop's accept under saturation, see docs/SERVICE.md; not part of the bars)
            await asyncio.gather(*(post_message(session, url, f"load-{tag}-warm-{k}", "client", "hoi",
                                                Tally(), headers["platform"])
                                   for k in range(max(50, args.conversations))))
            pid = proc.pid if proc is not None else args.pid
            s0, c0 = cpu_seconds(pid), time.process_time()
            a, a_s = await scenario_a(session, url, headers, args.conversations,
                                      args.messages if "A" in args.scenarios else 0,
                                      args.max_seconds, tag)
            s1, c1 = cpu_seconds(pid), time.process_time()
            results["A"] = report(f"A: {args.conversations} conversations back to back", a, a_s,
                                  s1 - s0 if s0 is not None else None, c1 - c0)
            b, b_s = await scenario_b(session, url, headers, args.conversations,
                                      args.live_seconds if "B" in args.scenarios else 0,
                                      args.rate, tag)
            s2, c2 = cpu_seconds(pid), time.process_time()
            results["B"] = report(f"B: {args.conversations} live conversations at ~{args.rate}/s", b, b_s,
                                  s2 - s1 if s1 is not None else None, c2 - c1)
            if db is not None:
                check = audit_check(db, [a, b])
            else:
                check = await state_check(session, url, headers, [a, b])
        results["durability"] = check
        print(f"durability ({check['checked_in']}): {check['acknowledged']} acknowledged messages, "
              f"{check['lost']} lost; {check['verdicts']} verdicts, {check['lost_verdicts']} lost")
        bars = {"0 lost": check["lost"] == 0 and check["lost_verdicts"] in (0, "n/a (no --db)")}
        if "A" in args.scenarios:
            bars["A >= 300 msg/s"] = results["A"]["throughput_per_s"] >= 300
            bars["A 0 errors"] = results["A"]["errors"] == 0
        if "B" in args.scenarios:
            bars["B p99 < 50 ms"] = results["B"]["p99_ms"] < 50
            bars["B 0 errors"] = results["B"]["errors"] == 0
        results["bars"] = bars
        for bar, ok in bars.items():
            print(f"  {'PASS' if ok else 'FAIL'}  {bar}")
        if args.json:
            Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
        return 0 if all(bars.values()) else 1
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
            if work is not None:
                # warnings and errors only (--log-level warning); the service logs no chat text
                lines = (work / "service.log").read_text(errors="replace").splitlines()
                if lines:
                    print(f"service log ({len(lines)} lines, last 20):", *lines[-20:], sep="\n  ")
                if not args.keep:
                    shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--url", help="target a running service (default: start one on 127.0.0.1)")
    p.add_argument("--platform-token", default=os.environ.get("SIGNAAL_PLATFORM_TOKEN"))
    p.add_argument("--counselor-token", default=os.environ.get("SIGNAAL_COUNSELOR_TOKEN"))
    p.add_argument("--pid", type=int, help="the running service's process id, for its CPU time (with --url)")
    p.add_argument("--db", help="the service's SQLite file, to check the audit trail (with --url)")
    p.add_argument("--model", help="--model for the started service (default: its default)")
    p.add_argument("--sqlite-sync", choices=["full", "normal"], help="--sqlite-sync for the started service")
    p.add_argument("--serve-arg", action="append", default=[],
                   help="one more argument for the started `signaal serve` (repeatable), "
                        "e.g. --serve-arg=--no-model-process")
    p.add_argument("--scenarios", default="AB", help="which scenarios to run (A, B or AB)")
    p.add_argument("--conversations", type=int, default=200)
    p.add_argument("--messages", type=int, default=30, help="messages per conversation in scenario A")
    p.add_argument("--max-seconds", type=float, default=60, help="time cap for scenario A")
    p.add_argument("--live-seconds", type=float, default=20, help="duration of scenario B")
    p.add_argument("--rate", type=float, default=1.0, help="messages per second per live conversation")
    p.add_argument("--json", help="write the figures here")
    p.add_argument("--keep", action="store_true", help="keep the started service's temp dir")
    args = p.parse_args()
    if not args.url:
        print("starting signaal serve on 127.0.0.1 ...", flush=True)
    try:
        import uvloop  # noqa: F401

        uvloop.install()
    except ImportError:
        pass
    sys.exit(asyncio.run(main_async(args)))


if __name__ == "__main__":
    main()
