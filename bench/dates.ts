/**
 * Date pattern and URL macro figures (TARGETS.md: numbers are printed, never asserted). Run:
 *   npx tsx bench/dates.ts
 * Prints operations per second for formatting, parsing, macro expansion and hub URL translation: the poller does
 * one expansion per resource per poll and one parse per object and date field.
 */
import { formatJavaDate, parseJavaDate, parseDateValue } from '../src/core/dates/java-pattern';
import { expandUrlMacros } from '../src/core/dates/url-macros';
import { translateHubUrl } from '../src/core/opencon/hub-url';

const T = Date.parse('2020-03-04T05:06:07.089Z');
const PATTERN = "yyyy-MM-dd'T'HH:mm:ss.SSSXXX";
const HUB = "/hubs/general/messages?where=LastModifiedDateTime>='${gmtDate:yyyy-MM-dd'T'HH:mm:ss'Z'}'";

function measure(name: string, fn: (i: number) => unknown, iterations = 50_000): void {
  for (let i = 0; i < 1000; i += 1) fn(i);
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i += 1) fn(i);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  console.log(`${name.padEnd(56)} ${Math.round(iterations / seconds).toLocaleString('en-US').padStart(12)} ops/s  ${((seconds / iterations) * 1e6).toFixed(2)} µs/op`);
}

measure(`formatJavaDate ${PATTERN} UTC`, (i) => formatJavaDate(T + i, PATTERN));
measure(`formatJavaDate ${PATTERN} America/Denver`, (i) => formatJavaDate(T + i, PATTERN, 'America/Denver'));
measure(`parseJavaDate ${PATTERN}`, () => parseJavaDate('2020-03-04T05:06:07.089-07:00', PATTERN));
measure("parseJavaDate yyyy-MM-dd'T'HH:mm:ss'Z' in GMT", () => parseJavaDate('2020-03-04T05:06:07Z', "yyyy-MM-dd'T'HH:mm:ss'Z'", 'GMT'));
measure('parseDateValue Graph ISO (no format)', () => parseDateValue('2020-03-04T05:06:07.1234567Z'));
measure('expandUrlMacros outlookemail hub URL', (i) => expandUrlMacros(HUB, T + i));
measure('translateHubUrl outlookemail hub URL', () => translateHubUrl(HUB, 'outlookemail'), 20_000);
