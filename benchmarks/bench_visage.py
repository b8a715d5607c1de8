"""ViSAGe: one 5 s window (861 KV-cached decoder steps, joint guidance) at full size.

Run (a CUDA machine): ``python benchmarks/bench_visage.py [--json out.json]``; without a GPU,
``--smoke`` runs the same code on the CPU at the ``visage-tiny`` size (its numbers are not GPU
measurements). Random weights (the cost does not depend on them). The reference is the plain
fp32 loop with eager attention; the rows are fp32 with SDPA (what omnifoa runs on a CPU),
bf16 autocast with SDPA, and on CUDA bf16 with the decoder layers compiled
(``torch.compile``), each with the share of its codes equal to the reference's under greedy
decoding (the same codes mean the same sound).
"""

from __future__ import annotations

import argparse
import sys

import torch
from timing import Table, json_option, median_of

from models.visage.config import visage_preset
from models.visage.network import VisageNetwork
from models.visage.sampling import Conditions, SamplingSettings, generate_codes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="CPU, tiny sizes: the code runs")
    parser.add_argument("--repeats", type=int, default=3)
    json_option(parser)
    args = parser.parse_args()
    if not args.smoke and not torch.cuda.is_available():
        print("this benchmark needs a CUDA GPU (or --smoke on the CPU)", file=sys.stderr)
        return 1
    device = torch.device("cpu" if args.smoke else "cuda")
    sync = torch.cuda.synchronize if device.type == "cuda" else None
    config = visage_preset("visage-tiny" if args.smoke else "visage")
    torch.manual_seed(0)
    weights = VisageNetwork(config).state_dict()
    g = torch.Generator().manual_seed(1)
    conditions = Conditions(
        torch.randn(20, config.d_clip, generator=g).to(device),
        torch.softmax(torch.randn(20, 49, generator=g), -1).to(device),
        torch.tensor([0.0, 0.0, 1.0], device=device),
    )
    greedy = SamplingSettings(top_k=1)

    def network(attention: str) -> VisageNetwork:
        net = VisageNetwork(config, attention)
        net.load_state_dict(weights)
        return net.to(device).eval()

    def decode(net: VisageNetwork, bf16: bool) -> torch.Tensor:
        with torch.inference_mode(), torch.autocast(device.type, torch.bfloat16, enabled=bf16):
            return generate_codes(
                net, conditions, torch.Generator(device).manual_seed(0), 1, greedy
            )

    eager, sdpa = network("eager"), network("sdpa")
    reference_codes = decode(eager, False)
    reference = median_of(lambda: decode(eager, False), args.repeats, sync=sync)
    table = Table(
        f"ViSAGe {config.name}, one 5 s window (861 steps, joint guidance, 1 variation) on "
        f"{torch.cuda.get_device_name() if device.type == 'cuda' else 'the CPU (smoke run)'}",
        "fp32 with eager attention, the plain loop",
    )
    table.add("fp32, eager attention (reference)", reference, reference, same_codes=1.0)
    for name, net, bf16 in (("fp32, SDPA", sdpa, False), ("bf16 autocast, SDPA", sdpa, True)):
        same = float((decode(net, bf16) == reference_codes).float().mean())
        table.add(name, median_of(lambda n=net, b=bf16: decode(n, b), args.repeats, sync=sync),
                  reference, same_codes=same)  # fmt: skip
    if device.type == "cuda":
        compiled = network("sdpa")
        for i, layer in enumerate(compiled.model.decoder.layers):
            compiled.model.decoder.layers[i] = torch.compile(layer, dynamic=True)
        try:
            same = float((decode(compiled, True) == reference_codes).float().mean())
            seconds = median_of(lambda: decode(compiled, True), args.repeats, sync=sync)
        except Exception as exc:  # report, keep the other rows
            table.notes.append(f"torch.compile failed ({type(exc).__name__}: {exc})")
        else:
            table.add("bf16 + compiled decoder layers", seconds, reference, same_codes=same)
    for row in table.rows:
        table.notes.append(f"{row['task']}: {row['same_codes']:.1%} of the reference's codes")
    table.print()
    table.save(args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
