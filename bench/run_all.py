"""Every benchmark of bench/, in one run: training speed against the arithmetic floor (AutoRec / E-AutoRec dense
and sparse paths, Mult-VAE and C-VAE on ML-100K and at ML-1M's and ML-20M's shapes) with the chapter execution
times of the last book build, then the batched SEMAUTO against its per-user loop. Each prints ratios measured in the
same run. Usage: python bench/run_all.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> None:
    import bench_semauto
    import bench_speed

    bench_speed.main([])
    print("\nSEMAUTO, batched vs per-user loop (same users, same epochs):")
    bench_semauto.main(["--users", "100", "--epochs", "80"])


if __name__ == "__main__":
    main()
