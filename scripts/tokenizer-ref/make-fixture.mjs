// make-fixture.mjs - golden GPT-2 token ids for lorafit's tokenizer tests,
// produced by the npm `tiktoken` package (tiktoken's official WASM build).
//
//   cd scripts/tokenizer-ref && npm ci && node make-fixture.mjs [SMSSpamCollection]
//
// Writes, relative to the repository root:
//   tests/fixtures/tokenizer/gpt2_cases.tsv   the corpus below, text as hex, ids
//   tests/fixtures/tokenizer/sms_digests.tsv  per-message digests of the SMS corpus
// The SMS file defaults to data/sms_spam/SMSSpamCollection. Only digests of it
// are written (never its text or its ids), so the fixture does not hold a
// second copy of the data set.
import { get_encoding } from "tiktoken";
import { readFileSync, writeFileSync, existsSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const outDir = resolve(root, "tests/fixtures/tokenizer");
const smsPath = process.argv[2] ?? resolve(root, "data/sms_spam/SMSSpamCollection");
const enc = get_encoding("gpt2");
const utf8 = new TextEncoder();

// A small deterministic generator, so the long random cases are the same on every run.
let seed = 12345;
const rand = (n) => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8) % n;
const pick = (chars, len) => Array.from({ length: len }, () => chars[rand(chars.length)]).join("");

