// bench.mjs - tiktoken's (npm, WASM) gpt2 encode throughput, measured the way
// `lorafit tokenize --bench` measures lorafit's, for scripts/bench-tokenizer.sh.
//
//   node bench.mjs FILE [SECONDS]
//
// FILE's lines are messages (the text after the first tab, if any). Mode
// "one-string" encodes them joined with "\n" as one text, "per-message" one by
// one; each is repeated for at least SECONDS (default 2). The digest is
// 64-bit FNV-1a of the last pass's ids as uint32 LE, as lorafit prints it.
import { get_encoding } from "tiktoken";
import { readFileSync } from "node:fs";

const [file, secondsArg] = process.argv.slice(2);
if (!file) {
  console.error("usage: node bench.mjs FILE [SECONDS]");
  process.exit(2);
}
const seconds = Number(secondsArg ?? 2);
const lines = readFileSync(file, "utf8").split("\n");
if (lines[lines.length - 1] === "") lines.pop();
const messages = lines.map((l) => l.slice(l.indexOf("\t") + 1));
const joined = messages.join("\n");
const utf8Bytes = (s) => Buffer.byteLength(s, "utf8");
const enc = get_encoding("gpt2");

const digest = (idArrays) => {
  let h = 0xcbf29ce484222325n;
  for (const ids of idArrays)
    for (const id of ids)
      for (let k = 0; k < 4; k++) h = ((h ^ BigInt((id >>> (8 * k)) & 0xff)) * 0x100000001b3n) & 0xffffffffffffffffn;
  return h.toString(16).padStart(16, "0");
};

function bench(name, texts) {
  const bytes = texts.reduce((n, t) => n + utf8Bytes(t), 0);
  const start = process.hrtime.bigint();
  let passes = 0, first = 0, elapsed = 0, out = [];
  do {
    out = texts.map((t) => enc.encode_ordinary(t));
    elapsed = Number(process.hrtime.bigint() - start) / 1e9;
    if (passes++ === 0) first = elapsed;
  } while (elapsed < seconds);
  const nIds = out.reduce((n, ids) => n + ids.length, 0);
  console.log(
    `tiktoken ${name.padEnd(11)} ${((1e-6 * bytes * passes) / elapsed).toFixed(2).padStart(8)} MB/s  ` +
      `${bytes} bytes, ${nIds} ids, digest ${digest(out)}, ${passes} passes in ${elapsed.toFixed(2)} s, ` +
      `first pass ${((1e-6 * bytes) / first).toFixed(2)} MB/s`
  );
}

bench("one-string", [joined]);
bench("per-message", messages);
enc.free();
