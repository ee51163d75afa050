"""The app's HTTP and WebSocket routes (FastAPI), and uvicorn to serve them.

GET /                    the page (static/)
GET /api/models          the models on offer and the one serving
POST /api/model          {"uri": ...}: serve another model of that list
WS /ws                   binary JPEG frames and JSON settings {"tta", "smoothing", "uncertain_below"} (no other key)
                         in, one JSON answer per frame out
POST /api/image          multipart field `file`: the faces of an image (`face_crop=true`: the whole image is one face)
POST /api/video          multipart field `file`: an annotated video and a per-face CSV, as download links
                         (the uploads take the settings as form fields: UPLOAD_FIELDS; no other field, none twice)
GET /api/jobs/{job}/{f}  a video job's file
Errors answer {"error": message}. What the app accepts and its limits: docs/inference.md, Security.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager, suppress
from pathlib import Path

import uvicorn
from fastapi import FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

from fer_lab.app.connections import TimedH11Protocol
from fer_lab.app.errors import ClientError, TooLarge, check_names, shown
from fer_lab.app.guards import MB, BodyLimit, SameOrigin, TrustedHost, too_large
from fer_lab.app.serving import SETTINGS, Limits, ServingState, Session, check_settings
from fer_lab.app.sniff import VIDEO_DEMUXERS
from fer_lab.app.uploads import ImageJobs, VideoJobs, decode_image, faces_result
from fer_lab.errors import FerLabError

STATIC = Path(__file__).resolve().parent / "static"
LOCAL_HOSTS = ("localhost", "127.0.0.1")
FORM_OVERHEAD = 64 * 1024
"""Bytes a multipart body may have beyond its file (boundaries, headers, small fields)."""
UPLOAD_FIELDS = {
    "image": ("file", "tta", "uncertain_below", "face_crop"),
    "video": ("file", "tta", "smoothing", "uncertain_below"),
}
"""The form fields each upload takes: its file and its settings."""
FIELD_NOTES = {
    "face_crop": "face_crop applies to image uploads only",
    "smoothing": "smoothing follows faces across frames: it applies to videos only",
}
"""Why an upload refuses a field that the other upload takes."""
FORM_FIELDS = {"max_files": 1, "max_fields": 4, "max_part_size": 1024}
"""An upload form as Starlette parses it: one file and a few short text fields (one more than an upload takes, so
that a misplaced field is refused by name)."""
FORM_PROBLEMS = {
    "Too many files": "has more than one file",
    "Too many fields": f"has more than {FORM_FIELDS['max_fields']} text fields",
    "exceeded maximum size": f"has a text field over {FORM_FIELDS['max_part_size'] // 1024} KB",
}
"""What Starlette's refusals of a form (keyed by a part of their message) mean; any other: not a valid form."""
FACE_CROP = {"true": True, "false": False}
"""The values of an image upload's `face_crop` field (default false): true scores the whole image as one face."""
SETTINGS_BYTES = 1024
"""Longest settings message a WebSocket may send."""
MAX_CONNECTIONS = 256
"""Connections and requests at once; more are answered 503."""
SMALL_BODY = 4096
"""Largest body of a JSON request (a model switch)."""


class ModelChoice(BaseModel):
    uri: str = Field(max_length=1000)


