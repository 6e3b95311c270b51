"""The web app (``pixelwise serve``) and the HTML report (``--html``, ``pixelwise report``).

The API tests run a real uvicorn server on a free loopback port around a tiny untrained U-Net. The
``browser`` tests drive Debian's headless Chromium through Selenium and ``chromium-driver``: one uploads a
real CamVid frame on the page, one opens an HTML report from disk.
"""

from __future__ import annotations

import base64
import io
import shutil
import struct
import threading
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

pytest.importorskip("fastapi", reason="needs the web extra: pip install -e '.[web]'")

import pixelwise  # noqa: E402
from pixelwise.apps.web import (  # noqa: E402
    ServeLimits,
    UploadRejected,
    create_app,
    decode_upload,
    get_json,
    post_image,
    running_in_thread,
)
from pixelwise.apps.web.encode import run_lengths  # noqa: E402
from pixelwise.errors import PixelwiseError  # noqa: E402
from pixelwise.inference import SemanticPredictor  # noqa: E402
from pixelwise.modelfile.spec import Labels, spec_for_model  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARED = next((p for p in (Path("/work/shared/data"), REPO.parent / "shared" / "data") if p.is_dir()), None)
CLASSES = ["background", "disc", "square", "triangle"]
PALETTE = [(0, 0, 0), (230, 60, 40), (40, 160, 70), (50, 90, 220)]
LIMITS = ServeLimits(max_upload_bytes=2 * 2**20, max_pixels=1_000_000)


def png_bytes(array: np.ndarray, **params) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG", **params)
    return buffer.getvalue()


def png_bomb(side: int) -> bytes:
    """A valid 1-bit black PNG of ``side`` x ``side`` pixels: a few hundred bytes per megapixel."""
    row = b"\0" * (1 + (side + 7) // 8)  # filter byte + packed bits
    packer = zlib.compressobj(1)
    data = b"".join(packer.compress(row) for _ in range(side)) + packer.flush()

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)  # width, height, 1 bit, greyscale
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")


def random_image(height: int = 48, width: int = 64, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def model_file(tmp_path_factory, one_cpu_thread) -> Path:
    """A tiny 4-class U-Net with random weights, saved as a model file (no training needed)."""
    torch.manual_seed(0)
    model = pixelwise.create_model("unet", num_classes=4, base_channels=4, depth=2)
    path = tmp_path_factory.mktemp("web-model") / "tiny.pt"
    pixelwise.save_model(model, path, spec=spec_for_model(model, class_names=CLASSES, palette=PALETTE))
    return path


@pytest.fixture(scope="module")
def predictor(model_file):
    return pixelwise.Predictor.from_file(model_file, device="cpu", precision="fp32")


@pytest.fixture(scope="module")
def server(predictor):
    with running_in_thread(create_app(predictor, limits=LIMITS)) as url:
        yield url


# ---------------------------------------------------------------- the JSON API


def test_health_and_model_description(server):
    status, health = get_json(f"{server}/healthz")
    assert status == 200 and health["status"] == "ok" and health["model"] == "unet"
    status, model = get_json(f"{server}/api/model")
    assert status == 200
    assert model["classes"] == CLASSES and model["palette"] == [list(c) for c in PALETTE]
    assert model["task"] == "semantic" and model["limits"]["max_pixels"] == LIMITS.max_pixels


def test_prediction_png_is_the_predictors_label_map(server, predictor):
    image = random_image()
    status, body = post_image(server, png_bytes(image))
    assert status == 200, body
    assert (body["width"], body["height"]) == (64, 48)
    class_map = Image.open(io.BytesIO(base64.b64decode(body["class_map"]["data"])))
    assert class_map.mode == "P" and class_map.getpalette()[:12] == [c for rgb in PALETTE for c in rgb]
    expected = predictor(image).label_map.numpy()
    np.testing.assert_array_equal(np.array(class_map), expected)
    fractions = [area["fraction"] for area in body["areas"]]
    assert [area["name"] for area in body["areas"]] == CLASSES
    assert sum(fractions) == pytest.approx(1.0)
    assert fractions == pytest.approx([np.mean(expected == k) for k in range(4)])
    assert set(body["timing_ms"]) == {"decode", "predict", "encode", "wait"}


def test_prediction_rle_decodes_to_the_same_map(server, predictor):
    image = random_image(seed=1)
    status, body = post_image(server, png_bytes(image), encoding="rle")
    assert status == 200 and body["class_map"]["encoding"] == "rle"
    runs = body["class_map"]
    decoded = np.repeat(runs["values"], runs["lengths"]).reshape(body["height"], body["width"])
    np.testing.assert_array_equal(decoded, predictor(image).label_map.numpy())


def test_run_lengths_by_hand():
    assert run_lengths(np.array([[0, 0, 1], [1, 1, 2]])) == {"values": [0, 1, 2], "lengths": [2, 3, 1]}
    assert run_lengths(np.zeros((2, 2), dtype=np.int64)) == {"values": [0], "lengths": [4]}


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"", "empty"),
        (b"this is not an image at all", "not an image"),
        (png_bytes(random_image())[:300], "damaged"),
        (png_bytes(random_image(1, 1)), "at least 8x8"),
    ],
    ids=["empty", "garbage", "truncated-png", "one-pixel"],
)
def test_bad_uploads_get_400_with_one_line(server, payload, reason):
    status, body = post_image(server, payload)
    assert status == 400
    assert reason in body["error"] and "\n" not in body["error"]


