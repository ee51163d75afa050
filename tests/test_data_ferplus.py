"""FER+ votes: majority, soft and contempt handling on a handcrafted 6-row votes file."""

from __future__ import annotations

import numpy as np
import pytest

from fer_lab.data import load_images
from fer_lab.errors import FerLabError

SIZE = 16
HEADER = "Usage,Image name,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF"
#         neutral happiness surprise sadness anger disgust fear contempt unknown NF
VOTES = [
    ("fer0.png", [1, 8, 1, 0, 0, 0, 0, 0, 0, 0]),  # happy; single votes ignored
    ("fer1.png", [4, 0, 0, 3, 2, 0, 1, 0, 0, 0]),  # 4 of 9 kept votes: no majority; soft 4/9 3/9 2/9
    ("fer2.png", [2, 0, 0, 0, 0, 0, 0, 6, 2, 0]),  # contempt majority
    ("fer3.png", [3, 0, 0, 0, 0, 0, 0, 0, 7, 0]),  # unknown
    ("fer4.png", [0, 0, 0, 0, 0, 0, 0, 0, 0, 10]),  # not a face
    ("", [0, 10, 0, 0, 0, 0, 0, 0, 0, 0]),
]  # no image name: dropped
USAGE = ["Training", "Training", "Training", "PublicTest", "PublicTest", "Training"]


@pytest.fixture
def files(data_csv, tmp_path):
    x = np.arange(6 * SIZE * SIZE).reshape(6, SIZE, SIZE) % 251
    csv = data_csv([(label, x[i], USAGE[i]) for i, label in enumerate([3, 6, 6, 0, 1, 3])])
    votes = tmp_path / "votes.csv"
    votes.write_text(
        "\n".join([HEADER] + [f"{u},{name},{','.join(map(str, v))}" for u, (name, v) in zip(USAGE, VOTES, strict=True)])
        + "\n"
    )
    return csv, votes


def load(data_cfg, files, **overrides):
    csv, votes = files
    return load_images(data_cfg("ferplus", path=str(csv), votes_path=str(votes), image_size=SIZE, **overrides))


def test_majority_drops_ambiguous_unknown_nf_contempt_and_unnamed(data_cfg, files):
    raw = load(data_cfg, files)
    assert list(raw.names) == ["data row 1"]
    np.testing.assert_array_equal(raw.y, [[0, 0, 0, 1, 0, 0, 0]])
    assert raw.class_names[-1] == "neutral" and raw.usage.tolist() == ["Training"]
    note = raw.notes[0]
    assert "kept 1 of 6" in note and "1 no majority" in note and "2 unknown / not a face" in note
    assert "1 contempt" in note and "1 empty image name" in note
    assert "FER+ majority" in raw.source and str(files[1]) in raw.source


def test_majority_with_contempt_is_an_eighth_class(data_cfg, files):
    raw = load(data_cfg, files, include_contempt=True)
    assert raw.class_names[-1] == "contempt" and raw.y.shape == (2, 8)
    np.testing.assert_array_equal(raw.labels, [3, 7])


def test_soft_labels_are_normalised_distributions_in_fer_order(data_cfg, files):
    raw = load(data_cfg, files, label_mode="soft")
    assert list(raw.names) == ["data row 1", "data row 2"]  # contempt row: kept emotions hold 2 of 10 votes
    np.testing.assert_allclose(raw.y[1], [2 / 9, 0, 0, 0, 3 / 9, 0, 4 / 9], rtol=1e-6)
    np.testing.assert_allclose(raw.y.sum(axis=1), 1, rtol=1e-6)
    with_contempt = load(data_cfg, files, label_mode="soft", include_contempt=True)
    np.testing.assert_allclose(with_contempt.y[2], [0, 0, 0, 0, 0, 0, 2 / 8, 6 / 8], rtol=1e-6)


def test_row_count_mismatch(data_cfg, files):
    _csv, votes = files
    votes.write_text("\n".join(votes.read_text().splitlines()[:-1]) + "\n")
    with pytest.raises(FerLabError, match="5 data rows but the FER-2013 CSV has 6"):
        load(data_cfg, files)


def test_misaligned_usage(data_cfg, files):
    _csv, votes = files
    votes.write_text(votes.read_text().replace("PublicTest,fer3", "Training,fer3"))
    with pytest.raises(FerLabError, match="not aligned row by row"):
        load(data_cfg, files)


def test_bad_votes_header_and_mode(data_cfg, files, tmp_path):
    _csv, votes = files
    votes.write_text(votes.read_text().replace("contempt,", "scorn,", 1))
    with pytest.raises(FerLabError, match=r"lacks the column.*contempt"):
        load(data_cfg, files)
    with pytest.raises(FerLabError, match=r"data\.label_mode"):
        load(data_cfg, files, label_mode="vote")


def test_missing_votes_file_says_where_to_get_it(data_cfg, files, tmp_path):
    csv, _ = files
    with pytest.raises(FerLabError, match=r"data\.votes_path=.*github\.com/microsoft/FERPlus"):
        load(data_cfg, (csv, tmp_path / "missing.csv"))