// [name, text] pairs. Each is encoded in all three special-token modes, except
// the long ones (which hold no special token, so the modes agree) to keep the
// fixture small.
const cases = [
  ["empty", ""],
  ["hello", "Hello world"],
  ["sentence", "Hello, World! How's it going? I'm fine, thanks."],
  ["contractions-lower", "'s 't 're 've 'm 'll 'd it's don't we're they've I'm we'll he'd"],
  ["contractions-upper", "'S 'T 'RE 'VE 'M 'LL 'D IT'S DON'T WE'RE THEY'VE I'M WE'LL HE'D"],
  ["contractions-mixed", "'Re 'rE 'Ll 'lL 'Ve It'S I'M i'm You'Ll"],
  ["contractions-edge", "' '' ''' 's's 'ss 'lll 'red 'vex rock'n'roll y'all it''s '\n's !'s  's 'x"],
  ["contractions-curly", "it\u2019s don\u2019t I\u2019M \u2018quoted\u2019"],
  ["spaces-runs", "a  b   c    d\u0020\u0020\u0020\u0020\u0020e"],
  ["spaces-leading", "   leading spaces"],
  ["spaces-trailing", "trailing spaces   "],
  ["spaces-only", "     "],
  ["space-single", " "],
  ["tabs", "\tx\t\ty \t z\t"],
  ["newlines", "\n\n\nx\ny\n\n z \n\n"],
  ["crlf", "line one\r\nline two\r\n\r\nline three\r\n"],
  ["mixed-whitespace", "a \t\n b\n \n\tc \u000b\u000c d"],
  ["trailing-newline-space", "end \n"],
  ["nbsp", "a\u00a0b a\u00a0\u00a0b a \u00a0b \u00a0x x\u00a0"],
  ["thin-space", "10\u2009000 x\u2009\u2009y"],
  ["ideographic-space", "\u3000\u3000日本\u3000語 \u3000x"],
  ["unicode-white-space", "a\u0085b \u0085 c\u1680d\u2000e\u200af\u2028g\u2029h\u202fi\u205fj"],
  ["not-white-space", "a\u200bb \u200b c\ufeffd \u180e e\u001c\u001d\u001e\u001f f \u001c"],
  ["control-chars", "a\u0000b\u0007c\u007f \u0000 \u0001x"],
  ["digits", "0 1 12 123 1234 12345 3.14159 1,000,000 x1y2z3 2024-01-02"],
  ["digit-run", "1234567890".repeat(20)],
  ["numbers-unicode", "\u0663\u0664\u0665 \u00bd \u00b2 \u2165 \u216b \u0967\u0968 \uff11\uff12"],
  ["emoji", "👍 😀😀 I ❤️ you"],
  ["emoji-skin", "👍🏽 👋🏿 🧑🏻‍💻"],
  ["emoji-zwj", "👨‍👩‍👧‍👦 🏳️‍🌈 👩‍❤️‍💋‍👨"],
  ["emoji-flags", "🇫🇷🇯🇵 🏴󠁧󠁢󠁳󠁣󠁴󠁿"],
  ["cjk", "日本語のテキストです。中文分词测试，你好！"],
  ["korean", "한국어 텍스트 안녕하세요"],
  ["arabic", "مرحبا بالعالم! السلام عليكم ١٢٣"],
  ["hindi", "नमस्ते दुनिया। हिन्दी में लिखा गया पाठ"],
  ["thai", "สวัสดีครับ ภาษาไทยไม่มีช่องว่าง"],
  ["hebrew", "שָׁלוֹם עולם"],
  ["russian-greek", "Привет, мир! Γειά σου Κόσμε"],
  ["nfc", "caf\u00e9 na\u00efve \u00c5ngstr\u00f6m r\u00e9sum\u00e9"],
  ["nfd", "cafe\u0301 nai\u0308ve A\u030angstro\u0308m re\u0301sume\u0301"],
  ["combining-alone", "\u0301 \u0301\u0301x a\u0301\u0302\u0303"],
  ["letter-categories", "\u01c5 \u02b0 \u00aa \u3005 \u16ee ß ﬁ"],
  ["currency", "$100 €50 £20 ¥1000 ₹500 ₿0.5 100$ 5€ ¢ ₩"],
  ["url", "see https://example.com/path/to?q=1&x=y#frag and http://a.b/c_d-e~f"],
  ["email", "john.doe+spam@example.co.uk, <jane_doe@mail.example.org>"],
  ["code-c", "int main(void) {\n    printf(\"%d\\n\", a != b);\n    return 0;\n}\n"],
  ["code-python", "def f(x):\n    if x >= 0:\n        return x ** 2  # square\n\treturn -x\n"],
  ["code-js", "const x={a:[1,2,3]};x.a.map(v=>v*2)//done\n"],
  ["punctuation", "!!! ??? ... --- *** ((( ))) \"quoted\" 'single' `tick` ~~~ ^_^ @#$%"],
  ["mixed-script-word", "abcабвαβγ123٣٤日本x"],
  ["private-unassigned", "\ue000 \u{10ffff} \u{e0001} \u0378 \u{1FFFF} x\ue000y"],
  ["supplementary", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝟙𝟚𝟛 𐍈"],
  ["sms-like", "WINNER!! As a valued network customer you have been selected to receive a £900 prize reward! Call 09061701461. Claim code KL341. Valid 12 hours only."],
  ["sms-like-2", "Ok lar... Joking wif u oni... U dun say so early hor... U c already then say..."],
  ["special-alone", "<|endoftext|>"],
  ["special-inside", "a<|endoftext|>b"],
  ["special-spaces", "a  <|endoftext|>  b"],
  ["special-twice", "<|endoftext|><|endoftext|>x"],
  ["special-partial", "<|endoftext| <|endoftext <|endoftext|"],
  ["special-nested", "<|<|endoftext|>endoftext|>"],
  ["long-word-a", "a".repeat(5000)],
  ["long-word-ab", "ab".repeat(3000)],
  ["long-word-random", pick("abcdefghijklmnopqrstuvwxyz", 20000)],
  ["long-word-random-mixed", pick("etaoinshrdlucmfwypvbgkjqxzETAOIN", 8000)],
  ["long-word-known", "supercalifragilisticexpialidocious pneumonoultramicroscopicsilicovolcanoconiosis"],
  ["long-punct", "!".repeat(3000) + "?".repeat(1000)],
  ["long-spaces", " ".repeat(3000) + "x" + " ".repeat(3000)],
  ["long-newlines", "\n".repeat(2000) + "x"],
  ["long-digits", "9".repeat(5000)],
  ["long-cjk", pick("日本語中文字測試的是了我不人在他有这", 3000)],
  ["long-emoji", "😀".repeat(500) + "👨‍👩‍👧‍👦".repeat(100)],
  ["long-hindi", pick("कखगघचछजझटठडढणतथदधनपफबभमयरलवशसह\u093e\u093f\u0940\u0941\u0942\u0947\u0948\u094b\u094c\u094d\u0902", 4000)],
  ["long-random-text", pick("aaaabbccddeeeefghiijklmnoooprssttuuvwxyz    ..,,''!?01\n\t-é日😀\u00a0", 20000)],
];

// Invalid UTF-8, which tiktoken cannot take (it encodes str). lorafit's policy
// (include/lorafit/data/tokenizer.h): each byte outside a well-formed sequence is
// its own byte token and splits the text like a special token does. The
// expected ids are assembled from tiktoken's ids for the valid parts and
// tiktoken's single-byte tokens. Each case: parts, strings or invalid byte lists.
const invalid = [
  ["invalid-ff", ["hello", [0xff], "world"]],
  ["invalid-lone-continuation", [[0x80]]],
  ["invalid-overlong", ["a  ", [0xc0, 0xaf], "  b"]],
  ["invalid-surrogate", ["x ", [0xed, 0xa0, 0x80], " y"]],
  ["invalid-above-max", [[0xf4, 0x90, 0x80, 0x80], "z"]],
  ["invalid-truncated-euro", ["5", [0xe2, 0x82], "x"]],
  ["invalid-truncated-end", ["smile ", [0xf0, 0x9f, 0x98]]],
  ["invalid-between-spaces", [" ", [0xfe], " "]],
  ["invalid-before-contraction", ["it", [0xff], "'s fine"]],
  ["invalid-in-space-run", ["a   ", [0xff], "   b"]],
  ["invalid-latin1", ["caf", [0xe9], " cr", [0xe8], "me"]],
  ["invalid-with-special", ["a", [0xff], "<|endoftext|>", [0xfe], "b"]],
];

const hex = (bytes) => Buffer.from(bytes).toString("hex");
const modes = {
  reject: (s) => enc.encode(s),
  allow: (s) => enc.encode(s, "all"),
  text: (s) => enc.encode_ordinary(s),
};
const idsOrError = (fn, s) => {
  try {
    return Array.from(fn(s)).join(" ");
  } catch (e) {
    if (!String(e).includes("special token")) throw e;
    return "error";
  }
};
const byteToken = (b) => enc.encode_single_token(new Uint8Array([b]));

const lines = [
  "# Golden GPT-2 token ids from the npm tiktoken package (get_encoding(\"gpt2\")).",
  "# Generated by scripts/tokenizer-ref/make-fixture.mjs; do not edit by hand.",
  "# case<TAB>name<TAB>mode<TAB>n_invalid<TAB>first_invalid<TAB>text as hex<TAB>ids or \"error\"",
  "#   mode: reject = encode(text), allow = encode(text, \"all\"), text = encode_ordinary(text)",
  "# byte<TAB>value<TAB>id of the single-byte token",
];
for (const [name, text] of cases)
  for (const [mode, fn] of Object.entries(modes))
    if (mode === "reject" || text.length < 1000)
      lines.push(["case", name, mode, 0, 0, hex(utf8.encode(text)), idsOrError(fn, text)].join("\t"));
for (const [name, parts] of invalid) {
  for (const [mode, fn] of Object.entries(modes)) {
    const bytes = [], ids = [];
    let nInvalid = 0, first = 0, error = false;
    for (const part of parts) {
      if (typeof part === "string") {
        const got = idsOrError(fn, part);
        if (got === "error") error = true;
        else if (got) ids.push(got);
        bytes.push(...utf8.encode(part));
      } else {
        for (const b of part) {
          if (nInvalid++ === 0) first = bytes.length;
          ids.push(byteToken(b));
          bytes.push(b);
        }
      }
    }
    // A rejected special token rejects the whole text, before any warning.
    if (error) nInvalid = first = 0;
    lines.push(["case", name, mode, nInvalid, first, hex(bytes), error ? "error" : ids.join(" ")].join("\t"));
  }
}
for (let b = 0; b < 256; b++) lines.push(["byte", b, byteToken(b)].join("\t"));
writeFileSync(resolve(outDir, "gpt2_cases.tsv"), lines.join("\n") + "\n");
console.error(`gpt2_cases.tsv: ${cases.length + invalid.length} cases, 256 bytes`);

// 64-bit FNV-1a, over bytes; ids are hashed as uint32 little-endian.
const fnv1a = (bytes) => {
  let h = 0xcbf29ce484222325n;
  for (const b of bytes) h = ((h ^ BigInt(b)) * 0x100000001b3n) & 0xffffffffffffffffn;
  return h.toString(16).padStart(16, "0");
};
const idBytes = (ids) => new Uint8Array(Uint32Array.from(ids).buffer);

if (!existsSync(smsPath)) {
  console.error(`${smsPath} not found: sms_digests.tsv left as it was`);
} else {
  // One message per line, the text after the first tab (the SMSSpamCollection
  // format; lorafit reads it line by line). Joined with "\n" for the long-string case.
  const raw = readFileSync(smsPath);
  const texts = raw.toString("utf8").split("\n");
  if (texts[texts.length - 1] === "") texts.pop();
  const messages = texts.map((l) => l.slice(l.indexOf("\t") + 1));
  const out = [
    "# Digests of tiktoken's gpt2 ids for data/sms_spam/SMSSpamCollection, per message.",
    "# Generated by scripts/tokenizer-ref/make-fixture.mjs; only digests, never the text or the ids.",
    "# Message = the part of a line after its first tab; mode = encode(text) (specials rejected).",
    "# FNV-1a 64 of the ids as uint32 LE, and of the message's UTF-8 bytes (to tell a changed file",
    "# from a wrong tokenizer). The \"joined\" record is every message joined with \"\\n\", as one text.",
    "# sms<TAB>line (1-based)<TAB>n_ids<TAB>ids digest<TAB>text digest",
    "# joined<TAB>n_messages<TAB>n_ids<TAB>ids digest<TAB>text digest",
  ];
  messages.forEach((m, i) => {
    const ids = enc.encode(m);
    out.push(["sms", i + 1, ids.length, fnv1a(idBytes(ids)), fnv1a(utf8.encode(m))].join("\t"));
  });
  const joined = messages.join("\n");
  const ids = enc.encode(joined);
  out.push(["joined", messages.length, ids.length, fnv1a(idBytes(ids)), fnv1a(utf8.encode(joined))].join("\t"));
  writeFileSync(resolve(outDir, "sms_digests.tsv"), out.join("\n") + "\n");
  console.error(`sms_digests.tsv: ${messages.length} messages, ${ids.length} ids joined`);
}
enc.free();