def create_app(state: ServingState, allowed_hosts: Sequence[str] = LOCAL_HOSTS) -> FastAPI:
    """The app serving `state`'s model to requests whose Host header is one of `allowed_hosts`."""
    limits = state.limits
    images, jobs = ImageJobs(state), VideoJobs(limits)
    # FFmpeg, behind OpenCV, may open only these containers: no playlist or list that names other files or URLs.
    os.environ["OPENCV_FFMPEG_CAPTURE_OPTIONS"] = f"format_whitelist;{VIDEO_DEMUXERS}"
    # OpenCV's own cap on decoded pixels (read at its first decode), behind the header checks.
    os.environ.setdefault("OPENCV_IO_MAX_IMAGE_PIXELS", str(limits.image_pixels))

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        async def expire_jobs() -> None:
            while True:
                await asyncio.sleep(min(60.0, limits.job_files_seconds))
                await run_in_threadpool(jobs.expire)

        expiry = asyncio.create_task(expire_jobs())
        yield
        expiry.cancel()
        jobs.close()

    app = FastAPI(title="fer_lab", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    bodies = {
        "/api/image": (limits.image, "image"),
        "/api/video": (limits.video, "video"),
        "/api/model": (SMALL_BODY, "request"),
    }
    app.add_middleware(
        BodyLimit,
        limits=bodies,
        overhead=FORM_OVERHEAD,
        idle_seconds=limits.upload_idle_seconds,
        total_seconds=limits.upload_seconds,
    )
    app.add_middleware(SameOrigin)
    app.add_middleware(TrustedHost, allowed_hosts=allowed_hosts)  # outermost: runs first

    @app.exception_handler(FerLabError)
    async def user_error(_request: Request, err: FerLabError) -> JSONResponse:
        status = err.status if isinstance(err, ClientError) else 400
        retry = err.retry_after if isinstance(err, ClientError) else None
        headers = {"Retry-After": str(retry)} if retry else None
        return JSONResponse({"error": str(err)}, status_code=status, headers=headers)

    @app.exception_handler(ClientDisconnect)
    async def client_left(_request: Request, _err: ClientDisconnect) -> Response:
        return Response(status_code=400)  # nobody reads it: the client is gone

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
            "limits_mb": limits.sizes_mb(),
        }

    @app.post("/api/model")
    def switch(choice: ModelChoice) -> dict:
        return {"serving": state.switch(choice.uri).to_dict()}

    @app.post("/api/image")
    async def image(request: Request) -> dict:
        async with _form(request, "image") as form:
            upload = _upload(form, limits.image, "image")
            tta, _, uncertain_below = _settings(state, form)
            face_crop = _face_crop(form)
            return await run_in_threadpool(images.run, upload.file, tta, face_crop, uncertain_below)

    @app.post("/api/video")
    async def video(request: Request) -> dict:
        jobs.reserve()
        try:
            async with _form(request, "video") as form:
                upload = _upload(form, limits.video, "video")
                tta, smoothing, uncertain_below = _settings(state, form)
                cancelled = threading.Event()
                job = asyncio.ensure_future(
                    run_in_threadpool(jobs.run, state, upload.file, tta, smoothing, cancelled, uncertain_below)
                )
                while not (await asyncio.wait({job}, timeout=0.5))[0]:
                    if await request.is_disconnected():
                        cancelled.set()  # the job stops at its next frame
                return job.result()
        finally:
            jobs.release()

    @app.get("/api/jobs/{job}/{name}")
    def job_file(job: str, name: str) -> FileResponse:
        path = jobs.file(job, name)
        if path is None:
            raise HTTPException(404, f"no file {shown(name)} for job {shown(job)}: upload the video again")
        return FileResponse(path, filename=name)

    open_sockets = 0

    @app.websocket("/ws")
    async def frames(ws: WebSocket) -> None:
        nonlocal open_sockets
        await ws.accept()
        if open_sockets >= limits.sockets:
            with suppress(WebSocketDisconnect):
                await ws.send_json({"error": f"{limits.sockets} webcam connections are open: try again shortly"})
                await ws.close(code=1013, reason="busy: try again shortly")
            return
        open_sockets += 1
        try:
            await _answer_frames(ws, Session(state), limits)
        finally:
            open_sockets -= 1

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
        http=TimedH11Protocol,  # a connection gets REQUEST_SECONDS to send its first request
        limit_concurrency=MAX_CONNECTIONS,  # beyond: 503
        ws_max_size=frame_limit + MB,
        ws_max_queue=4,  # a client sends one frame at a time: what it sends beyond waits in its own buffers
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


async def _answer_frames(ws: WebSocket, session: Session, limits: Limits) -> None:
    """Answer a WebSocket's frames, one at a time, and its settings until it closes or idles."""
    count = 0
    try:
        while True:
            try:
                message = await asyncio.wait_for(ws.receive(), limits.socket_idle_seconds)
            except TimeoutError:
                await ws.close(code=1001, reason="idle: reload the page to start again")
                return
            if message["type"] == "websocket.disconnect":
                return
            if message.get("bytes") is not None:
                count += 1
                reply = await run_in_threadpool(_frame, session, message["bytes"], limits)
                await ws.send_json({**reply, "frame": count})
            else:
                await ws.send_json(_configure(session, message.get("text") or ""))
    except WebSocketDisconnect:
        return


