"""The HTTP service: every endpoint, auth, limits, SSE, restart and the privacy canary."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import threading
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from signaal.service.app import create_app
from signaal.service.settings import Settings, SettingsError, read_tokens
from signaal.service.store import SQLiteStore
from signaal.signals.pseudonym import Pseudonymizer

PLATFORM = "platform-token-0123456789"
COUNSELOR = "counselor-token-0123456789"
KEY = b"k" * 32
P = {"Authorization": f"Bearer {PLATFORM}"}
C = {"Authorization": f"Bearer {COUNSELOR}"}
DISCLOSURE = "ik ben 14 en mijn moeder regelt mannen voor mij"


def make_settings(data_dir: Path, **kw) -> Settings:
    return Settings(tokens={PLATFORM: "platform", COUNSELOR: "counselor"}, key=KEY,
                    data_dir=data_dir, **kw)


# the store's group commit in a thread (tests, one core) and in its own process (the default
# of `signaal serve` on two cores or more): every client test runs against both
@pytest.fixture(params=[False, True], ids=["store-thread", "store-process"])
def client(request, tmp_path, analyzer):
    with TestClient(create_app(make_settings(tmp_path, store_process=request.param), analyzer=analyzer)) as c:
        yield c


def post(client, cid, text, role="client", headers=P):
    return client.post(f"/v1/conversations/{cid}/messages", json={"role": role, "text": text},
                       headers=headers)


def test_post_message_returns_flags_priority_and_new_flags(client):
    r = post(client, "chat-1", DISCLOSURE)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["conversation"] == Pseudonymizer(KEY).pseudonym("chat-1")
    assert body["message_index"] == 0
    assert {"parent_exploiter", "minor", "under_16"} <= set(body["labels"])
    assert body["priority"] == "urgent" and body["reason"]
    assert "id" not in body and body["policy_version"] and "model_version" in body
    flag = next(f for f in body["flags"] if f["label"] == "parent_exploiter")
    assert flag["evidence"][0]["text"] and flag["evidence"][0]["source"]
    assert {f["label"] for f in body["new_flags"]} == set(body["labels"])
    r = post(client, "chat-1", "weet je moeder hiervan?", role="counselor")
    assert r.json()["message_index"] == 1 and r.json()["new_flags"] == []
    r = post(client, "chat-1", "ik ben 14")
    assert r.json()["message_index"] == 2 and r.json()["new_flags"] == []


def test_get_and_delete(client):
    assert client.get("/v1/conversations/nope", headers=C).status_code == 404
    post(client, "chat-2", DISCLOSURE)
    for headers in (C, P):
        r = client.get("/v1/conversations/chat-2", headers=headers)
        assert r.status_code == 200
        assert r.json()["messages"] == 1 and "parent_exploiter" in r.json()["labels"]
        assert "new_flags" not in r.json()
    assert client.delete("/v1/conversations/chat-2", headers=P).status_code == 204
    assert client.get("/v1/conversations/chat-2", headers=C).status_code == 404
    # a new message after the end starts afresh
    assert post(client, "chat-2", "hoi").json()["message_index"] == 0


def test_feedback_confirm_reject_undo(client, tmp_path):
    post(client, "chat-3", DISCLOSURE)
    url = "/v1/conversations/chat-3/feedback"
    ids = []
    for label, verdict in (("minor", "confirm"), ("ongoing", "reject"), ("ongoing", "undo")):
        r = client.post(url, json={"label": label, "verdict": verdict}, headers=C)
        assert r.status_code == 200 and r.json()["ok"] is True
        ids.append(r.json()["feedback_id"])
    assert ids == sorted(ids)
    assert client.get("/v1/conversations/chat-3", headers=C).json()["verdicts"] == {"minor": "confirm"}
    assert client.post(url, json={"label": "nonsense", "verdict": "confirm"}, headers=C).status_code == 422
    assert client.post(url, json={"label": "minor", "verdict": "maybe"}, headers=C).status_code == 422
    assert client.post("/v1/conversations/unknown/feedback", json={"label": "minor", "verdict": "confirm"},
                       headers=C).status_code == 404
    store = SQLiteStore(tmp_path / "signaal.db")
    rows = store.feedback_records()
    store.close()
    assert [r["verdict"] for r in rows] == ["confirm", "reject", "undo"]
    assert rows[0]["label"] == "minor" and rows[0]["raised_by"] == "rules"
    assert rows[0]["sources"] and rows[0]["pseudonym"].startswith("c_")
    text = client.get("/metrics", headers=C).text
    assert 'signaal_feedback_total{label="minor",verdict="confirm"} 1' in text
    assert 'signaal_feedback_agreement_ratio{label="ongoing"} 0.0000' in text


def test_auth_roles(client):
    assert client.get("/healthz").json()["status"] == "ok"
    r = post(client, "chat-4", "hoi", headers={})
    assert r.status_code == 401 and "bearer" in r.json()["detail"].lower()
    assert r.headers["www-authenticate"] == "Bearer"
    assert post(client, "chat-4", "hoi", headers={"Authorization": "Bearer wrong-token-xxxxxxxx"}).status_code == 401
    assert post(client, "chat-4", "hoi", headers={"Authorization": f"Basic {PLATFORM}"}).status_code == 401
    r = post(client, "chat-4", "hoi", headers=C)
    assert r.status_code == 403 and "platform" in r.json()["detail"]
    assert post(client, "chat-4", "hoi").status_code == 200
    fb = {"label": "minor", "verdict": "confirm"}
    assert client.post("/v1/conversations/chat-4/feedback", json=fb, headers=P).status_code == 403
    assert client.get("/v1/conversations/chat-4/events", headers=P).status_code == 403
    assert client.get("/metrics").status_code == 401
    # the query token is accepted for the event stream only
    assert client.get(f"/v1/conversations/chat-4?token={COUNSELOR}").status_code == 401


def test_limits_never_echo_text(client):
    secret = "geheimwoord-0612345678 "
    r = post(client, "chat-5", secret * 300)  # ~7,000 characters, under the body limit
    assert r.status_code == 422
    assert "limit is 5000" in r.json()["detail"] and "geheim" not in r.text
    r = client.post("/v1/conversations/chat-5/messages", headers={**P, "content-type": "application/json"},
                    content=json.dumps({"role": "client", "text": secret * 4000}).encode())
    assert r.status_code == 413 and "geheim" not in r.text

    def chunked():
        yield json.dumps({"role": "client", "text": secret * 4000}).encode()

    r = client.post("/v1/conversations/chat-5/messages", headers={**P, "content-type": "application/json"},
                    content=chunked())
    assert r.status_code == 413
    r = client.post("/v1/conversations/chat-5/messages", headers={**P, "content-type": "application/json"},
                    content=b'{"role": "client", "text": "' + secret.encode())  # broken JSON
    assert r.status_code == 422 and "geheim" not in r.text
    r = post(client, "chat-5", secret, role="victim")
    assert r.status_code == 422 and "geheim" not in r.text
    r = client.post("/v1/conversations/chat-5/messages", json={"role": "client", "text": 12345}, headers=P)
    assert r.status_code == 422 and "12345" not in r.text
    assert post(client, "x" * 300, "hoi").status_code == 422


def test_metrics_text(client):
    post(client, "chat-6", DISCLOSURE)
    text = client.get("/metrics", headers=P).text
    assert "# TYPE signaal_http_request_duration_seconds histogram" in text
    assert 'route="/v1/conversations/{conversation_id}/messages"' in text
    assert 'signaal_flags_total{label="parent_exploiter"} 1' in text
    assert "chat-6" not in text


def test_openapi_docs(client):
    spec = client.get("/openapi.json").json()
    assert "/v1/conversations/{conversation_id}/messages" in spec["paths"]
    assert client.get("/docs").status_code == 200


def test_state_survives_restart_without_text(tmp_path, analyzer):
    settings = make_settings(tmp_path)
    with TestClient(create_app(settings, analyzer=analyzer)) as c:
        first = post(c, "chat-7", DISCLOSURE).json()
        c.post("/v1/conversations/chat-7/feedback", json={"label": "minor", "verdict": "confirm"}, headers=C)
    with TestClient(create_app(settings, analyzer=analyzer)) as c:
        again = c.get("/v1/conversations/chat-7", headers=C).json()
        assert again["labels"] == first["labels"] and again["priority"] == first["priority"]
        assert again["messages"] == 1 and again["verdicts"] == {"minor": "confirm"}
        assert [f["score"] for f in again["flags"]] == [f["score"] for f in first["flags"]]
        ev = again["flags"][0]["evidence"][0]
        assert ev["text"] == "[niet bewaard]" and ev["source"] and ev["end"] > ev["start"]
        assert post(c, "chat-7", "hoi").json()["message_index"] == 1


def test_expired_state_is_gone(tmp_path, analyzer):
    settings = make_settings(tmp_path, retention_days_state=1e-9)
    with TestClient(create_app(settings, analyzer=analyzer)) as c:
        post(c, "chat-8", DISCLOSURE)
        time.sleep(0.01)
        assert c.get("/v1/conversations/chat-8", headers=C).status_code == 404


def test_tokens_file(tmp_path):
    f = tmp_path / "tokens"
    f.write_text(f"# comment\nplatform {PLATFORM}\n\ncounselor {COUNSELOR}\n")
    assert read_tokens(f) == {PLATFORM: "platform", COUNSELOR: "counselor"}
    f.write_text("admin abcdefghijklmnopqrstuvwxyz\n")
    with pytest.raises(SettingsError, match=":1:"):
        read_tokens(f)
    f.write_text("platform short\n")
    with pytest.raises(SettingsError) as info:
        read_tokens(f)
    assert "short" in str(info.value) and "platform short" not in str(info.value)


# --- a real server in a thread: SSE and the privacy canary --------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(params=[False, True], ids=["store-thread", "store-process"])
def live_server(request, tmp_path, analyzer):
    import uvicorn

    settings = make_settings(tmp_path, heartbeat_seconds=0.5, store_process=request.param)
    port = free_port()
    config = uvicorn.Config(create_app(settings, analyzer=analyzer), host="127.0.0.1", port=port,
                            access_log=False, log_config=None, timeout_graceful_shutdown=1)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not server.started and time.time() < deadline:
        time.sleep(0.05)
    assert server.started
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def read_events(response, wanted: int) -> list[tuple[str, str]]:
    """(event, data) pairs and heartbeat comments (event '#') until `wanted` are read."""
    events, event, data = [], None, None
    for line in response.iter_lines():
        if line.startswith(":"):
            events.append(("#", line))
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data = line[5:].strip()
        elif line == "" and event:
            events.append((event, data))
            event = data = None
        if len([e for e in events if e[0] != "#"]) >= wanted:
            break
    return events


def test_sse_pushes_updates(live_server):
    with httpx.Client(base_url=live_server, timeout=10) as http:
        http.post("/v1/conversations/chat-9/messages", json={"role": "client", "text": "hoi"}, headers=P)
        got: list = []

        def listen():
            with http.stream("GET", f"/v1/conversations/chat-9/events?token={COUNSELOR}") as r:
                assert r.status_code == 200
                assert r.headers["content-type"].startswith("text/event-stream")
                got.extend(read_events(r, 4))

        t = threading.Thread(target=listen)
        t.start()
        time.sleep(1.2)  # long enough for a heartbeat
        http.post("/v1/conversations/chat-9/messages", json={"role": "client", "text": DISCLOSURE}, headers=P)
        http.post("/v1/conversations/chat-9/feedback", json={"label": "minor", "verdict": "confirm"}, headers=C)
        time.sleep(0.3)
        assert http.delete("/v1/conversations/chat-9", headers=P).status_code == 204
        t.join(timeout=10)
    updates = [json.loads(d) for e, d in got if e == "update"]
    assert [u["messages"] for u in updates] == [1, 2, 2]
    assert "parent_exploiter" in updates[1]["labels"] and updates[2]["verdicts"] == {"minor": "confirm"}
    assert any(e == "#" and "heartbeat" in d for e, d in got)
    assert got[-1][0] == "deleted"


CANARIES = {
    "phone": "06-48213377",
    "email": "roos.verhagen77@example.nl",
    "name": "Roos Verhagen",
}


def test_privacy_canary(live_server, tmp_path, caplog):
    """Planted identifiers are in no byte of the database, logs or responses (except redacted)."""
    caplog.set_level(logging.DEBUG)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # the test client's own log
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    platform_id = "platform-conversation-778899"
    messages = [
        f"ik ben {CANARIES['name']} en ik ben 14",
        f"mijn moeder regelt mannen voor mij, bel {CANARIES['phone']}",
        f"mijn mail is {CANARIES['email']} en mijn vriend {CANARIES['name']} zegt dat hij foto's verspreidt",
    ]
    bodies = []
    with httpx.Client(base_url=live_server, timeout=10) as http:
        for text in messages:
            r = http.post(f"/v1/conversations/{platform_id}/messages",
                          json={"role": "client", "text": text}, headers=P)
            assert r.status_code == 200
            bodies.append(r.text)
        bodies.append(http.get(f"/v1/conversations/{platform_id}", headers=C).text)
        bodies.append(http.post(f"/v1/conversations/{platform_id}/feedback",
                                json={"label": "minor", "verdict": "confirm"}, headers=C).text)
        too_long = http.post(f"/v1/conversations/{platform_id}/messages",
                             json={"role": "client", "text": (CANARIES["email"] + " ") * 300}, headers=P)
        assert too_long.status_code == 422
        bodies.append(too_long.text)
        bodies.append(http.get("/metrics", headers=C).text)
    assert any("parent_exploiter" in b for b in bodies)
    logs = "\n".join(f"{r.name} {r.getMessage()}" for r in caplog.records)
    assert "signaal.service.access" in logs  # the access lines were captured
    db_bytes = b"".join(p.read_bytes() for p in tmp_path.rglob("*") if p.is_file())
    assert db_bytes, "no database files found"
    for kind, value in CANARIES.items():
        for needle in {value, value.replace("-", ""), value.lower()}:
            assert needle.encode() not in db_bytes, f"{kind} in the database"
            assert needle.lower() not in logs.lower(), f"{kind} in the log"
            for body in bodies:
                assert needle not in body, f"{kind} in a response"
    assert platform_id not in logs and platform_id.encode() not in db_bytes
    assert b"verspreidt" not in db_bytes  # and no text at all


def test_serve_command_refuses_missing_settings(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from signaal.cli import app

    monkeypatch.delenv("SIGNAAL_PSEUDONYM_KEY", raising=False)
    runner = CliRunner()
    result = runner.invoke(app, ["serve"])
    assert result.exit_code == 2 and "--tokens" in result.output
    tokens = tmp_path / "tokens"
    tokens.write_text(f"platform {PLATFORM}\ncounselor {COUNSELOR}\n")
    result = runner.invoke(app, ["serve", "--tokens", str(tokens)])
    assert result.exit_code == 2 and "SIGNAAL_PSEUDONYM_KEY" in result.output
    key = tmp_path / "key"
    key.write_text("ab" * 32)
    result = runner.invoke(app, ["serve", "--tokens", str(tokens), "--key-file", str(key)])
    assert result.exit_code == 2 and "--data-dir" in result.output
    result = runner.invoke(app, ["serve", "--demo", "--loop", "tornado"])
    assert result.exit_code == 2 and "--loop" in result.output


def test_analysis_error_is_500_without_text(client, caplog, monkeypatch):
    from signaal.signals.pipeline import Conversation

    post(client, "chat-10", DISCLOSURE)
    original = Conversation.add

    def broken(self, role, text):
        original(self, role, text)  # half-updated, then fails quoting the text
        raise ValueError(f"cannot analyse {text!r}")

    monkeypatch.setattr(Conversation, "add", broken)
    caplog.set_level(logging.INFO)
    r = post(client, "chat-10", "geheimwoord 0612345678")
    assert r.status_code == 500 and r.json() == {"detail": "internal error"}
    assert "geheimwoord" not in caplog.text and "ValueError" in caplog.text
    monkeypatch.setattr(Conversation, "add", original)
    r = post(client, "chat-10", "hoi")
    assert r.json()["message_index"] == 1  # the failed message was never stored


def test_model_version():
    from types import SimpleNamespace

    from signaal.service.app import model_version

    assert model_version(None) is None
    files = {"model.joblib": {"sha256": "ab" * 32, "bytes": 10}}
    v = model_version(SimpleNamespace(name="signaal-nl", manifest={"files": files}))
    assert v.startswith("signaal-nl@") and len(v) == len("signaal-nl@") + 12
    assert model_version(SimpleNamespace(name="m", version="3", manifest={})) == "m@3"


def test_snapshot_roundtrip_keeps_pending_and_concepts(analyzer):
    """What the store keeps reproduces the conversation's flags, seen concepts and waiting
    hits, with no text in it."""
    from signaal.service.state import Live, restore, snapshot

    conv = analyzer.conversation("c_x")
    for text in ("mijn vriendje is lief", "ik ben 14", DISCLOSURE):
        conv.add("client", text)
    state = snapshot(Live(conv))
    raw = json.dumps(state)
    for word in ("vriendje", "moeder", "mannen"):
        assert word not in raw
    back = restore(analyzer, "c_x", json.loads(raw)).conversation
    assert back.result().labels == conv.result().labels
    assert back.roles == conv.roles
    assert getattr(back, "_seen_concepts", None) == getattr(conv, "_seen_concepts", None)
    assert len(getattr(back, "_pending", [])) == len(getattr(conv, "_pending", []))
    assert back.add("client", "hoi").result.labels == conv.add("client", "hoi").result.labels


@pytest.fixture(scope="module")
def model_analyzer():
    """An Analyzer with the shipped default model (skip when it is not installed)."""
    import warnings

    from signaal.signals.pipeline import Analyzer

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        an = Analyzer.load(model="default")
    if an.model is None:
        pytest.skip("no default model installed")
    return an


def test_model_in_a_worker_process_gives_the_same_result(tmp_path, model_analyzer):
    """`serve` scores the model in a second process: same flags as scoring inline."""
    an = model_analyzer
    texts = ["hoi", "ik ben 14", "mijn stiefvader regelt mannen voor mij en pakt het geld"]
    inline = an.conversation("x")
    for t in texts:
        expected = inline.add("client", t).result.to_dict()
    with TestClient(create_app(make_settings(tmp_path, model_process=True), analyzer=an)) as c:
        assert c.app.state.service.model_worker is not None
        for t in texts:
            got = post(c, "conv-w", t).json()
    assert got["labels"] == expected["labels"] and got["priority"] == expected["priority"]
    assert [f["raised_by"] for f in got["flags"]] == [f["raised_by"] for f in expected["flags"]]


def test_model_worker_answers_concurrent_requests_in_order_and_refuses_a_bad_model(
        tmp_path, model_analyzer):
    from types import SimpleNamespace

    from signaal.service.model_worker import ModelWorker
    from signaal.service.worker import MAX_IN_FLIGHT, WorkerError
    from signaal.signals.pipeline import score_window

    an = model_analyzer
    windows = [[f"ik ben {age}", "mijn moeder regelt mannen voor mij"][: 1 + age % 2]
               for age in range(10, 12 + 2 * MAX_IN_FLIGHT)]  # more than may be in flight
    # real rule features: score_window caches them per text for the model
    scores = [[an.rule_features(t) for t in w] for w in windows]
    worker = ModelWorker(an.model)
    try:
        async def all_at_once():
            return await asyncio.gather(*(worker.score(w, s) for w, s in zip(windows, scores)))

        got = asyncio.run(all_at_once())
    finally:
        worker.close()
    expected = [score_window(an.model, w, s) for w, s in zip(windows, scores)]
    assert got == [pytest.approx(e) for e in expected]
    with pytest.raises(WorkerError, match="could not load"):
        ModelWorker(SimpleNamespace(path=tmp_path / "no-model-here"))
