#!/usr/bin/env python3
"""What a K-fold ensemble gains on one split's test images, nnU-Net's way (issue 21).

    python3 scripts/fold_ensemble.py FTUNET DATA RUN OUT [-k 5] [-- TRAIN OPTIONS...]

RUN is a finished training run on DATA: its config.json's split says which images are its test
images. Those stay held out; K-fold cross-validation (`ftunet cv --folds K`, resumable: run the
same command again after an interruption) trains on the rest, and every fold's model, and the
average of all K (`ftunet eval --ensemble`), are scored on the held-out test images, each with
and without `--tta flips`, beside RUN's own model. No fold has seen a test image.

DATA must be a folder layout (images/ + masks/, or original/ + gt/) whose files are named by
sample id; OUT/trainval and OUT/test hold symbolic links to them. Prints a Markdown table.
"""
import json
import os
import subprocess
import sys

LAYOUTS = (("images", "masks"), ("original", "gt"))


def main(argv):
    if "--" in argv:
        cut = argv.index("--")
        argv, train_opts = argv[:cut], argv[cut + 1:]
    else:
        train_opts = []
    k = 5
    if "-k" in argv:
        i = argv.index("-k")
        k = int(argv[i + 1])
        del argv[i:i + 2]
    if len(argv) != 4:
        sys.exit(__doc__)
    ftunet, data, run, out = argv
    config = json.load(open(os.path.join(run, "config.json")))
    layout = next((l for l in LAYOUTS if all(os.path.isdir(os.path.join(data, d)) for d in l)), None)
    if not layout:
        sys.exit(f"fold_ensemble: {data}: neither images/+masks/ nor original/+gt/")
    held = set(config["test"])
    parts = {"trainval": config["train"] + config["val"], "test": config["test"]}
    for part, ids in parts.items():
        for d in layout:
            src = os.path.join(os.path.abspath(data), d)
            dst = os.path.join(out, part, d)
            os.makedirs(dst, exist_ok=True)
            by_id = {os.path.splitext(f)[0]: f for f in os.listdir(src)}
            for i in ids:
                if i not in by_id:
                    sys.exit(f"fold_ensemble: {src}: no file for sample {i}")
                link = os.path.join(dst, by_id[i])
                if not os.path.lexists(link):
                    os.symlink(os.path.join(src, by_id[i]), link)
    assert not held & set(parts["trainval"]), "a test image among the training ones"
    cv = os.path.join(out, "cv")
    subprocess.run([ftunet, "cv", os.path.join(out, "trainval"), "-o", cv, "--folds", str(k)] + train_opts, check=True)
    test = os.path.join(out, "test")
    rows = []

    def score(label, models, extra, ensemble=False):
        dest = os.path.join(out, "eval", label.replace(" + ", "-").replace(" ", "-"))
        cmd = [ftunet, "eval"] + (["--ensemble"] if ensemble else []) + models + [test, "-o", dest] + extra
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        s = json.load(open(os.path.join(dest, "summary.json")))
        rows.append((label, s["mean"]["dsc"], s["std"]["dsc"], s["mean"]["precision"], s["mean"]["recall"]))

    folds = [os.path.join(cv, f"fold-{i}") for i in range(1, k + 1)]
    for tta in ([], ["--tta", "flips"]):
        suffix = " + tta" if tta else ""
        score("run" + suffix, [run], tta)
        for i, f in enumerate(folds, 1):
            score(f"fold {i}{suffix}", [f], tta)
        score(f"ensemble of {k}{suffix}", [cv], tta, ensemble=True)
    print(f"| model ({len(parts['test'])} held-out test images) | DSC | precision | recall |")
    print("|---|---|---|---|")
    for r in rows:
        print(f"| {r[0]} | {r[1]:.3f} ± {r[2]:.3f} | {r[3]:.3f} | {r[4]:.3f} |")


if __name__ == "__main__":
    main(sys.argv[1:])
