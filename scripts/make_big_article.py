#!/usr/bin/env python3
"""Writes a test article of a given size from the team's own English articles (tests/articles),
repeated in turn, for the big-article figures of the README (`precis digest --file`, `loadtest
--article`). Never a real article; never the shared sample.

    python3 scripts/make_big_article.py OUT [--bytes 262144] [--distinct]

With --distinct, every sentence of the k-th repeat starts "Update k:", so no two sentences are
identical: the worst case for the summarizer, which embeds each distinct sentence once.
"""
import argparse
import pathlib
import re

ARTICLES = pathlib.Path(__file__).resolve().parent.parent / "tests" / "articles"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=pathlib.Path)
    parser.add_argument("--bytes", type=int, default=256 * 1024,
                        help="size limit in bytes (default 262144, the server's default limit)")
    parser.add_argument("--distinct", action="store_true",
                        help="make every repeat's sentences distinct (see above)")
    args = parser.parse_args()
    texts = [path.read_text(encoding="utf-8").strip()
             for path in sorted(ARTICLES.glob("*-en.txt"))]
    if not texts:
        raise SystemExit(f"no English team articles (*-en.txt) in {ARTICLES}")
    parts, size, index = [], 0, 0
    while True:
        text = texts[index % len(texts)]
        if args.distinct and index >= len(texts):
            # After each sentence end (and at the start), the repeat's number.
            text = re.sub(r"(^|(?:(?<=[.!?])|(?<=[.!?][\"”]))\s+)(?=\S)",
                          lambda m: f"{m.group(1)}Update {index}: ", text)
        added = len(text.encode("utf-8")) + 2
        if size + added > args.bytes:
            break
        parts.append(text)
        size += added
        index += 1
    args.out.write_text("\n\n".join(parts) + "\n", encoding="utf-8")
    print(f"{args.out}: {size} bytes from {index} team articles")


if __name__ == "__main__":
    main()
