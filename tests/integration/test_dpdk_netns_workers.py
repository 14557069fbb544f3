#!/usr/bin/env python3
"""test_dpdk_netns.py with two relay workers: on net_af_packet (no rte_flow)
worker 0 is the RX core and hands the other worker's frames over an rte_ring;
the same 100 calls must cross with zero loss."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import test_dpdk_netns  # noqa: E402

if __name__ == "__main__":
    sys.argv += ["--workers", "2"]
    sys.exit(test_dpdk_netns.main())
