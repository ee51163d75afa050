"""The app's HTTP and WebSocket routes (FastAPI), and uvicorn to serve them.

GET /                    the page (static/)
GET /api/models          the models on offer and the one serving
POST /api/model          {"uri": ...}: serve another model of that list
WS /ws                   binary JPEG frames and JSON settings {"tta", "smoothing"} in, one JSON answer per frame out
POST /api/image          multipart field `file`: the faces of an image
POST /api/video          multipart field `file`: an annotated video and a per-face CSV, as download links
GET /api/jobs/{job}/{f}  a video job's file
Errors answer {"error": message}.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from contextlib import asynccontextmanager
from pathlib import Path

import uvicorn
from fastapi import FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException

from fer_lab.app.serving import MB, ServingState, Session, UnknownModel, check_settings
from fer_lab.app.uploads import VideoJobs, decode_image, faces_result, image_result
from fer_lab.errors import FerLabError

STATIC = Path(__file__).resolve().parent / "static"
FORM_OVERHEAD = 64 * 1024
"""Bytes a multipart body may have beyond its file (boundaries, headers, small fields)."""


class TooLarge(FerLabError):
    """An upload over its limit."""


class ModelChoice(BaseModel):
    uri: str


def create_app(state: ServingState) -> FastAPI:
    """The app serving `state`'s model; video job files live until the app shuts down."""
    jobs = VideoJobs()

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        yield
        jobs.close()

    app = FastAPI(title="fer_lab", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.exception_handler(FerLabError)
    async def user_error(_request: Request, err: FerLabError) -> JSONResponse:
        status = 404 if isinstance(err, UnknownModel) else 413 if isinstance(err, TooLarge) else 400
        return JSONResponse({"error": str(err)}, status_code=status)

    @app.exception_handler(HTTPException)
    async def http_error(_request: Request, err: HTTPException) -> JSONResponse:
        return JSONResponse({"error": str(err.detail)}, status_code=err.status_code)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, err: RequestValidationError) -> JSONResponse:
        fields = ", ".join(".".join(str(p) for p in e["loc"][1:]) or "body" for e in err.errors())
        return JSONResponse({"error": f"missing or invalid request field(s): {fields}"}, status_code=400)

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    @app.get("/api/models")
    def models() -> dict:
        return {
            "serving": state.serving.to_dict(),
            "models": [e.to_dict() for e in state.models()],
            "settings": {"detector": state.detector_name, "tta": state.tta, "smoothing": state.smoothing},
            "limits_mb": {k: v / MB for k, v in vars(state.limits).items()},
        }

    @app.post("/api/model")
    def switch(choice: ModelChoice) -> dict:
        return {"serving": state.switch(choice.uri).to_dict()}

    @app.post("/api/image")
    async def image(request: Request) -> dict:
        _check_length(request, state.limits.image, "image")
        async with request.form() as form:
            upload = _upload(form, state.limits.image, "image")
            tta, _ = _settings(state, form)
            return await run_in_threadpool(image_result, state, await upload.read(), tta)

    @app.post("/api/video")
    async def video(request: Request) -> dict:
        _check_length(request, state.limits.video, "video")
        async with request.form() as form:
            upload = _upload(form, state.limits.video, "video")
            tta, smoothing = _settings(state, form)
            return await run_in_threadpool(jobs.run, state, upload.file, upload.filename or "", tta, smoothing)

    @app.get("/api/jobs/{job}/{name}")
    def job_file(job: str, name: str) -> FileResponse:
        path = jobs.file(job, name)
        if path is None:
            raise HTTPException(404, f"no file {name} for job {job}: upload the video again")
        return FileResponse(path, filename=name)

    @app.websocket("/ws")
    async def frames(ws: WebSocket) -> None:
        await ws.accept()
        session, count = Session(state), 0
        try:
            while True:
                message = await ws.receive()
                if message["type"] == "websocket.disconnect":
                    return
                if message.get("bytes") is not None:
                    count += 1
                    reply = await run_in_threadpool(_frame, session, message["bytes"], state.limits.frame)
                    await ws.send_json({**reply, "frame": count})
                else:
                    await ws.send_json(_configure(session, message.get("text") or ""))
        except WebSocketDisconnect:
            return

    return app


def server_config(
    app: FastAPI, host: str, port: int, frame_limit: int, certfile: str | None = None, keyfile: str | None = None
) -> uvicorn.Config:
    """uvicorn's settings for the app: quiet, TLS when a certificate is given, WebSocket messages sized for frames."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        ssl_certfile=certfile,
        ssl_keyfile=keyfile,
        ws_max_size=frame_limit + MB,
        log_level="warning",
    )


def listen(config: uvicorn.Config, on_ready: Callable[[], object] | None = None) -> None:
    """Serve until Ctrl+C; `on_ready` runs once the socket accepts connections."""
    server = uvicorn.Server(config)
    if on_ready:
        threading.Thread(target=_when_started, args=(server, on_ready), daemon=True).start()
    server.run()


def _when_started(server: uvicorn.Server, on_ready: Callable[[], None]) -> None:
    while not server.started and not server.should_exit:
        time.sleep(0.05)
    if server.started:
        on_ready()


def _frame(session: Session, data: bytes, limit: int) -> dict:
    started = time.perf_counter()
    try:
        if len(data) > limit:
            raise TooLarge(f"frame of {len(data) / MB:.1f} MB is over the {limit / MB:g} MB limit: send smaller JPEGs")
        image = decode_image(data, "frame")
        return faces_result(image, session.predict(image), started)
    except FerLabError as err:
        return {"error": str(err)}


def _configure(session: Session, text: str) -> dict:
    try:
        settings = json.loads(text)
    except ValueError:
        settings = None
    if not isinstance(settings, dict):
        return {"error": 'settings must be a JSON object such as {"tta": "flip", "smoothing": 0.5}'}
    try:
        return {"settings": session.configure(settings)}
    except FerLabError as err:
        return {"error": str(err)}


def _check_length(request: Request, limit: int, what: str) -> None:
    """Refuse an upload by its Content-Length before reading it."""
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit + FORM_OVERHEAD:
        raise TooLarge(_too_large(what, int(length), limit))


def _upload(form: FormData, limit: int, what: str) -> UploadFile:
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise FerLabError(f"send the {what} as a multipart/form-data field named 'file'")
    if upload.size is not None and upload.size > limit:
        raise TooLarge(_too_large(what, upload.size, limit))
    return upload


def _too_large(what: str, size: int, limit: int) -> str:
    return f"the {what} is {size / MB:.1f} MB, over the {limit / MB:g} MB limit: send a smaller or shorter one"


def _text_field(form: FormData, name: str) -> str | None:
    """The form's text field `name` (None when absent); a file sent there is refused."""
    value = form.get(name)
    if isinstance(value, UploadFile):
        raise FerLabError(f"send {name} as a text field, not as a file")
    return value


def _settings(state: ServingState, form: FormData) -> tuple[str, float]:
    """The form's tta and smoothing fields, the server's settings where it has none."""
    tta = _text_field(form, "tta") or state.tta
    smoothing_text = _text_field(form, "smoothing")
    try:
        smoothing = float(smoothing_text or state.smoothing)
    except ValueError:
        raise FerLabError(f"smoothing {smoothing_text!r} must be a number in [0, 1) (0: off)") from None
    check_settings(tta, smoothing)
    return tta, smoothing
