"""Measure continued pretraining: a general model adapted to a domain against one trained there.

    python recipes/adapt_domain.py

builds a domain corpus from one source of the English corpus (by default
``shakespeare``: early modern drama, which the bundled model's corpus did not
contain), then trains two biLMs on it for the same number of steps with the
same settings and seed:

* ``scratch``: :func:`skelmo.train` from random weights, with the bundled
  model's architecture;
* ``continued``: :func:`skelmo.train` with ``init_model="skelmo-en-small"``.

Both are measured on the domain's held-out documents with
:func:`skelmo.training.evaluate_perplexity`, and the figures are written to
``--output`` (JSON). The two runs see the same windows of text in the same
order; only the starting weights differ.
"""

from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path

import torch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", default="shakespeare", help="corpus source of the domain")
    parser.add_argument("--workdir", type=Path, default=Path("build/adapt-domain"))
    parser.add_argument("--output", type=Path,
                        default=Path(__file__).with_name("adapt_domain_results.json"))
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from english_corpus import build_english_corpus

    from skelmo.models import BUNDLED_MODEL, get_model_files
    from skelmo.training import evaluate_perplexity, train

    corpus_dir = args.workdir / "corpus"
    if not (corpus_dir / "manifest.json").is_file():
        build_english_corpus(corpus_dir, seed=args.seed, sources=[args.source],
                             heldout_fraction=0.05)
    manifest = json.loads((corpus_dir / "manifest.json").read_text(encoding="utf-8"))
    # The bundled model's architecture, for the run from random weights.
    options_file, _ = get_model_files(BUNDLED_MODEL)
    settings = {"max_steps": args.steps, "batch_size": args.batch_size, "seed": args.seed,
                "progress": False, "checkpoint_every": args.steps}
    results = {"domain": args.source, "corpus": manifest["totals"], "settings": settings,
               "threads": args.threads, "machine": platform.machine(), "runs": {}}
    for name, start in (("scratch", None), ("continued", BUNDLED_MODEL)):
        run = train(corpus_dir / "train.txt", args.workdir / name, init_model=start,
                    options=None if start else options_file, **settings)
        heldout = evaluate_perplexity(run.model_dir, corpus_dir / "heldout.txt")
        results["runs"][name] = {"init_model": start, "steps": run.steps,
                                 "train_perplexity": run.train_perplexity,
                                 "heldout_perplexity": heldout.mean,
                                 "heldout_tokens": heldout.n_tokens,
                                 "seconds": round(run.seconds, 1)}
        print(f"{name:10s} held-out perplexity {heldout.mean:8.1f} "
              f"({heldout.n_tokens:,} tokens, {run.seconds:.0f} s)")
    args.output.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"results in {args.output}")


if __name__ == "__main__":
    main()
