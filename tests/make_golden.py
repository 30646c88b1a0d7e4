"""Write the golden smoke losses the conformance suite compares against (tests/golden/<m>.json).

    python tests/make_golden.py              # every implemented milestone
    python tests/make_golden.py resnet dqn   # some

Run it only when a change of a milestone's numerics is intended, and say so in the commit.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import milestones  # noqa: E402
from milestones.core.metrics import environment  # noqa: E402
from tests import conformance as C  # noqa: E402


def main(names: list[str]) -> None:
    import os

    import torch

    for s in C.subjects(milestones.REGISTRY):
        if names and s.name not in names:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            os.environ["MILESTONES_DATA"] = tmp
            s.train.main(s.smoke(Path(tmp) / "run"))
            losses = C.smoke_losses(Path(tmp) / "run")
        env = environment(torch.device("cpu"))
        record = {"milestone": s.name, "command": f"python -m {s.module}.train --preset smoke",
                  "losses": losses, "what": f"the first {C.GOLDEN_LOSSES} training losses of "
                  "metrics.jsonl", "git_sha": env["git_sha"], "torch": env["torch"],
                  "device": env["device_name"], "date": time.strftime("%Y-%m-%d")}
        C.GOLDEN.mkdir(exist_ok=True)
        s.golden.write_text(json.dumps(record, indent=2) + "\n")
        print(f"{s.golden}: {losses}")


if __name__ == "__main__":
    main(sys.argv[1:])
