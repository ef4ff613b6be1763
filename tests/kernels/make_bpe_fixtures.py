#!/usr/bin/env python3
"""make_bpe_fixtures.py - expected token ids from tiktoken for tests/kernels/test_bpe_tiktoken.c.

Run once from the repository root after building spillway (tiktoken from PyPI; it works offline
here because the vocabularies are ours, not OpenAI's downloads):

    pip install tiktoken==0.14.0
    build/spillway tokenizer train tests/kernels/fixtures/bpe/mixed.txt --vocab 512 \
        -o /tmp/mixed.bin
    build/spillway tokenizer export /tmp/mixed.bin -o tests/kernels/fixtures/bpe/mixed.tiktoken
    build/spillway tokenizer export data/shakespeare-bpe2048/tokenizer.bin \
        -o tests/kernels/fixtures/bpe/shakespeare.tiktoken
    python3 tests/kernels/make_bpe_fixtures.py tests/kernels/fixtures/bpe

For each vocabulary V.tiktoken in the folder it writes V.cases: one line per case,
"BASE64(utf-8 text) TAB space-separated ids" (an empty text has no base64 line, so none is
empty). The cases: every line of mixed.txt, hand-written edge cases of GPT-4's split, 300 seeded
random strings over mixed Unicode ranges, and a slice of tiny Shakespeare. Deterministic.
"""
import base64
import os
import random
import sys

import tiktoken

# tiktoken's cl100k_base pat_str, character for character (kernels/pretok.h SW_PRETOK_GPT4).
PAT = (r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++"""
       r"""[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s""")

EDGE = [
    "hello world", " hello", "  two leading", "trailing   ", "\n", "\n\n\n", " \n ", "\t\t x",
    "a\r\nb", "\r\n\r\n", "I'll've we'RE THEY'LL 's 'S 'd", "don't", "o'clock '", "''''",
    "1234567890", "12 345 6789", "3.14159", "x1y22z333w4444", "٣٤٥ ١٢", "½¾", "ⅷ",
    "!!!", "...\n\n", " ?!\n", "«quoted» — dash…", "a,b;c:d", "(x)[y]{z}", "#$%&*+-/<=>@^_`|~",
    "éé", "e\u0301", "ß", "İstanbul", "ǅ", "😀", "👩‍👩‍👧‍👦", "🇫🇷🇩🇪", "\u00a0nbsp\u00a0",
    "\u2003em space\u2003", "\u3000全角", "日本語のテキスト", "한국어", "العربية", "עברית",
    "    def f(x):\n        return x\n", "  \n  \n", "x \n", "x  ", " ", "  ", "\t", "a",
]

RANGES = [(0x20, 0x7e), (0x09, 0x0d), (0xa0, 0x24f), (0x370, 0x3ff), (0x400, 0x4ff),
          (0x590, 0x6ff), (0x900, 0x97f), (0x3040, 0x30ff), (0x4e00, 0x4fff), (0xac00, 0xac7f),
          (0x2000, 0x206f), (0x1f300, 0x1f64f), (0x660, 0x669), (0x2160, 0x2188)]


def random_cases(rng, n):
    out = []
    for _ in range(n):
        k = rng.randint(1, 40)
        s = []
        for _ in range(k):
            lo, hi = rng.choice(RANGES)
            s.append(chr(rng.randint(lo, hi)))
        out.append("".join(s))
    return out


def main(folder):
    rng = random.Random(16)
    with open(os.path.join(folder, "mixed.txt"), encoding="utf-8", newline="") as f:
        mixed = f.read()
    with open("corpus/tinyshakespeare.txt", encoding="utf-8") as f:
        shakespeare = f.read()[:20000]
    cases = mixed.splitlines(keepends=True) + [mixed] + EDGE + random_cases(rng, 300)
    cases += [shakespeare[i:i + 2000] for i in range(0, len(shakespeare), 2000)]
    for name in sorted(os.listdir(folder)):
        if not name.endswith(".tiktoken"):
            continue
        ranks = {}
        with open(os.path.join(folder, name), "rb") as f:
            for line in f:
                if line.strip():
                    tok, rank = line.split()
                    ranks[base64.b64decode(tok)] = int(rank)
        enc = tiktoken.Encoding(name=name, pat_str=PAT, mergeable_ranks=ranks,
                                special_tokens={})
        path = os.path.join(folder, name[:-len(".tiktoken")] + ".cases")
        with open(path, "w") as out:
            for c in cases:
                ids = enc.encode_ordinary(c)
                assert enc.decode_bytes(ids) == c.encode("utf-8")
                b64 = base64.b64encode(c.encode("utf-8")).decode()
                out.write(b64 + "\t" + " ".join(map(str, ids)) + "\n")
        print(f"{path}: {len(cases)} cases")


if __name__ == "__main__":
    main(sys.argv[1])