def _frame(session: Session, data: bytes, limits: Limits) -> dict:
    started = time.perf_counter()
    try:
        if len(data) > limits.frame:
            raise TooLarge(too_large("frame", limits.frame, len(data)))
        image = decode_image(data, limits.frame_pixels, "frame")
        return faces_result(image, session.predict(image), started)
    except FerLabError as err:
        return {"error": str(err)}


def _configure(session: Session, text: str) -> dict:
    example = '{"tta": "flip", "smoothing": 0.5}'
    size = len(text.encode())
    if size > SETTINGS_BYTES:
        return {
            "error": f"the settings message is {size} bytes, over the {SETTINGS_BYTES}-byte limit: send only "
            f"{', '.join(SETTINGS)}, as in {example}"
        }
    try:
        settings = json.loads(text)
    except (ValueError, RecursionError):
        settings = None
    if not isinstance(settings, dict):
        return {"error": f"settings must be a JSON object such as {example}"}
    try:
        return {"settings": session.configure(settings)}
    except FerLabError as err:
        return {"error": str(err)}


@asynccontextmanager
async def _form(request: Request, what: str) -> AsyncIterator[FormData]:
    """The `what` upload's form, refused unless it is well formed and has only UPLOAD_FIELDS[what], each once."""
    try:
        form = await request.form(**FORM_FIELDS)
    except HTTPException as err:  # Starlette refused the form as it parsed it
        problem = next((p for key, p in FORM_PROBLEMS.items() if key in str(err.detail)), "is not a valid form")
        settings = ", ".join(UPLOAD_FIELDS[what][1:])
        raise FerLabError(
            f"the {what} upload {problem}: send multipart/form-data with the {what} in one file field, 'file', and "
            f"only the text fields {settings}, each at most {FORM_FIELDS['max_part_size'] // 1024} KB"
        ) from None
    try:
        check_names([name for name, _ in form.multi_items()], UPLOAD_FIELDS[what], f"{what} form field", FIELD_NOTES)
        yield form
    finally:
        await form.close()


def _upload(form: FormData, limit: int, what: str) -> UploadFile:
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise FerLabError(f"send the {what} as a multipart/form-data field named 'file'")
    if upload.size is not None and upload.size > limit:
        raise TooLarge(too_large(what, limit, upload.size))
    return upload


def _text_field(form: FormData, name: str) -> str | None:
    """The form's text field `name`, or None (a form holds one file, the upload: FORM_FIELDS)."""
    value = form.get(name)
    return value if isinstance(value, str) else None


def _settings(state: ServingState, form: FormData) -> tuple[str, float, float]:
    """The form's tta, smoothing and uncertain_below fields, the server's settings (uncertain_below: 0, off) where
    it has none."""
    tta = _text_field(form, "tta") or state.tta
    smoothing = _number_field(form, "smoothing", state.smoothing, "[0, 1) (0: off)")
    uncertain_below = _number_field(form, "uncertain_below", 0.0, "[0, 1] (0: off)")
    check_settings(tta, smoothing, uncertain_below)
    return tta, smoothing, uncertain_below


def _number_field(form: FormData, name: str, default: float, expected: str) -> float:
    """The form's field `name` as a number (check_settings checks its range), `default` when it is absent."""
    text = _text_field(form, name)
    try:
        return float(text or default)
    except ValueError:
        raise FerLabError(f"{name} {shown(text)} must be a number in {expected}") from None


def _face_crop(form: FormData) -> bool:
    """The form's face_crop field, one of FACE_CROP."""
    text = _text_field(form, "face_crop") or "false"
    if text not in FACE_CROP:
        raise FerLabError(f"face_crop {shown(text)} must be true or false (true: the image is one face, scored whole)")
    return FACE_CROP[text]
