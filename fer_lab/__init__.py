"""fer_lab: facial emotion recognition experiments."""

__all__ = ["EmotionRecognizer"]


def __getattr__(name: str):
    """Import the inference API on first use, so `import fer_lab` stays light."""
    if name == "EmotionRecognizer":
        from fer_lab.inference.recognizer import EmotionRecognizer

        return EmotionRecognizer
    raise AttributeError(f"module 'fer_lab' has no attribute {name!r}")
