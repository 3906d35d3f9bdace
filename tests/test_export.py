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


def run_alone(source: str, folder, *arguments: str) -> dict:
    """Run `source` in an empty `folder` with `python -I` (no PYTHONPATH, no user site, no script
    folder tricks): the project cannot be imported. Returns the final metrics it prints."""
    path = folder / "experiment.py"
    path.write_text(source)
    environment = {"PATH": os.environ.get("PATH", ""), "HOME": str(folder)}
    result = subprocess.run([sys.executable, "-I", str(path), *arguments], cwd=folder, env=environment,
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    last = result.stdout.strip().splitlines()[-1]
    assert last.startswith("final metrics: "), result.stdout[-2000:]
    return json.loads(last.removeprefix("final metrics: "))


def assert_standalone_shape(source: str) -> None:
    tree = ast.parse(source)
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert "engine" not in imported and "ui" not in imported
    assert imported <= export.ALLOWED_IMPORTS | {"torch", "torchvision", "numpy", "PIL"}, imported
    names = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
    assert "main" in names and "--device" in source and "--steps" in source
    assert ast.get_docstring(tree)                   # says what it is and how to run it


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
        "adversarial": (adversarial.AdversarialConfig(defence="pgd", pgd_steps=2, seed=1), adversarial.train, 10),
        "autoencoder": (autoencoder.AutoencoderConfig(model="conv", latent=4, variational=True, beta=0.5, seed=1),
                        autoencoder.train, 25),
    }


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
