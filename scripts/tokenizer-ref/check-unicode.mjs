// check-unicode.mjs - every code point through tiktoken, for a one-off
// differential check of lorafit's character classes (too big to commit).
//
//   node check-unicode.mjs /tmp/tok-unicode     # writes .../tests/fixtures/tokenizer/gpt2_cases.tsv
//   ln -s "$PWD/../../data" /tmp/tok-unicode/data
//   LORAFIT_SOURCE_DIR=/tmp/tok-unicode ../../build-tok/tests/test_tokenizer
//
// Each case holds 32 consecutive code points (all of U+0000..U+10FFFF but the
// surrogates), each in contexts where its class (letter, number, white space,
// other) decides the pieces: after a letter, a digit, a space, twice, before
// a space and an apostrophe. A mismatch names the case; its hex gives the range.
import { get_encoding } from "tiktoken";
import { mkdirSync, openSync, writeSync, closeSync } from "node:fs";
import { resolve } from "node:path";

const outRoot = process.argv[2];
if (!outRoot) {
  console.error("usage: node check-unicode.mjs OUT_DIR");
  process.exit(2);
}
const dir = resolve(outRoot, "tests/fixtures/tokenizer");
mkdirSync(dir, { recursive: true });
const fd = openSync(resolve(dir, "gpt2_cases.tsv"), "w");
const enc = get_encoding("gpt2");
const utf8 = new TextEncoder();
let n = 0;
for (let start = 0; start <= 0x10ffff; start += 32) {
  let text = "";
  for (let cp = start; cp < start + 32; cp++) {
    if (cp >= 0xd800 && cp <= 0xdfff) continue;
    const c = String.fromCodePoint(cp);
    text += `a${c}b 1${c}2 ${c}${c}x ${c} '${c}s  ${c}\n`;
  }
  if (!text) continue;
  const ids = Array.from(enc.encode_ordinary(text)).join(" ");
  const name = `U+${start.toString(16).toUpperCase().padStart(4, "0")}`;
  writeSync(fd, ["case", name, "text", 0, 0, Buffer.from(utf8.encode(text)).toString("hex"), ids].join("\t") + "\n");
  n++;
}
closeSync(fd);
enc.free();
console.error(`${n} cases in ${dir}/gpt2_cases.tsv`);
