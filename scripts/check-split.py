#!/usr/bin/python3
"""check-split.py - read `lorafit split` output back with Python's csv module
and with pandas, independently of lorafit, and check it against the input.

    lorafit split data/sms_spam/SMSSpamCollection --out-dir out/split --balance
    /usr/bin/python3 scripts/check-split.py data/sms_spam/SMSSpamCollection out/split --balance

Checks: the header is Label,Text; csv and pandas read every file to the same
rows; the sizes are int(n * train), int(n * val) and the rest; every output
row is an input row and none is used twice; with --balance every class has
as many rows as the input's smallest class. The input is read line by line
as TSV (label<TAB>text, the UCI file) unless its name ends in .csv.
Exits 1 on the first failed check. Not run by ctest: it needs pandas.
"""
import argparse
import collections
import csv
import os
import sys


def read_input(path):
    if path.lower().endswith(".csv"):
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
        header, body = rows[0], rows[1:]
        li = [h.lower() for h in header].index("label")
        ti = [h.lower() for h in header].index("text")
        return [(r[li].strip(), r[ti]) for r in body if r]
    rows = []
    with open(path, encoding="utf-8", newline="") as f:
        for line in f.read().split("\n"):
            if line.endswith("\r"):
                line = line[:-1]
            if line:
                label, text = line.split("\t", 1)
                rows.append((label.strip(), text))
    return rows


def read_with_csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    return rows[0], [tuple(r) for r in rows[1:]]


def read_with_pandas(path):
    import pandas as pd

    df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    return list(df.columns), list(zip(df["Label"], df["Text"]))


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("input")
    ap.add_argument("out_dir")
    ap.add_argument("--balance", action="store_true")
    ap.add_argument("--train", type=float, default=0.7)
    ap.add_argument("--val", type=float, default=0.1)
    a = ap.parse_args()

    source = read_input(a.input)
    counts = collections.Counter(label for label, _ in source)
    print(f"input {a.input}: {len(source)} rows, {dict(sorted(counts.items()))}")
    n = min(counts.values()) * len(counts) if a.balance else len(source)
    want = {"train.csv": int(n * a.train), "validation.csv": int(n * a.val)}
    want["test.csv"] = n - want["train.csv"] - want["validation.csv"]

    available = collections.Counter(source)
    out_counts = collections.Counter()
    for name in ("train.csv", "validation.csv", "test.csv"):
        path = os.path.join(a.out_dir, name)
        header, rows = read_with_csv(path)
        pd_header, pd_rows = read_with_pandas(path)
        if header != ["Label", "Text"] or pd_header != ["Label", "Text"]:
            fail(f"{name}: header {header} / {pd_header}")
        if rows != pd_rows:
            fail(f"{name}: csv and pandas read different rows")
        if len(rows) != want[name]:
            fail(f"{name}: {len(rows)} rows, want {want[name]}")
        for row in rows:
            if available[row] == 0:
                fail(f"{name}: row not in the input (or used twice): {row!r:.120}")
            available[row] -= 1
            out_counts[row[0]] += 1
        print(f"{name}: {len(rows)} rows; csv module and pandas agree")
    if a.balance and len(set(out_counts.values())) != 1:
        fail(f"not balanced: {dict(out_counts)}")
    print(f"all {n} rows are input rows, none twice; classes {dict(sorted(out_counts.items()))}")
    print("OK")


if __name__ == "__main__":
    main()
