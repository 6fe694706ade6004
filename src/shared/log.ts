import pino from 'pino';

export type Logger = pino.Logger;

/**
 * The server logs to stdout. A CLI command passes `toStderr`, so its log lines never mix with the
 * output a person or a script reads (a summary line, a secret).
 */
export function createLogger(level = 'info', pretty = process.stdout.isTTY, toStderr = false): Logger {
  const options = {
    level,
    redact: { paths: ['req.headers.authorization', 'req.headers["x-api-key"]', 'req.headers["x-tollgate-key"]', '*.key', '*.secret'], censor: '[redacted]' },
  };
  if (pretty) return pino({ ...options, transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss', ignore: 'pid,hostname', destination: toStderr ? 2 : 1 } } });
  return toStderr ? pino(options, pino.destination({ fd: 2, sync: true })) : pino(options);
}
