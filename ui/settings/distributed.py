"""Page 69's settings: the DDP run (`distributed_train`) and the pipeline's micro-batches
(`distributed_pipeline`). The scaling table has no settings; the ring lab's sliders explore, they
define no run."""

from typing import Any

from engine import distributed
from ui.settings import Experiment, Setting

LEARNING_RATES = (0.01, 0.02, 0.05, 0.1, 0.2)


def build(s: dict[str, Any]) -> tuple[distributed.DDPConfig, None]:
    """The DDP run's config; no data key (every rank reads the same bundled digits)."""
    return distributed.DDPConfig(world_size=s["world"], batch_size=s["batch"], hidden=s["hidden"], steps=s["steps"],
                                 learning_rate=s["learning_rate"]), None


def build_pipeline(s: dict[str, Any]) -> tuple[distributed.PipelineConfig, None]:
    return distributed.PipelineConfig(micro_batches=s["micro"]), None


TRAIN = Experiment("distributed_train", "distributed", (
    Setting("world", "slider", 2, 1, distributed.MAX_WORLD, cap=2, label="distributed.world_size"),
    Setting("batch", "select_slider", 32, options=(8, 16, 32, 64, 128), label="distributed.batch_size"),
    Setting("steps", "slider", 60, 10, 500, 10, cap=200),
    Setting("hidden", "select_slider", 64, options=(32, 64, 128, 256)),
    Setting("learning_rate", "select_slider", 0.05, options=LEARNING_RATES),
), build, replays=False)          # the ranks' start-up and step times are measured: always trained

PIPELINE = Experiment("distributed_pipeline", "distributed", (
    Setting("micro", "select_slider", 4, options=(1, 2, 4, 8, 16), label="distributed.micro_batches"),
), build_pipeline, name="pipeline", replays=False)     # a timeline of measured times

EXPERIMENTS = (TRAIN, PIPELINE)
