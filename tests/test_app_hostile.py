"""The app under hostile input: decompression bombs, odd shapes, playlists posing as videos, other sites' pages,
foreign Host headers, floods of images, videos and sockets, endless or stalled uploads, idle sockets, oversized,
unknown or repeated settings and form fields, malformed forms.

Each case asserts the answer's status and message, that the app still answers, and that it did not balloon.
"""

from __future__ import annotations

import http.client
import json
import socket
import struct
import threading
import time
import zlib
from pathlib import Path
from urllib.parse import urlsplit

import cv2
import numpy as np
import pytest
from conftest import BROWSER
from starlette.websockets import WebSocketDisconnect

from fer_lab.app.harness import face_frames, write_mp4

LOCAL = "http://localhost"


def rss_mb() -> float:
    status = Path("/proc/self/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmRSS:")).split()[1]) / 1024


def png_bomb(width: int, height: int) -> bytes:
    """A real grayscale PNG of zeros: a few hundred KB that decodes to width x height bytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    packer, row, parts = zlib.compressobj(9), b"\0" * (width + 1), []
    for _ in range(height):
        parts.append(packer.compress(row))
    parts.append(packer.flush())
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", b"".join(parts)) + chunk(b"IEND", b"")


@pytest.fixture
def make_app(make_client):
    """make_app(**limits) -> a TestClient of the app serving the tiny model with these limits."""
    from fer_lab.app.serving import Limits

    return lambda **limits: make_client(limits=Limits(**limits))


def still_answers(client) -> None:
    assert client.get("/api/models").status_code == 200


def test_a_decompression_bomb_is_refused_from_its_header_before_it_is_decoded(make_app):
    client = make_app()
    bomb = png_bomb(20000, 20000)
    assert len(bomb) < 1_000_000
    before = rss_mb()
    started = time.perf_counter()
    answer = client.post("/api/image", files={"file": ("bomb.png", bomb, "image/png")})
    assert answer.status_code == 400
    assert answer.json()["error"] == (
        "the image is 20000x20000 pixels, over the limit of 40 megapixels: send a smaller image"
    )
    with client.websocket_connect("/ws", headers={**BROWSER, "origin": LOCAL}) as ws:
        ws.send_bytes(bomb)
        assert "20000x20000 pixels, over the limit of 2.0736 megapixels" in ws.receive_json()["error"]
    assert time.perf_counter() - started < 5
    assert rss_mb() - before < 200
    still_answers(client)


def test_thin_and_tall_images_are_read_without_crashing(make_app):
    client = make_app()
    for width, height in ((2000, 1), (1, 2000), (100, 300_000)):
        image = cv2.imencode(".png", np.full((height, width), 128, np.uint8))[1].tobytes()
        answer = client.post("/api/image", files={"file": ("thin.png", image, "image/png")})
        assert answer.status_code == 200, answer.json()
        assert (answer.json()["width"], answer.json()["height"]) == (width, height)
        assert answer.json()["message"].startswith("no face found: if the image is a face crop, tick")
        whole = client.post("/api/image", files={"file": ("thin.png", image)}, data={"face_crop": "true"}).json()
        assert [face["box"] for face in whole["faces"]] == [{"x": 0, "y": 0, "w": width, "h": height, "score": 1.0}]
    with client.websocket_connect("/ws", headers=BROWSER) as ws:
        ws.send_bytes(cv2.imencode(".png", np.zeros((1, 2000), np.uint8))[1].tobytes())
        assert ws.receive_json()["faces"] == []


def test_only_listed_image_formats_are_decoded(make_app):
    client = make_app()
    gray = np.full((40, 60), 90, np.uint8)
    others = [cv2.imencode(suffix, gray)[1].tobytes() for suffix in (".tiff", ".pgm")]
    for data in (*others, b'<svg xmlns="http://www.w3.org/2000/svg"/>', b""):
        answer = client.post("/api/image", files={"file": ("x.png", data)})
        assert answer.status_code == 400, data[:8]
        assert answer.json()["error"] == "the image is not a JPEG, PNG, BMP or WebP image: send one of those"
    truncated = cv2.imencode(".png", gray)[1].tobytes()[:60]
    answer = client.post("/api/image", files={"file": ("cut.png", truncated)})
    assert answer.status_code == 400 and "damaged JPEG, PNG, BMP or WebP file" in answer.json()["error"]


def test_a_playlist_posing_as_a_video_never_reads_the_files_it_names(make_app, tmp_path):
    secret = tmp_path / "secret.mp4"
    write_mp4(secret, [np.full((48, 64, 3), 40 * i, np.uint8) for i in range(5)])
    playlist = f"#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\nfile://{secret}\n#EXT-X-ENDLIST\n".encode()
    client = make_app()
    for name, data in (("evil.m3u8", playlist), ("evil.mp4", playlist), ("evil.mkv", b"\x1a\x45\xdf\xa3" + playlist)):
        answer = client.post("/api/video", files={"file": (name, data)})
        assert answer.status_code == 400, name
        assert "job" not in answer.json() and "frames" not in answer.json()
    assert client.post("/api/video", files={"file": ("evil.m3u8", playlist)}).json()["error"] == (
        "the video is not an MP4, MOV, WebM, MKV or AVI file: send one of those"
    )
    still_answers(client)


def test_another_sites_page_cannot_drive_the_app(make_app):
    client = make_app()
    with (
        pytest.raises(WebSocketDisconnect) as closed,
        client.websocket_connect("/ws", headers={**BROWSER, "origin": "http://attacker.example"}),
    ):
        pass
    assert closed.value.code == 1008
    for path, kwargs in (("/api/model", {"json": {"uri": "bundled"}}), ("/api/image", {"files": {"file": b"x"}})):
        answer = client.post(path, headers={"origin": "http://attacker.example"}, **kwargs)
        assert answer.status_code == 403, path
        assert answer.json() == {"error": "requests from another site's page are refused"}
    assert client.post("/api/model", headers={"origin": "null"}, json={"uri": "bundled"}).status_code == 403
    with client.websocket_connect("/ws", headers={**BROWSER, "origin": LOCAL}) as ws:  # the app's own page
        ws.send_text(json.dumps({"tta": "flip"}))
        assert ws.receive_json()["settings"]["tta"] == "flip"
    assert client.post("/api/model", headers={"origin": LOCAL}, json={"uri": "bundled"}).status_code == 200


def test_a_foreign_host_header_is_refused_in_json(make_app):
    client = make_app()
    for host in ("attacker.example", "attacker.example:7860", "localhost.attacker.example", "[::1]:7860"):
        answer = client.get("/", headers={"host": host})
        assert answer.status_code == 400, host
        assert answer.json() == {
            "error": f"the Host header {host!r} is not a name the app answers to: open the app as localhost or "
            "127.0.0.1, or by a name it was started with (--allowed-hosts)"
        }
    with pytest.raises(WebSocketDisconnect), client.websocket_connect("/ws", headers={"host": "attacker.example"}):
        pass
    assert client.get("/", headers={"host": "127.0.0.1:7860"}).status_code == 200


def test_video_jobs_beyond_the_slots_get_503_with_retry_after(make_app):
    answer = make_app(video_jobs=0).post("/api/video", files={"file": ("clip.mp4", b"x")})
    assert answer.status_code == 503 and answer.headers["retry-after"] == "30"
    assert "videos are being analysed: send yours again shortly" in answer.json()["error"]


def test_images_beyond_the_slots_get_503_with_retry_after(make_app, monkeypatch):
    from fer_lab.app.serving import ServingState

    client, analyse = make_app(image_jobs=1), ServingState.analyse
    holding, release = threading.Event(), threading.Event()

    def held(self, *args, **kwargs):
        holding.set()
        release.wait(10)
        return analyse(self, *args, **kwargs)

    monkeypatch.setattr(ServingState, "analyse", held)
    image = {"file": ("gray.png", cv2.imencode(".png", np.full((40, 60), 90, np.uint8))[1].tobytes())}
    first = []
    worker = threading.Thread(target=lambda: first.append(client.post("/api/image", files=image)))
    worker.start()
    try:
        assert holding.wait(10)
        busy = client.post("/api/image", files=image)  # while the first holds the one slot
    finally:
        release.set()
        worker.join(10)
    assert busy.status_code == 503 and busy.headers["retry-after"] == "1"
    assert busy.json() == {
        "error": "the app is analysing as many images as it does at once (1): send yours again shortly"
    }
    assert first[0].status_code == 200
    assert client.post("/api/image", files=image).status_code == 200  # the slot is free again


def test_websockets_beyond_the_limit_are_told_so_and_closed(make_app):
    client = make_app(sockets=1)
    with client.websocket_connect("/ws", headers=BROWSER) as first:
        with client.websocket_connect("/ws", headers=BROWSER) as second:
            assert second.receive_json() == {"error": "1 webcam connections are open: try again shortly"}
            with pytest.raises(WebSocketDisconnect) as closed:
                second.receive_json()
            assert closed.value.code == 1013
        first.send_text(json.dumps({"tta": "flip"}))
        assert first.receive_json()["settings"]["tta"] == "flip"
    with client.websocket_connect("/ws", headers=BROWSER) as again:  # the first one's place is free
        again.send_text(json.dumps({"tta": "flip"}))
        assert again.receive_json()["settings"]["tta"] == "flip"


def test_unknown_settings_are_refused_by_name(make_app):
    settings = "the settings are tta, smoothing, uncertain_below"
    with make_app().websocket_connect("/ws", headers=BROWSER) as ws:
        for sent, error in (
            (
                {"uncertain_belo": 0.5},
                f"unknown setting 'uncertain_belo' (did you mean 'uncertain_below'?): {settings}",
            ),
            ({"tta": "flip", "face_crop": True}, f"unknown setting 'face_crop': {settings}"),
        ):
            ws.send_text(json.dumps(sent))
            assert ws.receive_json() == {"error": error}
        ws.send_text("{}")
        assert ws.receive_json()["settings"]["tta"] == "none"  # a refused message changes nothing


def test_upload_form_fields_outside_each_routes_list_or_repeated_are_refused(make_app):
    client = make_app()
    image = ("gray.png", cv2.imencode(".png", np.full((40, 60), 90, np.uint8))[1].tobytes())
    image_fields = "the image form fields are file, tta, uncertain_below, face_crop"
    for route, fields, error in (
        ("/api/image", {"face_crop": "bogus", "x": "1"}, f"unknown image form field 'x': {image_fields}"),
        (
            "/api/image",
            {"uncertain_belo": "0.5"},
            f"unknown image form field 'uncertain_belo' (did you mean 'uncertain_below'?): {image_fields}",
        ),
        (
            "/api/image",
            {"smoothing": "0.5"},
            "unknown image form field 'smoothing' (smoothing follows faces across frames: it applies to videos "
            f"only): {image_fields}",
        ),
        ("/api/image", {"face_crop": ["bogus", "true"]}, "image form field 'face_crop' is sent 2 times: send it once"),
        (
            "/api/video",
            {"face_crop": "true"},
            "unknown video form field 'face_crop' (face_crop applies to image uploads only): the video form fields are "
            "file, tta, smoothing, uncertain_below",
        ),
    ):
        answer = client.post(route, files={"file": image}, data=fields)
        assert answer.status_code == 400 and answer.json() == {"error": error}, fields


def test_malformed_upload_forms_are_refused_with_the_forms_rules(make_app):
    client = make_app()
    image = ("gray.png", cv2.imencode(".png", np.full((40, 60), 90, np.uint8))[1].tobytes())
    rules = (
        "send multipart/form-data with the image in one file field, 'file', and only the text fields tta, "
        "uncertain_below, face_crop, each at most 1 KB"
    )
    two_files = client.post("/api/image", files={"file": image, "tta": ("tta.txt", b"flip")})
    assert two_files.json() == {"error": f"the image upload has more than one file: {rules}"}
    long_field = client.post("/api/image", files={"file": image}, data={"tta": "x" * 2000})
    assert long_field.json() == {"error": f"the image upload has a text field over 1 KB: {rules}"}
    many = client.post("/api/image", files={"file": image}, data={name: "1" for name in "abcde"})
    assert many.json() == {"error": f"the image upload has more than 4 text fields: {rules}"}
    garbage = client.post("/api/image", content=b"garbage", headers={"content-type": "multipart/form-data"})
    assert garbage.status_code == 400 and garbage.json() == {"error": f"the image upload is not a valid form: {rules}"}


def _clip(path, frames: int = 4):
    return write_mp4(path, face_frames(frames, (320, 240))).read_bytes()


def test_a_video_job_stops_at_its_frame_and_time_limits_and_says_so(make_app, tmp_path):
    clip = _clip(tmp_path / "clip.mp4")
    capped = make_app(video_frames=2).post("/api/video", files={"file": ("clip.mp4", clip)}).json()
    assert capped["frames"] == 2 and capped["note"] == "stopped after 2 frames, the most a video job reads"
    timed = make_app(video_seconds=0).post("/api/video", files={"file": ("clip.mp4", clip)}).json()
    assert timed["frames"] == 0 and timed["note"] == "stopped after 0 frames, at the time limit of a video job"


def test_a_video_job_whose_client_left_stops_and_leaves_no_files(tiny_bundled, tmp_path):
    from fer_lab.app.serving import Limits, ServingState
    from fer_lab.app.uploads import JobStopped, VideoJobs

    state, jobs = ServingState("bundled", detector="haar", tta="none"), VideoJobs(Limits())
    cancelled = threading.Event()
    cancelled.set()
    with open(tmp_path / "clip.mp4", "wb") as out:
        out.write(_clip(tmp_path / "source.mp4"))
    with open(tmp_path / "clip.mp4", "rb") as video, pytest.raises(JobStopped, match="the client left"):
        jobs.run(state, video, "none", 0.0, cancelled)
    assert not list(jobs.root.iterdir())
    jobs.close()


def test_finished_jobs_files_are_deleted_after_their_time(make_app, tmp_path):
    client = make_app(job_files_seconds=0.5)
    job = client.post("/api/video", files={"file": ("clip.mp4", _clip(tmp_path / "clip.mp4"))}).json()
    assert client.get(job["csv"]).status_code == 200
    time.sleep(1.0)
    assert client.get(job["csv"]).status_code == 404


def test_uploads_without_content_length_are_cut_at_the_limit(live_app):
    host, port = live_app(video=100_000)
    head = (
        f"POST /api/video HTTP/1.1\r\nHost: {host}:{port}\r\nTransfer-Encoding: chunked\r\n"
        "Content-Type: multipart/form-data; boundary=x\r\n\r\n"
    ).encode()
    part = b'--x\r\nContent-Disposition: form-data; name="file"; filename="a.mp4"\r\n\r\n'
    with socket.create_connection((host, port), timeout=5) as connection:
        connection.sendall(head + b"%x\r\n%s\r\n" % (len(part), part))
        try:
            for _ in range(320):  # 20 MB, unless the app stops reading first
                connection.sendall(b"10000\r\n" + b"\0" * 0x10000 + b"\r\n")
        except OSError:  # the app answered and closed the connection, or stopped reading
            pass
        answer = connection.recv(65536).decode(errors="replace")
    assert answer.startswith("HTTP/1.1 413"), answer[:200]
    assert "the video is over the 0.0953674 MB limit: send a smaller or shorter one" in answer
    page = http.client.HTTPConnection(host, port, timeout=10)
    page.request("GET", "/")
    assert page.getresponse().status == 200


@pytest.fixture
def live_app(tiny_bundled):
    """live_app(**limits) -> (host, port) of the app served by uvicorn in a thread."""
    from contextlib import ExitStack

    from fer_lab.app.harness import serve_in_thread
    from fer_lab.app.serving import Limits, ServingState

    with ExitStack() as stack:

        def start(**limits) -> tuple[str, int]:
            state = ServingState("bundled", detector="haar", tta="none", limits=Limits(**limits))
            url = urlsplit(stack.enter_context(serve_in_thread(state)))
            return url.hostname, url.port

        yield start


def test_a_stalled_upload_is_dropped_and_nothing_is_logged(live_app, capfd):
    host, port = live_app(upload_idle_seconds=0.5)
    connection = http.client.HTTPConnection(host, port, timeout=10)
    connection.putrequest("POST", "/api/video")
    connection.putheader("content-type", "multipart/form-data; boundary=x")
    connection.putheader("content-length", "5000")
    connection.endheaders(b"--x\r\n")  # ... and then nothing more
    answer = connection.getresponse()
    assert answer.status == 408 and "sent nothing for 0.5 s" in json.loads(answer.read())["error"]
    connection.close()
    abandoned = http.client.HTTPConnection(host, port, timeout=10)
    abandoned.putrequest("POST", "/api/image")
    abandoned.putheader("content-type", "multipart/form-data; boundary=x")
    abandoned.putheader("content-length", "5000")
    abandoned.endheaders(b"--x\r\n")
    abandoned.close()  # the client gives up mid-upload
    time.sleep(0.5)
    page = http.client.HTTPConnection(host, port, timeout=10)
    page.request("GET", "/")
    assert page.getresponse().status == 200
    assert "Traceback" not in capfd.readouterr().err


def test_idle_websockets_are_closed_and_bad_settings_get_one_line(live_app):
    from websockets.sync.client import connect

    host, port = live_app(socket_idle_seconds=0.5)
    with connect(f"ws://{host}:{port}/ws", origin=f"http://{host}:{port}") as ws:
        ws.send("[" * 100_000)
        assert json.loads(ws.recv(timeout=10))["error"] == (
            "the settings message is 100000 bytes, over the 1024-byte limit: send only tta, smoothing, "
            'uncertain_below, as in {"tta": "flip", "smoothing": 0.5}'
        )
        ws.send("[" * 1000)
        assert "settings must be a JSON object" in json.loads(ws.recv(timeout=10))["error"]
        ws.send(json.dumps({"tta": "x" * 900}))
        error = json.loads(ws.recv(timeout=10))["error"]
        assert error.startswith("unknown tta 'xxx") and len(error) < 200
        with pytest.raises(Exception) as closed:
            ws.recv(timeout=10)
        assert "1001" in str(closed.value)


def test_model_switches_are_rate_limited_and_long_names_cut(tiny_bundled, make_client):
    from fer_lab.app.serving import Limits

    start = str(tiny_bundled / "model.keras")  # offered beside the catalogue's bundled model
    client = make_client(start, limits=Limits(switch_seconds=60))
    assert client.post("/api/model", json={"uri": start}).status_code == 200  # already serving: no reload
    assert client.post("/api/model", json={"uri": "bundled"}).json()["serving"]["uri"] == "bundled"
    again = client.post("/api/model", json={"uri": start})
    assert again.status_code == 429 and 0 < int(again.headers["retry-after"]) <= 60
    assert "was switched 60 s ago or less" in again.json()["error"]
    long = client.post("/api/model", json={"uri": "m" * 900}).json()["error"]
    assert long.startswith("unknown model 'mmm") and len(long) < 300
    assert client.post("/api/model", json={"uri": "m" * 5000}).status_code == 400
    still_answers(client)


def test_detection_copies_of_any_shape_stay_small():
    from fer_lab.inference.faces import downscale

    for shape, expected in (((480, 640), (240, 320)), ((1, 2000), (1, 320)), ((300_000, 100), (1280, 1))):
        small, scale = downscale(np.zeros(shape, np.uint8), 320)
        assert small.shape == expected and scale >= 1
    image = np.zeros((100, 80), np.uint8)
    for width in (320, 0):  # 0: detect at full size
        small, scale = downscale(image, width)
        assert small is image and scale == 1.0


def _jpeg_declaring(width: int, height: int) -> bytes:
    """A small real JPEG whose frame header is rewritten to declare width x height."""
    data = bytearray(cv2.imencode(".jpg", np.full((16, 16, 3), 90, np.uint8))[1].tobytes())
    at = data.index(b"\xff\xc0")
    data[at + 5 : at + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def test_jpeg_bombs_hidden_from_a_naive_parser_and_scan_bombs_are_refused(make_app):
    client = make_app()
    fake_frame = b"\xff\xc0\x00\x11\x08\x00\x10\x00\x10\x03\x01\x22\x00\x02\x11\x01\x03\x11\x01"
    decoy = b"\xff\xe1" + struct.pack(">H", 2 + len(fake_frame)) + fake_frame  # a 16x16 frame inside APP1
    hidden = b"\xff\xd8\xff\x00\x00\x08" + decoy + _jpeg_declaring(9000, 9000)[2:]
    answer = client.post("/api/image", files={"file": ("ff00.jpg", hidden)})
    assert answer.status_code == 400 and "9000x9000 pixels, over the limit" in answer.json()["error"]
    scans = _jpeg_declaring(64, 64)[:-2] + b"\xff\xda\x00\x08\x01\x01\x00\x00\x3f\x00" * 150 + b"\xff\xd9"
    answer = client.post("/api/image", files={"file": ("scans.jpg", scans)})
    assert answer.status_code == 400
    assert answer.json()["error"] == "the JPEG has 151 scans, more than 100: save it as a baseline JPEG"


def test_still_images_and_images_posing_as_videos_are_not_read_as_videos(make_app, tmp_path):
    client = make_app(video_pixels=1000)
    avif = b"\0\0\0\x1cftypavif\0\0\0\0avifmif1" + b"\0" * 200
    pgm = b"P5\n64 48\n255\n" + bytes(3072)
    bmp = bytearray(cv2.imencode(".bmp", np.zeros((48, 64, 3), np.uint8))[1].tobytes())
    bmp[4:8] = b"free"  # a QuickTime atom name where a BMP keeps its file size
    for name, data in (("a.avif", avif), ("a.pgm", pgm), ("a.mp4", bytes(bmp))):
        answer = client.post("/api/video", files={"file": (name, data)})
        assert answer.status_code == 400 and "frames" not in answer.json(), name
    clip = client.post("/api/video", files={"file": ("clip.mp4", _clip(tmp_path / "clip.mp4"))})
    assert clip.status_code == 400
    assert clip.json()["error"] == (
        "the video's frames are 320x240 pixels, over the limit of 0.001 megapixels: send a smaller video"
    )


def test_an_origin_of_another_scheme_and_an_oversized_json_body_are_refused(make_app):
    client = make_app()
    other_scheme = client.post("/api/model", headers={"origin": "https://localhost"}, json={"uri": "bundled"})
    assert other_scheme.status_code == 403
    body = b'{"uri": "bundled", "x": "' + b"a" * 200_000 + b'"}'
    answer = client.post("/api/model", content=body)
    assert answer.status_code == 413 and answer.json()["error"].startswith("the request is 0.2 MB, over the")

    def chunks():  # no Content-Length: counted as it arrives, refused although the route reads the body itself
        yield body

    streamed = client.post("/api/model", content=chunks(), headers={"content-type": "application/json"})
    assert streamed.status_code == 413 and streamed.json()["error"].startswith("the request is over the")


def test_a_connection_that_never_finishes_its_request_is_closed(live_app, monkeypatch):
    from websockets.sync.client import connect

    from fer_lab.app import connections

    monkeypatch.setattr(connections, "REQUEST_SECONDS", 0.5)
    host, port = live_app()
    with socket.create_connection((host, port), timeout=10) as slow:
        slow.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n")  # ... and never the blank line
        assert slow.recv(1024) == b""  # closed by the app
    with connect(f"ws://{host}:{port}/ws") as ws:  # a WebSocket outlives the deadline of its first request
        time.sleep(1.0)
        ws.send(json.dumps({"tta": "flip"}))
        assert json.loads(ws.recv(timeout=10))["settings"]["tta"] == "flip"
