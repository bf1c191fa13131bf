"""Where the built-in policy's shipped checkpoints are, and which cameras they see; no torch, no LeRobot,
so the launch code can choose a checkpoint without loading one.

`builtin_so100`: trained on the kinematic world's reaching task (front camera). `builtin_so100_twin`:
trained on the MuJoCo twin's pick-and-place task (the camera its config names), the twin world's
default policy. Both are read from the installed share directory, else from the source tree.
"""

from __future__ import annotations

import json
from pathlib import Path

SHIPPED_CHECKPOINT = "builtin_so100"
TWIN_CHECKPOINT = "builtin_so100_twin"
CONFIG_FILE = "config.json"
IMAGE_PREFIX = "observation.images."


def shipped_checkpoint_path(name: str = SHIPPED_CHECKPOINT) -> Path:
    """A shipped checkpoint: from the installed share directory, else from the source tree."""
    try:
        from ament_index_python.packages import PackageNotFoundError, get_package_share_directory
    except ImportError:
        pass
    else:
        try:
            installed = Path(get_package_share_directory("rtc_policy_node")) / "checkpoints" / name
            if (installed / CONFIG_FILE).is_file():
                return installed
        except PackageNotFoundError:
            pass
    return Path(__file__).resolve().parents[1] / "checkpoints" / name


def checkpoint_cameras(path: Path) -> list[str]:
    """The camera names (observation.images.<name>) a checkpoint's config.json takes as input."""
    features = json.loads((path / CONFIG_FILE).read_text()).get("input_features", {})
    return [key[len(IMAGE_PREFIX):] for key in features if key.startswith(IMAGE_PREFIX)]
