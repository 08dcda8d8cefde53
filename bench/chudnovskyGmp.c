/*
 * The native baseline of the Pi benchmark: Chudnovsky with binary splitting on GMP, the same
 * method as our job (job-image/src/chudnovsky.ts) with the same guard digits, from the series to
 * the decimal string. Compiled by `npm run bench` when gcc and libgmp are present.
 *
 *   chudnovskyGmp DIGITS [OUT]
 *
 * Computes DIGITS decimal places, writes "3.<places>" to OUT (when given) and prints one JSON
 * line: {"digits":D,"seconds":S}, S being the computation from the first term to the string.
 */
#include <gmp.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define GUARD_DIGITS 20

/* 640320^3 / 24. */
#define C3_OVER_24 10939058860032000UL

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* P, Q, T of terms [a, b); P only when want_p (the right spine never needs it). */
static void series(unsigned long a, unsigned long b, int want_p, mpz_t p, mpz_t q, mpz_t t) {
  if (b - a == 1) {
    if (a == 0) {
      mpz_set_ui(p, 1);
      mpz_set_ui(q, 1);
    } else {
      mpz_set_ui(p, 6 * a - 5);
      mpz_mul_ui(p, p, 2 * a - 1);
      mpz_mul_ui(p, p, 6 * a - 1);
      mpz_set_ui(q, a);
      mpz_mul_ui(q, q, a);
      mpz_mul_ui(q, q, a);
      mpz_mul_ui(q, q, C3_OVER_24);
    }
    mpz_set_ui(t, 545140134UL);
    mpz_mul_ui(t, t, a);
    mpz_add_ui(t, t, 13591409UL);
    mpz_mul(t, t, p);
    if (a % 2 == 1) mpz_neg(t, t);
    return;
  }
  unsigned long m = a + (b - a) / 2;
  mpz_t p2, q2, t2;
  mpz_inits(p2, q2, t2, NULL);
  series(a, m, 1, p, q, t);
  series(m, b, want_p, p2, q2, t2);
  mpz_mul(t, t, q2);
  mpz_mul(t2, t2, p);
  mpz_add(t, t, t2);
  mpz_mul(q, q, q2);
  if (want_p) mpz_mul(p, p, p2);
  mpz_clears(p2, q2, t2, NULL);
}

int main(int argc, char **argv) {
  if (argc < 2 || argc > 3) {
    fprintf(stderr, "usage: %s DIGITS [OUT]\n", argv[0]);
    return 2;
  }
  char *end;
  long digits = strtol(argv[1], &end, 10);
  if (*end != '\0' || digits < 1 || digits > 1000000000L) {
    fprintf(stderr, "DIGITS: \"%s\" is not a whole number from 1 to 10^9\n", argv[1]);
    return 2;
  }
  double started = now_seconds();
  long scaled = digits + GUARD_DIGITS;
  unsigned long bits = (unsigned long)ceil((double)scaled * log2(10.0)) + 32;
  unsigned long terms = (unsigned long)ceil((double)scaled / log10(151931373056000.0)) + 1;

  mpz_t p, q, t, s, x;
  mpz_inits(p, q, t, s, x, NULL);
  series(0, terms, 0, p, q, t);

  /* s = floor(sqrt(10005) 2^bits). */
  mpz_set_ui(s, 10005);
  mpz_mul_2exp(s, s, 2 * bits);
  mpz_sqrt(s, s);

  /* Pi 2^bits = 426880 sqrt(10005) Q / T, with Q and T cut to the precision that matters. */
  size_t t_bits = mpz_sizeinbase(t, 2);
  if (t_bits > bits + 64) {
    mpz_tdiv_q_2exp(q, q, t_bits - (bits + 64));
    mpz_tdiv_q_2exp(t, t, t_bits - (bits + 64));
  }
  mpz_mul(x, q, s);
  mpz_mul_ui(x, x, 426880);
  mpz_tdiv_q(x, x, t);

  /* floor(Pi 10^scaled), then its decimal string. */
  mpz_ui_pow_ui(s, 10, (unsigned long)scaled);
  mpz_mul(x, x, s);
  mpz_tdiv_q_2exp(x, x, bits);
  char *text = mpz_get_str(NULL, 10, x);
  double seconds = now_seconds() - started;

  if (argc == 3) {
    FILE *out = fopen(argv[2], "w");
    if (!out) {
      perror(argv[2]);
      return 1;
    }
    /* "3." and the first DIGITS places; the guard digits are not written. */
    fprintf(out, "3.%.*s", (int)digits, text + 1);
    fclose(out);
  }
  printf("{\"digits\":%ld,\"seconds\":%.3f}\n", digits, seconds);
  free(text);
  mpz_clears(p, q, t, s, x, NULL);
  return 0;
}