def test_requests_that_are_not_one_image_get_400(server):
    assert post_image(server, png_bytes(random_image()), field="photo")[0] == 400  # wrong field name
    assert post_image(server, png_bytes(random_image()), encoding="jpeg")[0] == 400  # unknown encoding
    import urllib.request

    raw = urllib.request.Request(f"{server}/api/predict", data=png_bytes(random_image()), method="POST",
                                 headers={"Content-Type": "image/png"})
    with pytest.raises(urllib.error.HTTPError) as error:
        urllib.request.urlopen(raw, timeout=30)
    assert error.value.code == 400 and b"multipart/form-data" in error.value.read()


def test_upload_over_the_size_limit_gets_413(server):
    status, body = post_image(server, b"\0" * (LIMITS.max_upload_bytes + 1))
    assert status == 413 and "limit" in body["error"]
    assert get_json(f"{server}/healthz")[0] == 200


def test_decompression_bomb_is_refused_before_decoding(server, monkeypatch):
    bomb = png_bomb(30_000)  # 900 megapixels in 0.5 MB
    assert len(bomb) < LIMITS.max_upload_bytes
    status, body = post_image(server, bomb)
    assert status == 413 and "pixels" in body["error"]

    big = png_bytes(np.zeros((1100, 1000), dtype=np.uint8))  # 1.1 MP: over this server's 1 MP, under PIL's guard

    def never(*args, **kwargs):
        raise AssertionError("decoded an image that should have been refused from its header")

    monkeypatch.setattr("pixelwise.data.decode.decode_image", never)
    monkeypatch.setattr("pixelwise.data.decode._pil_read", never)
    with pytest.raises(UploadRejected) as refused:
        decode_upload(big, max_pixels=LIMITS.max_pixels)
    assert refused.value.status == 413 and "1,100,000 pixels" in refused.value.reason


def test_only_jpeg_reaches_torchvisions_decoder(monkeypatch):
    """torchvision's PNG decoder can crash the process on a damaged PNG: a server decodes PNG with Pillow."""

    def never(*args, **kwargs):
        raise AssertionError("a PNG went to torchvision")

    monkeypatch.setattr("pixelwise.data.decode.decode_image", never)
    image = random_image()
    np.testing.assert_array_equal(decode_upload(png_bytes(image)).permute(1, 2, 0).numpy(), image)


def test_16_bit_png_keeps_its_top_8_bits():
    grey = (np.arange(32 * 64, dtype=np.uint16).reshape(32, 64) * 30)  # 0..61410
    image = decode_upload(png_bytes(grey), channels=1)
    np.testing.assert_array_equal(image[0].numpy(), (grey >> 8).astype(np.uint8))


def test_animated_gif_decodes_its_first_frame_only():
    frames = [Image.fromarray(np.full((20, 30, 3), 40 * i, dtype=np.uint8)) for i in range(4)]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:])
    image = decode_upload(buffer.getvalue())
    assert image.shape == (3, 20, 30) and image.dtype == torch.uint8


class _WaitingPredictor(SemanticPredictor):
    """A predictor (no network at all) that holds its slot until ``release`` is set."""

    def __init__(self) -> None:
        self.labels = Labels(class_names=("a", "b"), palette=((0, 0, 0), (255, 255, 255)))
        self.entered, self.release = threading.Event(), threading.Event()

    def class_scores(self, images: torch.Tensor) -> torch.Tensor:
        self.entered.set()
        self.release.wait(timeout=60)
        return torch.zeros(images.shape[0], 2, *images.shape[-2:])  # (N, 2, H, W)


