/**
 * Process defaults that must be in place before any dependency loads: index.ts imports this
 * module first.
 *
 * DEBUG_COLORS: LoopBack gives every Context (several per request: request, middleware and
 * invocation contexts) its own `debug` logger, and with DEBUG_COLORS unset `debug` decides on
 * colours by calling isatty(2) each time, a system call per Context. Measured in the service
 * under keep-alive load: about 30 µs of CPU per request (docs/benchmarks-fixes.md). The service's logs
 * are JSON lines, never coloured, so colours are off unless the operator set DEBUG_COLORS.
 */
if (process.env.DEBUG_COLORS === undefined) process.env.DEBUG_COLORS = 'no';

export {};
