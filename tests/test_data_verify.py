"""``verify_dataset`` and ``pixelwise data verify``: planted faults are caught and named by file."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pixelwise.cli.main import main
from pixelwise.data.verify import verify_dataset
from pixelwise.data.verify_report import format_report

REPO = Path(__file__).resolve().parents[1]
SHARED = next((p for p in (Path("/work/shared/data"), REPO.parent / "shared" / "data") if p.is_dir()), None)
needs_shared = pytest.mark.skipif(SHARED is None, reason="needs the shared real data (../shared/data)")


def save(path: Path, array: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)
    return path


def problems_by_file(report) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for problem in report.problems:
        found.setdefault(Path(problem.path).name, []).append(f"{problem.severity}: {problem.problem}")
    return found


def make_folder(root: Path) -> Path:
    (root / "classes.txt").write_text("background\nroad\ncar\n")
    mask = np.array([[0, 0, 1, 1], [2, 2, 255, 1]], dtype=np.uint8)
    for name in ("a", "b", "c", "d", "e", "f"):
        save(root / "images" / f"{name}.png", np.full((2, 4, 3), 80, dtype=np.uint8))
        save(root / "masks" / f"{name}.png", mask)
    return root


def test_clean_folder_passes_with_counts_and_shares(tmp_path):
    report = verify_dataset(dataset="folder", root=make_folder(tmp_path))
    assert report.ok and report.problems == []
    (split,) = report.splits
    assert (split.name, split.images, split.pairs) == ("all", 6, 6)
    assert split.class_pixels == [12, 18, 12] and split.ignored_pixels == 6  # per image: 2, 3, 2 and 1 ignored
    assert split.shares() == [0.25, 0.375, 0.25]
    text = format_report(report)
    assert "1 road" in text and "37.50%" in text and "OK: 0 error(s), 0 warning(s)" in text


def test_planted_faults_are_named_with_their_fix(tmp_path):
    root = make_folder(tmp_path)
    png = (root / "images" / "a.png").read_bytes()
    (root / "images" / "a.png").write_bytes(png[: len(png) // 2])  # truncated PNG
    save(root / "masks" / "b.png", np.zeros((4, 4), dtype=np.uint8))  # size mismatch
    save(root / "masks" / "c.png", np.array([[0, 0, 1, 1], [9, 40, 1, 1]], dtype=np.uint8))  # labels out of range
    (root / "masks" / "d.png").unlink()  # missing mask
    (root / "images" / "notes.txt").write_text("not an image")  # non-image file among the images
    (root / "masks" / "e.png").write_text("not an image either")  # non-image file named like a mask
    save(root / "masks" / "zz.png", np.zeros((2, 4), dtype=np.uint8))  # a mask without an image

    report = verify_dataset(dataset="folder", root=root)
    found = problems_by_file(report)
    assert not report.ok
    assert len(found["a.png"]) == 1 and found["a.png"][0].startswith("error: image cannot be decoded")
    assert found["b.png"] == [f"error: mask is 4x4 but image {root / 'images' / 'b.png'} is 4x2 (width x height)"]
    assert found["c.png"] == ["error: 2 pixels have value(s) 9, 40, not a class (0..2 or the ignore index 255)"]
    assert found["d.png"] == ["error: image has no mask"]
    assert found["notes.txt"] == ["warning: not an image file (never read)"]
    assert found["e.png"][0].startswith("error: mask cannot be decoded")
    assert found["zz.png"] == ["warning: file in the mask folder matches no image"]
    assert set(found) == {"a.png", "b.png", "c.png", "d.png", "notes.txt", "e.png", "zz.png"}
    assert all(p.fix for p in report.problems)
    (split,) = report.splits
    assert (split.images, split.pairs) == (6, 5)
    assert "FAILED: 5 error(s), 2 warning(s)" in format_report(report)


def test_cli_exit_codes(tmp_path, capsys):
    root = make_folder(tmp_path)
    plot, report_json = tmp_path / "shares.png", tmp_path / "report.json"
    assert main(["data", "verify", "--dataset", "folder", "--root", str(root), "--plot", str(plot), "--json", str(report_json)]) == 0
    assert plot.stat().st_size > 0 and '"ok": true' in report_json.read_text()
    save(root / "masks" / "f.png", np.full((2, 4), 7, dtype=np.uint8))
    assert main(["data", "verify", "--dataset", "folder", "--root", str(root)]) == 1
    assert "f.png: 8 pixels have value(s) 7" in capsys.readouterr().out
    assert main(["data", "verify", "--dataset", "folder", "--root", str(tmp_path / "missing")]) == 2
    assert "is not a folder" in capsys.readouterr().err
    assert main(["data", "verify", "--dataset", "folder", "--root", str(root), "--dataset-option", "num_classes=9"]) == 2


def test_split_list_naming_a_missing_file(tmp_path):
    save(tmp_path / "train" / "x.png", np.zeros((2, 2, 3), dtype=np.uint8))
    save(tmp_path / "trainannot" / "x.png", np.zeros((2, 2), dtype=np.uint8))
    (tmp_path / "train.txt").write_text("/SegNet/CamVid/train/x.png /SegNet/CamVid/trainannot/x.png\n"
                                        "/SegNet/CamVid/train/gone.png /SegNet/CamVid/trainannot/gone.png\n")
    report = verify_dataset(dataset="camvid", root=tmp_path, split="train")
    assert problems_by_file(report) == {"gone.png": ["error: image file is missing", "error: image has no mask"]}


@needs_shared
def test_planted_faults_in_real_camvid_files(tmp_path):
    source = SHARED / "camvid"
    names = [line.split()[0].rsplit("/", 1)[1] for line in (source / "val.txt").read_text().splitlines()[:4]]
    for name in names:
        for folder in ("val", "valannot"):
            (tmp_path / folder).mkdir(exist_ok=True)
            shutil.copy(source / folder / name, tmp_path / folder / name)
    (tmp_path / "val.txt").write_text("".join(f"/SegNet/CamVid/val/{n} /SegNet/CamVid/valannot/{n}\n" for n in names))
    broken, wrong_size, bad_label, no_mask = names
    data = (tmp_path / "val" / broken).read_bytes()
    (tmp_path / "val" / broken).write_bytes(data[: len(data) // 3])
    Image.open(tmp_path / "valannot" / wrong_size).resize((240, 180), Image.NEAREST).save(tmp_path / "valannot" / wrong_size)
    mask = np.array(Image.open(tmp_path / "valannot" / bad_label))
    mask[:10, :10] = 12
    Image.fromarray(mask).save(tmp_path / "valannot" / bad_label)
    (tmp_path / "valannot" / no_mask).unlink()
    (tmp_path / "val" / "Thumbs.db").write_bytes(b"\x00\x01")

    report = verify_dataset(dataset="camvid", root=tmp_path)
    found = problems_by_file(report)
    assert found[broken] == [found[broken][0]] and found[broken][0].startswith("error: image cannot be decoded")
    assert found[wrong_size] == [f"error: mask is 240x180 but image {tmp_path / 'val' / wrong_size} is 480x360 (width x height)"]
    assert found[bad_label] == ["error: 100 pixels have value(s) 12, not a class (0..10 or the ignore index 255)"]
    assert found[no_mask] == ["error: image has no mask"]
    assert found["Thumbs.db"] == ["warning: not an image file (never read)"]
    assert [(s.name, s.images, s.pairs) for s in report.splits] == [("val", 4, 3)]


@needs_shared
def test_real_isbi_verifies_clean():
    report = verify_dataset(dataset="isbi2012-em", root=SHARED / "isbi2012-em", workers=2)
    assert report.ok and report.problems == []
    assert [(s.name, s.pairs) for s in report.splits] == [("all", 30)]
    assert sum(report.splits[0].class_pixels) == 30 * 512 * 512


@needs_shared
@pytest.mark.slow
def test_real_camvid_and_pets_verify_through_the_cli(capsys):
    assert main(["data", "verify", "--dataset", "camvid", "--root", str(SHARED / "camvid")]) == 0
    out = capsys.readouterr().out
    assert "train     367    367       0         0" in out and "val       101    101       0         0" in out
    assert main(["data", "verify", "--dataset", "pets", "--root", str(SHARED / "pets")]) == 0
    out = capsys.readouterr().out
    assert "trainval     300    300       0         0" in out
    assert "Abyssinian_100.mat: not an image file" in out  # the 3 stray .mat files are warnings of no split
    assert "OK: 0 error(s), 3 warning(s)" in out


def test_custom_folder_names_reach_the_split_finder(tmp_path):
    (tmp_path / "classes.txt").write_text("a\nb\n")
    for split in ("fit", "check"):
        save(tmp_path / "pictures" / split / "x.png", np.zeros((2, 2, 3), dtype=np.uint8))
        save(tmp_path / "labels" / split / "x.png", np.ones((2, 2), dtype=np.uint8))
    report = verify_dataset(dataset="folder", root=tmp_path, image_dir="pictures", mask_dir="labels")
    assert report.ok and [(s.name, s.pairs) for s in report.splits] == [("check", 1), ("fit", 1)]