def test_busy_server_answers_503_and_stays_healthy():
    predictor = _WaitingPredictor()
    app = create_app(predictor, limits=ServeLimits(max_running=1, max_waiting=0))
    with running_in_thread(app) as url:
        first: list = []
        thread = threading.Thread(target=lambda: first.append(post_image(url, png_bytes(random_image()))))
        thread.start()
        assert predictor.entered.wait(timeout=30)
        status, body = post_image(url, png_bytes(random_image()))
        assert status == 503 and "busy" in body["error"]
        assert post_image(url, b"not an image")[0] == 400  # refused from its header, without waiting for a slot
        health = get_json(f"{url}/healthz")[1]
        assert health["running"] == 1 and health["refused"] == 2
        predictor.release.set()
        thread.join(timeout=30)
        assert first[0][0] == 200
        assert post_image(url, png_bytes(random_image()))[0] == 200


class _BrokenPredictor(SemanticPredictor):
    labels = Labels(class_names=("a", "b"))

    def class_scores(self, images: torch.Tensor) -> torch.Tensor:
        raise RuntimeError("out of memory\nmore detail")


def test_a_failing_predictor_gives_500_with_one_line_and_the_server_goes_on():
    with running_in_thread(create_app(_BrokenPredictor())) as url:
        status, body = post_image(url, png_bytes(random_image()))
        assert (status, body) == (500, {"error": "the server failed on this request (RuntimeError: out of memory)"})
        assert get_json(f"{url}/healthz")[0] == 200


def test_serve_needs_exactly_one_model(tmp_path):
    from pixelwise.apps.web import serve

    with pytest.raises(PixelwiseError, match="exactly one"):
        serve()


def test_demo_model_file_reuses_a_trained_demo(tmp_path):
    from pixelwise.engine.demo import demo_model_file

    (tmp_path / "best.pt").write_bytes(b"already trained")
    assert demo_model_file(out=tmp_path, log=pytest.fail) == tmp_path / "best.pt"


def test_serve_and_report_commands_are_listed():
    from pixelwise.cli.main import build_parser

    text = build_parser().format_help()
    assert "serve" in text and "report" in text


# ---------------------------------------------------------------- the HTML report


@pytest.fixture(scope="module")
def evaluated_run(tiny_run, tmp_path_factory):
    """A copy of the tiny run, evaluated into its ``eval/`` with ``html=True``."""
    run = tmp_path_factory.mktemp("evaluated") / "run"
    shutil.copytree(tiny_run, run)
    pixelwise.evaluate(checkpoint=run / "best.pt", split="val", out=run / "eval", num_panels=2, device="cpu",
                       dataset_options={"length": 4}, html=True)  # fmt: skip
    return run


def test_evaluate_html_writes_one_self_contained_file(evaluated_run):
    report = evaluated_run / "eval" / "report.html"
    text = report.read_text(encoding="utf-8")
    assert text.count('src="data:image/png;base64,') == 4  # per-class IoU, confusion, panels, curves
    assert 'id="config"' in text and "model: unet" in text  # the run's config.yaml
    assert "http://" not in text and "https://" not in text and "<script" not in text
    class_names = pixelwise.load_model(evaluated_run / "best.pt").pixelwise_spec.labels.class_names
    for name in class_names:
        assert f"{name}</td>" in text


def test_report_command_on_a_run_folder(tiny_run, tmp_path):
    from pixelwise.cli.main import main

    out = tmp_path / "run-report.html"
    assert main(["report", str(tiny_run), "--out", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    assert 'id="metrics"' in text and 'id="curves"' in text and 'id="confusion"' in text


def test_report_of_a_folder_without_metrics_says_what_to_run(tmp_path):
    from pixelwise.report import report_run

    with pytest.raises(PixelwiseError, match="pixelwise evaluate"):
        report_run(tmp_path)


def test_evaluate_html_needs_an_out_folder(tiny_run):
    with pytest.raises(PixelwiseError, match="out"):
        pixelwise.evaluate(checkpoint=tiny_run / "best.pt", html=True)


# ---------------------------------------------------------------- in a real browser


def _browser_paths() -> tuple[str | None, str | None]:
    browser = next((p for p in (shutil.which("chromium"), "/usr/bin/chromium") if p and Path(p).exists()), None)
    driver = next((p for p in (shutil.which("chromedriver"), "/usr/bin/chromedriver") if p and Path(p).exists()), None)
    return browser, driver


@pytest.fixture(scope="module")
def chrome(tmp_path_factory):
    """Headless Chromium driven by chromium-driver (Debian's packages; nothing is downloaded)."""
    webdriver = pytest.importorskip("selenium.webdriver", reason="needs selenium (the test extra)")
    browser, driver = _browser_paths()
    if browser is None or driver is None:
        pytest.skip("no chromium / chromedriver found: apt-get install chromium chromium-driver (.ci/run does)")
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--window-size=1400,1000",
                 f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        options.add_argument(flag)
    session = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=driver))
    session.set_page_load_timeout(60)
    yield session
    session.quit()


