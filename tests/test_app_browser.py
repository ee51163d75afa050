"""The browser app in real Chromium with a fake camera that films a face: overlay, face list, upload, model picker."""

from __future__ import annotations

from pathlib import Path

import pytest

from fer_lab.app.harness import chromium_problem
from fer_lab.labels import EMOTIONS

ARTIFACTS = Path(__file__).resolve().parents[1] / "build" / "test-artifacts"
TIMEOUT_MS = 30_000

pytestmark = pytest.mark.skipif(chromium_problem() is not None, reason=f"no browser: {chromium_problem()}")


def test_webcam_overlay_upload_and_model_picker(tiny_bundled, tmp_path):
    from fer_lab.app.harness import chromium, face_frames, serve_in_thread, write_y4m
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

        page.click("nav button[data-tab=upload]")
        from matplotlib import cbook

        page.set_input_files(
            "#image-form input[type=file]", str(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
        )
        page.click("#image-form button")
        uploaded = page.wait_for_selector("#image-faces li[data-label]", timeout=TIMEOUT_MS)
        assert uploaded.get_attribute("data-label") in EMOTIONS and '"probabilities"' in page.inner_text("#image-json")

        page.click("nav button[data-tab=model]")
        page.click("#models button[data-uri=bundled]")
        page.wait_for_selector("#serving[data-uri=bundled]", timeout=TIMEOUT_MS)
        assert "val accuracy 0.510, test accuracy 0.490" in page.inner_text("#serving")
        assert state.serving.uri == "bundled"
