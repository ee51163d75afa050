"""The browser app in real Chromium with a fake camera that films a face: overlay, face list, uploads (a face crop, an
error that clears the results), camera messages, model picker."""

from __future__ import annotations

from pathlib import Path

import cv2
import pytest

from fer_lab.app.harness import chromium_problem
from fer_lab.labels import EMOTIONS

ARTIFACTS = Path(__file__).resolve().parents[1] / "build" / "test-artifacts"
TIMEOUT_MS = 30_000

pytestmark = pytest.mark.skipif(chromium_problem() is not None, reason=f"no browser: {chromium_problem()}")


def png(name: str, data: bytes) -> dict:
    """A file for Playwright's set_input_files."""
    return {"name": name, "mimeType": "image/png", "buffer": data}


def test_webcam_overlay_upload_and_model_picker(tiny_bundled, tmp_path):
    from fer_lab.app.harness import chromium, face_crop, face_frames, serve_in_thread, write_y4m
    from fer_lab.app.serving import ServingState

    camera = write_y4m(tmp_path / "camera.y4m", face_frames(6))
    state = ServingState(str(tiny_bundled / "model.keras"), detector="haar", tta="none")
    with serve_in_thread(state) as url, chromium(camera) as browser:
        page = browser.new_page(viewport={"width": 1000, "height": 900})
        page.goto(url)
        face = page.wait_for_selector("#faces li[data-label]", timeout=TIMEOUT_MS)
        assert face.get_attribute("data-label") in EMOTIONS
        x, y, w, h = map(int, face.get_attribute("data-box").split(","))
        assert w > 100 and h > 100 and 0 <= x < 640 and 0 <= y < 480
        assert page.evaluate("window.ferLab.stats.frames") >= 1 and "model.keras" in page.inner_text("#serving")
        assert page.is_hidden("#message")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "app_webcam.png"))

        slide = "(el, value) => { el.value = value; el.oninput(); }"
        page.eval_on_selector("#uncertain", slide, "0.9")  # above the tiny model's top probabilities
        page.wait_for_selector("#faces li[data-label=uncertain]", timeout=TIMEOUT_MS)
        assert page.inner_text("#uncertain-value") == "0.90"
        page.eval_on_selector("#uncertain", slide, "0")
        assert page.inner_text("#uncertain-value") == "off"

        page.click("nav button[data-tab=upload]")
        from matplotlib import cbook

        page.set_input_files(
            "#image-form input[type=file]", str(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
        )
        page.click("#image-form button")
        uploaded = page.wait_for_selector("#image-faces li[data-label]", timeout=TIMEOUT_MS)
        assert uploaded.get_attribute("data-label") in EMOTIONS and '"probabilities"' in page.inner_text("#image-json")

        page.check("#face-crop")
        crop = cv2.imencode(".png", face_crop())[1].tobytes()
        page.set_input_files("#image-form input[type=file]", files=[png("fer.png", crop)])
        page.click("#image-form button")
        page.wait_for_selector('#image-faces li[data-box="0,0,48,48"]', timeout=TIMEOUT_MS)
        assert '"whole_image": true' in page.inner_text("#image-json")
        page.set_input_files("#image-form input[type=file]", files=[png("notes.png", b"not an image")])
        page.click("#image-form button")
        page.wait_for_selector("#message:has-text('not a JPEG, PNG, BMP or WebP image')", timeout=TIMEOUT_MS)
        assert page.inner_text("#image-json") == "" and page.query_selector("#image-faces li") is None
        assert page.evaluate("document.querySelector('#image-canvas').width") == 0
        problems = page.evaluate(
            "['NotAllowedError', 'NotFoundError', 'NotReadableError', 'SecurityError']"
            ".map((name) => window.ferLab.cameraProblem({ name }))"
        )
        assert [p.split(":")[0] for p in problems] == [
            "camera permission denied",
            "no camera found",
            "the camera is in use by another app",
            "no camera",
        ]
        assert "https pages or localhost" in problems[3] and "https" not in "".join(problems[:3])

        page.click("nav button[data-tab=model]")
        page.click("#models button[data-uri=bundled]")
        page.wait_for_selector("#serving[data-uri=bundled]", timeout=TIMEOUT_MS)
        assert "val accuracy 0.510, test accuracy 0.490" in page.inner_text("#serving")
        assert state.serving.uri == "bundled"