def _wait_for_state(chrome, states: tuple[str, ...], timeout: float = 90.0) -> str:
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(chrome, timeout).until(lambda d: d.execute_script("return document.body.dataset.state") in states)
    return chrome.execute_script("return document.body.dataset.state")


def _upload_and_read_sizes(chrome, image: Path) -> list[list]:
    """Drop ``image`` on the page, wait until it is predicted, and return ``[complete, width, height]`` of the
    four pictures it shows (image, mask, and the overlay's two layers)."""
    from selenium.webdriver.common.by import By

    chrome.find_element(By.ID, "file").send_keys(str(image))
    state = _wait_for_state(chrome, ("done", "error"))
    assert state == "done", chrome.find_element(By.ID, "status").text
    return chrome.execute_script(
        "return ['image', 'mask', 'overlay-image', 'overlay-mask'].map(id => {"
        " const img = document.getElementById(id); return [img.complete, img.naturalWidth, img.naturalHeight]; })"
    )


@pytest.mark.browser
@pytest.mark.skipif(SHARED is None, reason="needs the shared real data (../shared/data) for a real photo")
def test_page_predicts_an_uploaded_camvid_frame(chrome, server, tmp_path):
    from selenium.webdriver.common.by import By

    frame = sorted((SHARED / "camvid" / "val").glob("*.png"))[0]
    chrome.get(f"{server}/")
    assert _wait_for_state(chrome, ("ready",)) == "ready"
    sizes = _upload_and_read_sizes(chrome, frame)
    assert sizes == [[True, 480, 360]] * 4  # the overlay's mask lies exactly on the photo
    rows = chrome.find_elements(By.CSS_SELECTOR, "#legend tbody tr")
    assert [row.get_attribute("data-class") for row in rows] == CLASSES
    fractions = [float(row.get_attribute("data-fraction")) for row in rows]
    assert sum(fractions) == pytest.approx(1.0, abs=1e-9)
    shown = [float(row.find_element(By.CSS_SELECTOR, "td.share").text.rstrip("%")) for row in rows]
    assert sum(shown) == pytest.approx(100.0, abs=0.05 * len(rows))  # each share rounded to 0.1 %
    assert chrome.find_element(By.ID, "legend-total").text == "100.0%"
    assert "prediction" in chrome.find_element(By.ID, "timing").text

    chrome.execute_script("const s = document.getElementById('opacity'); s.value = 80; s.dispatchEvent(new Event('input'));")
    assert chrome.execute_script("return document.getElementById('overlay-mask').style.opacity") == "0.8"
    screenshot = tmp_path / "page.png"
    assert chrome.save_screenshot(str(screenshot)) and screenshot.stat().st_size > 10_000


@pytest.mark.browser
def test_page_shows_the_reason_for_a_bad_upload(chrome, server, tmp_path):
    from selenium.webdriver.common.by import By

    fake = tmp_path / "not-a-photo.png"
    fake.write_bytes(b"plain text, not an image")
    chrome.get(f"{server}/")
    _wait_for_state(chrome, ("ready",))
    chrome.find_element(By.ID, "file").send_keys(str(fake))
    assert _wait_for_state(chrome, ("done", "error")) == "error"
    assert chrome.find_element(By.ID, "status").text.startswith("400: the upload is not an image")
    assert get_json(f"{server}/healthz")[0] == 200


@pytest.mark.browser
def test_report_renders_offline_in_the_browser(chrome, evaluated_run, tmp_path):
    from selenium.webdriver.common.by import By

    chrome.get((evaluated_run / "eval" / "report.html").as_uri())
    rows = chrome.find_elements(By.CSS_SELECTOR, "table.per-class tbody tr")
    assert len(rows) == len(pixelwise.load_model(evaluated_run / "best.pt").pixelwise_spec.labels.class_names)
    images = chrome.execute_script("return [...document.images].map(img => [img.alt, img.complete && img.naturalWidth > 0])")
    assert len(images) == 4 and all(ok for _, ok in images), images
    for section in ("metrics", "per_class_iou", "confusion", "panels", "curves", "config"):
        assert chrome.find_element(By.ID, section).is_displayed()
    screenshot = tmp_path / "report.png"
    assert chrome.save_screenshot(str(screenshot)) and screenshot.stat().st_size > 10_000
