#!/usr/bin/env python3
"""The reference design's Pi job, for `npm run bench`: Gibbons' unbounded spigot.

Pure-Python big integers, state (q, r, t, k, n, l) = (1, 0, 1, 1, 3, 3), the clock checked after
every digit, standard library only. Written to be the reference, not to be fast: do not optimise.

    python3 bench/gibbons.py --duration SECONDS [--out FILE]   # digits that fit in the duration
    python3 bench/gibbons.py --digits N                         # the first N decimal places

Prints one JSON line: {"digits": decimal places, "seconds": elapsed, "prefix": "3.1415..."}.
With --out, writes "3.<all decimals>\n" to FILE (the job's pi.txt format), so the bench can check
both programs' digits against each other. --digits prints the digits as "3.<N decimals>".
"""

import argparse
import json
import sys
import time


def pi_digits():
    """Yields the decimal digits of Pi one by one (3, 1, 4, 1, 5, ...), forever."""
    q, r, t, k, n, l = 1, 0, 1, 1, 3, 3
    while True:
        if 4 * q + r - t < n * t:
            yield n
            q, r, t, k, n, l = 10 * q, 10 * (r - n * t), t, k, (10 * (3 * q + r)) // t - 10 * n, l
        else:
            q, r, t, k, n, l = (
                q * k,
                (2 * q + r) * l,
                t * l,
                k + 1,
                (q * (7 * k + 2) + r * l) // (t * l),
                l + 2,
            )


def as_text(digits):
    return f"{digits[0]}." + "".join(map(str, digits[1:]))


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--duration", type=float, help="time budget in seconds")
    mode.add_argument("--digits", type=int, help="decimal places to compute")
    parser.add_argument("--out", help="file that receives 3.<decimals>")
    args = parser.parse_args(argv)

    started = time.monotonic()
    digits = []
    if args.digits is not None:
        for digit in pi_digits():
            digits.append(digit)
            if len(digits) > args.digits:
                break
    else:
        deadline = started + args.duration
        for digit in pi_digits():
            digits.append(digit)
            if time.monotonic() >= deadline:
                break
    seconds = time.monotonic() - started

    text = as_text(digits)
    if args.out:
        with open(args.out, "w", encoding="ascii") as out:
            out.write(text + "\n")
    result = {"digits": len(digits) - 1, "seconds": round(seconds, 3)}
    if args.digits is not None:
        result["pi"] = text
    else:
        result["prefix"] = text[:52]
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
