"""Class names and their fixed FER-2013 label order."""

EMOTIONS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
"""FER-2013 label convention: index i is the emotion with label i."""

CONTEMPT = "contempt"
"""Eighth class that only FER+ votes carry (label 7 when enabled)."""


def class_names(include_contempt: bool = False) -> tuple[str, ...]:
    """The class names of a label space, in label order."""
    return EMOTIONS + ((CONTEMPT,) if include_contempt else ())
