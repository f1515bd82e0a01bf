"""The live HTTP service: the chat platform posts each message, counselors read the flags,
stream updates and confirm or reject flags. `create_app(settings)` builds the FastAPI app.

Privacy at the door: the platform's conversation id is turned into a keyed pseudonym in
`Service.pseudonym` and goes no further; text is analysed in memory and never stored,
logged or echoed in errors. Uvicorn's access log is off (the platform id is in the path);
`AccessMiddleware` logs the route template, status, duration and pseudonym instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import sys
import time
import traceback
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any, Literal

from fastapi import Depends, FastAPI, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, StreamingResponse
from pydantic import BaseModel

from signaal.service.auth import require
from signaal.service.metrics import Metrics
from signaal.service.settings import Settings
from signaal.service.state import Live, LiveConversations, restore, snapshot, sources
from signaal.service.store import Committer, StateConflict, StoreParams, StoreProcess, open_store

log = logging.getLogger("signaal.service")
access_log = logging.getLogger("signaal.service.access")

MAX_ID_CHARS = 256
CONFLICT_RETRIES = 3
SWITCH_INTERVAL_SECONDS = 0.0005  # see the lifespan (matters when the store runs in a thread)


class MessageIn(BaseModel):
    role: Literal["client", "counselor"]
    text: str


class FeedbackIn(BaseModel):
    label: str
    verdict: Literal["confirm", "reject", "undo"]


# --- server-sent events ------------------------------------------------------------------

class Hub:
    """Subscribers per pseudonym; each gets the latest view (older ones are dropped when a
    client reads slowly: every update carries the whole state)."""

    def __init__(self) -> None:
        self._subs: dict[str, set[asyncio.Queue]] = defaultdict(set)
        self.closing = asyncio.Event()

    def subscribe(self, pseudonym: str) -> asyncio.Queue:
        q: asyncio.Queue = asyncio.Queue(maxsize=4)
        self._subs[pseudonym].add(q)
        return q

    def unsubscribe(self, pseudonym: str, q: asyncio.Queue) -> None:
        subs = self._subs.get(pseudonym)
        if subs is not None:
            subs.discard(q)
            if not subs:
                del self._subs[pseudonym]

    def wanted(self, pseudonym: str) -> bool:
        return pseudonym in self._subs

    def publish(self, pseudonym: str, event: str, data: dict | None) -> None:
        for q in list(self._subs.get(pseudonym, ())):
            if q.full():
                q.get_nowait()
            q.put_nowait((event, data))

    def close_all(self) -> None:
        self.closing.set()
        for subs in self._subs.values():
            for q in subs:
                if q.full():
                    q.get_nowait()
                q.put_nowait(("closing", None))

    def __len__(self) -> int:
        return sum(len(s) for s in self._subs.values())


def _sse(event: str, data: dict | None, event_id: int | None = None) -> bytes:
    head = f"id: {event_id}\n" if event_id is not None else ""
    body = json.dumps(data if data is not None else {}, ensure_ascii=False, separators=(",", ":"))
    return f"{head}event: {event}\ndata: {body}\n\n".encode()


# --- the service ---------------------------------------------------------------------------

class Service:
    model_worker: Any = None  # service.model_worker.ModelWorker when the model runs apart

    def __init__(self, settings: Settings, analyzer: Any, committer: Committer | StoreProcess):
        from signaal.signals.pseudonym import Pseudonymizer

        self.settings = settings
        self.analyzer = analyzer
        self._pseudonymizer = Pseudonymizer(settings.key)
        self.committer = committer
        self.live = LiveConversations(settings.cache_size, settings.state_ttl)
        # several workers share a PostgreSQL store: reads check the stored version
        self.shared = settings.store == "postgres"
        self.hub = Hub()
        self.metrics = Metrics()
        self.model_version = model_version(analyzer.model)
        self.policy_version = str(analyzer.policy.version)
        self.policy_sha256 = analyzer.policy.sha256

    def pseudonym(self, platform_id: str) -> str:
        if not platform_id or len(platform_id) > MAX_ID_CHARS:
            raise HTTPException(422, f"conversation id must have 1 to {MAX_ID_CHARS} characters")
        return self._pseudonymizer.pseudonym(platform_id)

    async def _live(self, pseudonym: str, fresh: bool = False) -> Live | None:
        """From memory, else rebuilt from the stored snapshot (placeholders for snippets).
        `fresh` (shared stores, reads): reload when another worker has moved the state on."""
        live = self.live.get(pseudonym)
        if live is not None and not (fresh and self.shared):
            return live
        state = await self.committer.run([("load_state", (pseudonym,))])
        if state is None:
            self.live.drop(pseudonym)
            return None
        if live is not None and state.get("n") == len(live.conversation.roles):
            live.verdicts = dict(state.get("verdicts", {}))
            return live  # ours is current (and has the live snippets)
        live = restore(self.analyzer, pseudonym, state)
        self.live.put(pseudonym, live)
        return live

    def view(self, pseudonym: str, live: Live) -> dict:
        result = live.conversation.result().to_dict()
        result.pop("id", None)
        return {"conversation": pseudonym, "messages": len(live.conversation.roles), **result,
                "verdicts": dict(live.verdicts), "model_version": self.model_version,
                "policy_version": self.policy_version}

    async def _commit(self, pseudonym: str, live: Live, expected: int, now: float,
                      append: tuple[str, tuple]) -> Any:
        """Save the snapshot (if the stored one is still at `expected` messages) and append
        the audit/feedback record (`append`, a store Op) in one transaction; StateConflict
        when the stored state moved on."""
        expires = now + self.settings.state_ttl
        return await self.committer.run([
            ("put_state", (pseudonym, snapshot(live), expires, expected, now)), append])

    async def add_message(self, pseudonym: str, role: str, text: str) -> dict:
        async with self.live.lock(pseudonym):
            for attempt in range(CONFLICT_RETRIES):
                live = await self._live(pseudonym)
                if live is None:
                    live = Live(self.analyzer.conversation(pseudonym))
                conv = live.conversation
                index = len(conv.roles)
                try:
                    if self.model_worker is None:
                        update = conv.add(role, text)
                    else:  # the model scores in the other process while we serve others
                        step = conv.begin(role, text)
                        if step.model_input is not None:
                            step.model_scores = await self.model_worker.score(*step.model_input)
                        update = conv.finish(step)
                except Exception:
                    self.live.drop(pseudonym)  # half-updated: rebuild from the store next time
                    raise
                result = update.result.to_dict()
                result.pop("id", None)
                now = time.time()
                new_labels = [f.label for f in update.new_flags]
                record = {
                    "ts": now, "pseudonym": pseudonym, "kind": "message", "message_index": index,
                    "role": role, "model_version": self.model_version,
                    "policy_version": self.policy_version, "policy_sha256": self.policy_sha256,
                    "priority": result["priority"], "labels": result["labels"],
                    "flags": [{"label": f["label"], "score": f["score"], "raised_by": f["raised_by"],
                               "sources": sorted({e["source"] for e in f["evidence"]})}
                              for f in result["flags"]],
                    "new_labels": new_labels,
                    "vetoed": result["vetoed"],  # rule flags the model dropped: labels, rule ids
                }
                try:
                    await self._commit(pseudonym, live, index, now, ("append_audit", (record,)))
                    break
                except StateConflict:
                    # another worker wrote this conversation: reload its state and redo
                    self.live.drop(pseudonym)
                    log.info("state of %s moved on elsewhere; retry %d", pseudonym, attempt + 1)
                except Exception as exc:
                    self.live.drop(pseudonym)  # memory ran ahead of the store: reload next time
                    log.error("store write failed for %s: %s", pseudonym, type(exc).__name__)
                    raise HTTPException(503, "the message could not be stored; retry") from None
            else:
                raise HTTPException(503, "the conversation is being written elsewhere; retry")
            del text  # nothing below may see it
            self.live.put(pseudonym, live, now)
        self.metrics.message(role, new_labels, result["priority"])
        if self.hub.wanted(pseudonym):
            self.hub.publish(pseudonym, "update", self.view(pseudonym, live))
        return {"conversation": pseudonym, "message_index": index, **result,
                "new_flags": [f.to_dict() for f in update.new_flags],
                "verdicts": dict(live.verdicts),
                "model_version": self.model_version, "policy_version": self.policy_version}

    async def feedback(self, pseudonym: str, label: str, verdict: str) -> int:
        from signaal.signals.labels import LABEL_IDS

        if label not in LABEL_IDS:
            raise HTTPException(422, f"unknown label {label!r}; see GET /docs or LABELS.md")
        async with self.live.lock(pseudonym):
            for _ in range(CONFLICT_RETRIES):
                live = await self._live(pseudonym, fresh=True)
                if live is None:
                    raise HTTPException(404, "unknown conversation")
                flag = live.conversation.result().flag(label)
                now = time.time()
                record = {
                    "ts": now, "pseudonym": pseudonym, "label": label, "verdict": verdict,
                    "raised_by": flag.raised_by if flag else None,
                    "sources": sources(live, label), "model_version": self.model_version,
                    "policy_version": self.policy_version,
                }
                before = dict(live.verdicts)
                if verdict == "undo":
                    live.verdicts.pop(label, None)
                else:
                    live.verdicts[label] = verdict
                try:
                    feedback_id = await self._commit(
                        pseudonym, live, len(live.conversation.roles), now,
                        ("append_feedback", (record,)))
                    break
                except StateConflict:
                    live.verdicts = before
                    self.live.drop(pseudonym)
                except Exception as exc:
                    live.verdicts = before
                    log.error("store write failed for %s: %s", pseudonym, type(exc).__name__)
                    raise HTTPException(503, "the verdict could not be stored; retry") from None
            else:
                raise HTTPException(503, "the conversation is being written elsewhere; retry")
            self.live.put(pseudonym, live, now)
        self.metrics.verdict(label, verdict)
        if self.hub.wanted(pseudonym):
            self.hub.publish(pseudonym, "update", self.view(pseudonym, live))
        return int(feedback_id)

    async def forget(self, pseudonym: str) -> None:
        async with self.live.lock(pseudonym):
            self.live.drop(pseudonym)
            record = {"ts": time.time(), "pseudonym": pseudonym, "kind": "delete",
                      "model_version": self.model_version, "policy_version": self.policy_version,
                      "policy_sha256": self.policy_sha256}
            await self.committer.run([("delete_state", (pseudonym,)), ("append_audit", (record,))])
        self.hub.publish(pseudonym, "deleted", {"conversation": pseudonym})

    async def purge(self) -> dict[str, int]:
        counts = await self.committer.run([("purge_expired", ())])
        counts["live"] = self.live.expire()
        if any(counts.values()):
            log.info("purged expired: %s", counts)
        return counts

    def close(self) -> None:
        self.hub.close_all()
        self.committer.close()


# --- middleware ---------------------------------------------------------------------------

class AccessMiddleware:
    """Pure ASGI: body size limit (413), metrics, one access line without ids or query
    strings, and a last-resort 500 that logs the exception type only (messages of
    exceptions may quote text)."""

    def __init__(self, app: Any, max_body_bytes: int):
        self.app = app
        self.max_body = max_body_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start = time.perf_counter()
        status = {"code": 500, "started": False}

        async def send_wrapper(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                status["started"] = True
            await send(message)

        try:
            too_big, receive = await self._limit(scope, receive)
            if too_big:
                await _send_json(send_wrapper, 413, {
                    "detail": f"request body too large (limit {self.max_body} bytes)"})
            else:
                await self.app(scope, receive, send_wrapper)
        except Exception as exc:
            frame = traceback.extract_tb(exc.__traceback__)[-1:]
            where = f"{frame[0].filename}:{frame[0].lineno}" if frame else "?"
            log.error("unhandled %s at %s", type(exc).__name__, where)
            if not status["started"]:
                await _send_json(send_wrapper, 500, {"detail": "internal error"})
        finally:
            self._record(scope, status["code"], time.perf_counter() - start)

    async def _limit(self, scope, receive):
        """Reject by Content-Length; buffer a chunked body up to the limit and replay it."""
        length = None
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    length = int(value)
                except ValueError:
                    return True, receive
        if length is not None:
            return length > self.max_body, receive
        if scope.get("method") in ("GET", "HEAD", "DELETE", "OPTIONS"):
            return False, receive
        chunks, total = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return False, receive
            total += len(message.get("body", b""))
            if total > self.max_body:
                return True, receive
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        body, sent = b"".join(chunks), False

        async def replay():
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return False, replay

    def _record(self, scope, code: int, seconds: float) -> None:
        route = getattr(scope.get("route"), "path", None) or "<unmatched>"
        state = scope.get("state") or {}
        service = getattr(scope.get("app"), "state", None)
        metrics = getattr(getattr(service, "service", None), "metrics", None)
        if metrics is not None:
            metrics.request(route, scope["method"], code, seconds)
        access_log.info("%s %s %d %.1fms %s", scope["method"], route, code, seconds * 1000,
                        state.get("pseudonym", "-"))


async def _send_json(send, status: int, body: dict) -> None:
    raw = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(raw)).encode())]})
    await send({"type": "http.response.body", "body": raw})


def _clean_errors(errors: list[dict]) -> list[dict]:
    """Pydantic errors without `input` and `ctx`, which may hold the posted text."""
    return [{"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in errors]


# --- the app ----------------------------------------------------------------------------------

def create_app(settings: Settings, analyzer: Any = None, store: Any = None) -> FastAPI:
    """The ASGI app. `analyzer` and `store` may be given (tests); otherwise they are built
    at startup from settings (the analyzer loads once, ~1-2 s)."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        an = analyzer if analyzer is not None else await asyncio.to_thread(build_analyzer, settings)
        # one synthetic message: a broken model fails the start, not every client message,
        # and lazy parts (model weights, caches) load before the first real message
        await asyncio.to_thread(lambda: an.conversation(None).add("client", "hallo, ik ben 15"))
        if hasattr(an.model, "word_weights"):  # its term tables, for a model-only flag's words
            await asyncio.to_thread(an.model.word_weights, "hallo", an.model.labels[0])
        if store is None and settings.store_process:
            committer = await asyncio.to_thread(StoreProcess, StoreParams.of(settings))
        else:
            committer = Committer(store if store is not None else await asyncio.to_thread(open_store, settings))
        service = Service(settings, an, committer)
        if settings.model_process and getattr(an.model, "path", None):
            from signaal.service.model_worker import ModelWorker

            service.model_worker = await asyncio.to_thread(ModelWorker, an.model)
        app.state.service = service
        # the analyzer's lexicons and pipeline are ~150k long-lived objects: a full GC pass
        # over them stalls every request for a few hundred ms; keep them out of collection
        gc.collect()
        gc.freeze()
        # the store thread takes the GIL back after every SQLite call; with the default 5 ms
        # switch interval a busy event loop makes it wait up to 5 ms each time
        sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)
        await service.purge()
        purger = asyncio.create_task(_purge_loop(service, settings.purge_interval_seconds))
        log.info("service ready: store=%s model=%s policy=%s", settings.store,
                 service.model_version or "rules", service.policy_version)
        try:
            yield
        finally:
            purger.cancel()
            if service.model_worker is not None:
                service.model_worker.close()
            await asyncio.to_thread(service.close)
            gc.unfreeze()
            if settings.ephemeral_data_dir and settings.data_dir:
                # here, not after uvicorn returns: it re-raises SIGTERM/SIGINT on its way out
                import shutil

                shutil.rmtree(settings.data_dir, ignore_errors=True)

    app = FastAPI(
        title="Signaal",
        summary="Risk indicators and priority for helpline chats, per message (suggestions; "
                "the counselor decides).",
        version=_version(),
        lifespan=lifespan,
    )
    app.state.settings = settings
    # uvicorn's access lines carry the path (the platform id) and the query (a token):
    # silence them however the server was started; AccessMiddleware logs a safe line instead
    logging.getLogger("uvicorn.access").disabled = True
    app.add_middleware(AccessMiddleware, max_body_bytes=settings.max_body_bytes)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": _clean_errors(exc.errors())}, status_code=422)

    platform = Depends(require("platform"))
    reader = Depends(require("platform", "counselor"))
    counselor = Depends(require("counselor"))
    streamer = Depends(require("counselor", allow_query=True))

    def svc(request: Request) -> Service:
        return request.app.state.service

    def door(request: Request, conversation_id: str) -> str:
        pseudonym = svc(request).pseudonym(conversation_id)
        request.state.pseudonym = pseudonym  # for the access line
        return pseudonym

    @app.get("/healthz", tags=["ops"])
    async def healthz(request: Request) -> dict:
        service = getattr(request.app.state, "service", None)
        return {"status": "ok" if service else "starting"}

    @app.get("/metrics", tags=["ops"], response_class=PlainTextResponse, dependencies=[reader])
    async def metrics(request: Request) -> PlainTextResponse:
        service = svc(request)
        text = service.metrics.render({
            "signaal_live_conversations": len(service.live),
            "signaal_event_streams": len(service.hub),
            "signaal_store_batches_total": service.committer.batches,
            "signaal_store_operations_total": service.committer.operations,
        })
        return PlainTextResponse(text, media_type="text/plain; version=0.0.4")

    @app.post("/v1/conversations/{conversation_id}/messages", tags=["conversations"],
              dependencies=[platform])
    async def post_message(request: Request, conversation_id: str, message: MessageIn) -> Response:
        """Analyse one message (platform role `client` or `counselor`); returns the
        conversation's flags and priority so far, and the flags this message raised."""
        limit = settings.max_text_chars
        if len(message.text) > limit:
            raise HTTPException(422, f"text has {len(message.text)} characters; the limit is "
                                     f"{limit} (split longer messages)")
        pseudonym = door(request, conversation_id)
        return _json(await svc(request).add_message(pseudonym, message.role, message.text))

    @app.get("/v1/conversations/{conversation_id}", tags=["conversations"], dependencies=[reader])
    async def get_conversation(request: Request, conversation_id: str) -> Response:
        pseudonym = door(request, conversation_id)
        live = await svc(request)._live(pseudonym, fresh=True)
        if live is None:
            raise HTTPException(404, "unknown conversation (never seen, ended or expired)")
        return _json(svc(request).view(pseudonym, live))

    @app.delete("/v1/conversations/{conversation_id}", status_code=204, tags=["conversations"],
                dependencies=[reader])
    async def delete_conversation(request: Request, conversation_id: str) -> Response:
        """End a conversation: its flag state is forgotten now (the pseudonymous audit trail stays)."""
        pseudonym = door(request, conversation_id)
        await svc(request).forget(pseudonym)
        return Response(status_code=204)

    @app.post("/v1/conversations/{conversation_id}/feedback", tags=["conversations"],
              dependencies=[counselor])
    async def post_feedback(request: Request, conversation_id: str, body: FeedbackIn) -> dict:
        """A counselor confirms or rejects a flag (or undoes their last verdict)."""
        pseudonym = door(request, conversation_id)
        feedback_id = await svc(request).feedback(pseudonym, body.label, body.verdict)
        return {"ok": True, "feedback_id": feedback_id}

    @app.get("/v1/conversations/{conversation_id}/events", tags=["conversations"],
             dependencies=[streamer])
    async def events(request: Request, conversation_id: str) -> StreamingResponse:
        """Server-sent events: `update` (same JSON as GET) on every message or verdict,
        `deleted` when the conversation ends, a comment line as heartbeat. EventSource
        cannot send headers: the counselor token may be given as `?token=`."""
        pseudonym = door(request, conversation_id)
        service = svc(request)
        queue = service.hub.subscribe(pseudonym)
        live = await service._live(pseudonym, fresh=True)
        first = service.view(pseudonym, live) if live is not None else None
        return StreamingResponse(
            _stream(service, pseudonym, queue, first, settings.heartbeat_seconds),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    try:  # the counselor page, when installed, lives in its own module
        from signaal.service.console import router as console_router
    except ImportError:
        console_router = None
    if console_router is not None:
        app.include_router(console_router)

    return app


def _json(body: dict) -> Response:
    """Plain dicts of str/int/float/list: json.dumps directly (FastAPI's encoder walk costs
    more than the analysis of a short message)."""
    return Response(json.dumps(body, ensure_ascii=False, separators=(",", ":")),
                    media_type="application/json")


async def _stream(service: Service, pseudonym: str, queue: asyncio.Queue, first: dict | None,
                  heartbeat: float) -> AsyncIterator[bytes]:
    try:
        yield b"retry: 3000\n: connected\n\n"
        if first is not None:
            yield _sse("update", first, first["messages"])
        while True:
            try:
                event, data = await asyncio.wait_for(queue.get(), timeout=heartbeat)
            except TimeoutError:
                yield b": heartbeat\n\n"
                continue
            if event == "closing":
                return
            yield _sse(event, data, data.get("messages") if event == "update" else None)
            if event == "deleted":
                return
    finally:
        service.hub.unsubscribe(pseudonym, queue)


async def _purge_loop(service: Service, interval: float) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            await service.purge()
        except Exception as exc:  # keep serving; the next round retries
            log.error("purge failed: %s", type(exc).__name__)


def model_version(model: Any) -> str | None:
    """`name@version`, where version is the model's own, else the start of a digest over the
    artifact's file hashes (so two trainings under one name stay apart in the audit trail)."""
    if model is None:
        return None
    name = getattr(model, "name", None) or type(model).__name__
    manifest = getattr(model, "manifest", None) or {}
    version = getattr(model, "version", None) or manifest.get("version")
    if not version and manifest.get("files"):
        import hashlib

        files = json.dumps(manifest["files"], sort_keys=True).encode()
        version = hashlib.sha256(files).hexdigest()[:12]
    return f"{name}@{version}" if version else name


def build_analyzer(settings: Settings) -> Any:
    """The analyzer as the CLI builds it: the default model if one is installed, a named
    one, or rules only (`--model rules`)."""
    import warnings

    from signaal.signals.pipeline import Analyzer

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Analyzer.load(settings.model or "default")


def _version() -> str:
    try:
        import signaal

        return str(signaal.__version__)
    except Exception:
        return "0"
