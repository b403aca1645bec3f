/**
 * The only place errors become HTTP responses: `{error: {code, message}}` with the code's
 * status, the security headers, and nothing else (no stack, no internals). 5xx details go to
 * the log only.
 */
import {inject, Provider} from '@loopback/core';
import {HandlerContext, Reject} from '@loopback/rest';
import {AppError, ErrorCode, ERROR_CODES, isAppError} from '../errors';
import {AppBindings} from '../keys';
import type {Logger} from '../logging/logger';
import {applySecurityHeaders} from '../middleware/security-headers.middleware';

const STATUS_TO_CODE: Record<number, ErrorCode> = {
  400: 'BAD_REQUEST',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'GUARD_UNSUPPORTED_MEDIA_TYPE',
  422: 'BAD_REQUEST',
};

/** Map anything thrown in the sequence to an AppError a caller may see. */
export function toResponseError(err: unknown): AppError {
  if (isAppError(err)) return err;
  const e = err as {statusCode?: number; status?: number; code?: string; type?: string} | undefined;
  const status = e?.statusCode ?? e?.status ?? 500;
  if (e?.type === 'entity.too.large') return new AppError('PAYLOAD_TOO_LARGE', ERROR_CODES.PAYLOAD_TOO_LARGE.doc);
  if (status === 401) return new AppError('AUTH_NO_CLIENT_CERT', ERROR_CODES.AUTH_NO_CLIENT_CERT.doc);
  const code = STATUS_TO_CODE[status];
  if (code) return new AppError(code, ERROR_CODES[code].doc);
  return new AppError('INTERNAL_ERROR', ERROR_CODES.INTERNAL_ERROR.doc);
}

export class RejectProvider implements Provider<Reject> {
  constructor(@inject(AppBindings.LOGGER) private readonly logger: Logger) {}

  value(): Reject {
    return ({request, response}: HandlerContext, error: Error) => {
      const appError = toResponseError(error);
      if (appError.statusCode >= 500) {
        this.logger.error({err: error, code: appError.code, method: request.method}, 'request failed');
      } else {
        this.logger.debug({code: appError.code, status: appError.statusCode}, 'request rejected');
      }
      if (response.headersSent) {
        response.destroy();
        return;
      }
      const body = JSON.stringify(appError.toJSON());
      applySecurityHeaders(response);
      // A refused body may be partly unread (or still streaming): do not reuse the connection.
      if (appError.statusCode === 413) response.setHeader('Connection', 'close');
      response.statusCode = appError.statusCode;
      response.setHeader('Content-Type', 'application/json; charset=utf-8');
      response.setHeader('Content-Length', Buffer.byteLength(body));
      response.end(body);
    };
  }
}
