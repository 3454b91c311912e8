/**
 * Builds errors about hostile or broken input without capturing a stack trace. Such errors are
 * values (returned, counted, logged at a limited rate), not bugs: their stack is always the same
 * parser line, and capturing it costs more than parsing a valid datagram, which would make
 * a flood of garbage cheaper to send than to refuse.
 */
export function withoutStack<T extends Error>(make: () => T): T {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return make();
  } finally {
    Error.stackTraceLimit = limit;
  }
}
