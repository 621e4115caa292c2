import { applyDecorators } from '@nestjs/common';
import { ApiExtraModels, ApiProperty, ApiResponse, getSchemaPath } from '@nestjs/swagger';
import { PROBLEM_CONTENT_TYPE, PROBLEM_TYPE_PREFIX } from './problem-details';

/** The OpenAPI shape of every error response (problem-details.ts is the source of truth). */
export class ProblemDetailsDto {
  @ApiProperty({ description: `Problem type: ${PROBLEM_TYPE_PREFIX}<code>`, example: `${PROBLEM_TYPE_PREFIX}INSUFFICIENT_FUNDS` })
  type!: string;

  @ApiProperty({ description: 'Short summary, the same for every occurrence of this type', example: 'Refused in the current state' })
  title!: string;

  @ApiProperty({ description: 'HTTP status code', example: 422 })
  status!: number;

  @ApiProperty({ description: 'What went wrong in this occurrence; safe to show to users', example: 'Available balance 10.00 USD is less than 12.34 USD' })
  detail!: string;

  @ApiProperty({ description: 'Stable machine-readable reason code (SCREAMING_SNAKE_CASE); never renamed', example: 'INSUFFICIENT_FUNDS' })
  code!: string;

  @ApiProperty({ description: 'Correlation id of the request (also in the X-Correlation-Id header); quote it when reporting a problem', example: 'f3b6c1de-8f8e-4a43-9d0c-2f1e8a9b7c10' })
  correlationId!: string;
}

/**
 * Declares problem+json responses for the given statuses on a route or controller, e.g.
 * `@ApiProblemResponses(400, 401, 403, 404, 409, 422)`.
 */
export function ApiProblemResponses(...statuses: number[]): MethodDecorator & ClassDecorator {
  return applyDecorators(
    ApiExtraModels(ProblemDetailsDto),
    ...statuses.map((status) =>
      ApiResponse({
        status,
        description: 'Problem details (RFC 7807); extension members carry safe details such as walletId',
        content: { [PROBLEM_CONTENT_TYPE]: { schema: { $ref: getSchemaPath(ProblemDetailsDto) } } },
      }),
    ),
  );
}
