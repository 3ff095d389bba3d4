import type { LoggerService } from '@nestjs/common';

/** A Nest logger that keeps every line the module logs, by level. */
export function captureLogs(): { logger: LoggerService; lines: { level: string; message: string }[] } {
  const lines: { level: string; message: string }[] = [];
  const keep = (level: string) => (message: unknown) => lines.push({ level, message: String(message) });
  return {
    lines,
    logger: {
      log: keep('log'),
      error: keep('error'),
      warn: keep('warn'),
      debug: keep('debug'),
      verbose: keep('verbose'),
    },
  };
}
