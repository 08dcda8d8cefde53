/**
 * Reference digits of Pi by arctangent formulas, independent of the job's Chudnovsky code: plain
 * Taylor series of arctan(1/x) in fixed point with BigInt division. Slow (quadratic) but simple;
 * used to make and to check the fixture in `fixtures/pi-2000.txt`.
 */

/** floor(one * arctan(1/x)), up to an error of a few units. */
function arctanInverse(x: bigint, one: bigint): bigint {
  const x2 = x * x;
  let power = one / x; // one / x^(2k+1)
  let sum = power;
  for (let k = 1n; power !== 0n; k++) {
    power /= x2;
    const term = power / (2n * k + 1n);
    sum += k % 2n === 1n ? -term : term;
  }
  return sum;
}

/** `"3."` and `decimals` places of Pi from `4 * sum(coefficient * arctan(1/x))`. */
function fromFormula(decimals: number, formula: [bigint, bigint][]): string {
  const guard = 10;
  const one = 10n ** BigInt(decimals + guard);
  const quarter = formula.reduce((acc, [c, x]) => acc + c * arctanInverse(x, one), 0n);
  const digits = ((4n * quarter) / 10n ** BigInt(guard)).toString();
  return `${digits[0]}.${digits.slice(1)}`;
}

/** Machin (1706): Pi/4 = 4 arctan(1/5) - arctan(1/239). */
export function machinPi(decimals: number): string {
  return fromFormula(decimals, [
    [4n, 5n],
    [-1n, 239n],
  ]);
}

/** Gauss: Pi/4 = 12 arctan(1/18) + 8 arctan(1/57) - 5 arctan(1/239). */
export function gaussPi(decimals: number): string {
  return fromFormula(decimals, [
    [12n, 18n],
    [8n, 57n],
    [-5n, 239n],
  ]);
}
