#!/usr/bin/env python3
"""make-synthetic-squad.py - a SQuAD-format file whose answers are a function
of the prompt, for lorafit's end-to-end learning test (plain python3).

  scripts/make-synthetic-squad.py [--task copy|lookup|reverse] [--questions N]
                                  [--facts K] [--seed S] [-o FILE]

Every question has its own paragraph; ten paragraphs make an article. The
words are short, common English words that GPT-2 encodes as one token each
(after a space), so a tiny model sees one token per answer word.

  copy     context "The secret word is {w}."
           question "What is the secret word?"              answer "{w}"
  lookup   context "{name1} likes {color1}. {name2} likes {color2}. ..." (K facts,
           distinct names)
           question "What does {name_i} like?"              answer "{color_i}"
  reverse  context "The words are {a} {b} {c}."
           question "What are the words in reverse order?"  answer "{c} {b} {a}"

answer_start is the answer's offset in the context, or -1 when it is not a
span of it (reverse): lorafit reads only the text. The output is the same
for the same arguments (random.Random(seed)); the fixtures in
tests/fixtures/lm were made with

  scripts/make-synthetic-squad.py --task copy --questions 256 --seed 1 -o tests/fixtures/lm/synthetic_copy_train.json
  scripts/make-synthetic-squad.py --task copy --questions 64 --seed 2 -o tests/fixtures/lm/synthetic_copy_dev.json
  scripts/make-synthetic-squad.py --task lookup --questions 256 --seed 1 -o tests/fixtures/lm/synthetic_lookup_train.json
  scripts/make-synthetic-squad.py --task lookup --questions 64 --seed 2 -o tests/fixtures/lm/synthetic_lookup_dev.json
"""
import argparse
import json
import os
import random
import sys

WORDS = ["apple", "river", "stone", "cloud", "tiger", "piano", "candle", "garden",
         "window", "rocket", "silver", "forest", "island", "pepper", "castle", "orange"]
NAMES = ["Anna", "Ben", "Carl", "Dave", "Emma", "Fred", "Hugo", "Jack",
         "Kate", "Liam", "Mary", "Nick", "Paul", "Rose", "Sam", "Tom"]
COLORS = ["red", "blue", "green", "black", "white", "brown", "pink", "gray"]


def make_question(task, rng, facts):
    if task == "copy":
        w = rng.choice(WORDS)
        return f"The secret word is {w}.", "What is the secret word?", w
    if task == "lookup":
        names = rng.sample(NAMES, facts)
        colors = [rng.choice(COLORS) for _ in names]
        context = " ".join(f"{n} likes {c}." for n, c in zip(names, colors))
        i = rng.randrange(facts)
        return context, f"What does {names[i]} like?", colors[i]
    words = rng.sample(WORDS, 3)
    return f"The words are {' '.join(words)}.", "What are the words in reverse order?", " ".join(reversed(words))


def answer_start(context, question, task, answer):
    if task == "lookup":  # the fact the question asks about, not an earlier same colour
        name = question[len("What does "):-len(" like?")]
        return context.index(f"{name} likes {answer}.") + len(f"{name} likes ")
    return context.find(answer)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--task", choices=["copy", "lookup", "reverse"], default="lookup")
    ap.add_argument("--questions", type=int, default=256)
    ap.add_argument("--facts", type=int, default=3, help="facts per lookup context (default 3)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("-o", "--out", help="output file (default: stdout)")
    args = ap.parse_args()
    if args.questions < 1 or not 1 <= args.facts <= len(NAMES):
        ap.error("--questions must be >= 1 and --facts within 1..%d" % len(NAMES))
    rng = random.Random(args.seed)
    articles = []
    for q in range(args.questions):
        if q % 10 == 0:
            articles.append({"title": f"synthetic_{args.task}_{len(articles) + 1}", "paragraphs": []})
        context, question, answer = make_question(args.task, rng, args.facts)
        qa = {"id": f"{args.task}-{args.seed}-{q + 1:05d}", "question": question,
              "answers": [{"text": answer, "answer_start": answer_start(context, question, args.task, answer)}]}
        articles[-1]["paragraphs"].append({"context": context, "qas": [qa]})
    text = json.dumps({"version": "1.1", "data": articles}) + "\n"
    if args.out:
        tmp = args.out + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, args.out)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
