"""CLI start-up: wall time of `mebench --help` and `mebench list`, and what they import.

Prints JSON: median seconds over several runs of each command in a fresh interpreter, and whether
torch (or any other heavy library) ended up in ``sys.modules``.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time

HEAVY = ("torch", "torchvision", "cv2", "numpy", "PIL", "datasets", "diffusers", "transformers",
         "openai", "google.genai")
PROBE = """
import sys
from mebench.cli.main import main
try:
    main({args!r})
except SystemExit:
    pass
heavy = [m for m in {heavy!r} if m in sys.modules]
sys.stderr.write("HEAVY=" + ",".join(heavy) + "\\n")
"""


def measure(args: list[str], repeats: int = 7) -> dict[str, object]:
    times = []
    heavy: list[str] = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", PROBE.format(args=args, heavy=HEAVY)],
                             capture_output=True, text=True, check=True)
        times.append(time.perf_counter() - t0)
        line = [x for x in out.stderr.splitlines() if x.startswith("HEAVY=")][-1]
        heavy = [m for m in line[len("HEAVY="):].split(",") if m]
    return {"median_s": round(statistics.median(times), 3), "min_s": round(min(times), 3),
            "imports_torch": "torch" in heavy, "heavy_modules": heavy}


def main() -> None:
    result = {"mebench --help": measure(["--help"]), "mebench list": measure(["list"])}
    result["under_1s"] = all(v["median_s"] < 1.0 for v in result.values())  # type: ignore[index]
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
